"""Read views: listings, the deduplicated feed, exports, story timelines, explain and
evaluation lookups. Feed and export files are written by DuckDB itself (``COPY ... TO``), so
exports of large archives stream without passing every row through Python."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from .base import StoreBase, StoreError

FEED_SQL = """
SELECT a.id, a.title, a.text, a.published, a.source, a.url, a.lang, a.listed_on,
       g.size - 1 AS duplicate_count,
       coalesce(list(m.article_id ORDER BY d.seq) FILTER (WHERE m.article_id <> a.id), [])
           AS duplicate_ids
FROM dup_groups g
JOIN articles a ON a.id = g.representative_id
JOIN dup_members m ON m.group_id = g.group_id
JOIN articles d ON d.id = m.article_id
GROUP BY ALL
ORDER BY min(d.seq)
"""

#: ``story_id``: the article's open membership, or that of its group's representative.
_EXPORT_SQL = """
SELECT a.id, m.group_id AS dup_group, g.representative_id, m.similarity,
       coalesce(sm.story_id, sr.story_id) AS story_id{full}
FROM articles a
JOIN dup_members m ON m.article_id = a.id
JOIN dup_groups g ON g.group_id = m.group_id
LEFT JOIN story_members sm ON sm.article_id = a.id AND sm.valid_to IS NULL
LEFT JOIN story_members sr ON sr.article_id = g.representative_id AND sr.valid_to IS NULL
LEFT JOIN stories s ON s.story_id = coalesce(sm.story_id, sr.story_id)
ORDER BY a.seq
"""
_EXPORT_FULL = (", a.title, a.source, a.url, a.published, a.lang, m.rule, m.joined_via, "
                "s.label AS story_label, s.label_terms AS story_terms")

EXPORT_FORMATS = ("jsonl", "csv", "parquet")


class ReadViews(StoreBase):
    """What the commands and the service read."""

    # ---- near-duplicate groups ---------------------------------------------------------------

    def group_overview(self, top: int = 5) -> tuple[int, int, list[dict[str, Any]]]:
        """(number of groups with 2+ members, articles in them, the ``top`` largest groups)."""
        n, arts = self._rows(
            "SELECT count(*), coalesce(sum(size), 0) FROM dup_groups WHERE size > 1")[0]
        return int(n), int(arts), [{k: g[k] for k in ("group_id", "size", "representative_id",
                                                        "title", "source")}
                                   for g in self.list_groups(min_size=2, limit=top, members=False)]

    def list_groups(self, *, min_size: int = 2, limit: int = 20, members: bool = True
                    ) -> list[dict[str, Any]]:
        """Near-duplicate groups, largest first: group id, size, representative id, title,
        source, published, and (``members``) each member's id, title, source, published,
        similarity and rule in ingest order."""
        rows = self._rows(
            "SELECT g.group_id, g.size, g.representative_id, a.title, a.source, a.published "
            "FROM dup_groups g JOIN articles a ON a.id = g.representative_id WHERE g.size >= ? "
            "ORDER BY g.size DESC, g.group_id LIMIT ?", [min_size, limit])
        out = []
        for gid, size, rep, title, source, published in rows:
            g = {"group_id": gid, "size": size, "representative_id": rep, "title": title,
                 "source": source, "published": published}
            if members:
                g["members"] = [
                    {"id": m[0], "title": m[1], "source": m[2], "published": m[3],
                     "similarity": m[4], "rule": m[5], "joined_via": m[6]}
                    for m in self._rows(
                        "SELECT a.id, coalesce(nullif(a.title, ''), left(a.text, 100)), a.source, "
                        "a.published, m.similarity, m.rule, m.joined_via FROM dup_members m "
                        "JOIN articles a ON a.id = m.article_id WHERE m.group_id = ? ORDER BY a.seq",
                        [gid])]
            out.append(g)
        return out

    # ---- feed and export ---------------------------------------------------------------------

    def _copy(self, sql: str, fmt: str, out: Path | None) -> int:
        n = int(self._scalar(f"SELECT count(*) FROM ({sql})"))
        options = {"jsonl": "FORMAT json", "csv": "FORMAT csv, HEADER true",
                   "parquet": "FORMAT parquet"}[fmt]
        if out is None and fmt != "parquet":
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / f"export.{fmt}"
                self.con.execute(f"COPY ({sql}) TO '{path}' ({options})")
                sys.stdout.write(path.read_text(encoding="utf-8"))
            return n
        target = Path(out or "export.parquet")
        if target.is_dir():
            raise StoreError(f"{target}: is a directory; give a file name")
        if not target.parent.exists():
            raise StoreError(f"{target.parent}: no such directory")
        path_sql = str(target).replace("'", "''")
        try:
            self.con.execute(f"COPY ({sql}) TO '{path_sql}' ({options})")
        except duckdb.IOException as exc:
            raise StoreError(f"{target}: cannot write ({str(exc).splitlines()[0]})") from exc
        return n

    def write_feed(self, out: Path | None) -> int:
        """Write the feed with each item once (JSON Lines; None: stdout): one row per
        near-duplicate group, the representative's fields plus ``duplicate_count`` and
        ``duplicate_ids``, in the order the group's first member arrived. Returns the rows."""
        return self._copy(FEED_SQL, "jsonl", out)

    def export(self, fmt: str, out: Path | None, *, full: bool = False) -> int:
        """Export one row per article (``id, dup_group, representative_id, similarity,
        story_id``; with ``full`` also title, source, url, published, lang, rule, joined_via,
        story_label, story_terms) as ``jsonl``, ``csv`` or ``parquet``; ``out`` None writes
        jsonl/csv to stdout (parquet to ``export.parquet``). Returns the number of rows.

        Raises:
            ValueError: an unknown format. StoreError: the file cannot be written.
        """
        if fmt not in EXPORT_FORMATS:
            raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")
        return self._copy(_EXPORT_SQL.format(full=_EXPORT_FULL if full else ""), fmt, out)

    # ---- the service's reads -----------------------------------------------------------------

    def memberships_of(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """id -> the stored article's near-duplicate membership and story: ``dup_group`` (id of
        its group, the earliest-ingested member), ``representative_id``, ``similarity`` (the
        verified Jaccard it joined through, 1.0 for an exact repeat, None for a group's first
        member), ``joined_via``, ``rule``, ``group_size`` and ``story_id`` (its open story
        membership, or that of its group's representative; None without stories). Ids that are
        not stored (no ``dup_members`` row: every stored article has one, written in the
        transaction that stores it) are absent.

        Three lookups by key (memberships, their groups, open story memberships): IN lists for
        a few ids (the feed service asks for one request's articles), index scans of
        ``dup_members`` and ``dup_groups``, rather than one join of the registered ids with
        four tables (measured in benchmarks/RESULTS.md). ``story_members`` has no index on its
        article ids, so its lookup reads that table."""
        mem = self._by_ids("SELECT m.article_id, m.group_id, m.similarity, m.joined_via, m.rule "
                           "FROM dup_members m", "m.article_id", ids)
        if not mem:
            return {}
        groups = {r[0]: r[1:] for r in self._by_ids(
            "SELECT g.group_id, g.representative_id, g.size FROM dup_groups g", "g.group_id",
            [r[1] for r in mem])}
        mem = [r for r in mem if r[1] in groups]  # a member row always has its group
        story = self.open_stories_of([r[0] for r in mem] + [groups[r[1]][0] for r in mem])
        out = {}
        for aid, gid, sim, via, rule in mem:
            rep, size = groups[gid]
            out[aid] = {"dup_group": gid, "representative_id": rep, "similarity": sim,
                        "joined_via": via, "rule": rule, "group_size": size,
                        "story_id": story.get(aid, story.get(rep))}
        return out

    def feed_page(self, *, since: datetime | None = None, until: datetime | None = None,
                  source: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """The feed with each near-duplicate group once, newest first: the representative's
        fields (id, title, text, published, source, url, lang) plus ``dup_group``,
        ``duplicates`` (the other members' ids and sources, in ingest order) and ``story_id``
        (the representative's open story membership). ``since``/``until`` bound the
        representative's publication time (inclusive; groups whose representative has no time
        are kept only without bounds); ``source`` keeps groups with a member from that source."""
        where, args = ["TRUE"], []
        if since is not None:
            where.append("a.published >= ?")
            args.append(since)
        if until is not None:
            where.append("a.published <= ?")
            args.append(until)
        if source is not None:
            where.append("EXISTS (SELECT 1 FROM dup_members sm2 JOIN articles s2 ON s2.id = sm2.article_id "
                         "WHERE sm2.group_id = g.group_id AND s2.source = ?)")
            args.append(source)
        # The page's groups first, from narrow columns (ids, times, seq); then the rows of the
        # page and of its duplicates by id (index scans). One query that sorted every group
        # joined with its representative's whole row read every stored text: at 1M stored
        # articles ~0.5 s and ~3 GB of DuckDB's buffers per call.
        top = self._rows(
            "SELECT g.group_id, a.id FROM dup_groups g JOIN articles a ON a.id = g.representative_id "
            f"WHERE {' AND '.join(where)} ORDER BY a.published DESC NULLS LAST, a.seq DESC LIMIT ?",
            args + [limit])
        if not top:
            return []
        gids = sorted({g for g, _ in top})
        if self._small(gids):  # an index scan of dup_members_group
            members = self._rows(f"SELECT group_id, article_id FROM dup_members WHERE group_id IN "
                                 f"({self._marks(gids)})", gids)
        else:
            with self._ids(gids) as t:
                members = self._rows(f"SELECT m.group_id, m.article_id FROM dup_members m JOIN {t} "
                                     f"ON m.group_id = {t}.id")
        arts = {r[0]: r[1:] for r in self._by_ids(
            "SELECT a.id, a.title, a.text, a.published, a.source, a.url, a.lang, a.seq FROM articles a",
            "a.id", [i for _, i in top] + [m for _, m in members])}
        dups: dict[str, list[str]] = {}
        for gid, aid in members:
            if aid in arts:
                dups.setdefault(gid, []).append(aid)
        ids = [i for _, i in top]
        story = self.open_stories_of(ids)
        out = []
        for gid, aid in top:
            if aid not in arts:
                continue
            title, text, published, source, url, lang, _ = arts[aid]
            copies = sorted((d for d in dups.get(gid, []) if d != aid), key=lambda d: arts[d][6])
            out.append({"id": aid, "title": title, "text": text, "published": published, "source": source,
                        "url": url, "lang": lang, "dup_group": gid,
                        "duplicates": [{"id": d, "source": arts[d][3]} for d in copies],
                        "story_id": story.get(aid)})
        return out

    def newest_story_time(self) -> datetime | None:
        """The latest ``last_seen`` of any story not merged away (None when there is none)."""
        return self._scalar("SELECT max(last_seen) FROM stories WHERE status <> 'merged'")

    # ---- stories -----------------------------------------------------------------------------

    def has_source(self, source: str) -> bool:
        """True when some stored article has this source."""
        return bool(self._scalar("SELECT count(*) FROM articles WHERE source = ?", [source]))

    def list_stories(self, *, since: datetime | None = None, until: datetime | None = None,
                     source: str | None = None, limit: int = 50, min_size: int = 1
                     ) -> list[dict[str, Any]]:
        """Stories overlapping [since, until] (by first/last seen), optionally only those with
        an article from ``source``; largest first. Each: id, size, units, first/last seen,
        label terms, representative headline, sources (article counts), status."""
        where = ["s.size >= ?", "s.status <> 'merged'"]
        args: list[Any] = [min_size]
        if since is not None:
            where.append("(s.last_seen IS NULL OR s.last_seen >= ?)")
            args.append(since)
        if until is not None:
            where.append("(s.first_seen IS NULL OR s.first_seen <= ?)")
            args.append(until)
        if source is not None:
            where.append("EXISTS (SELECT 1 FROM story_members sm JOIN articles a ON a.id = sm.article_id "
                         "WHERE sm.story_id = s.story_id AND sm.valid_to IS NULL AND a.source = ?)")
            args.append(source)
        rows = self._rows(
            "SELECT s.story_id, s.size, s.units, s.first_seen, s.last_seen, s.label_terms, s.label, "
            "s.status, (SELECT list(struct_pack(source := src, n := n) ORDER BY n DESC, src) FROM "
            "(SELECT coalesce(a.source, '?') src, count(*) n FROM story_members sm JOIN articles a "
            "ON a.id = sm.article_id WHERE sm.story_id = s.story_id AND sm.valid_to IS NULL GROUP BY 1)) "
            f"FROM stories s WHERE {' AND '.join(where)} ORDER BY s.size DESC, s.story_id LIMIT ?",
            args + [limit])
        return [{"story_id": r[0], "size": r[1], "units": r[2], "first_seen": r[3], "last_seen": r[4],
                 "label_terms": r[5] or [], "headline": r[6], "status": r[7],
                 "sources": {d["source"]: d["n"] for d in (r[8] or [])}} for r in rows]

    def story_timeline(self, story_id: str) -> dict[str, Any]:
        """One story: its row, its current articles in time order (source, near-duplicate
        count, how it joined) and its events. Raises StoreError for an unknown story id."""
        rows = self._rows(
            "SELECT story_id, size, units, first_seen, last_seen, label_terms, label, status, "
            "representative_id FROM stories WHERE story_id = ?", [story_id])
        if not rows:
            raise StoreError(f"story {story_id!r} is not in {self.path}")
        r = rows[0]
        story = {"story_id": r[0], "size": r[1], "units": r[2], "first_seen": r[3], "last_seen": r[4],
                 "label_terms": r[5] or [], "headline": r[6], "status": r[7], "representative_id": r[8]}
        arts = self._rows(
            "SELECT a.id, a.published, a.source, coalesce(nullif(a.title, ''), left(a.text, 100)), "
            "a.url, m.group_id, g.size - 1, m.group_id = a.id OR g.representative_id = a.id, "
            "sm.valid_from, sm.reason FROM story_members sm JOIN articles a ON a.id = sm.article_id "
            "JOIN dup_members m ON m.article_id = a.id JOIN dup_groups g ON g.group_id = m.group_id "
            "WHERE sm.story_id = ? AND sm.valid_to IS NULL ORDER BY a.published NULLS LAST, a.seq",
            [story_id])
        story["articles"] = [{"id": a[0], "published": a[1], "source": a[2], "title": a[3], "url": a[4],
                              "dup_group": a[5], "near_duplicates": a[6], "representative": bool(a[7]),
                              "member_since": a[8], "reason": a[9]} for a in arts]
        story["events"] = [{"kind": e[0], "other_story_id": e[1], "time": e[2], "run_id": e[3],
                            "detail": e[4]} for e in self._rows(
            "SELECT kind, other_story_id, event_time, run_id, detail FROM story_events "
            "WHERE story_id = ? OR other_story_id = ? ORDER BY event_time, run_id",
            [story_id, story_id])]
        return story

    # ---- explain and evaluate -------------------------------------------------------------

    def article_facts(self, article_id: str) -> dict[str, Any]:
        """A stored article with its near-duplicate membership: id, title, text, source,
        published, dup_group, similarity, joined_via, rule. Raises StoreError when not stored."""
        rows = self._rows(
            "SELECT a.id, a.title, a.text, a.source, a.published, m.group_id, m.similarity, "
            "m.joined_via, m.rule FROM articles a LEFT JOIN dup_members m ON m.article_id = a.id "
            "WHERE a.id = ?", [article_id])
        if not rows:
            raise StoreError(f"article {article_id!r} is not in {self.path}")
        r = rows[0]
        return {"id": r[0], "title": r[1] or "", "text": r[2] or "", "source": r[3],
                "published": r[4], "dup_group": r[5], "similarity": r[6], "joined_via": r[7],
                "rule": r[8]}

    def cluster_assignments(self) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
        """(article -> near-duplicate group, article -> story (open membership), article ->
        title or the start of its text)."""
        dup = dict(self._rows("SELECT article_id, group_id FROM dup_members"))
        story = dict(self._rows(
            "SELECT article_id, story_id FROM story_members WHERE valid_to IS NULL"))
        titles = {r[0]: (r[1] or (r[2] or "")[:80]) for r in self._rows(
            "SELECT id, title, text FROM articles")}
        return dup, story, titles

    def batch_mates(self, article_id: str, batch_size: int) -> list[tuple[str, str, str, str | None]]:
        """The articles fingerprinted in one batch with ``article_id``: same run, same block of
        ``batch_size`` in ingest order (a run numbers its new articles from its first ``seq``).
        Rows ``(id, title, text, source)``; [] when the id is not stored. Used to re-learn the
        batch's outlet boilerplate for ``explain``."""
        return [(r[0], r[1] or "", r[2] or "", r[3]) for r in self._rows(
            "WITH a AS (SELECT run_id, seq FROM articles WHERE id = ?), "
            "r AS (SELECT min(seq) AS s0 FROM articles WHERE run_id = (SELECT run_id FROM a)) "
            "SELECT x.id, x.title, x.text, x.source FROM articles x, a, r "
            "WHERE x.run_id = a.run_id AND (x.seq - r.s0) // ? = (a.seq - r.s0) // ? ORDER BY x.seq",
            [article_id, batch_size, batch_size])]

    def all_texts(self) -> dict[str, tuple[str, str]]:
        """id -> (title, text) of every stored article."""
        return {r[0]: (r[1] or "", r[2] or "") for r in self._rows("SELECT id, title, text FROM articles")}

    def unit_vectors(self) -> dict[str, np.ndarray]:
        """article -> embedding of its near-duplicate group's embedded member."""
        rows = self._rows(
            "SELECT m.article_id, e.vector FROM dup_members m JOIN dup_members u ON u.group_id = m.group_id "
            "JOIN embeddings e ON e.article_id = u.article_id")
        return {r[0]: np.asarray(r[1], dtype=np.float32) for r in rows}
