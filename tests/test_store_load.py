"""The database under load (issue 10), with real processes: readers read the last committed
state while a writer works; a writer killed with -9 mid-run leaves a file the next open uses,
without the wasted space."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from clustering.store import Store
from clustering.store.base import snapshot_path

from .conftest import EGY_DAY, ROOT, SEED_PAGE

ENV = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "clustering.cli", *args], env=ENV,
                          capture_output=True, text=True, timeout=300, **kw)


def start_writer(db: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "clustering.cli", "run", str(EGY_DAY), "--db", str(db),
                             "--stories", "none"], env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def locked(db: Path) -> bool:
    try:
        duckdb.connect(str(db), read_only=True).close()
    except duckdb.IOException:
        return True
    return False


def wait_locked(db: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not locked(db):
        assert proc.poll() is None and time.monotonic() < deadline, "the writer never took the lock"
        time.sleep(0.05)


def test_readers_read_the_last_commit_while_a_writer_runs(tmp_path):
    db = tmp_path / "news.duckdb"
    assert cli("run", str(SEED_PAGE), "--db", str(db), "--stories", "none").returncode == 0
    with Store(db, read_only=True) as st:
        committed = st.counts()["articles"]
    assert committed == 12 and snapshot_path(db).exists()
    writer = start_writer(db)
    try:
        wait_locked(db, writer)
        with Store(db, read_only=True) as st:           # the file is locked: the snapshot is read
            assert st.from_snapshot and st.counts()["articles"] == committed
            ids = {r["id"] for r in st.list_groups(min_size=1, limit=100) for r in r["members"]}
        assert len(ids) == committed
        out = cli("export", "--db", str(db), "--format", "jsonl")   # a reader process
        assert out.returncode == 0, out.stderr
        rows = [json.loads(line) for line in out.stdout.splitlines()]
        assert len(rows) in (committed, 3080 + committed)  # the last commit: before the writer's, or after it
        assert cli("stories", "--db", str(db)).returncode == 0
    finally:
        assert writer.wait(timeout=300) == 0
    with Store(db, read_only=True) as st:
        assert not st.from_snapshot and st.counts()["articles"] == 3080 + committed
    with Store(snapshot_path(db), read_only=True) as st:            # published with the commit
        assert st.counts()["articles"] == 3080 + committed


def test_kill_9_mid_run_leaves_a_usable_file_without_wasted_space(tmp_path):
    db = tmp_path / "news.duckdb"
    assert cli("run", str(SEED_PAGE), "--db", str(db), "--stories", "none").returncode == 0
    writer = start_writer(db)
    wait_locked(db, writer)
    time.sleep(2.5)                                    # inside the run (it takes ~8 s)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    with Store(db) as st:                              # the next open: usable, all or nothing
        n = st.counts()["articles"]
        assert n in (12, 12 + 3080)
        assert st.counts()["dup_members"] == n
    assert not Path(f"{db}.wal").exists()
    clean = tmp_path / "clean.duckdb"
    con = duckdb.connect()
    con.execute(f"ATTACH '{db}' AS src (READ_ONLY); ATTACH '{clean}' AS dst; COPY FROM DATABASE src TO dst")
    con.close()
    assert db.stat().st_size <= 2 * clean.stat().st_size + 2**20


KILLED_WRITER = """
import sys, duckdb, os, signal
con = duckdb.connect(sys.argv[1])
con.execute("SET checkpoint_threshold = '100GB'")       # the commit stays in the WAL
con.execute("DELETE FROM articles WHERE id <> 'x119999'")
os.kill(os.getpid(), signal.SIGKILL)                     # dies before any checkpoint
"""


def test_next_open_after_a_killed_writer_compacts_the_file(tmp_path):
    db = tmp_path / "news.duckdb"
    with Store(db) as st:
        n = 120_000
        with st.transaction():
            st.insert_articles(pa.table({
                "id": [f"x{i}" for i in range(n)], "seq": pa.array(range(n), pa.int64()),
                "run_id": pa.array([1] * n, pa.int64()), "content_hash": [str(i) for i in range(n)],
                "text": [hashlib.sha512(str(i).encode()).hexdigest() * 5 for i in range(n)]}))
    bloated = db.stat().st_size
    assert bloated > 32 * 2**20
    subprocess.run([sys.executable, "-c", KILLED_WRITER, str(db)], env=ENV, timeout=120)
    assert Path(f"{db}.wal").exists()
    with Store(db) as st:                              # replays the WAL, then compacts
        assert st.counts()["articles"] == 1
        assert st.con.execute("SELECT count(*) FROM articles WHERE id = 'x119999'").fetchall() == [(1,)]
    assert db.stat().st_size < bloated / 4 and not Path(f"{db}.wal").exists()
    with Store(db) as st:                              # the primary key survived the copy
        assert st.con.execute("SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'articles' "
                              "AND constraint_type = 'PRIMARY KEY'").fetchall() == [(1,)]


def test_the_publish_interval_grows_with_the_cost_of_a_publish(tmp_path):
    """A writer held open publishes the reader snapshot on a timer whose interval is at least
    the last publish's own seconds / share: copying a large file (O(archive)) takes a bounded
    share of the writer's time. What the timer holds back, close() publishes."""
    from clustering import Config, NewsClusterer
    from clustering.config import RunParams

    from .conftest import ingest

    db = tmp_path / "w.duckdb"
    snap = snapshot_path(db)
    with Store(db, publish_every_s=0.01, publish_share=0.5) as st:
        assert snap.exists() and st.publish_cost > 0.0      # the open published the new file
        assert st.publish_interval == max(0.01, st.publish_cost / 0.5)
        time.sleep(st.publish_interval + 0.05)
        ingest(st, [SEED_PAGE])                              # interval passed: published
        first = snap.stat().st_mtime_ns
        assert not st._unpublished
        st._publish_cost = 1000.0                            # as if a copy had taken 1000 s
        assert st.publish_interval == 2000.0
        NewsClusterer(st, Config().replace(stories={"mode": "none"})).ingest([{"id": "x1", "title": "A new headline about Cairo metro fares",
                                   "text": "Fares rise on the Cairo metro from Monday."}])
        assert st._unpublished and snap.stat().st_mtime_ns == first   # held back
    with Store(snap, read_only=True) as r:                   # close() published it
        assert r.con.execute("SELECT count(*) FROM articles WHERE id = 'x1'").fetchone()[0] == 1
    # the next writer opens an up-to-date snapshot: no publish at the open, and the interval
    # starts from the cost the last writer recorded beside the snapshot
    Path(f"{snap}.cost").write_text("40.0\n")
    published = snap.stat().st_mtime_ns
    with Store(db, publish_every_s=0.01, publish_share=0.5) as st:
        assert st.publish_cost == 40.0 and st.publish_interval == 80.0
        assert snap.stat().st_mtime_ns == published
    with pytest.raises(ValueError, match="snapshot_share"):
        RunParams(snapshot_share=1.0)
