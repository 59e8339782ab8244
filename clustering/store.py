"""The DuckDB store: one file holding articles, fingerprints, near-duplicate groups, embeddings,
stories and their history.

Tables (see ``SCHEMA``):

- ``runs``: one row per ``run``, with its parameters and summary (an audit log).
- ``articles``: every article as read (original title/text kept), with its ingest sequence
  number ``seq`` and the hash of its normalised text.
- ``signatures``: MinHash signatures (uint32 little-endian bytes) per article and fingerprint
  configuration, so later runs check new articles against everything stored without
  recomputing old signatures.
- ``dup_members`` / ``dup_groups``: each article's near-duplicate group (id = its
  earliest-ingested member), the similarity and article it joined through, and each group's
  representative and size.
- ``embeddings``: one vector per (representative article, model).
- ``stories``: one row per story: first/last seen, ``size`` (articles, near-duplicates
  included), ``units`` (embedded near-duplicate groups) and ``vector_sum`` (their embedding sum;
  centroid = vector_sum / units), the guard features of its first unit, label terms and
  representative headline, ``status`` (active, quiet, merged).
- ``story_members``: which article belongs to which story when: ``valid_from`` / ``valid_to``
  (a move closes the old row and opens a new one; rows are never overwritten), the score and the
  reason of the decision.
- ``story_events``: created, grew, merged_into, split_from, went_quiet.

All writes of a run happen in one transaction: a run that fails half way leaves the file as it
was. DuckDB allows one writing process per file; a second one gets :class:`StoreError` at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from clustering.dedup.engine import Membership, RepCandidate, choose_representative

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id BIGINT PRIMARY KEY, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ,
    command VARCHAR, inputs VARCHAR[], params JSON, summary JSON);
CREATE TABLE IF NOT EXISTS articles (
    id VARCHAR PRIMARY KEY, seq BIGINT NOT NULL, run_id BIGINT NOT NULL,
    title VARCHAR, text VARCHAR, published TIMESTAMPTZ, source VARCHAR, url VARCHAR,
    lang VARCHAR, listed_on VARCHAR, input_order BIGINT, content_hash VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS signatures (
    article_id VARCHAR NOT NULL, config VARCHAR NOT NULL, kind VARCHAR NOT NULL,
    sig BLOB NOT NULL, PRIMARY KEY (article_id, config, kind));
CREATE TABLE IF NOT EXISTS dup_members (
    article_id VARCHAR PRIMARY KEY, group_id VARCHAR NOT NULL, similarity DOUBLE,
    joined_via VARCHAR, rule VARCHAR, run_id BIGINT);
CREATE TABLE IF NOT EXISTS dup_groups (
    group_id VARCHAR NOT NULL, representative_id VARCHAR NOT NULL, size BIGINT NOT NULL,
    run_id BIGINT);
CREATE TABLE IF NOT EXISTS embeddings (
    article_id VARCHAR NOT NULL, model_id VARCHAR NOT NULL, vector FLOAT[] NOT NULL,
    run_id BIGINT, PRIMARY KEY (article_id, model_id));
CREATE TABLE IF NOT EXISTS stories (
    story_id VARCHAR NOT NULL, first_seen TIMESTAMPTZ, last_seen TIMESTAMPTZ,
    size BIGINT NOT NULL, units BIGINT NOT NULL, vector_sum FLOAT[] NOT NULL, model_id VARCHAR,
    guard JSON, label VARCHAR, label_terms VARCHAR[], representative_id VARCHAR,
    status VARCHAR NOT NULL, created_run BIGINT, updated_run BIGINT);
CREATE TABLE IF NOT EXISTS story_members (
    article_id VARCHAR NOT NULL, story_id VARCHAR NOT NULL, valid_from TIMESTAMPTZ NOT NULL,
    valid_to TIMESTAMPTZ, run_id BIGINT, closed_run BIGINT, score DOUBLE, reason VARCHAR);
CREATE TABLE IF NOT EXISTS story_events (
    story_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, other_story_id VARCHAR,
    event_time TIMESTAMPTZ NOT NULL, run_id BIGINT, detail VARCHAR);
"""


class StoreError(RuntimeError):
    """The database cannot be used: locked by another process, not a DuckDB file, or missing
    when opened read-only. The message is one line naming the file."""


def as_utc(dt: datetime | None) -> datetime | None:
    """A datetime as timezone-aware UTC (naive values, as DuckDB may return them, are UTC)."""
    if dt is None:
        return None
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


class Store:
    """A connection to one DuckDB file.

    Args:
        path: the database file (created with its schema when it does not exist, unless
            ``read_only``).
        read_only: open for reading only (several readers may share a file).

    Raises:
        StoreError: the file is locked by another writer, is not a DuckDB database, or does not
            exist (read-only).
    """

    def __init__(self, path: str | Path, *, read_only: bool = False):
        self.path = Path(path)
        if read_only and not self.path.exists():
            raise StoreError(f"{self.path}: no such database (create it with `news-cluster run`)")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            msg = str(exc).splitlines()[0]
            if "lock" in msg.lower():
                raise StoreError(f"{self.path}: database is locked by another process "
                                 "(one writer at a time); try again when it has finished") from exc
            raise StoreError(f"{self.path}: cannot open database ({msg})") from exc
        except duckdb.Error as exc:
            raise StoreError(f"{self.path}: not a usable DuckDB database "
                             f"({str(exc).splitlines()[0]})") from exc
        if not read_only:
            self.con.execute(SCHEMA)

    def close(self) -> None:
        """Close the connection (releases the file lock)."""
        self.con.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All statements inside commit together or not at all."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    # ---- generic helpers -------------------------------------------------------------------

    def _ids_table(self, ids: Iterable[str]) -> str:
        tbl = pa.table({"id": pa.array(list(ids), pa.string())})
        self.con.register("_ids", tbl)
        return "_ids"

    def insert_arrow(self, table_name: str, table: pa.Table) -> None:
        """Append an Arrow table's rows to ``table_name`` (columns matched by name)."""
        if table.num_rows == 0:
            return
        self.con.register("_rows", table)
        cols = ", ".join(table.column_names)
        self.con.execute(f"INSERT INTO {table_name} ({cols}) SELECT {cols} FROM _rows")
        self.con.unregister("_rows")

    def scalar(self, sql: str, params: list | None = None) -> Any:
        """The first column of the first row of a query (None when no row)."""
        rows = self.con.execute(sql, params or []).fetchall()  # fetchone leaves the result open
        return rows[0][0] if rows else None

    # ---- runs ------------------------------------------------------------------------------

    def next_run_id(self) -> int:
        """The id the next run will get (1 for an empty database)."""
        return int(self.scalar("SELECT coalesce(max(run_id), 0) + 1 FROM runs"))

    def record_run(self, run_id: int, started: datetime, command: str, inputs: list[str],
                   params: Mapping[str, Any], summary: Mapping[str, Any]) -> None:
        """Insert the run's log row (call inside the run's transaction)."""
        self.con.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)",
            [run_id, started, datetime.now(timezone.utc), command, inputs,
             json.dumps(params, default=str), json.dumps(summary, default=str)])

    # ---- articles and fingerprints ---------------------------------------------------------

    def next_seq(self) -> int:
        """The ingest sequence number the next new article gets."""
        return int(self.scalar("SELECT coalesce(max(seq), -1) + 1 FROM articles"))

    def stored_hashes_of(self, ids: Iterable[str]) -> dict[str, str]:
        """id -> content hash, for those of ``ids`` already stored."""
        t = self._ids_table(ids)
        rows = self.con.execute(
            f"SELECT a.id, a.content_hash FROM articles a JOIN {t} USING (id)").fetchall()
        return dict(rows)

    def first_article_by_hash(self, hashes: Iterable[str]) -> dict[str, str]:
        """content hash -> id of the earliest-ingested stored article with that hash."""
        tbl = pa.table({"h": pa.array(sorted(set(hashes)), pa.string())})
        self.con.register("_h", tbl)
        rows = self.con.execute(
            "SELECT content_hash, arg_min(id, seq) FROM articles JOIN _h ON content_hash = h "
            "GROUP BY content_hash").fetchall()
        return dict(rows)

    def insert_articles(self, table: pa.Table) -> None:
        """Insert new article rows (an Arrow table with the ``articles`` columns)."""
        self.insert_arrow("articles", table)

    def load_signatures(self, config: str, num_perm: int) -> tuple[list[str], list[str], np.ndarray]:
        """All stored signatures of one fingerprint configuration.

        Returns ``(ids, kinds, signatures uint32 (n, num_perm))`` in ingest order.
        """
        tbl = self.con.sql(
            "SELECT s.article_id, s.kind, s.sig FROM signatures s JOIN articles a "
            "ON a.id = s.article_id WHERE s.config = ? ORDER BY a.seq", params=[config]).to_arrow_table()
        ids = tbl.column("article_id").to_pylist()
        kinds = tbl.column("kind").to_pylist()
        blobs = tbl.column("sig").to_pylist()
        sigs = (np.frombuffer(b"".join(blobs), dtype="<u4").reshape(len(ids), num_perm)
                if ids else np.zeros((0, num_perm), np.uint32))
        return ids, kinds, sigs.astype(np.uint32)

    def unsigned_representatives(self, config: str) -> list[tuple[str, str, str]]:
        """Stored articles that should be in the LSH index but have no signature for ``config``
        (first article of each content hash): ``(id, title, text)`` in ingest order. Non-empty
        only after the fingerprint settings changed."""
        return self.con.execute(
            "SELECT a.id, a.title, a.text FROM articles a "
            "WHERE a.seq = (SELECT min(seq) FROM articles b WHERE b.content_hash = a.content_hash) "
            "AND NOT EXISTS (SELECT 1 FROM signatures s WHERE s.article_id = a.id AND s.config = ?) "
            "ORDER BY a.seq", [config]).fetchall()

    def texts_of(self, ids: Iterable[str]) -> dict[str, tuple[str, str]]:
        """id -> (title, text) of stored articles."""
        t = self._ids_table(ids)
        rows = self.con.execute(f"SELECT a.id, a.title, a.text FROM articles a JOIN {t} USING (id)"
                                ).fetchall()
        return {r[0]: (r[1] or "", r[2] or "") for r in rows}

    # ---- near-duplicate groups -------------------------------------------------------------

    def group_members_touching(self, ids: Iterable[str]) -> dict[str, Membership]:
        """Stored memberships of every member of every group that contains one of ``ids``."""
        t = self._ids_table(ids)
        rows = self.con.execute(
            "SELECT m.article_id, m.group_id, m.similarity, m.joined_via, m.rule FROM dup_members m "
            f"WHERE m.group_id IN (SELECT g.group_id FROM dup_members g JOIN {t} ON g.article_id = {t}.id)"
        ).fetchall()
        return {r[0]: Membership(r[1], r[2], r[3], r[4]) for r in rows}

    def seq_of(self, ids: Iterable[str]) -> dict[str, int]:
        """id -> ingest sequence number for stored articles."""
        t = self._ids_table(ids)
        return dict(self.con.execute(f"SELECT a.id, a.seq FROM articles a JOIN {t} USING (id)").fetchall())

    def upsert_memberships(self, members: Mapping[str, Membership], run_id: int) -> None:
        """Insert or replace ``dup_members`` rows."""
        if not members:
            return
        ids = list(members)
        t = self._ids_table(ids)
        self.con.execute(f"DELETE FROM dup_members WHERE article_id IN (SELECT id FROM {t})")
        self.insert_arrow("dup_members", pa.table({
            "article_id": ids,
            "group_id": [members[i].group_id for i in ids],
            "similarity": pa.array([members[i].similarity for i in ids], pa.float64()),
            "joined_via": pa.array([members[i].joined_via for i in ids], pa.string()),
            "rule": pa.array([members[i].rule for i in ids], pa.string()),
            "run_id": pa.array([run_id] * len(ids), pa.int64()),
        }))

    def refresh_groups(self, group_ids: Iterable[str], run_id: int) -> dict[str, str]:
        """Recompute size and representative of the given groups from ``dup_members``.

        The representative is the earliest published member; ties: longest text, then ingest
        order (see :func:`clustering.dedup.engine.choose_representative`). Groups that no longer
        have members (merged away) are deleted. Returns group id -> representative id.
        """
        gids = sorted(set(group_ids))
        if not gids:
            return {}
        tbl = pa.table({"gid": pa.array(gids, pa.string())})
        self.con.register("_g", tbl)
        self.con.execute("DELETE FROM dup_groups WHERE group_id IN (SELECT gid FROM _g)")
        members = self.con.execute(
            "SELECT m.group_id, a.id, a.published, length(coalesce(a.title, '')) "
            "+ length(coalesce(a.text, '')), a.seq FROM dup_members m "
            "JOIN articles a ON a.id = m.article_id WHERE m.group_id IN (SELECT gid FROM _g)"
        ).fetchall()
        by_group: dict[str, list[RepCandidate]] = {}
        for gid, aid, published, length, seq in members:
            by_group.setdefault(gid, []).append(RepCandidate(aid, as_utc(published), length, seq))
        rows = [(gid, choose_representative(ms), len(ms)) for gid, ms in sorted(by_group.items())]
        self.insert_arrow("dup_groups", pa.table({
            "group_id": [r[0] for r in rows], "representative_id": [r[1] for r in rows],
            "size": pa.array([r[2] for r in rows], pa.int64()),
            "run_id": pa.array([run_id] * len(rows), pa.int64()),
        }))
        return {r[0]: r[1] for r in rows}

    def counts(self) -> dict[str, int]:
        """Row counts of every table (for tests and the summary)."""
        names = ["runs", "articles", "signatures", "dup_members", "dup_groups", "embeddings",
                 "stories", "story_members", "story_events"]
        return {n: int(self.scalar(f"SELECT count(*) FROM {n}")) for n in names}
