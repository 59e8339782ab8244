"""Adding one article: milliseconds per ``NewsClusterer.ingest([record])`` (stories off) into a
store held open with N stored articles, for N = 2k, 44k (the 14 EgyNews days) and larger
synthetic archives; optionally beside another checkout of the code (before/after in one run).

States:

- 2k / 44k: one big ``ingest`` of the first 2,000 records / all 14 days, made by the *baseline*
  code (``--before``, else this checkout), so both codes start from the same file (this
  checkout adds its indexes when it opens it, outside the timed calls).
- ``x R``: the 44k state copied R times with new ids (``~rK`` suffixes on article, group and
  item ids, content hashes and canonical URLs) and band keys XOR-ed with a per-copy constant, so
  the copies are distinct archives that no new article matches: the tables grow R-fold while
  each new article still finds only its own near-duplicates (those of copy 0), as in a larger
  archive of different news. Built with SQL into a fresh file (a benchmark tool, not engine
  code): per copy one ``INSERT ... SELECT`` per table from the attached 44k file, copy 0
  first and each copy's rows contiguous, then the secondary indexes once (~2.5 min and ~6 GB
  of memory for x 23, ~1.0M articles, a 6.6 GB file). With ``--states DIR`` the built states
  are kept in DIR and reused.

Each timed article is a real EgyNews record of the 14 days (bodies over 400 characters) without
its first sentence, under a new id: a near-duplicate of a stored article, not an exact repeat,
so every call runs the whole path (LSH lookup, verification, joining a stored group); one
warm-up call first (``--warmup W``: W). Every measurement runs in its own process holding the
store open (as the feed service does), on a copy of the state whose reader snapshot is the state
itself (a hard link), so the open does not publish one. Per state and code: median and p99 wall
milliseconds per call, the median CPU milliseconds of the process (all its threads; less
inflated than wall time on a machine shared with other jobs), the first call's milliseconds,
and the process's peak RSS (VmHWM) after the open and after the calls (DuckDB loads its ART
indexes lazily, as lookups touch them, and keeps them). ``--profile`` also lists every SQL
statement of a call with its median milliseconds (timing around the DuckDB calls of the
store); ``--cprofile DIR`` writes a cProfile of the timed calls. The process exits without
closing the store (its close would publish a snapshot of the throwaway copy).

Commands: ``python benchmarks/bench_ingest_one.py --before /work/main --copies 5``;
``python benchmarks/bench_ingest_one.py --states /tmp/states --bases 44k --copies 5 23 --n 200 --profile``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from common import ROOT, egynews_days, table, write_jsonl

from clustering.store.base import snapshot_path

_INGEST = """
import json, re, sys, time
from collections import defaultdict
from clustering import Config, NewsClusterer
src, db, profile, cprof, warm = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4], int(sys.argv[5])
rows = [json.loads(line) for line in open(src, encoding="utf-8")]
log = []

def status_mb(field):  # VmHWM (peak RSS) or VmRSS of this process, MiB
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024

class Timed:  # times every statement the store sends to DuckDB
    def __init__(self, con):
        self._con = con
    def execute(self, sql, params=None):
        t0 = time.perf_counter()
        r = self._con.execute(sql, params or [])
        log.append((sql, time.perf_counter() - t0))
        return r
    def __getattr__(self, k):
        return getattr(self._con, k)

secs, cpu, rss, per = [], [], [], defaultdict(list)
t_open = time.perf_counter()
nc = NewsClusterer(db, Config().replace(stories={"mode": "none"}))
open_s, hwm_open = time.perf_counter() - t_open, status_mb("VmHWM")
if profile:
    nc.store.con = Timed(nc.store.con)
prof = None
if cprof:
    import cProfile
    prof = cProfile.Profile()
if True:
    for k, r in enumerate(rows):
        log.clear()
        if prof is not None and k == warm:  # after the warm-up calls
            prof.enable()
        t0, c0 = time.perf_counter(), time.process_time()
        nc.ingest([r], overview=False)
        secs.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        rss.append(status_mb("VmRSS"))
        if k >= warm:
            agg = defaultdict(float)
            for sql, t in log:
                key = re.sub(r"_(arrow|snapshot)_\\d+", "_T", sql)
                key = re.sub(r"IN \\([-0-9?, ]+\\)", "IN (...)", key)
                agg[key[:110]] += t
            for key, t in agg.items():
                per[key].append(t)
if prof is not None:
    prof.disable()
    prof.dump_stats(cprof)
duck = {t: b / 2**20 for t, b in nc.store.con.execute(  # DuckDB's own accounting, by tag
    "SELECT tag, memory_usage_bytes FROM duckdb_memory() WHERE memory_usage_bytes > 0").fetchall()}
print(json.dumps({"seconds": secs[warm:], "cpu": cpu[warm:], "first_s": secs[0], "statements": len(log),
                  "sql_ms": {k: 1000 * statistics.median(v) for k, v in per.items()},
                  "open_s": open_s, "hwm_open_mb": hwm_open, "hwm_mb": status_mb("VmHWM"),
                  "rss_mb": status_mb("VmRSS"), "rss_trace_mb": rss, "duckdb_mb": duck}), flush=True)
# the store is not closed: its close would publish a reader snapshot (a copy of the whole file,
# minutes at 1M) of a work copy that is deleted next; the figures above are all taken
os._exit(0)
""".replace("import json, re, sys, time", "import json, os, re, statistics, sys, time")

_BUILD = """
import sys
from clustering import Config, NewsClusterer
with NewsClusterer(sys.argv[2], Config().replace(stories={"mode": "none"})) as nc:
    nc.ingest([sys.argv[1]])
"""

#: SQL of one copy of the synthetic archive, reading the attached base ``b`` only: {sfx} the id
#: suffix ('' for copy 0, the base itself, else '~r{r}'), {s} the seq offset, {x} the band-key salt.
_COPY = [
    "INSERT INTO articles (id, seq, run_id, title, text, published, source, url, canonical_url, lang, "
    "listed_on, input_order, content_hash, version) SELECT id || '{sfx}', seq + {s}, run_id, title, text, "
    "published, source, url, canonical_url || '{sfx}', lang, listed_on, input_order, "
    "content_hash || '{sfx}', version FROM b.articles",
    "INSERT INTO signatures SELECT article_id || '{sfx}', config, kind, sig FROM b.signatures",
    "INSERT INTO lsh_bands SELECT config, xor(key, {x}), item || '{sfx}' FROM b.lsh_bands",
    "INSERT INTO dup_members SELECT article_id || '{sfx}', group_id || '{sfx}', similarity, "
    "joined_via || '{sfx}', rule, run_id FROM b.dup_members",
    "INSERT INTO dup_groups SELECT group_id || '{sfx}', representative_id || '{sfx}', size, run_id "
    "FROM b.dup_groups",
]
#: Tables copied as they are (the run log; the story tables are empty in these dedup-only states).
_AS_IS = ["runs", "embeddings", "stories", "story_members", "doc_freqs", "story_state", "story_events",
          "article_versions"]


def _py(code_dir: Path, code: str, *args: str) -> dict | None:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True,
                         cwd=code_dir, env={"PYTHONPATH": str(code_dir), "HF_HUB_OFFLINE": "1",
                                            "TRANSFORMERS_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    lines = [ln for ln in out.stdout.strip().splitlines() if ln.startswith("{")]
    return json.loads(lines[-1]) if lines else None


def _copies(base: Path, dest: Path, copies: int, statements: Sequence[str] = tuple(_COPY),
            as_is: Sequence[str] = tuple(_AS_IS), prelude: Sequence[str] = (),
            shift_days: int = 0) -> int:
    """The synthetic archive: ``base`` copied ``copies`` times (see the module docstring), into a
    fresh file: the tables first (with their primary keys), then the ``as_is`` tables the base
    has and the ``prelude`` statements, then per copy the ``statements`` (one ``INSERT ...
    SELECT`` per table reading the attached base, not the growing copy; :data:`_COPY`'s
    placeholders, plus {d}: ``shift_days`` times the copy number {r}), then the secondary
    indexes, each built once over the loaded rows (the engine's schema creates them: the same
    DDL as a file it made). Copy 0 (the base, which the timed articles match) comes first and
    each copy's rows are contiguous, as in the earlier per-copy builder. Returns the articles
    stored."""
    import re

    import duckdb

    from clustering.store.schema import SCHEMA

    for p in (dest, Path(f"{dest}.wal"), Path(f"{dest}.snapshot")):
        p.unlink(missing_ok=True)
    tables_only = re.sub(r"CREATE INDEX IF NOT EXISTS [^;]*;", "", SCHEMA)
    con = duckdb.connect(str(dest))
    con.execute(tables_only)
    con.execute(f"ATTACH '{base}' AS b (READ_ONLY)")
    n = int(con.execute("SELECT max(seq) + 1 FROM b.articles").fetchall()[0][0])
    have = {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = 'b'").fetchall()}
    for t in as_is:
        if t in have:  # (a base built before a table existed has none of its rows)
            con.execute(f"INSERT INTO {t} SELECT * FROM b.{t}")
    for sql in prelude:
        con.execute(sql)
    for r in range(copies):  # copy by copy, so each copy's rows are contiguous (as one period's are)
        salt = (0x9E3779B97F4A7C15 * r) % (1 << 63)
        for sql in statements:
            con.execute(sql.format(sfx=f"~r{r}" if r else "", s=r * n, x=salt, r=r, d=shift_days * r))
    con.execute("DETACH b")
    con.execute(SCHEMA)  # the secondary indexes, each built once over all the rows
    con.execute("CHECKPOINT")
    total = int(con.execute("SELECT count(*) FROM articles").fetchall()[0][0])
    con.close()
    return total


def _states(tmp: Path, base_code: Path, copies: list[int], prebuilt: Path | None,
            bases: tuple[str, ...] = ("2k", "44k")) -> list[tuple[str, Path]]:
    """The states to measure. With ``prebuilt`` (a folder) the states are kept there
    (``s2k.duckdb``, ``s44k.duckdb``, ``x{R}.duckdb``), built on first use and reused; otherwise
    everything is built in ``tmp``."""
    keep = tmp if prebuilt is None else prebuilt
    keep.mkdir(parents=True, exist_ok=True)
    small, big = keep / "s2k.duckdb", keep / "s44k.duckdb"
    need = [(small, 2000)] if "2k" in bases else []
    if "44k" in bases or copies:
        need.append((big, None))
    need = [(db, n) for db, n in need if not db.exists()]  # a --states folder keeps its builds
    rows = egynews_days(14) if need else []
    for db, n in need:
        part = db.with_name(db.name + ".part")  # renamed once complete: a failed build is not reused
        for old in keep.glob(part.name + "*"):
            old.unlink()
        _py(base_code, _BUILD, str(write_jsonl(rows[:n], tmp / "records.jsonl")), str(part))
        part.rename(db)
        for left in keep.glob(part.name + "*"):  # the build's own reader snapshot: not used here
            left.unlink()
    out = [(name, db) for name, db in (("2k", small), ("44k", big)) if name in bases]
    for c in copies:
        db = keep / f"x{c}.duckdb"
        if not db.exists():
            t0 = time.perf_counter()
            _copies(big, db, c)
            print(f"built {db} in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
        import duckdb

        with duckdb.connect(str(db), read_only=True) as con:
            total = int(con.execute("SELECT count(*) FROM articles").fetchall()[0][0])
        out.append((f"{total // 1000}k (44k x {c})", db))
    return out


def _one_by_one(code_dir: Path, state: Path, src: Path, work: Path, profile: bool, cprofile: str = "",
                warmup: int = 1) -> dict:
    db = work / "run.duckdb"
    for p in work.glob("run.duckdb*"):
        p.unlink()
    shutil.copy2(state, db)
    # the state itself as the work copy's reader snapshot (same bytes, same mtime; a hard link,
    # never written: a publish renames a new file over it): so the open does not publish one
    # (a copy of the whole file, O(archive), as a restart on an up-to-date snapshot does not)
    os.link(state, snapshot_path(db))
    return _py(code_dir, _INGEST, str(src), str(db), "1" if profile else "0", cprofile, str(warmup))


def measure(before: Path | None, copies: list[int], n_after: int, n_before: int,
            profile: bool, prebuilt: Path | None = None, bases: tuple[str, ...] = ("2k", "44k"),
            cprofile_dir: Path | None = None, warmup: int = 1) -> dict:
    """Median and p99 ms per one-article ingest at each state size, for this checkout and
    (``before``) another one, with the peak RSS of the process holding the store open;
    with ``profile`` the per-statement medians of this checkout, with ``cprofile_dir`` a
    cProfile of this checkout's timed calls per state (``<state>.prof``); ``warmup`` untimed
    calls first (1; more to time a process whose DuckDB has loaded the indexes it touches)."""
    rows = [r for r in egynews_days(14) if len(r.get("body") or "") > 400]
    # a stored record's body without its first sentence, under a new id: a real article that is
    # a near-duplicate (not an exact repeat) of a stored one, so each call runs the whole path
    # (LSH lookup, verification, joining a stored group)
    ones = [dict(r, id=f"bench-one-{k}", body=r["body"].split(".", 1)[-1])
            for k, r in enumerate(rows[k * 997 % len(rows)] for k in range(warmup + max(n_after, n_before)))]
    res: dict = {"rows": [], "sql": {}}
    if cprofile_dir is not None:
        cprofile_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        work = tmp / "work"
        work.mkdir()
        for name, state in _states(tmp, before or ROOT, copies, prebuilt, bases):
            line = [name]
            for label, code, n in (("after", ROOT, n_after), ("before", before, n_before)):
                if code is None:
                    continue
                src = write_jsonl(ones[: n + warmup], tmp / "ones.jsonl")
                prof = ""
                if cprofile_dir is not None and label == "after":
                    prof = str(cprofile_dir / f"{name.split()[0]}.prof")
                out = _one_by_one(code, state, src, work, profile and label == "after", prof, warmup)
                ms = sorted(1000 * s for s in out["seconds"])
                p99 = ms[min(len(ms) - 1, int(round(0.99 * (len(ms) - 1))))]
                cpu = statistics.median(1000 * s for s in out["cpu"])
                line += [round(statistics.median(ms), 1), round(p99, 1), round(cpu, 1), out["statements"],
                         round(1000 * out["first_s"]),
                         round(out["open_s"], 2), round(out["hwm_open_mb"]), round(out["hwm_mb"])]
                if label == "after" and profile:
                    res["sql"][name] = out["sql_ms"]
                if label == "after":
                    res.setdefault("rss_trace_mb", {})[name] = [round(x) for x in out["rss_trace_mb"]]
                    res.setdefault("ms_trace", {})[name] = [round(1000 * x, 1) for x in out["seconds"]]
                    res.setdefault("duckdb_mb", {})[name] = {k: round(v) for k, v in out["duckdb_mb"].items()}
            res["rows"].append(line)
            print(json.dumps(line), file=sys.stderr, flush=True)
    return res


def run(quick: bool = False, plots_dir: Path | None = None) -> dict:
    """Milliseconds to add one article at 2k and 44k stored articles (this checkout)."""
    res = measure(None, [] if quick else [5], 10 if quick else 40, 0, False)
    return {"title": "Adding one article", "tables": [table(
        "ms per one-article ingest (stories off, store held open)",
        ["stored", "median ms", "p99 ms", "median CPU ms", "SQL statements", "first call ms", "open s",
         "peak RSS after open MiB", "peak RSS MiB"], res["rows"])], "summary": {}, "notes": []}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="ms to add one article vs archive size")
    ap.add_argument("--before", type=Path, default=None, help="another checkout to measure beside this one")
    ap.add_argument("--copies", type=int, nargs="*", default=[5], help="synthetic archives: 44k x R")
    ap.add_argument("--n", type=int, default=40, help="timed articles per state (this checkout)")
    ap.add_argument("--n-before", type=int, default=10, help="timed articles per state (--before)")
    ap.add_argument("--profile", action="store_true", help="per-statement milliseconds (this checkout)")
    ap.add_argument("--states", type=Path, default=None,
                    help="folder for the states (s2k.duckdb, s44k.duckdb, x{R}.duckdb): built there on "
                         "first use (by --before's code when given), reused on later runs")
    ap.add_argument("--bases", default="2k,44k", help="real states to measure (of 2k,44k; '' for none)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed calls before the timed ones")
    ap.add_argument("--cprofile", type=Path, default=None,
                    help="folder for a cProfile of this checkout's timed calls per state")
    a = ap.parse_args()
    print(json.dumps(measure(a.before, a.copies, a.n, a.n_before, a.profile, a.states, tuple(a.bases.split(",")),
                             a.cprofile, a.warmup), indent=1))
