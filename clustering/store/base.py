"""The connection to one DuckDB file: opening, transactions, and the few generic helpers the
table modules share. Nothing outside :mod:`clustering.store` touches the connection."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from .schema import SCHEMA

#: Names of registered Arrow views are unique per call, so no two callers share one.
_TEMP_NAMES = itertools.count()


class StoreError(RuntimeError):
    """The database cannot be used: locked by another process, not a DuckDB file, or missing
    when opened read-only; or a looked-up id is not stored. The message is one line naming the
    file."""


def as_utc(dt: datetime | None) -> datetime | None:
    """A datetime as timezone-aware UTC (naive values, as DuckDB may return them, are UTC)."""
    if dt is None:
        return None
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


class StoreBase:
    """A connection to one DuckDB file (see :class:`clustering.store.Store`)."""

    def __init__(self, path: str | Path, *, read_only: bool = False):
        self.path = Path(path)
        self.read_only = read_only
        if read_only and not self.path.exists():
            raise StoreError(f"{self.path}: no such database (create it with `news-cluster run`)")
        if not read_only and str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(str(path), read_only=read_only)
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

    def __enter__(self):
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

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

    def _ids(self, ids: Iterable[str]):
        """``_temp`` of a one-column (``id``) table of strings."""
        return self._temp(pa.table({"id": pa.array(list(ids), pa.string())}))

    def _insert_arrow(self, table_name: str, table: pa.Table) -> None:
        """Append an Arrow table's rows to ``table_name`` (columns matched by name)."""
        if table.num_rows == 0:
            return
        cols = ", ".join(table.column_names)
        with self._temp(table) as t:
            self.con.execute(f"INSERT INTO {table_name} ({cols}) SELECT {cols} FROM {t}")

    def _scalar(self, sql: str, params: list | None = None) -> Any:
        """The first column of the first row of a query (None when no row)."""
        rows = self.con.execute(sql, params or []).fetchall()  # fetchone leaves the result open
        return rows[0][0] if rows else None

    def _rows(self, sql: str, params: list | None = None) -> list[tuple]:
        return self.con.execute(sql, params or []).fetchall()

    # ---- runs ------------------------------------------------------------------------------

    def next_run_id(self) -> int:
        """The id the next run will get (1 for an empty database)."""
        return int(self._scalar("SELECT coalesce(max(run_id), 0) + 1 FROM runs"))

    def record_run(self, run_id: int, started: datetime, command: str, inputs: list[str],
                   params: dict[str, Any], summary: dict[str, Any]) -> None:
        """Insert the run's log row (call inside the run's transaction)."""
        self.con.execute(
            "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)",
            [run_id, started, datetime.now(timezone.utc), command, inputs,
             json.dumps(params, default=str), json.dumps(summary, default=str)])

    def last_run_params(self) -> dict[str, Any]:
        """The ``params`` of the newest run ({} for an empty database)."""
        raw = self._scalar("SELECT params FROM runs ORDER BY run_id DESC LIMIT 1")
        return json.loads(raw) if raw else {}

    def counts(self) -> dict[str, int]:
        """Row counts of every table (for tests and the summary)."""
        names = ["runs", "articles", "signatures", "lsh_bands", "dup_members", "dup_groups", "embeddings",
                 "stories", "story_members", "story_events", "doc_freqs", "story_state"]
        return {n: int(self._scalar(f"SELECT count(*) FROM {n}")) for n in names}
