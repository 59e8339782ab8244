"""Embeddings, stories, memberships over time and story events: the tables the story step writes.

Rows go in and come out as plain tuples and arrays; what they mean for clustering is decided in
:mod:`clustering.story_step`, not here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from .base import StoreBase

#: Columns of a unit row: (article id, group id, title, text, published, seq).
UnitRow = tuple[str, str, str, str, datetime | None, int]

_STORY_SCHEMA = pa.schema([
    ("story_id", pa.string()), ("first_seen", pa.timestamp("us", tz="UTC")),
    ("last_seen", pa.timestamp("us", tz="UTC")), ("size", pa.int64()), ("units", pa.int64()),
    ("vector_sum", pa.list_(pa.float32())), ("model_id", pa.string()), ("guard", pa.string()),
    ("label", pa.string()), ("label_terms", pa.list_(pa.string())),
    ("representative_id", pa.string()), ("status", pa.string()), ("created_run", pa.int64()),
    ("updated_run", pa.int64())])


#: A story id whose number :meth:`StoryTables.max_story_number` counts (as DuckDB's
#: ``TRY_CAST(substr(id, 2) AS BIGINT)`` reads the ids the engine makes).
_STORY_NUMBER = re.compile(r"S[0-9]+")


def _window(model_id: str, lo: datetime | None, hi: datetime | None) -> tuple[str, list[Any]]:
    """WHERE clause (and its arguments) of the units of a model published in [lo, hi]
    (None: open bound; undated units always)."""
    where, args = "e.model_id = ?", [model_id]
    if lo is not None:
        where += " AND (a.published IS NULL OR a.published >= ?)"
        args.append(lo)
    if hi is not None:
        where += " AND (a.published IS NULL OR a.published <= ?)"
        args.append(hi)
    return where, args


class StoryTables(StoreBase):
    """``embeddings``, ``stories``, ``story_members``, ``story_events``."""

    def _gids(self, group_ids: Iterable[str]):
        return self._temp(pa.table({"gid": pa.array(sorted(set(group_ids)), pa.string())}))

    # ---- embeddings ------------------------------------------------------------------------

    def count_embeddings(self) -> int:
        """Number of stored embeddings (all models)."""
        return int(self._scalar("SELECT count(*) FROM embeddings"))

    def embeddings_of(self, ids: Iterable[str], model_id: str) -> dict[str, np.ndarray]:
        """id -> stored float32 vector of ``model_id``, for those of ``ids`` that have one."""
        # the model is compared here: a second filter term makes DuckDB scan the table
        rows = self._by_ids("SELECT e.article_id, e.model_id, e.vector FROM embeddings e",
                            "e.article_id", ids)
        return {r[0]: np.asarray(r[2], dtype=np.float32) for r in rows if r[1] == model_id}

    def insert_embeddings(self, ids: Sequence[str], model_id: str, vectors: np.ndarray,
                          run_id: int) -> None:
        """Store (n, d) float32 vectors of ``ids`` under ``model_id``."""
        self._insert_arrow("embeddings", pa.table({
            "article_id": list(ids), "model_id": [model_id] * len(ids),
            "vector": pa.array([v.tolist() for v in vectors], pa.list_(pa.float32())),
            "run_id": pa.array([run_id] * len(ids), pa.int64()),
        }))

    # ---- units: embedded representatives of near-duplicate groups ---------------------------

    #: The ``counters`` row holding the largest number N of a stored story id ``S<N>``.
    STORY_COUNTER = "story"

    def max_story_number(self) -> int:
        """The largest number N of a stored story id ``S<N>`` (0 when none): one row of
        ``counters``, which :meth:`replace_stories` keeps (a store written before the counter
        existed is scanned once, and the row is written when the store is writable)."""
        try:
            got = self._rows("SELECT value FROM counters WHERE name = ?", [self.STORY_COUNTER])
        except duckdb.CatalogException:  # a read-only open of a file from before the table
            got = []
        if got:
            return int(got[0][0])
        n = int(self._scalar("SELECT max(TRY_CAST(substr(story_id, 2) AS BIGINT)) FROM stories") or 0)
        if not self.read_only:
            self.con.execute("INSERT INTO counters VALUES (?, ?)", [self.STORY_COUNTER, n])
        return n

    def stories_of_groups(self, group_ids: Sequence[str]) -> dict[str, str]:
        """group id -> story id, for groups that already have a member with an open membership
        (the story of the earliest-ingested such member)."""
        if not group_ids:
            return {}
        if self._small(group_ids):
            members = self._group_members(group_ids)
            story = self.open_stories_of([a for _, a in members])  # (VersionTables)
            seq = self.seq_of(list(story))  # (ArticleTables)
            best: dict[str, tuple[int, str]] = {}
            for gid, aid in members:
                if aid in story and aid in seq and (gid not in best or seq[aid] < best[gid][0]):
                    best[gid] = (seq[aid], story[aid])
            return {gid: sid for gid, (_, sid) in best.items()}
        with self._gids(group_ids) as t:
            return dict(self._rows(
                "SELECT m.group_id, arg_min(sm.story_id, a.seq) FROM dup_members m "
                "JOIN story_members sm ON sm.article_id = m.article_id AND sm.valid_to IS NULL "
                f"JOIN articles a ON a.id = m.article_id WHERE m.group_id IN (SELECT gid FROM {t}) "
                "GROUP BY m.group_id"))

    def group_representatives(self, group_ids: Sequence[str]) -> list[UnitRow]:
        """:data:`UnitRow` of the representative of each of ``group_ids``, in ingest order."""
        if not group_ids:
            return []
        if self._small(group_ids):
            rep = dict(self._by_ids("SELECT g.group_id, g.representative_id FROM dup_groups g",
                                    "g.group_id", group_ids))
            arts = self._article_rows(rep.values())
            return sorted(((aid, gid, *arts[aid]) for gid, aid in rep.items() if aid in arts),
                          key=lambda r: r[5])
        with self._gids(group_ids) as t:
            return self._rows(
                "SELECT a.id, g.group_id, coalesce(a.title, ''), coalesce(a.text, ''), a.published, "
                f"a.seq FROM dup_groups g JOIN articles a ON a.id = g.representative_id "
                f"WHERE g.group_id IN (SELECT gid FROM {t}) ORDER BY a.seq")

    # ---- lookups by key behind the methods above (few keys: index scans) ---------------------

    def _group_members(self, group_ids: Iterable[str]) -> list[tuple[str, str]]:
        """``(group id, article id)`` of the members of the given groups."""
        return self._by_ids("SELECT m.group_id, m.article_id FROM dup_members m", "m.group_id",
                            group_ids)

    def _article_rows(self, article_ids: Iterable[str]) -> dict[str, tuple]:
        """article id -> ``(title or '', text or '', published, seq)``, for stored articles."""
        return {r[0]: r[1:] for r in self._by_ids(
            "SELECT a.id, coalesce(a.title, ''), coalesce(a.text, ''), a.published, a.seq "
            "FROM articles a", "a.id", article_ids)}

    def _open_members(self, story_ids: Iterable[str]) -> list[tuple[str, str, int | None]]:
        """``(story id, article id, run that opened it)`` of the open memberships of the
        given stories."""
        return [(sid, aid, run) for sid, aid, run, closed in self._by_ids(
            "SELECT sm.story_id, sm.article_id, sm.run_id, sm.valid_to FROM story_members sm",
            "sm.story_id", story_ids) if closed is None]

    def unembedded_units_of_stories(self, story_ids: Iterable[str], model_id: str) -> list[UnitRow]:
        """:data:`UnitRow` of group representatives with an open membership in one of
        ``story_ids`` but no ``model_id`` embedding (a group whose embedded representative was
        replaced by an article update), in ingest order."""
        with self._ids(story_ids) as t:
            return self._rows(
                "SELECT a.id, g.group_id, coalesce(a.title, ''), coalesce(a.text, ''), a.published, a.seq "
                "FROM dup_groups g JOIN articles a ON a.id = g.representative_id "
                "JOIN story_members sm ON sm.article_id = a.id AND sm.valid_to IS NULL "
                f"JOIN {t} ON sm.story_id = {t}.id WHERE NOT EXISTS (SELECT 1 FROM embeddings e "
                "WHERE e.article_id = a.id AND e.model_id = ?) ORDER BY a.seq", [model_id])

    def units_by_id(self, ids: Iterable[str]) -> list[UnitRow]:
        """:data:`UnitRow` of the given stored articles."""
        with self._ids(ids) as t:
            return self._rows(
                "SELECT a.id, m.group_id, coalesce(a.title, ''), coalesce(a.text, ''), a.published, "
                f"a.seq FROM articles a JOIN dup_members m ON m.article_id = a.id "
                f"JOIN {t} ON a.id = {t}.id")

    def count_window_units(self, model_id: str, lo: datetime | None, hi: datetime | None) -> int:
        """How many units :meth:`window_units` would return (without loading embeddings)."""
        where, args = _window(model_id, lo, hi)
        return int(self._scalar(
            "SELECT count(*) FROM embeddings e JOIN articles a ON a.id = e.article_id "
            f"JOIN story_members sm ON sm.article_id = a.id AND sm.valid_to IS NULL WHERE {where}", args))

    def window_units(self, model_id: str, lo: datetime | None, hi: datetime | None
                     ) -> tuple[list[UnitRow], np.ndarray, dict[str, str]]:
        """Stored units (articles with a ``model_id`` embedding and an open membership)
        published in [lo, hi] (None: open bound; undated units always): their rows in ingest
        order, their embeddings (k, d) float32 and unit id -> story id."""
        sql = ("SELECT a.id, m.group_id, coalesce(a.title, ''), coalesce(a.text, ''), a.published, "
               "a.seq, e.vector, sm.story_id "
               "FROM embeddings e JOIN articles a ON a.id = e.article_id "
               "JOIN dup_members m ON m.article_id = a.id "
               "JOIN story_members sm ON sm.article_id = a.id AND sm.valid_to IS NULL "
               "WHERE ")
        where, args = _window(model_id, lo, hi)
        rows = self._rows(sql + where + " ORDER BY a.seq", args)
        vecs = (np.array([r[6] for r in rows], dtype=np.float32) if rows
                else np.zeros((0, 0), np.float32))
        return [r[:6] for r in rows], vecs, {r[0]: r[7] for r in rows}

    # ---- stories ---------------------------------------------------------------------------

    def active_story_rows(self, min_last_seen: datetime | None) -> list[tuple]:
        """Active stories (status active; last seen at or after ``min_last_seen`` unless None,
        or never seen): ``(story_id, vector_sum, units, first_seen epoch, last_seen epoch,
        guard JSON)`` ordered by story id."""
        sql = ("SELECT story_id, vector_sum, units, epoch(first_seen), epoch(last_seen), guard "
               "FROM stories WHERE status = 'active'")
        args: list[Any] = []
        if min_last_seen is not None:
            sql += " AND (last_seen IS NULL OR last_seen >= ?)"
            args.append(min_last_seen)
        return self._rows(sql + " ORDER BY story_id", args)

    def existing_stories(self, story_ids: Iterable[str]) -> list[str]:
        """Those of ``story_ids`` that have a ``stories`` row."""
        return sorted({r[0] for r in self._by_ids("SELECT s.story_id FROM stories s", "s.story_id",
                                                  story_ids)})

    def story_sizes(self, story_ids: Iterable[str]) -> dict[str, int]:
        """story id -> number of open memberships (articles now in it), for the given stories
        (0 for a story with none)."""
        ids = sorted(set(story_ids))
        got = dict.fromkeys(ids, 0)
        for sid, _, _ in self._open_members(ids):
            got[sid] += 1
        return got

    def count_open_stories(self) -> int:
        """Stories not merged away."""
        return int(self._scalar("SELECT count(*) FROM stories WHERE status <> 'merged'"))

    def story_created_runs(self, story_ids: Iterable[str]) -> dict[str, int]:
        """story id -> the run that created it, for stored stories."""
        return dict(self._by_ids("SELECT s.story_id, s.created_run FROM stories s", "s.story_id",
                                 story_ids))

    def story_member_rows(self, story_ids: Iterable[str], model_id: str) -> list[tuple]:
        """Open members of the given stories in ingest order: ``(story_id, article id, title,
        text, published, seq, group size, vector or None)``; members without a stored article
        or near-duplicate group are left out. Lookups by key (index scans) for few stories and
        members, one join otherwise (:meth:`_by_ids`)."""
        story_ids = list(dict.fromkeys(story_ids))
        if not story_ids:
            return []
        if not self._small(story_ids):
            return self._member_rows_joined(story_ids, model_id)
        members = [(aid, sid) for sid, aid, _ in self._open_members(story_ids)]
        ids = [aid for aid, _ in members]
        if not ids:
            return []
        if not self._small(ids):
            return self._member_rows_joined(story_ids, model_id)
        arts = {r[0]: r[1:] for r in self._by_ids(
            "SELECT a.id, a.title, a.text, a.published, a.seq FROM articles a", "a.id", ids)}
        group_of = dict(self._by_ids("SELECT m.article_id, m.group_id FROM dup_members m",
                                     "m.article_id", ids))
        size_of = dict(self._by_ids("SELECT g.group_id, g.size FROM dup_groups g", "g.group_id",
                                    group_of.values()))
        vec_of = {aid: v for aid, m, v in self._by_ids(
            "SELECT e.article_id, e.model_id, e.vector FROM embeddings e", "e.article_id", ids)
            if m == model_id}
        rows = [(sid, aid, *arts[aid], size_of[group_of[aid]], vec_of.get(aid))
                for aid, sid in members
                if aid in arts and aid in group_of and group_of[aid] in size_of]
        return sorted(rows, key=lambda r: r[5])

    def _member_rows_joined(self, story_ids: list[str], model_id: str) -> list[tuple]:
        """:meth:`story_member_rows` as one join (many stories or members)."""
        with self._ids(story_ids) as t:
            return self._rows(
                "SELECT sm.story_id, a.id, a.title, a.text, a.published, a.seq, g.size, e.vector "
                "FROM story_members sm JOIN articles a ON a.id = sm.article_id "
                "JOIN dup_members m ON m.article_id = a.id JOIN dup_groups g ON g.group_id = m.group_id "
                "LEFT JOIN embeddings e ON e.article_id = a.id AND e.model_id = ? "
                f"WHERE sm.valid_to IS NULL AND sm.story_id IN (SELECT id FROM {t}) ORDER BY a.seq",
                [model_id])

    def recent_story_ids(self, limit: int) -> list[str]:
        """Ids of the ``limit`` most recently seen active stories (last seen, newest first;
        never seen last; ties by story id)."""
        if limit <= 0:
            return []
        return [r[0] for r in self._rows(
            "SELECT story_id FROM stories WHERE status = 'active' "
            "ORDER BY last_seen DESC NULLS LAST, story_id LIMIT ?", [limit])]

    def open_member_titles(self, story_ids: Iterable[str]) -> dict[str, list[str]]:
        """story id -> titles ('' for none) of its open members in ingest order, for each of
        ``story_ids`` (an empty list for a story with none)."""
        story_ids = list(dict.fromkeys(story_ids))
        members = self._open_members(story_ids)
        arts = dict((r[0], r[1:]) for r in self._by_ids(
            "SELECT a.id, coalesce(a.title, ''), a.seq FROM articles a", "a.id",
            [aid for _, aid, _ in members]))
        out: dict[str, list[str]] = {sid: [] for sid in story_ids}
        for sid, aid, _ in sorted((m for m in members if m[1] in arts), key=lambda m: arts[m[1]][1]):
            out[sid].append(arts[aid][0])
        return out

    def replace_stories(self, story_ids: Iterable[str], rows: list[dict[str, Any]]) -> None:
        """Delete the ``stories`` rows of ``story_ids`` and insert ``rows`` (dicts with every
        ``stories`` column)."""
        with self._ids(story_ids) as t:
            self.con.execute(f"DELETE FROM stories WHERE story_id IN (SELECT id FROM {t})")
        self._insert_arrow("stories", pa.Table.from_pylist(rows, schema=_STORY_SCHEMA))
        numbers = [int(r["story_id"][1:]) for r in rows if _STORY_NUMBER.fullmatch(r["story_id"])]
        if numbers and max(numbers) > self.max_story_number():  # (which writes a missing row)
            self.con.execute("UPDATE counters SET value = ? WHERE name = ?",
                             [max(numbers), self.STORY_COUNTER])

    def stories_last_seen_before(self, cutoff: datetime) -> list[tuple[str, datetime]]:
        """``(story_id, last_seen)`` of active stories last seen before ``cutoff``."""
        return self._rows("SELECT story_id, last_seen FROM stories WHERE status = 'active' "
                          "AND last_seen < ? ORDER BY story_id", [cutoff])

    def mark_quiet(self, story_ids: Iterable[str], run_id: int) -> None:
        """Set the given stories' status to "quiet" and drop their hybrid states: online
        assignment loads active stories only, and a story that is touched again gets its state
        rebuilt from its members. So ``story_state`` holds the active stories' states, however
        large the archive (loading them joins the whole table)."""
        with self._ids(story_ids) as t:
            self.con.execute(f"UPDATE stories SET status = 'quiet', updated_run = ? "
                             f"WHERE story_id IN (SELECT id FROM {t})", [run_id])
            self.con.execute(f"DELETE FROM story_state WHERE story_id IN (SELECT id FROM {t})")

    # ---- the hybrid scorer's state: document frequencies and per-story state -----------------

    #: The reserved ``doc_freqs`` term whose ``df`` is the number of documents counted.
    N_DOCS_TERM = ""

    def doc_freqs_of(self, terms: Iterable[str]) -> tuple[int, dict[str, int]]:
        """``(documents counted, term -> document frequency)`` for those of ``terms`` that were
        seen (only the terms asked for are read, not the whole vocabulary)."""
        rows = self._by_ids("SELECT d.term, d.df FROM doc_freqs d", "d.term",
                            [self.N_DOCS_TERM, *terms])
        got = dict(rows)
        return int(got.pop(self.N_DOCS_TERM, 0) or 0), got

    def add_doc_freqs(self, counts: dict[str, int], n_docs: int) -> None:
        """Add ``n_docs`` documents whose terms occur in ``counts[term]`` of them (upsert:
        stored frequencies grow, new terms are inserted)."""
        if n_docs <= 0:
            return
        rows = dict(counts)
        rows[self.N_DOCS_TERM] = n_docs
        table = pa.table({"term": pa.array(list(rows), pa.string()),
                          "df": pa.array(list(rows.values()), pa.int64())})
        with self._temp(table) as t:
            self.con.execute(f"INSERT INTO doc_freqs SELECT term, df FROM {t} ON CONFLICT (term) "
                             "DO UPDATE SET df = doc_freqs.df + excluded.df")

    def story_states(self, story_ids: Iterable[str], model_id: str) -> dict[str, str]:
        """story id -> stored hybrid state (JSON text) made with ``model_id`` embeddings."""
        # by primary key (an index scan for a few ids: a join reads every stored state, which
        # is why quiet stories keep none); the model is compared here, since a second filter
        # term makes DuckDB scan the table
        rows = self._by_ids("SELECT s.story_id, s.state, s.model_id FROM story_state s",
                            "s.story_id", story_ids)
        return {sid: state for sid, state, m in rows if m == model_id}

    def stories_with_state(self, story_ids: Iterable[str], model_id: str) -> set[str]:
        """Those of ``story_ids`` that have a stored hybrid state made with ``model_id``
        embeddings (the states themselves are not read: a large story's is megabytes)."""
        rows = self._by_ids("SELECT s.story_id, s.model_id FROM story_state s", "s.story_id",
                            story_ids)
        return {sid for sid, m in rows if m == model_id}

    def active_story_ids(self, min_last_seen: datetime | None) -> list[str]:
        """Ids of the active stories last seen at or after ``min_last_seen`` (or never; all
        active ones when None), by story id."""
        sql = "SELECT story_id FROM stories WHERE status = 'active'"
        args: list[Any] = []
        if min_last_seen is not None:
            sql += " AND (last_seen IS NULL OR last_seen >= ?)"
            args.append(min_last_seen)
        return [r[0] for r in self._rows(sql + " ORDER BY story_id", args)]

    def replace_story_states(self, states: dict[str, str | None], model_id: str,
                             run_id: int) -> None:
        """Set the hybrid state (JSON text) of each story in ``states``; None deletes it."""
        if not states:
            return
        with self._ids(states) as t:
            self.con.execute(f"DELETE FROM story_state WHERE story_id IN (SELECT id FROM {t})")
        keep = {k: v for k, v in states.items() if v is not None}
        self._insert_arrow("story_state", pa.table({
            "story_id": pa.array(list(keep), pa.string()),
            "model_id": pa.array([model_id] * len(keep), pa.string()),
            "state": pa.array(list(keep.values()), pa.string()),
            "updated_run": pa.array([run_id] * len(keep), pa.int64())}))

    # ---- memberships and events --------------------------------------------------------------

    def members_without_story(self, group_ids: Iterable[str]) -> list[tuple[str, str]]:
        """``(group id, article id)`` of members of the given groups that have no open story
        membership, in ingest order."""
        group_ids = list(dict.fromkeys(group_ids))
        if self._small(group_ids):
            members = self._group_members(group_ids)
            ids = [a for _, a in members]
            story, seq = self.open_stories_of(ids), self.seq_of(ids)
            return sorted(((g, a) for g, a in members if a in seq and a not in story),
                          key=lambda m: seq[m[1]])
        with self._gids(group_ids) as t:
            return self._rows(
                "SELECT m.group_id, m.article_id FROM dup_members m JOIN articles a ON a.id = m.article_id "
                f"WHERE m.group_id IN (SELECT gid FROM {t}) AND NOT EXISTS (SELECT 1 FROM story_members sm "
                "WHERE sm.article_id = m.article_id AND sm.valid_to IS NULL) ORDER BY a.seq")

    def open_members_of_groups(self, group_ids: Iterable[str]) -> list[tuple[str, str, str]]:
        """``(group id, article id, story id)`` of members of the given groups with an open
        membership (a group's members may sit in several stories after groups merged)."""
        with self._gids(group_ids) as t:
            return self._rows(
                "SELECT m.group_id, sm.article_id, sm.story_id FROM story_members sm JOIN dup_members m "
                f"ON m.article_id = sm.article_id WHERE sm.valid_to IS NULL AND m.group_id IN "
                f"(SELECT gid FROM {t})")

    def close_memberships(self, article_ids: Iterable[str], when: datetime, run_id: int) -> None:
        """Close (``valid_to = when``) the open memberships of the given articles."""
        with self._ids(article_ids) as t:
            self.con.execute("UPDATE story_members SET valid_to = ?, closed_run = ? WHERE valid_to IS NULL "
                             f"AND article_id IN (SELECT id FROM {t})", [when, run_id])

    def open_memberships(self, rows: Sequence[tuple[str, str, float | None, str]], when: datetime,
                         run_id: int) -> None:
        """Insert open memberships ``(article id, story id, score, reason)`` valid from ``when``."""
        if not rows:
            return
        self._insert_arrow("story_members", pa.table({
            "article_id": [r[0] for r in rows], "story_id": [r[1] for r in rows],
            "valid_from": pa.array([when] * len(rows), pa.timestamp("us", tz="UTC")),
            "valid_to": pa.array([None] * len(rows), pa.timestamp("us", tz="UTC")),
            "run_id": pa.array([run_id] * len(rows), pa.int64()),
            "closed_run": pa.array([None] * len(rows), pa.int64()),
            "score": pa.array([r[2] for r in rows], pa.float64()),
            "reason": [r[3] for r in rows],
        }))

    def run_growth(self, run_id: int, story_ids: Iterable[str]) -> list[tuple]:
        """Per story of ``story_ids`` with memberships opened in ``run_id``: ``(story_id, count,
        earliest published, latest published)``, by story id."""
        story_ids = list(dict.fromkeys(story_ids))
        if self._small(story_ids):
            grown = [(sid, aid) for sid, aid, run in self._open_members(story_ids) if run == run_id]
            when = dict(self._by_ids("SELECT a.id, a.published FROM articles a", "a.id",
                                     [aid for _, aid in grown]))
            per: dict[str, list] = {}
            for sid, aid in grown:
                if aid in when:
                    per.setdefault(sid, []).append(when[aid])
            return [(sid, len(ts), min((t for t in ts if t is not None), default=None),
                     max((t for t in ts if t is not None), default=None))
                    for sid, ts in sorted(per.items())]
        with self._ids(story_ids) as t:
            return self._rows(
                "SELECT sm.story_id, count(*), min(a.published), max(a.published) FROM story_members sm "
                f"JOIN articles a ON a.id = sm.article_id JOIN {t} ON sm.story_id = {t}.id "
                "WHERE sm.run_id = ? AND sm.valid_to IS NULL GROUP BY sm.story_id ORDER BY sm.story_id",
                [run_id])

    def insert_events(self, events: Sequence[tuple], run_id: int) -> None:
        """Insert story events ``(story_id, kind, other_story_id, event_time, detail)``."""
        if not events:
            return
        self._insert_arrow("story_events", pa.table({
            "story_id": [e[0] for e in events], "kind": [e[1] for e in events],
            "other_story_id": pa.array([e[2] for e in events], pa.string()),
            "event_time": pa.array([e[3] for e in events], pa.timestamp("us", tz="UTC")),
            "run_id": pa.array([run_id] * len(events), pa.int64()),
            "detail": [e[4] for e in events],
        }))

    # ---- explain -----------------------------------------------------------------------------

    def has_story_members(self) -> bool:
        """True once any story membership was written."""
        return bool(self._scalar("SELECT count(*) FROM story_members"))

    def story_facts(self, article_id: str) -> tuple | None:
        """``(story id, reason, group id, representative id)`` of a stored article's open
        membership and group (story fields None when it has none); None when not stored."""
        rows = self._rows(
            "SELECT sm.story_id, sm.reason, m.group_id, g.representative_id FROM dup_members m "
            "JOIN dup_groups g ON g.group_id = m.group_id LEFT JOIN story_members sm ON "
            "sm.article_id = m.article_id AND sm.valid_to IS NULL WHERE m.article_id = ?", [article_id])
        return rows[0] if rows else None

    def embedded_unit_of(self, article_id: str) -> tuple | None:
        """``(unit id, vector, title, text, published)`` of the embedded member of the article's
        near-duplicate group, or None."""
        rows = self._rows(
            "SELECT e.article_id, e.vector, a.title, a.text, a.published FROM story_members sm "
            "JOIN dup_members m ON m.article_id = sm.article_id "
            "JOIN dup_members m2 ON m2.group_id = m.group_id "
            "JOIN embeddings e ON e.article_id = m2.article_id "
            "JOIN articles a ON a.id = e.article_id WHERE sm.article_id = ? "
            "ORDER BY a.seq LIMIT 1", [article_id])
        return rows[0] if rows else None
