"""Story clustering inside a run: embed new near-duplicate groups, assign them to stories (online
or batch), and keep the history in the store.

The unit of story clustering is the *near-duplicate group*: a group's representative is embedded
once (syndicated copies cost no embedding) and the whole group follows the story decision, so
every article has a story membership. Memberships are never overwritten: a move closes the open
row (``valid_to``) and opens a new one, and every change of a story is an event.

Modes (the same :func:`~clustering.stories.scoring.story_score` in both):

* **online** (default): new groups are assigned in time order to the active stories of the store
  (a bounded window, never all stories ever) or start new ones.
* **batch**: the time window around the new articles is re-clustered from scratch
  (agglomerative) and reconciled with the stored stories, so ids stay stable; merges and splits
  become events.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pyarrow as pa

from clustering.records import Article
from clustering.store import Store, as_utc
from clustering.stories import (ActiveStories, GuardFeatures, StoryParams, assign_online,
                                cluster_batch, ctfidf_labels, guard_conflict, guard_features,
                                reconcile, story_score)
from clustering.stories.scoring import SECONDS_PER_DAY

#: Other active stories used as the contrast set when labelling (c-TF-IDF needs "the rest").
LABEL_CONTRAST = 200
#: Articles embedded per call (progress granularity).
EMBED_CHUNK = 64


def _epoch(dt: datetime | None) -> float:
    return dt.timestamp() if dt is not None else math.nan


class StoryIds:
    """Story ids ``S000001, S000002, ...`` continuing from the largest stored one."""

    def __init__(self, store: Store):
        last = store.scalar("SELECT max(TRY_CAST(substr(story_id, 2) AS BIGINT)) FROM stories")
        self.n = int(last or 0)

    def __call__(self) -> str:
        self.n += 1
        return f"S{self.n:06d}"


@dataclass
class Unit:
    """A near-duplicate group's embedded representative."""

    article_id: str
    group_id: str
    title: str
    text: str
    published: datetime | None
    seq: int


@dataclass
class StoryStep:
    """The callable the pipeline runs inside the run's transaction (see ``make_story_step``).

    Attributes:
        mode: "online" or "batch".
        params: story clustering parameters.
        model: sentence-transformers model name or folder (None: multilingual-e5-small).
        lead_tokens: body lead token budget for embeddings.
        embedder: built lazily on first use (so ``--help`` and dedup-only runs never load it).
    """

    mode: str = "online"
    params: StoryParams = field(default_factory=StoryParams)
    model: str | None = None
    lead_tokens: int = 96
    embedder: Any = None

    def _embedder(self):
        if self.embedder is None:
            from clustering.embed import Embedder

            self.embedder = Embedder(self.model, lead_tokens=self.lead_tokens)
        return self.embedder

    def as_dict(self) -> dict[str, Any]:
        """The settings, for the run log."""
        return {"mode": self.mode, "model": self.model or "multilingual-e5-small",
                "lead_tokens": self.lead_tokens, **self.params.__dict__}

    # ---- the step ---------------------------------------------------------------------------

    def __call__(self, store: Store, run_id: int, new: list[Article], groups: dict[str, str],
                 progress) -> dict[str, Any]:
        now = datetime.now(timezone.utc)
        group_ids = sorted(set(groups.values()))
        group_story = _stories_of_groups(store, group_ids)
        units = _units_for(store, [g for g in group_ids if g not in group_story])
        emb = self._embeddings(store, run_id, units, progress)
        new_ids = StoryIds(store)
        events: list[tuple[str, str, str | None, datetime, str]] = []
        decided: dict[str, tuple[str, float | None, str]] = {}   # unit article -> story, score, why
        moved: dict[str, tuple[str, str]] = {}                    # unit article -> (old, new story)
        times = [a.published for a in new if a.published]
        if self.mode == "online":
            decided = self._online(store, units, emb, new_ids)
        else:
            pad = timedelta(days=self.params.active_days)
            window = (min(times) - pad, max(times) + pad) if times else (None, None)
            decided, moved, batch_events = self._batch(store, units, emb, new_ids, window,
                                                       max(times) if times else now)
            events.extend(batch_events)
        return self._record(store, run_id, now, units, decided, moved, group_story, groups,
                            events, times)

    def recluster(self, store: Store, run_id: int, since: datetime | None,
                  until: datetime | None) -> dict[str, Any]:
        """Batch re-cluster the stored stories of a time window from scratch (no new input) and
        reconcile: ids stay stable, moves close and reopen memberships, merges and splits become
        events. Call inside a transaction. Raises ValueError when the window holds more units
        than batch clustering accepts (see :func:`clustering.stories.cluster_batch`)."""
        now = datetime.now(timezone.utc)
        decided, moved, events = self._batch(store, [], np.zeros((0, 0), np.float32),
                                             StoryIds(store), (since, until), until or now)
        return self._record(store, run_id, now, [], decided, moved, {}, {}, events, [])

    def _record(self, store, run_id, now, units, decided, moved, group_story, groups, events,
                times) -> dict[str, Any]:
        """Write memberships, stories and events of one decision round; the run summary."""
        touched = _write_memberships(store, run_id, now, units, decided, moved, group_story, groups)
        created = touched - set(_existing(store, touched))
        split = {e[0] for e in events if e[1] == "split_from"}
        events.extend(e for e in _growth_events(store, run_id, touched, created, now)
                      if not (e[1] == "created" and e[0] in split))
        _refresh_stories(store, run_id, touched, created, self._embedder().model_id)
        quiet = _mark_quiet(store, run_id, times, self.params)
        _insert_events(store, run_id, events + quiet)
        return {"embedded": len(units), "joined existing": sum(1 for s, _, _ in decided.values()
                                                               if s not in created),
                "new stories": len(created), "moved (batch)": len(moved),
                "stories total": int(store.scalar("SELECT count(*) FROM stories WHERE status <> 'merged'"))}

    def _embeddings(self, store: Store, run_id: int, units: list[Unit], progress) -> np.ndarray:
        """Embeddings of the units: reused from the store when present, else computed and stored."""
        if not units:
            return np.zeros((0, 0), np.float32)
        embedder = self._embedder()
        have = _load_embeddings(store, [u.article_id for u in units], embedder.model_id)
        todo = [u for u in units if u.article_id not in have]
        progress.stage(f"embedding {len(todo)} group representatives", total=len(todo))
        for lo in range(0, len(todo), EMBED_CHUNK):
            chunk = todo[lo:lo + EMBED_CHUNK]
            vecs = embedder.encode_articles([u.title for u in chunk], [u.text for u in chunk])
            have.update(zip((u.article_id for u in chunk), vecs))
            store.insert_arrow("embeddings", pa.table({
                "article_id": [u.article_id for u in chunk],
                "model_id": [embedder.model_id] * len(chunk),
                "vector": pa.array([v.tolist() for v in vecs], pa.list_(pa.float32())),
                "run_id": pa.array([run_id] * len(chunk), pa.int64()),
            }))
            progress.advance(len(chunk))
        return np.stack([have[u.article_id] for u in units]).astype(np.float32)

    def _online(self, store: Store, units: list[Unit], emb: np.ndarray, new_ids: StoryIds
                ) -> dict[str, tuple[str, float | None, str]]:
        if not units:
            return {}
        order = sorted(range(len(units)), key=lambda i: (_epoch(units[i].published)
                                                         if units[i].published else math.inf,
                                                         units[i].seq))
        times = np.array([_epoch(units[i].published) for i in order])
        active = _load_active(store, self.params, times, emb.shape[1])
        feats = [guard_features(units[i].title, units[i].text) for i in order]
        out = assign_online(active, emb[order], times, feats, self.params, new_ids)
        return {units[i].article_id: (a.story_id, None if math.isnan(a.score) else a.score, a.reason)
                for i, a in zip(order, out)}

    def _batch(self, store: Store, units: list[Unit], emb: np.ndarray, new_ids: StoryIds,
               window: tuple[datetime | None, datetime | None], when: datetime):
        """Re-cluster the stored units of ``window`` (None bounds: open) plus the new ``units``
        from scratch and reconcile the clusters with the stored story ids."""
        lo, hi = window
        old_units, old_emb, previous = _window_units(store, self._embedder().model_id, lo, hi)
        if not units and not old_units:
            return {}, {}, []
        all_units = old_units + units
        vecs = emb if not old_units else old_emb if not units else np.concatenate([old_emb, emb])
        t = np.array([_epoch(u.published) for u in all_units])
        feats = [guard_features(u.title, u.text) for u in all_units]
        labels = cluster_batch(vecs, t, feats, self.params)
        mapping, evs = reconcile(previous, {u.article_id: int(l) for u, l in zip(all_units, labels)},
                                 new_ids)
        decided: dict[str, tuple[str, float | None, str]] = {}
        moved: dict[str, tuple[str, str]] = {}
        for u, lab in zip(all_units, labels):
            sid = mapping[int(lab)]
            old = previous.get(u.article_id)
            if old is None:
                decided[u.article_id] = (sid, None, f"batch re-cluster ({self.params.linkage} "
                                         f"linkage, threshold {self.params.threshold}): cluster {sid}")
            elif old != sid:
                moved[u.article_id] = (old, sid)
        events = [(e.story_id, e.kind, e.other_story_id, when, e.detail) for e in evs
                  if e.kind != "created"]
        return decided, moved, events



def make_story_step(mode: str = "online", model: str | None = None,
                    params: StoryParams | None = None, lead_tokens: int = 96
                    ) -> tuple[StoryStep, dict[str, Any]]:
    """The story step for :func:`clustering.pipeline.run` and its settings for the run log.

    Raises ValueError for an unknown mode.
    """
    if mode not in ("online", "batch"):
        raise ValueError(f"story mode must be online or batch, got {mode!r}")
    step = StoryStep(mode=mode, params=params or StoryParams(), model=model, lead_tokens=lead_tokens)
    return step, step.as_dict()


# ---- store access ---------------------------------------------------------------------------

def _groups_table(store: Store, group_ids: Iterable[str]) -> str:
    store.con.register("_groups", pa.table({"gid": pa.array(sorted(set(group_ids)), pa.string())}))
    return "_groups"


def _stories_of_groups(store: Store, group_ids: list[str]) -> dict[str, str]:
    """group id -> story id, for groups that already have a member with an open membership."""
    if not group_ids:
        return {}
    t = _groups_table(store, group_ids)
    rows = store.con.execute(
        "SELECT m.group_id, arg_min(sm.story_id, a.seq) FROM dup_members m "
        "JOIN story_members sm ON sm.article_id = m.article_id AND sm.valid_to IS NULL "
        f"JOIN articles a ON a.id = m.article_id WHERE m.group_id IN (SELECT gid FROM {t}) "
        "GROUP BY m.group_id").fetchall()
    return dict(rows)


def _units_for(store: Store, group_ids: list[str]) -> list[Unit]:
    """The representatives of groups that have no story yet."""
    if not group_ids:
        return []
    t = _groups_table(store, group_ids)
    rows = store.con.execute(
        "SELECT a.id, g.group_id, a.title, a.text, a.published, a.seq FROM dup_groups g "
        f"JOIN articles a ON a.id = g.representative_id WHERE g.group_id IN (SELECT gid FROM {t}) "
        "ORDER BY a.seq").fetchall()
    return [Unit(r[0], r[1], r[2] or "", r[3] or "", as_utc(r[4]), r[5]) for r in rows]


def _load_embeddings(store: Store, ids: list[str], model_id: str) -> dict[str, np.ndarray]:
    t = store._ids_table(ids)
    rows = store.con.execute(
        f"SELECT e.article_id, e.vector FROM embeddings e JOIN {t} ON e.article_id = {t}.id "
        "WHERE e.model_id = ?", [model_id]).fetchall()
    return {r[0]: np.asarray(r[1], dtype=np.float32) for r in rows}


def _load_active(store: Store, params: StoryParams, times: np.ndarray, dim: int) -> ActiveStories:
    """Active stories that the new items may join: status active and, when the items have
    times, last seen within ``active_days`` before the earliest of them."""
    sql = ("SELECT story_id, vector_sum, units, epoch(first_seen), epoch(last_seen), guard "
           "FROM stories WHERE status = 'active'")
    args: list[Any] = []
    if np.isfinite(times).any():
        sql += " AND (last_seen IS NULL OR epoch(last_seen) >= ?)"
        args.append(float(np.nanmin(times)) - params.active_days * SECONDS_PER_DAY)
    rows = store.con.execute(sql + " ORDER BY story_id", args).fetchall()
    if not rows:
        return ActiveStories(dim)
    return ActiveStories.from_arrays(
        [r[0] for r in rows], np.array([r[1] for r in rows], dtype=np.float32),
        [r[2] for r in rows], [math.nan if r[3] is None else r[3] for r in rows],
        [math.nan if r[4] is None else r[4] for r in rows],
        [GuardFeatures.from_dict(json.loads(r[5])) if r[5] else None for r in rows])


def _window_units(store: Store, model_id: str, lo: datetime | None, hi: datetime | None):
    """Stored units (embedded articles with an open membership) in the window: units,
    their embeddings (k, d) and unit id -> story id."""
    sql = ("SELECT a.id, m.group_id, a.title, a.text, a.published, a.seq, e.vector, sm.story_id "
           "FROM embeddings e JOIN articles a ON a.id = e.article_id "
           "JOIN dup_members m ON m.article_id = a.id "
           "JOIN story_members sm ON sm.article_id = a.id AND sm.valid_to IS NULL "
           "WHERE e.model_id = ?")
    args: list[Any] = [model_id]
    if lo is not None:
        sql += " AND (a.published IS NULL OR a.published >= ?)"
        args.append(lo)
    if hi is not None:
        sql += " AND (a.published IS NULL OR a.published <= ?)"
        args.append(hi)
    rows = store.con.execute(sql + " ORDER BY a.seq", args).fetchall()
    units = [Unit(r[0], r[1], r[2] or "", r[3] or "", as_utc(r[4]), r[5]) for r in rows]
    vecs = np.array([r[6] for r in rows], dtype=np.float32) if rows else np.zeros((0, 0), np.float32)
    return units, vecs, {r[0]: r[7] for r in rows}


def _write_memberships(store: Store, run_id: int, now: datetime, units: list[Unit],
                       decided: dict[str, tuple[str, float | None, str]],
                       moved: dict[str, tuple[str, str]], group_story: dict[str, str],
                       groups: dict[str, str]) -> set[str]:
    """Open memberships for every member of the groups involved; close and reopen those of
    moved units' groups. Returns the story ids touched."""
    unit_of_group = {u.group_id: u.article_id for u in units}
    rows: list[tuple[str, str, float | None, str]] = []
    touched: set[str] = set()
    # groups whose unit was decided now: all members without an open membership join
    target: dict[str, tuple[str, float | None, str, str]] = {}
    for gid, unit in unit_of_group.items():
        if unit in decided:
            sid, score, why = decided[unit]
            target[gid] = (sid, score, why, unit)
    for gid, sid in group_story.items():
        target.setdefault(gid, (sid, None, "", ""))
    if target:
        t = _groups_table(store, target)
        members = store.con.execute(
            "SELECT m.group_id, m.article_id FROM dup_members m JOIN articles a ON a.id = m.article_id "
            f"WHERE m.group_id IN (SELECT gid FROM {t}) AND NOT EXISTS (SELECT 1 FROM story_members sm "
            "WHERE sm.article_id = m.article_id AND sm.valid_to IS NULL) ORDER BY a.seq").fetchall()
        for gid, aid in members:
            sid, score, why, unit = target[gid]
            if aid == unit:
                rows.append((aid, sid, score, why))
            else:
                rows.append((aid, sid, None, f"near-duplicate group {gid} is in story {sid}"))
            touched.add(sid)
    if moved:
        moved_groups = {u.group_id: moved[u.article_id] for u in _units_by_id(store, moved)}
        t = _groups_table(store, moved_groups)
        members = store.con.execute(
            "SELECT m.group_id, sm.article_id FROM story_members sm JOIN dup_members m "
            f"ON m.article_id = sm.article_id WHERE sm.valid_to IS NULL AND m.group_id IN "
            f"(SELECT gid FROM {t})").fetchall()
        close = [aid for _, aid in members]
        store.con.register("_close", pa.table({"id": pa.array(close, pa.string())}))
        store.con.execute("UPDATE story_members SET valid_to = ?, closed_run = ? WHERE valid_to IS NULL "
                          "AND article_id IN (SELECT id FROM _close)", [now, run_id])
        for gid, aid in members:
            old, new = moved_groups[gid]
            rows.append((aid, new, None, f"batch re-cluster moved group {gid} from {old} to {new}"))
            touched.update((old, new))
    if rows:
        store.insert_arrow("story_members", pa.table({
            "article_id": [r[0] for r in rows], "story_id": [r[1] for r in rows],
            "valid_from": pa.array([now] * len(rows), pa.timestamp("us", tz="UTC")),
            "valid_to": pa.array([None] * len(rows), pa.timestamp("us", tz="UTC")),
            "run_id": pa.array([run_id] * len(rows), pa.int64()),
            "closed_run": pa.array([None] * len(rows), pa.int64()),
            "score": pa.array([r[2] for r in rows], pa.float64()),
            "reason": [r[3] for r in rows],
        }))
    return touched


def _units_by_id(store: Store, ids: Iterable[str]) -> list[Unit]:
    t = store._ids_table(ids)
    rows = store.con.execute(
        "SELECT a.id, m.group_id, a.title, a.text, a.published, a.seq FROM articles a "
        f"JOIN dup_members m ON m.article_id = a.id JOIN {t} ON a.id = {t}.id").fetchall()
    return [Unit(r[0], r[1], r[2] or "", r[3] or "", as_utc(r[4]), r[5]) for r in rows]


def _existing(store: Store, story_ids: Iterable[str]) -> list[str]:
    t = store._ids_table(story_ids)
    return [r[0] for r in store.con.execute(
        f"SELECT story_id FROM stories JOIN {t} ON story_id = {t}.id").fetchall()]


def _growth_events(store: Store, run_id: int, touched: set[str], created: set[str],
                   now: datetime) -> list[tuple[str, str, str | None, datetime, str]]:
    """"created" for new stories, "grew" for stored stories that got articles in this run."""
    if not touched:
        return []
    t = store._ids_table(touched)
    rows = store.con.execute(
        "SELECT sm.story_id, count(*), min(a.published), max(a.published) FROM story_members sm "
        f"JOIN articles a ON a.id = sm.article_id JOIN {t} ON sm.story_id = {t}.id "
        "WHERE sm.run_id = ? AND sm.valid_to IS NULL GROUP BY sm.story_id ORDER BY sm.story_id",
        [run_id]).fetchall()
    out = []
    for sid, n, first, last in rows:
        if sid in created:
            out.append((sid, "created", None, as_utc(first) or now, f"new story with {n} article(s)"))
        else:
            out.append((sid, "grew", None, as_utc(last) or now, f"+{n} article(s)"))
    return out


def _insert_events(store: Store, run_id: int, events: Sequence[tuple]) -> None:
    if not events:
        return
    store.insert_arrow("story_events", pa.table({
        "story_id": [e[0] for e in events], "kind": [e[1] for e in events],
        "other_story_id": pa.array([e[2] for e in events], pa.string()),
        "event_time": pa.array([e[3] for e in events], pa.timestamp("us", tz="UTC")),
        "run_id": pa.array([run_id] * len(events), pa.int64()),
        "detail": [e[4] for e in events],
    }))


def _refresh_stories(store: Store, run_id: int, touched: set[str], created: set[str],
                     model_id: str) -> None:
    """Recompute the rows of the touched stories from their open memberships: times, sizes,
    centroid sums over embedded units, guard features of the first unit, label, representative."""
    if not touched:
        return
    t = store._ids_table(touched)
    old = {r[0]: r[1] for r in store.con.execute(
        f"SELECT story_id, created_run FROM stories JOIN {t} ON story_id = {t}.id").fetchall()}
    members = store.con.execute(
        "SELECT sm.story_id, a.id, a.title, a.text, a.published, a.seq, g.size, e.vector "
        "FROM story_members sm JOIN articles a ON a.id = sm.article_id "
        "JOIN dup_members m ON m.article_id = a.id JOIN dup_groups g ON g.group_id = m.group_id "
        "LEFT JOIN embeddings e ON e.article_id = a.id AND e.model_id = ? "
        f"WHERE sm.valid_to IS NULL AND sm.story_id IN (SELECT id FROM {t}) ORDER BY a.seq",
        [model_id]).fetchall()
    by_story: dict[str, list] = defaultdict(list)
    for r in members:
        by_story[r[0]].append(r)
    contrast = store.con.execute(
        "SELECT sm.story_id, a.title FROM story_members sm JOIN articles a ON a.id = sm.article_id "
        "WHERE sm.valid_to IS NULL AND sm.story_id IN (SELECT story_id FROM stories "
        f"WHERE status = 'active' AND story_id NOT IN (SELECT id FROM {t}) "
        "ORDER BY last_seen DESC NULLS LAST LIMIT ?)", [LABEL_CONTRAST]).fetchall()
    texts: dict[str, list[str]] = defaultdict(list)
    for sid, rows in by_story.items():
        texts[sid] = [r[2] or (r[3] or "")[:300] for r in rows]
    for sid, title in contrast:
        texts[sid].append(title or "")
    labels = ctfidf_labels(texts, top_k=5)
    store.con.execute(f"DELETE FROM stories WHERE story_id IN (SELECT id FROM {t})")
    out = []
    for sid in sorted(touched):
        rows = by_story.get(sid, [])
        units = [r for r in rows if r[7] is not None]
        times = [as_utc(r[4]) for r in rows if r[4] is not None]
        dim = len(units[0][7]) if units else 0
        vec_sum = np.sum([np.asarray(r[7], np.float32) for r in units], axis=0) if units else np.zeros(dim)
        rep = min(rows, key=lambda r: (-r[6], _epoch(as_utc(r[4])) if r[4] else math.inf, r[5]))[1] \
            if rows else None
        first_unit = units[0] if units else None
        guard = guard_features(first_unit[2] or "", first_unit[3] or "").to_dict() if first_unit else None
        out.append({
            "story_id": sid, "first_seen": min(times) if times else None,
            "last_seen": max(times) if times else None, "size": len(rows), "units": len(units),
            "vector_sum": [float(x) for x in vec_sum], "model_id": model_id,
            "guard": json.dumps(guard) if guard else None,
            "label": next((r[2] for r in rows if r[1] == rep), None) if rows else None,
            "label_terms": labels.get(sid, []), "representative_id": rep,
            "status": "active" if rows else "merged",
            "created_run": old.get(sid, run_id), "updated_run": run_id,
        })
    store.insert_arrow("stories", pa.Table.from_pylist(out, schema=pa.schema([
        ("story_id", pa.string()), ("first_seen", pa.timestamp("us", tz="UTC")),
        ("last_seen", pa.timestamp("us", tz="UTC")), ("size", pa.int64()), ("units", pa.int64()),
        ("vector_sum", pa.list_(pa.float32())), ("model_id", pa.string()), ("guard", pa.string()),
        ("label", pa.string()), ("label_terms", pa.list_(pa.string())),
        ("representative_id", pa.string()), ("status", pa.string()), ("created_run", pa.int64()),
        ("updated_run", pa.int64())])))


def _mark_quiet(store: Store, run_id: int, times: list[datetime], params: StoryParams
                ) -> list[tuple]:
    """Stories whose last article is more than ``active_days`` older than the newest article
    of this run (``times``: the run's publication times) go quiet (status "quiet", a
    "went_quiet" event)."""
    if not times:
        return []
    newest = max(times)
    cutoff = newest - timedelta(days=params.active_days)
    rows = store.con.execute(
        "SELECT story_id, last_seen FROM stories WHERE status = 'active' AND last_seen < ? "
        "ORDER BY story_id", [cutoff]).fetchall()
    if not rows:
        return []
    t = store._ids_table([r[0] for r in rows])
    store.con.execute(f"UPDATE stories SET status = 'quiet', updated_run = ? "
                      f"WHERE story_id IN (SELECT id FROM {t})", [run_id])
    return [(sid, "went_quiet", None, as_utc(last) + timedelta(days=params.active_days),
             f"no new article for {params.active_days:g} days") for sid, last in rows]


# ---- explain --------------------------------------------------------------------------------

def explain_story(store: Store, id_a: str, id_b: str) -> dict[str, Any] | None:
    """Why two stored articles are or are not in one story: their open memberships and the
    reasons recorded, and the similarity, time gap, decayed score and guard verdict of their
    groups' embedded representatives. None when no stories were clustered."""
    if not store.scalar("SELECT count(*) FROM story_members"):
        return None
    info = {}
    for aid in (id_a, id_b):
        rows = store.con.execute(
            "SELECT sm.story_id, sm.reason, m.group_id, g.representative_id FROM dup_members m "
            "JOIN dup_groups g ON g.group_id = m.group_id LEFT JOIN story_members sm ON "
            "sm.article_id = m.article_id AND sm.valid_to IS NULL WHERE m.article_id = ?",
            [aid]).fetchall()
        info[aid] = rows[0] if rows else (None, None, None, None)
    (sa, ra, _, _), (sb, rb, _, _) = info[id_a], info[id_b]
    out: dict[str, Any] = {"story_a": sa, "story_b": sb, "same_story": sa is not None and sa == sb,
                           "reason_a": ra, "reason_b": rb}
    params = _params_of_last_run(store)
    units = {}
    for aid in (id_a, id_b):
        unit = store.con.execute(
            "SELECT e.article_id, e.vector, a.title, a.text, a.published FROM story_members sm "
            "JOIN dup_members m ON m.article_id = sm.article_id "
            "JOIN dup_members m2 ON m2.group_id = m.group_id "
            "JOIN embeddings e ON e.article_id = m2.article_id "
            "JOIN articles a ON a.id = e.article_id WHERE sm.article_id = ? LIMIT 1", [aid]).fetchall()
        units[aid] = unit[0] if unit else None
    ua, ub = units[id_a], units[id_b]
    if ua and ub:
        cos = float(np.dot(np.asarray(ua[1]), np.asarray(ub[1])))
        gap = (abs(_epoch(as_utc(ua[4])) - _epoch(as_utc(ub[4]))) if ua[4] and ub[4] else math.nan)
        score = float(story_score(cos, gap, params))
        why = guard_conflict(guard_features(ua[2] or "", ua[3] or ""), guard_features(ub[2] or "", ub[3] or ""))
        out.update({
            "embedded_representatives": [ua[0], ub[0]], "cosine": round(cos, 4),
            "time_gap_days": None if math.isnan(gap) else round(gap / SECONDS_PER_DAY, 2),
            "decayed_score": round(score, 4), "threshold": params.threshold,
            "guard": why or "no conflict",
            "verdict": ("one story" if out["same_story"] else
                        f"kept apart by the guard: {why}" if why and score >= params.threshold else
                        f"score {score:.3f} {'>=' if score >= params.threshold else '<'} "
                        f"threshold {params.threshold} (pairwise; stories compare with centroids)"),
        })
    return out


def _params_of_last_run(store: Store) -> StoryParams:
    raw = store.scalar("SELECT params FROM runs ORDER BY run_id DESC LIMIT 1")
    d = (json.loads(raw) if raw else {}).get("stories", {})
    fields = {k: d[k] for k in StoryParams.__dataclass_fields__ if k in d}
    return StoryParams(**fields)
