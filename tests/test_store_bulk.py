"""Bulk loads under a capped DuckDB (the store side of a Ray run, clustering/store/bulk.py)."""

from __future__ import annotations

import os
import signal

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from clustering.store import Store, StoreError
from clustering.store.base import snapshot_path
from clustering.store.bulk import art_memory_mb


def _band_rows(path, n: int, start: int = 0) -> str:
    """A Parquet file of ``n`` lsh_bands rows with distinct keys (a new index entry each)."""
    keys = np.arange(start, start + n, dtype=np.int64) * 7919
    pq.write_table(pa.table({"config": pa.array(["c"] * n), "key": pa.array(keys),
                             "item": pa.array([f"a{i % 5000}" for i in range(n)])}), path)
    return str(path)


def _limit(st) -> str:
    return st.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]


def _mib(setting: str) -> float:
    """DuckDB's memory_limit text ("16.0 MiB", "18.8 GiB") in MiB."""
    value, unit = setting.split()
    return float(value) * {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024, "TiB": 1 << 20}[unit]


def test_raised_cap_leaves_room_for_the_indexes_a_commit_holds(tmp_path):
    """The ART indexes do not spill: a commit appending 1.2M index entries (~28 MiB) needs more
    than a 16 MiB cap; raised by twice the estimated indexes, the same load commits."""
    shard = _band_rows(tmp_path / "bands.parquet", 1_200_000)
    with Store(tmp_path / "s.duckdb") as st:
        before = _limit(st)
        st.raise_memory_limit(10_000)                  # outside memory_limited: no-op
        assert _limit(st) == before
        assert st.parquet_rows([shard]) == 1_200_000 and st.parquet_rows([]) == 0
        est = art_memory_mb({"lsh_bands": 1_200_000, "no_index": 10**9})
        assert est >= 27 and st.index_memory_mb() <= 1
        with st.memory_limited(16), st.transaction():
            st.raise_memory_limit(8)                   # never lowers the cap
            assert _limit(st) == "16.0 MiB"
            st.raise_memory_limit(16 + 2 * est)
            assert st.load_parquet("lsh_bands", [shard]) == 1_200_000
            assert st.index_memory_mb() >= est         # counts the transaction's own rows
        # the block restores DuckDB's setting (to the precision DuckDB prints it with)
        assert abs(_mib(_limit(st)) - _mib(before)) <= 0.01 * _mib(before)
        assert st.counts()["lsh_bands"] == 1_200_000
    with duckdb.connect(str(tmp_path / "s.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM lsh_bands WHERE key = 7919 * 12345").fetchone()[0] == 1


def test_writer_process_commits_there_and_the_caller_reopens(tmp_path):
    """Writes through the store's own writer process land in the file; the caller's handle is
    closed meanwhile (one writing process) and sees them after; the snapshot is published."""
    from clustering.store.writer import RemoteStore, writer_process

    shard = _band_rows(tmp_path / "bands.parquet", 1_000)
    with Store(tmp_path / "s.duckdb") as st:
        with writer_process(st) as w:
            assert isinstance(w, RemoteStore) and w.pid != os.getpid()
            with w.memory_limited(64), w.transaction():
                assert w.load_parquet("lsh_bands", [shard]) == 1_000
                assert w.counts()["lsh_bands"] == 1_000
                assert w.writer_memory()["peak_rss_mb"] > 0
            with pytest.raises(AttributeError):
                w.con  # noqa: B018 - the connection stays in the child
        assert w.stats["peak_rss_mb"] > 0 and w._proc.returncode == 0
        assert st.counts()["lsh_bands"] == 1_000
        with duckdb.connect(str(snapshot_path(st.path)), read_only=True) as con:
            assert con.execute("SELECT count(*) FROM lsh_bands").fetchone()[0] == 1_000
    with Store(":memory:") as mem, writer_process(mem) as same:
        assert same is mem  # another process cannot see an in-memory store


def test_writer_process_failures_leave_the_file_unchanged(tmp_path):
    """A failed load, a failure of the caller inside the transaction, and a killed writer: one
    StoreError (or the caller's own error), nothing committed, the caller's handle usable."""
    from clustering.store.writer import writer_process

    shard = _band_rows(tmp_path / "bands.parquet", 1_000)
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"no_such_column": [1]}), bad)
    with Store(tmp_path / "s.duckdb") as st:
        with pytest.raises(StoreError, match="writer process failed .*no_such_column"), \
                writer_process(st) as w, w.transaction():
            w.load_parquet("lsh_bands", [shard])
            w.load_parquet("lsh_bands", [bad])
        with pytest.raises(KeyError), writer_process(st) as w, w.transaction():
            w.load_parquet("lsh_bands", [shard])
            raise KeyError("caller failed")
        with pytest.raises(StoreError, match=r"exited \(code -9\)"), writer_process(st) as w, w.transaction():
            w.load_parquet("lsh_bands", [shard])
            os.kill(w.pid, signal.SIGKILL)
            w.counts()
        assert st.counts()["lsh_bands"] == 0
        with writer_process(st) as w, w.transaction():  # the file still takes a writer
            w.load_parquet("lsh_bands", [shard])
        assert st.counts()["lsh_bands"] == 1_000
