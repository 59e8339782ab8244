"""Article versions: what an update of a stored article reads and writes.

The ``articles`` row is always the current (newest) version; every version it replaced is a row
of ``article_versions`` (same columns, plus the run that stored and the run that superseded it,
the id it arrived under and what changed). Which incoming record is an update of which stored
article is decided by :mod:`clustering.updates`; this module keeps what it is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import pyarrow as pa

from .base import StoreBase

#: Columns of a current-facts row: (content hash, published, source, canonical url, lang,
#: version, listed_on, seq).
FactsRow = tuple[str, datetime | None, str | None, str | None, str | None, int, str | None, int]


class VersionTables(StoreBase):
    """``article_versions`` and the updates of ``articles`` rows."""

    def current_facts(self, ids: Iterable[str]) -> dict[str, FactsRow]:
        """id -> :data:`FactsRow` of the current version, for those of ``ids`` stored."""
        rows = self._by_ids(
            "SELECT a.id, a.content_hash, a.published, a.source, a.canonical_url, a.lang, "
            "coalesce(a.version, 1), a.listed_on, a.seq FROM articles a", "a.id", ids)
        return {r[0]: tuple(r[1:]) for r in rows}

    def ids_by_canonical_url(self, urls: Iterable[str]) -> dict[str, str]:
        """canonical url -> id of the earliest-ingested stored full article (not a headline of a
        page's list) with that canonical url."""
        urls = sorted(set(urls))
        if self._small(urls):
            # an index scan of articles_canonical_url; listed_on is tested here, since another
            # term in the filter makes DuckDB (2.0) scan the whole table instead
            first: dict[str, tuple[int, str]] = {}
            for url, art_id, seq, listed in self._rows(
                    f"SELECT canonical_url, id, seq, listed_on FROM articles WHERE canonical_url IN "
                    f"({self._marks(urls)})", urls):
                if listed is None and (url not in first or seq < first[url][0]):
                    first[url] = (seq, art_id)
            return {u: v[1] for u, v in first.items()}
        with self._temp(pa.table({"u": pa.array(urls, pa.string())})) as t:
            return dict(self._rows(
                f"SELECT canonical_url, arg_min(id, seq) FROM articles JOIN {t} ON canonical_url = u "
                "WHERE listed_on IS NULL GROUP BY canonical_url"))

    def superseded_versions(self, ids: Iterable[str]) -> list[tuple]:
        """``(id, content hash, published, source, canonical url, lang)`` of every archived
        (superseded) version of ``ids``."""
        with self._ids(ids) as t:
            return self._rows("SELECT v.id, v.content_hash, v.published, v.source, v.canonical_url, v.lang "
                              f"FROM article_versions v JOIN {t} USING (id)")

    def archive_versions(self, changes: Mapping[str, tuple[str, str | None]], run_id: int) -> None:
        """Copy the current ``articles`` row of each id into ``article_versions``, with the
        near-duplicate group and the story (open membership) the version was in.

        Args:
            changes: id -> (what changed, e.g. "text" or "published, source"; the id the new
                version arrived under, when not the stored id).
            run_id: the run that supersedes them.
        """
        if not changes:
            return
        ids = list(changes)
        with self._temp(pa.table({"id": ids, "change": [changes[i][0] for i in ids],
                                  "received_id": pa.array([changes[i][1] for i in ids], pa.string())})) as t:
            self.con.execute(
                "INSERT INTO article_versions (id, version, title, text, published, source, url, "
                "canonical_url, lang, content_hash, stored_run, superseded_run, received_id, change, "
                "group_id, story_id) "
                "SELECT a.id, coalesce(a.version, 1), a.title, a.text, a.published, a.source, a.url, "
                f"a.canonical_url, a.lang, a.content_hash, a.run_id, ?, {t}.received_id, {t}.change, "
                "m.group_id, sm.story_id "
                f"FROM articles a JOIN {t} USING (id) LEFT JOIN dup_members m ON m.article_id = a.id "
                "LEFT JOIN story_members sm ON sm.article_id = a.id AND sm.valid_to IS NULL", [run_id])

    def update_metadata(self, rows: pa.Table, run_id: int) -> None:
        """Overwrite ``published, source, url, canonical_url, lang`` of stored articles with the
        values in ``rows`` (an Arrow table with ``id`` and those columns), bump their version and
        record ``run_id`` (archive the old row first with :meth:`archive_versions`)."""
        if rows.num_rows == 0:
            return
        with self._temp(rows) as t:
            self.con.execute(
                f"UPDATE articles SET published = {t}.published, source = {t}.source, url = {t}.url, "
                f"canonical_url = {t}.canonical_url, lang = {t}.lang, "
                f"version = coalesce(articles.version, 1) + 1, run_id = ? FROM {t} "
                f"WHERE articles.id = {t}.id", [run_id])

    def set_versions(self, versions: Mapping[str, int]) -> None:
        """Set the ``version`` number of stored articles (id -> version)."""
        if not versions:
            return
        ids = list(versions)
        with self._temp(pa.table({"id": ids, "v": pa.array([versions[i] for i in ids], pa.int64())})) as t:
            self.con.execute(f"UPDATE articles SET version = {t}.v FROM {t} WHERE articles.id = {t}.id")

    def forget_fingerprints(self, ids: Iterable[str]) -> None:
        """Delete the ``articles`` rows of ``ids`` with their signatures, LSH band keys,
        embeddings and near-duplicate memberships, so that their new versions are ingested as
        new articles (archive them first; story memberships are closed by the caller)."""
        ids = list(ids)
        if not ids:
            return
        items = ids + [f"title:{i}" for i in ids]
        with self._ids(ids) as t:
            for table, col in (("signatures", "article_id"), ("embeddings", "article_id"),
                               ("dup_members", "article_id"), ("articles", "id")):
                self.con.execute(f"DELETE FROM {table} WHERE {col} IN (SELECT id FROM {t})")
        with self._ids(items) as t:
            self.con.execute(f"DELETE FROM lsh_bands WHERE item IN (SELECT id FROM {t})")

    def open_stories_of(self, ids: Iterable[str]) -> dict[str, str]:
        """article id -> story id of its open membership, for those of ``ids`` that have one:
        an IN list for a few ids, a join with a registered table otherwise (:meth:`_by_ids`;
        closed memberships are dropped here)."""
        rows = self._by_ids("SELECT sm.article_id, sm.story_id, sm.valid_to FROM story_members sm",
                            "sm.article_id", ids)
        return {aid: sid for aid, sid, closed in rows if closed is None}

    def article_history(self, article_id: str) -> list[dict]:
        """Every version of one article, oldest first (the current one last, ``current`` True)."""
        cols = ["version", "title", "text", "published", "source", "url", "canonical_url",
                "content_hash", "change", "received_id", "superseded_run", "group_id", "story_id"]
        old = self._rows(f"SELECT {', '.join(cols)} FROM article_versions WHERE id = ? ORDER BY version",
                         [article_id])
        cur = self._rows("SELECT coalesce(a.version, 1), a.title, a.text, a.published, a.source, a.url, "
                         "a.canonical_url, a.content_hash, NULL, NULL, NULL, m.group_id, sm.story_id "
                         "FROM articles a LEFT JOIN dup_members m ON m.article_id = a.id "
                         "LEFT JOIN story_members sm ON sm.article_id = a.id AND sm.valid_to IS NULL "
                         "WHERE a.id = ?", [article_id])
        return ([{**dict(zip(cols, r)), "current": False} for r in old]
                + [{**dict(zip(cols, r)), "current": True} for r in cur])
