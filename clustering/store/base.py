"""The connection to one DuckDB file: opening, transactions, and the few generic helpers the
table modules share. Nothing outside :mod:`clustering.store` touches the connection."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from .schema import SCHEMA

#: Names of registered Arrow views are unique per call, so no two callers share one.
_TEMP_NAMES = itertools.count()


#: DuckDB's type for each scalar Arrow type, as its Arrow scan maps them.
_ARROW_TO_DUCKDB = {
    pa.string(): "VARCHAR", pa.large_string(): "VARCHAR", pa.binary(): "BLOB",
    pa.large_binary(): "BLOB", pa.bool_(): "BOOLEAN", pa.int8(): "TINYINT",
    pa.int16(): "SMALLINT", pa.int32(): "INTEGER", pa.int64(): "BIGINT",
    pa.uint8(): "UTINYINT", pa.uint16(): "USMALLINT", pa.uint32(): "UINTEGER",
    pa.uint64(): "UBIGINT", pa.float32(): "FLOAT", pa.float64(): "DOUBLE", pa.date32(): "DATE",
}


def _list_types(schema: pa.Schema) -> list[str] | None:
    """DuckDB types of the columns of ``schema``, or None when one is not a plain scalar
    (lists, structs, nulls, timestamps other than microseconds: those take the Arrow path)."""
    out = []
    for f in schema:
        t = f.type
        if pa.types.is_timestamp(t) and t.unit == "us":
            out.append("TIMESTAMPTZ" if t.tz else "TIMESTAMP")
        elif t in _ARROW_TO_DUCKDB:
            out.append(_ARROW_TO_DUCKDB[t])
        else:
            return None
    return out


def _sql_str(p: str | Path) -> str:
    return str(p).replace("'", "''")


class StoreError(RuntimeError):
    """The database cannot be used: locked by another process, not a DuckDB file, or missing
    when opened read-only; or a looked-up id is not stored. The message is one line naming the
    file."""


def as_utc(dt: datetime | None) -> datetime | None:
    """A datetime as timezone-aware UTC (naive values, as DuckDB may return them, are UTC)."""
    if dt is None:
        return None
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def snapshot_path(path: str | Path) -> Path:
    """Where a writer publishes the last committed state of ``path`` for readers."""
    return Path(f"{path}.snapshot")


#: Largest key set looked up as an IN list of parameters (an index scan); larger sets are joined
#: with a registered Arrow table (a scan of the table, cheaper per key for big batches).
POINT_LOOKUP_MAX = 512

#: Largest number of rows appended as list parameters (``SELECT unnest(?::T[]), ...``) instead
#: of a registered Arrow table: registering and unregistering a table costs ~0.6 ms, more than a
#: one-article call's whole insert (benchmarks/RESULTS.md, "One article: fewer statements").
SMALL_INSERT_MAX = 256


#: A file is compacted on a writer's open when it has more free bytes than this, and more free
#: blocks than used ones (e.g. after a kill -9 during a large commit).
RECLAIM_MIN_FREE_BYTES = 16 * 2**20


#: Seconds a writer retries a file locked by another process (a short-lived reader) before
#: giving up with StoreError.
WRITER_LOCK_WAIT_S = 5.0


class StoreBase:
    """A connection to one DuckDB file (see :class:`clustering.store.Store`)."""

    def __init__(self, path: str | Path, *, read_only: bool = False, lock_wait_s: float | None = None,
                 publish_snapshot: bool = True, publish_every_s: float = 0.0,
                 publish_share: float = 0.0):
        self.path = Path(path)
        #: publish at most this often (seconds; 0 = after every commit): a process committing
        #: article by article (the service, a held-open NewsClusterer) republishes on a timer
        #: instead, since a publish copies the whole file (O(archive) per commit otherwise);
        #: a commit left unpublished is published by :meth:`close`
        self._publish_every = publish_every_s
        #: with the timer on, publishing takes at most this share of the writer's time: the
        #: interval grows to the last publish's cost / share (0 = a fixed interval)
        self._publish_share = publish_share
        self._publish_cost = 0.0
        self._published_at = float("-inf")
        self._unpublished = False
        self.read_only = read_only
        #: True when a reader found the file locked by a writer and reads the writer's last
        #: published snapshot (the state of its last commit) instead.
        self.from_snapshot = False
        self._file = str(path) != ":memory:"
        self._publish = publish_snapshot and self._file and not read_only
        if read_only and not self.path.exists():
            raise StoreError(f"{self.path}: no such database (create it with `news-cluster run`)")
        if not read_only and self._file:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        had_wal = self._file and Path(f"{path}.wal").exists()
        if lock_wait_s is None:  # a reader process may hold the file for a moment: writers wait
            lock_wait_s = 0.0 if read_only else WRITER_LOCK_WAIT_S
        self.con = self._connect(str(path), read_only, lock_wait_s)
        if not read_only:
            self.con.execute(SCHEMA)
            if self._file:
                self._reclaim(had_wal)

    def _connect(self, path: str, read_only: bool, lock_wait_s: float):
        """Open the file; a locked file is retried for ``lock_wait_s`` seconds, then (readers)
        read from the writer's snapshot when there is one."""
        deadline = time.monotonic() + lock_wait_s
        while True:
            try:
                return duckdb.connect(path, read_only=read_only)
            except duckdb.IOException as exc:
                msg = str(exc).splitlines()[0]
                if "lock" not in msg.lower():
                    raise StoreError(f"{self.path}: cannot open database ({msg})") from exc
                if time.monotonic() < deadline:
                    time.sleep(0.2)
                    continue
                snap = snapshot_path(path)
                if read_only and snap.exists():
                    try:
                        con = duckdb.connect(str(snap), read_only=True)
                    except duckdb.Error:
                        pass
                    else:
                        self.from_snapshot = True
                        return con
                raise StoreError(f"{self.path}: database is locked by another process "
                                 "(one writer at a time); try again when it has finished") from exc
            except duckdb.Error as exc:
                raise StoreError(f"{self.path}: not a usable DuckDB database "
                                 f"({str(exc).splitlines()[0]})") from exc

    def _reclaim(self, had_wal: bool) -> None:
        """After an interrupted writer (a WAL was left): fold the WAL into the file (CHECKPOINT)
        and compact the file (a copy of every table and index, then an atomic rename) when it is
        over ``RECLAIM_MIN_FREE_BYTES``; also compact a file that is mostly free blocks. Publish a
        snapshot for readers when there is none or it is older than the file."""
        if had_wal:
            self.con.execute("CHECKPOINT")
            if Path(f"{self.path}.wal").exists():  # a torn WAL DuckDB skipped: a write clears it
                self.con.execute("CREATE OR REPLACE TABLE _reclaim (x INTEGER); DROP TABLE _reclaim; "
                                 "CHECKPOINT")
        row = self.con.execute("PRAGMA database_size").fetchall()[0]
        block, used, free = int(row[2]), int(row[4]), int(row[5])
        big = self.path.stat().st_size > RECLAIM_MIN_FREE_BYTES
        # after an interrupted writer the blocks of its half-done checkpoint stay in use or free
        # in the file (a trial: 178 MB instead of 2.6 MB), so compact then; else when mostly free
        if (had_wal and big) or (free > used and free * block > RECLAIM_MIN_FREE_BYTES):
            self.con.close()
            tmp = Path(f"{self.path}.compact.tmp")
            tmp.unlink(missing_ok=True)
            con = duckdb.connect()
            try:
                con.execute(f"ATTACH '{_sql_str(self.path)}' AS src (READ_ONLY); "
                            f"ATTACH '{_sql_str(tmp)}' AS dst; COPY FROM DATABASE src TO dst; "
                            "DETACH src; DETACH dst")
            finally:
                con.close()
            os.replace(tmp, self.path)
            self.con = duckdb.connect(str(self.path))
        snap = snapshot_path(self.path)
        if self._publish and (not snap.exists() or snap.stat().st_mtime < self.path.stat().st_mtime):
            self.publish()  # none yet, or the last writer died between its commit and publishing
        elif self._publish:
            # the snapshot is the file's state now: the publish timer starts here, so the first
            # commit of a writer held open (the service, a NewsClusterer adding article by
            # article) is not the one that copies the whole file (O(archive): ~15 s at 1M
            # stored articles) but waits for the timer like the later ones; the last writer's
            # publish cost, kept beside the snapshot, sets the interval from the start
            self._published_at = time.monotonic()
            with suppress(OSError, ValueError):
                self._publish_cost = max(0.0, float(Path(f"{snap}.cost").read_text()))

    def publish(self) -> None:
        """Publish the committed state for readers: CHECKPOINT, then copy the file to
        :func:`snapshot_path` (a temporary copy renamed over the old one, so a reader never sees
        a half-written snapshot; readers that have the old one open keep reading it)."""
        if not self._publish:
            return
        now = time.monotonic()
        if self._publish_every and now - self._published_at < self.publish_interval:
            self._unpublished = True
            return
        self._unpublished = False
        t0 = time.monotonic()
        self.con.execute("CHECKPOINT")
        snap = snapshot_path(self.path)
        tmp = Path(f"{snap}.tmp")
        tmp.unlink(missing_ok=True)
        # After the CHECKPOINT the file holds every committed row (the WAL is empty), so a byte
        # copy is a valid database: ~20x faster than COPY FROM DATABASE, which rebuilds every
        # index in the copy. A child process copies it: a second descriptor on the file in this
        # process would release DuckDB's POSIX lock on it when closed, letting another writer in.
        subprocess.run([sys.executable, "-c", "import shutil, sys; shutil.copyfile(sys.argv[1], sys.argv[2])",
                        str(self.path), str(tmp)], check=True, capture_output=True)
        os.replace(tmp, snap)
        # the timer runs from the end of a copy: a copy slower than the interval would otherwise
        # make every commit publish again
        self._published_at = time.monotonic()
        self._publish_cost = self._published_at - t0
        with suppress(OSError):  # for the next writer of this file (see _reclaim); advisory only
            Path(f"{snap}.cost").write_text(f"{self._publish_cost:.3f}\n")

    @property
    def publish_cost(self) -> float:
        """Seconds the last publish took (CHECKPOINT and copy; 0.0 before the first)."""
        return self._publish_cost

    @property
    def publish_interval(self) -> float:
        """Seconds a publish waits for after the last one (the timer's interval):
        :meth:`grown_interval` of ``publish_every_s``."""
        return self.grown_interval(self._publish_every)

    def grown_interval(self, every: float) -> float:
        """``every`` seconds, or more: at least the last publish's own seconds /
        ``publish_share`` (a copy of the whole file: ~15 s at 1M stored articles, so a writer
        held open at that size publishes every 5 minutes at a share of 0.05, not every 30 s);
        ``every`` itself when ``publish_share`` is 0."""
        if not self._publish_share:
            return every
        return max(every, self._publish_cost / self._publish_share)

    def publish_pending(self) -> bool:
        """Publish now a commit the timer held back (see ``publish_every_s``); True when one
        was published. For a writer that picks its own moment (the feed service: when writes
        pause), so no commit waits for the copy."""
        if not getattr(self, "_unpublished", False):  # reader() handles have no such attribute
            return False
        self._published_at = float("-inf")
        self.publish()
        return True

    def close(self) -> None:
        """Publish a commit the timer held back (see ``publish_every_s``), then close the
        connection (releases the file lock)."""
        self.publish_pending()
        self.con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextmanager
    def released(self) -> Iterator[None]:
        """Close this handle's connection inside the block, so that another process may open the
        file for writing (DuckDB allows one writing process), then reopen it (same file, same
        mode). A commit the publish timer held back is published first. Handles from
        :meth:`reader` are closed with the connection.

        Raises:
            StoreError: an in-memory store (another process cannot see it), or the file cannot
                be reopened after the block (locked by another writer past ``WRITER_LOCK_WAIT_S``).
        """
        if not self._file:
            raise StoreError("an in-memory store cannot be released to another process")
        if self._unpublished:
            self._published_at = float("-inf")
            self.publish()
        self.con.close()
        try:
            yield
        finally:
            self.con = self._connect(str(self.path), self.read_only,
                                     0.0 if self.read_only else WRITER_LOCK_WAIT_S)
            # another process wrote the file: the max hints of _max_of are lower bounds still,
            # but a rolled-back run elsewhere is cheaper to forget than to reason about
            self.__dict__.pop("_max_hints", None)

    def reader(self):
        """Another handle on this open database for another thread: same class, its own DuckDB
        cursor (DuckDB connections are not shared across threads), flagged read-only. It reads
        the last committed state while this handle writes inside a transaction (DuckDB's MVCC),
        so a service can answer reads during a write. Close it before closing this handle."""
        other = object.__new__(type(self))
        other.path, other.read_only, other.con = self.path, True, self.con.cursor()
        return other

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
        self.publish()

    # ---- generic helpers -------------------------------------------------------------------

    @contextmanager
    def _temp(self, table: pa.Table) -> Iterator[str]:
        """Register an Arrow table under a name unique to this call; unregistered afterwards."""
        name = f"_arrow_{next(_TEMP_NAMES)}"
        self.con.register(name, table)
        try:
            yield name
        finally:
            self.con.unregister(name)

    @staticmethod
    def _small(values: Sequence) -> bool:
        """True when a lookup by ``values`` should be an IN list of parameters: DuckDB answers
        ``col IN (?, ...)`` on an indexed column with an index scan (cost independent of the
        table size), while a join with a registered Arrow table probes every row."""
        return 0 < len(values) <= POINT_LOOKUP_MAX

    @staticmethod
    def _marks(values: Sequence) -> str:
        """``?, ?, ...``: one parameter marker per value."""
        return ", ".join("?" * len(values))

    def _by_ids(self, select: str, col: str, ids: Iterable[str]) -> list[tuple]:
        """Rows of ``select`` (one table, aliased) whose ``col`` (a key with an index) is one of
        ``ids``: an index scan for few ids, a join with a registered Arrow table otherwise."""
        ids = list(dict.fromkeys(ids))
        if not ids:
            return []
        if self._small(ids):
            return self._rows(f"{select} WHERE {col} IN ({self._marks(ids)})", ids)
        with self._ids(ids) as t:
            return self._rows(f"{select} JOIN {t} ON {col} = {t}.id")

    def _ids(self, ids: Iterable[str]):
        """``_temp`` of a one-column (``id``) table of strings."""
        return self._temp(pa.table({"id": pa.array(list(ids), pa.string())}))

    def _insert_arrow(self, table_name: str, table: pa.Table) -> None:
        """Append an Arrow table's rows to ``table_name`` (columns matched by name). Up to
        :data:`SMALL_INSERT_MAX` rows of scalar columns go in as one list parameter per column
        (the same types DuckDB gives the Arrow columns, so the same casts into the table)."""
        if table.num_rows == 0:
            return
        cols = ", ".join(table.column_names)
        types = _list_types(table.schema) if table.num_rows <= SMALL_INSERT_MAX else None
        if types is not None:
            picks = ", ".join(f"unnest(?::{t}[])" for t in types)
            self.con.execute(f"INSERT INTO {table_name} ({cols}) SELECT {picks}",
                             [c.to_pylist() for c in table.columns])
            return
        with self._temp(table) as t:
            self.con.execute(f"INSERT INTO {table_name} ({cols}) SELECT {cols} FROM {t}")

    def _scalar(self, sql: str, params: list | None = None) -> Any:
        """The first column of the first row of a query (None when no row)."""
        rows = self.con.execute(sql, params or []).fetchall()  # fetchone leaves the result open
        return rows[0][0] if rows else None

    def _rows(self, sql: str, params: list | None = None) -> list[tuple]:
        return self.con.execute(sql, params or []).fetchall()

    # ---- runs ------------------------------------------------------------------------------

    def _max_of(self, table: str, col: str) -> int | None:
        """``max(col)`` of a table (None when empty), for an ever-growing integer column: the
        last maximum seen is a lower bound that lets DuckDB's zone maps skip all but the
        newest row groups (a full scan otherwise, O(rows) per run); when rows above it were
        deleted or rolled back the full scan answers."""
        hints = self.__dict__.setdefault("_max_hints", {})
        hint = hints.get((table, col))
        top = None
        if hint is not None:
            top = self._scalar(f"SELECT max({col}) FROM {table} WHERE {col} >= ?", [hint])
        if top is None:
            top = self._scalar(f"SELECT max({col}) FROM {table}")
        if top is not None:
            hints[(table, col)] = int(top)
        return None if top is None else int(top)

    def last_run_id(self) -> int | None:
        """The newest committed run's id (None for an empty database)."""
        return self._max_of("runs", "run_id")

    def next_run_id(self) -> int:
        """The id the next run will get (1 for an empty database)."""
        return (self._max_of("runs", "run_id") or 0) + 1

    def record_run(self, run_id: int, started: datetime, command: str, inputs: list[str],
                   params: dict[str, Any], summary: dict[str, Any]) -> None:
        """Insert the run's log row (call inside the run's transaction)."""
        self.con.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)",
            [run_id, started, datetime.now(timezone.utc), command, inputs,
             json.dumps(params, default=str), json.dumps(summary, default=str)])

    def last_run_params(self) -> dict[str, Any]:
        """The ``params`` of the newest run ({} for an empty database)."""
        # one statement: the newest row at or above the last run id seen (zone maps skip the
        # older row groups), the whole table when there is none there
        hints = self.__dict__.setdefault("_max_hints", {})
        hint = hints.get(("runs", "run_id"))
        rows = [] if hint is None else self._rows(
            "SELECT run_id, params FROM runs WHERE run_id >= ? ORDER BY run_id DESC LIMIT 1", [hint])
        if not rows:
            rows = self._rows("SELECT run_id, params FROM runs ORDER BY run_id DESC LIMIT 1")
        if not rows:
            return {}
        hints[("runs", "run_id")] = int(rows[0][0])
        return json.loads(rows[0][1]) if rows[0][1] else {}

    def counts(self) -> dict[str, int]:
        """Row counts of every table (for tests and the summary)."""
        names = ["runs", "articles", "signatures", "lsh_bands", "dup_members", "dup_groups", "embeddings",
                 "stories", "story_members", "story_events", "doc_freqs", "story_state"]
        return {n: int(self._scalar(f"SELECT count(*) FROM {n}")) for n in names}
