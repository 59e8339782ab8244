"""The service's engine: ONE :class:`~clustering.NewsClusterer` that owns the DuckDB file as its
single writer (writes serialised by a lock) and a small pool of read handles on the same open
database, so reads are answered while a write is in progress (they see the last committed
state). No HTTP here: :mod:`clustering.service.app` is the web layer over this class."""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from clustering.config import Config
from clustering.io.readers import read_records
from clustering.pipeline import NewsClusterer
from clustering.store import Store

#: Read handles kept open; a read waits for a free one (the web server's thread pool is larger).
READERS = 8


def _reason(rec: Any) -> str:
    """Why the readers reject one record on its own (one line), or "" when they accept it."""
    if not isinstance(rec, Mapping):
        return f"not a JSON object ({type(rec).__name__})"
    result, _ = read_records([rec])
    return next(iter(result.skips.as_dict()), "")


def _shown_id(rec: Any) -> str | None:
    raw = rec.get("id") if isinstance(rec, Mapping) else None
    return str(raw).strip() or None if isinstance(raw, (str, int)) and not isinstance(raw, bool) else None


class Engine:
    """The engine behind the feed service.

    Args:
        db_path: the DuckDB file (created when missing); held open, locked, until :meth:`close`.
        config: every setting (:class:`~clustering.config.Config`); ``stories.mode`` "none"
            serves near-duplicates only.
        embedder: a loaded :class:`~clustering.embed.Embedder` to share (built otherwise).
        readers: read handles in the pool.

    Raises:
        StoreError: the file is locked by another writer or is not a DuckDB database.
    """

    def __init__(self, db_path: str | Path, config: Config | None = None, *, embedder: Any = None,
                 readers: int = READERS):
        self.config = config or Config()
        # the service commits every request: commits never publish (an infinite interval);
        # the publisher thread does, between requests
        self._store = Store(db_path, publish_every_s=math.inf,
                            publish_share=self.config.run.snapshot_share)
        self.writer = NewsClusterer(self._store, self.config, embedder=embedder)
        self.lock = threading.Lock()
        self._last_write = self._last_publish = time.monotonic()
        self._stop = threading.Event()
        self._publisher = threading.Thread(target=self._publish_loop, name="snapshot-publisher",
                                           daemon=True)
        read_cfg = self.config.replace(stories={"mode": "none"})  # readers never embed
        self._pool: queue.Queue[NewsClusterer] = queue.Queue()
        self._all = [NewsClusterer(self.writer.store.reader(), read_cfg) for _ in range(readers)]
        for r in self._all:
            self._pool.put(r)
        self.ready = False
        self._publisher.start()

    def _publish_loop(self) -> None:
        # Snapshots for readers outside the service (Store.publish) are published here, never
        # inside a request: a publish checkpoints the whole file (DuckDB rewrites its indexes),
        # seconds at 100k articles, which inside a request was that request's latency.
        run = self.config.run

        def due() -> bool:
            now = time.monotonic()
            age = now - self._last_publish
            # a publish holds the write lock for its copy (O(archive)): at most
            # run.snapshot_share of the time goes to it
            every = self._store.grown_interval(run.snapshot_every_s)
            return (age >= every and now - self._last_write >= run.snapshot_idle_s) \
                or age >= max(run.snapshot_max_age_s, every)

        while not self._stop.wait(0.5):
            if due():
                with self.lock:
                    if due() and self._store.publish_pending():  # again: a write may have just ended
                        self._last_publish = time.monotonic()

    def warm_up(self) -> None:
        """Load the embedding model now (when stories are on), so the first POST does not pay
        for it; sets :attr:`ready`."""
        step = self.writer.story_step
        if step is not None:
            step._embedder().encode_texts(["warm up"])  # built from the config's embed settings
        self.ready = True

    def close(self) -> None:
        """Stop the publisher, close the read handles, then the writer (publishes what is not
        yet, releases the file lock)."""
        self._stop.set()
        self._publisher.join()
        for r in self._all:
            r.close()
            r.store.close()
        self.writer.close()
        self._store.close()

    @contextmanager
    def read(self) -> Iterator[NewsClusterer]:
        """A read-only :class:`~clustering.NewsClusterer` over the shared database, for one
        request."""
        nc = self._pool.get()
        try:
            yield nc
        finally:
            self._pool.put(nc)

    def post(self, records: Sequence[Any]) -> list[dict[str, Any]]:
        """Ingest raw article records (dicts with the fields the readers take) as one run, in one
        transaction (durable when this returns), and answer per record, in order.

        Returns:
            One dict per record: ``index``, ``id``, ``status`` ("stored", "already stored",
            "updated" (a stored id with other text: a new version, as ``news-cluster run`` keeps
            it) or "rejected"); stored ones add ``dup_group``, ``representative_id``, ``is_duplicate``
            (it folds into a group whose first member was ingested before it),
            ``similarity``, ``rule``, ``joined_via``, ``story_id``; rejected ones add ``error``
            (one line). Valid records are stored even when others in the batch are rejected.

        Raises:
            StoreError: the database cannot be written.
        """
        read, positions = read_records(records)
        out: list[dict[str, Any]] = [{"index": i, "id": _shown_id(r), "status": "rejected"}
                                     for i, r in enumerate(records)]
        accepted = set(positions)
        for i, rec in enumerate(records):
            if i not in accepted:
                out[i]["error"] = _reason(rec) or "duplicate id in this request"
        by_id = dict(zip([a.id for a in read.articles], positions))
        with self.lock:
            before = self.writer.store.stored_hashes_of(list(by_id))
            if read.articles:
                self.writer.ingest(read.articles, command="serve", overview=False)
                self._last_write = time.monotonic()
            after = self.writer.store.stored_hashes_of(list(by_id))
            members = self.writer.store.memberships_of(list(by_id))
        for aid, i in by_id.items():
            row = out[i]
            m = members.get(aid)
            if m is None:  # e.g. a record that is an older version of a stored article
                row["error"] = "not stored"
                continue
            status = ("stored" if aid not in before else
                      "already stored" if before[aid] == after.get(aid) else "updated")
            row.update(status=status,
                       dup_group=m["dup_group"], representative_id=m["representative_id"],
                       is_duplicate=m["dup_group"] != aid, similarity=m["similarity"],
                       rule=m["rule"], joined_via=m["joined_via"], story_id=m["story_id"])
        return out

    def article_count(self) -> int:
        """Articles stored."""
        with self.read() as nc:
            return nc.store.counts()["articles"]
