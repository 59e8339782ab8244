"""Bulk loads under a capped DuckDB (the store side of a Ray run, clustering/store/bulk.py)."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from clustering.store import Store
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
