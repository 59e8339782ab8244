"""Bulk exchange with a distributed engine: Parquet snapshots out of the store, Parquet shards in.

A Ray run (:mod:`clustering.distributed`) reads what it needs of the stored history from Parquet
files written here (DuckDB streams ``COPY ... TO``, so the driver never holds the tables) and
writes its results as Parquet shards that are appended here with ``read_parquet`` (again
streamed by DuckDB). The column names are those of :mod:`clustering.store.schema`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .base import StoreBase

#: Tables a bulk load may append to.
BULK_TABLES = ("articles", "signatures", "lsh_bands", "dup_members", "dup_groups", "embeddings")


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
        process with the input. Only for a database file (an in-memory one cannot spill its
        tables); ``mb`` 0 leaves DuckDB's default (80% of RAM)."""
        if not mb or not self._file:
            yield
            return
        before = self._scalar("SELECT current_setting('memory_limit')")
        self.con.execute(f"SET memory_limit = '{int(mb)}MiB'")
        try:
            yield
        finally:
            self.con.execute(f"SET memory_limit = '{before}'")

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
