"""Bulk exchange with a distributed engine: Parquet snapshots out of the store, Parquet shards in.

A Ray run (:mod:`clustering.distributed`) reads what it needs of the stored history from Parquet
files written here (DuckDB streams ``COPY ... TO``, so the driver never holds the tables) and
writes its results as Parquet shards that are appended here with ``read_parquet`` (again
streamed by DuckDB). The column names are those of :mod:`clustering.store.schema`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from .base import StoreBase

#: Tables a bulk load may append to.
BULK_TABLES = ("articles", "signatures", "lsh_bands", "dup_members", "dup_groups", "embeddings")

#: Bytes of ART index per row of each table with one (all its indexes together), as DuckDB
#: 2.0.1 holds them after a commit has appended to them (``duckdb_memory()``, tag ART_INDEX:
#: lsh_bands 38 MB for 1.65M rows; articles 4.8 MB, signatures 8.0 MB, dup_members 5.0 MB per
#: 40k articles' rows; the story tables' key indexes counted at ~60 B per index and row, as
#: those). ART indexes do not spill: a commit holds each index it appends to whole, and the
#: reader snapshot's copy builds them again in the copy.
ART_BYTES_PER_ROW = {"lsh_bands": 24, "articles": 130, "signatures": 130, "dup_members": 130,
                     "dup_groups": 130, "embeddings": 190, "runs": 16, "doc_freqs": 130,
                     "story_state": 130, "article_versions": 130, "stories": 60,
                     "story_members": 120}


def art_memory_mb(rows: Mapping[str, int]) -> int:
    """MiB of ART index held for ``rows`` rows per table (table name -> rows; tables without an
    index count 0), from :data:`ART_BYTES_PER_ROW`, rounded up."""
    return -(-sum(ART_BYTES_PER_ROW.get(t, 0) * int(n) for t, n in rows.items()) // 2**20)


def _quote(path: str | Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


class BulkExchange(StoreBase):
    """Parquet snapshots of stored history and Parquet bulk loads of run results."""

    def export_signatures(self, config: str, path: str | Path) -> int:
        """Write every stored signature of fingerprint configuration ``config`` to one Parquet
        file: columns ``article_id, kind, sig, seq`` (kind "word", "char" or "title"; ``sig``
        little-endian uint32 bytes; ``seq`` the article's ingest number). Returns the row count."""
        self.con.execute(
            "COPY (SELECT s.article_id, s.kind, s.sig, a.seq FROM signatures s JOIN articles a "
            f"ON a.id = s.article_id WHERE s.config = $1) TO {_quote(path)} (FORMAT parquet)", [config])
        return int(self._scalar(f"SELECT count(*) FROM read_parquet({_quote(path)})"))

    def export_hash_leaders(self, path: str | Path) -> int:
        """Write, per stored content hash, its earliest-ingested article to one Parquet file:
        columns ``content_hash, id, seq``. Returns the row count."""
        self.con.execute(
            "COPY (SELECT content_hash, arg_min(id, seq) AS id, min(seq) AS seq FROM articles "
            f"GROUP BY content_hash) TO {_quote(path)} (FORMAT parquet)")
        return int(self._scalar(f"SELECT count(*) FROM read_parquet({_quote(path)})"))

    def export_article_hashes(self, path: str | Path) -> int:
        """Write ``id, content_hash`` of every stored article to one Parquet file (a Ray run
        drops input articles already stored with it). Returns the row count."""
        self.con.execute(f"COPY (SELECT id, content_hash FROM articles) TO {_quote(path)} (FORMAT parquet)")
        return int(self._scalar(f"SELECT count(*) FROM read_parquet({_quote(path)})"))

    def export_current_facts(self, path: str | Path) -> int:
        """Write what identifies the current version of every stored article to one Parquet
        file: ``id, stored_hash, stored_published, stored_source, stored_curl, stored_lang`` (a
        Ray run tells unchanged records from updates, :mod:`clustering.updates`). Returns the
        row count."""
        self.con.execute(
            "COPY (SELECT id, content_hash AS stored_hash, published AS stored_published, "
            "source AS stored_source, canonical_url AS stored_curl, lang AS stored_lang FROM articles) "
            f"TO {_quote(path)} (FORMAT parquet)")
        return int(self._scalar(f"SELECT count(*) FROM read_parquet({_quote(path)})"))

    def export_full_article_urls(self, path: str | Path) -> int:
        """Write the distinct canonical URLs of stored full articles (not headlines of a page's
        list) to one Parquet file: column ``url_key``. Returns the row count."""
        self.con.execute(
            "COPY (SELECT DISTINCT canonical_url AS url_key FROM articles WHERE listed_on IS NULL "
            f"AND canonical_url IS NOT NULL) TO {_quote(path)} (FORMAT parquet)")
        return int(self._scalar(f"SELECT count(*) FROM read_parquet({_quote(path)})"))

    @contextmanager
    def memory_limited(self, mb: int) -> Iterator[None]:
        """Cap DuckDB's memory at ``mb`` MiB inside the block (restored after), so that a bulk
        run's rows, its commit and the snapshot copy spill to disk instead of growing the
        process with the input. The cap must leave room for the ART indexes, which do not
        spill (:meth:`index_memory_mb`, :meth:`raise_memory_limit`). Only for a database file
        (an in-memory one cannot spill its tables); ``mb`` 0 leaves DuckDB's default (80% of
        RAM)."""
        if not mb or not self._file:
            yield
            return
        before = self._scalar("SELECT current_setting('memory_limit')")
        self.con.execute(f"SET memory_limit = '{int(mb)}MiB'")
        self._memory_cap_mb = int(mb)
        try:
            yield
        finally:
            self._memory_cap_mb = 0
            self.con.execute(f"SET memory_limit = '{before}'")

    def index_memory_mb(self) -> int:
        """MiB of ART index the store's tables hold in memory when all of it is loaded (an
        estimate from the row counts this connection sees, its open transaction's included:
        :func:`art_memory_mb`). A commit and the snapshot copy cannot spill this part."""
        return art_memory_mb({t: int(self._scalar(f"SELECT count(*) FROM {t}")) for t in ART_BYTES_PER_ROW})

    def duckdb_memory_mb(self) -> float:
        """MiB DuckDB holds now in this connection's process (``duckdb_memory()``, all tags:
        buffers, table rows, ART indexes), for measurements."""
        return round((self._scalar("SELECT sum(memory_usage_bytes) FROM duckdb_memory()") or 0) / 2**20, 1)

    def parquet_rows(self, paths: Sequence[str | Path]) -> int:
        """Rows in Parquet files (from their metadata; 0 for no files)."""
        if not paths:
            return 0
        files = "[" + ", ".join(_quote(p) for p in paths) + "]"
        return int(self._scalar(f"SELECT sum(num_rows) FROM parquet_file_metadata({files})") or 0)

    def raise_memory_limit(self, mb: int) -> None:
        """Inside :meth:`memory_limited`: raise DuckDB's cap to ``mb`` MiB if it is lower (the
        block still restores the setting it found). No-op outside such a block."""
        cap = getattr(self, "_memory_cap_mb", 0)
        if cap and mb > cap:
            self.con.execute(f"SET memory_limit = '{int(mb)}MiB'")
            self._memory_cap_mb = int(mb)

    def load_parquet(self, table_name: str, paths: Sequence[str | Path]) -> int:
        """Append the rows of Parquet shards to one of :data:`BULK_TABLES` (columns matched by
        name; the shards' columns must be a subset of the table's). Returns the rows added.

        Raises:
            ValueError: ``table_name`` is not a bulk-loadable table.
        """
        if table_name not in BULK_TABLES:
            raise ValueError(f"not a bulk-loadable table: {table_name!r}")
        paths = [str(p) for p in paths]
        if not paths:
            return 0
        files = "[" + ", ".join(_quote(p) for p in paths) + "]"
        cols = [r[0] for r in self._rows(f"DESCRIBE SELECT * FROM read_parquet({files})")]
        names = ", ".join(cols)
        before = int(self._scalar(f"SELECT count(*) FROM {table_name}"))
        self.con.execute(f"INSERT INTO {table_name} ({names}) SELECT {names} FROM read_parquet({files})")
        return int(self._scalar(f"SELECT count(*) FROM {table_name}")) - before
