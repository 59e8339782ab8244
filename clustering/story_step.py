"""Story clustering inside a run: embed new near-duplicate groups, assign them to stories (online
or batch), and keep the history in the store.

The unit of story clustering is the *near-duplicate group*: a group's representative is embedded
once (syndicated copies cost no embedding) and the whole group follows the story decision, so
every article has a story membership. Memberships are never overwritten: a move closes the open
row (``valid_to``) and opens a new one, and every change of a story is an event.

Scorers (``StoryParams.scorer``): "hybrid" (default), the learned P(same story) of
:mod:`clustering.stories.scorer` at its threshold (0.5), fed from the store by
:mod:`clustering.story_hybrid` (document frequencies, story states); "cosine", the
time-decayed embedding cosine :func:`~clustering.stories.scoring.story_score` with the guard
as a veto. Modes (the same scorer in both):

* **online** (default): new groups are assigned in time order to the active stories of the store
  (a bounded window, never all stories ever) or start new ones.
* **batch**: the time window around the new articles is re-clustered from scratch
  (agglomerative) and reconciled with the stored stories, so ids stay stable; merges and splits
  become events.

Every read and write goes through :class:`~clustering.store.Store` methods; this module decides,
the store keeps.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

from clustering import story_hybrid
from clustering.config import EmbedParams, StoryParams
from clustering.records import Article
from clustering.store import Store, as_utc
from clustering.stories import (
    ActiveStories,
    GuardFeatures,
    assign_online,
    cluster_batch,
    ctfidf_labels,
    guard_conflict,
    guard_features,
    reconcile,
    story_score,
)
from clustering.stories.display import display_terms
from clustering.stories.scoring import SECONDS_PER_DAY

#: A decision for one unit: (story id, score or None, reason).
Decided = dict[str, tuple[str, float | None, str]]


def _epoch(dt: datetime | None) -> float:
    return dt.timestamp() if dt is not None else math.nan


class StoryIds:
    """Story ids ``S000001, S000002, ...`` continuing from the largest stored one."""

    def __init__(self, store: Store):
        self.n = store.max_story_number()

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

    @classmethod
    def from_row(cls, r: tuple) -> Unit:
        """From a :data:`clustering.store.stories.UnitRow`."""
        return cls(r[0], r[1], r[2] or "", r[3] or "", as_utc(r[4]), r[5])


class StoryStep:
    """What a run does for stories, inside the run's transaction.

    Args:
        params: story clustering settings (``params.mode``: "online" or "batch").
        embed: embedding model settings.
        embedder: an :class:`~clustering.embed.Embedder` to use; built lazily from ``embed`` on
            first use otherwise (so dedup-only runs and ``--help`` never load the model).

    Raises:
        ValueError: ``params.mode`` is "none".
    """

    def __init__(self, params: StoryParams, embed: EmbedParams, embedder: Any = None):
        if params.mode not in ("online", "batch"):
            raise ValueError(f"story mode must be online or batch, got {params.mode!r}")
        self.params = params
        self.embed = embed
        self.embedder = embedder
        self._fresh_states: dict[str, str] | None = None  # hybrid states set by _online
        #: active hybrid stories as the last online round left them (see
        #: story_hybrid.ActiveCache); _pending until that round's step has finished
        self._active: story_hybrid.ActiveCache | None = None
        self._pending: story_hybrid.ActiveCache | None = None
        #: open members' titles of recently seen stories (label contrast), as of the run
        #: _contrast_run; reused while that run is the store's newest
        self._contrast: dict[str, list[str]] = {}
        self._contrast_run: int | None = None

    def forget(self) -> None:
        """Drop what this step keeps between runs (the active stories, the label contrast
        titles): the next run reloads them from the store. For a run that failed, whose id
        the next run may reuse."""
        self._active = self._pending = None
        self._contrast, self._contrast_run = {}, None

    @property
    def mode(self) -> str:
        """"online" or "batch"."""
        return self.params.mode

    def _embedder(self):
        if self.embedder is None:
            self.embedder = embedder_for(self.embed)
        return self.embedder

    @property
    def model_id(self) -> str:
        """The ``model_id`` of the embeddings this step uses (loads no model when it can tell
        from the settings; the Ray engine's embedding actors must produce this one)."""
        return self._embedder().model_id

    # ---- the step ---------------------------------------------------------------------------

    def __call__(self, store: Store, run_id: int, new: list[Article], groups: dict[str, str],
                 progress, *, left: Iterable[str] = ()) -> dict[str, Any]:
        """Cluster the groups of ``new`` (article id -> group id in ``groups``); returns the
        story part of the run summary. ``left``: stories that lost a member (or whose member's
        metadata changed) before this step, by an article update; their rows are refreshed."""
        now = datetime.now(timezone.utc)
        active, self._active, self._pending = self._active, None, None
        last_run = store.last_run_id()
        contrast = self._contrast if self._contrast_run == last_run else {}
        self._contrast, self._contrast_run = {}, None  # set again when this step has finished
        if active is not None and not active.fits(last_run, self._embedder().model_id):
            active = None
        left = set(store.existing_stories(set(left))) if left else set()
        if left:
            active = None  # members left stories by an update: reload their states
        if left:  # groups whose embedded representative was updated away get their new one embedded
            self._embeddings(store, run_id, [Unit.from_row(r) for r in store.unembedded_units_of_stories(
                left, self._embedder().model_id)], progress)
        if not new:
            _refresh_stories(store, run_id, left, self._embedder().model_id, self.params, contrast)
            if active is not None and not left:  # nothing assigned: the state still holds
                active.run_id = run_id
                self._active = active
            self._contrast, self._contrast_run = contrast, run_id
            return {"embedded": 0, "joined existing": 0, "new stories": 0, "moved (batch)": 0,
                    "refreshed after updates": len(left), "stories total": store.count_open_stories()}
        group_ids = sorted(set(groups.values()))
        group_story = store.stories_of_groups(group_ids)
        units = [Unit.from_row(r) for r in
                 store.group_representatives([g for g in group_ids if g not in group_story])]
        emb = self._embeddings(store, run_id, units, progress)
        new_ids = StoryIds(store)
        events: list[tuple[str, str, str | None, datetime, str]] = []
        moved: dict[str, tuple[str, str]] = {}
        times = [a.published for a in new if a.published]
        if self.mode == "online":
            decided, moved, merge_events = self._online(store, units, emb, new_ids,
                                                        max(times) if times else now, active)
            events.extend(merge_events)
        else:
            pad = timedelta(days=self.params.active_days)
            window = (min(times) - pad, max(times) + pad) if times else (None, None)
            decided, moved, batch_events = self._batch(store, units, emb, new_ids, window,
                                                       max(times) if times else now)
            events.extend(batch_events)
        out = self._record(store, run_id, now, units, decided, moved, group_story, events, times,
                           left, contrast)
        self._contrast, self._contrast_run = contrast, run_id
        if self._pending is not None:
            self._pending.run_id = run_id  # valid once this run is the newest committed one
            self._active, self._pending = self._pending, None
        return out

    def recluster(self, store: Store, run_id: int, since: datetime | None,
                  until: datetime | None) -> dict[str, Any]:
        """Batch re-cluster the stored stories of a time window from scratch (no new input) and
        reconcile: ids stay stable, moves close and reopen memberships, merges and splits become
        events. Call inside a transaction. Raises ValueError when the window holds no embedded
        article (an empty window is an error, not a silent no-op) or more units than batch
        clustering accepts (see :func:`clustering.stories.cluster_batch`)."""
        now = datetime.now(timezone.utc)
        self.forget()  # moves members: the online state is reloaded next time
        if not store.count_window_units(self._embedder().model_id, since, until):
            span = f"[{since.isoformat() if since else '...'}, {until.isoformat() if until else '...'}]"
            raise ValueError(f"empty window: no article with stories and embeddings of "
                             f"{self._embedder().model_id} was published in {span}")
        decided, moved, events = self._batch(store, [], np.zeros((0, 0), np.float32),
                                             StoryIds(store), (since, until), until or now)
        return self._record(store, run_id, now, [], decided, moved, {}, events, [])

    def _record(self, store: Store, run_id: int, now: datetime, units: list[Unit],
                decided: Decided, moved: dict[str, tuple[str, str]], group_story: dict[str, str],
                events: list, times: list[datetime], left: set[str] = frozenset(),
                contrast: dict[str, list[str]] | None = None) -> dict[str, Any]:
        """Write memberships, stories and events of one decision round; the run summary.
        ``contrast``: the label contrast titles a writer keeps (see :func:`_refresh_stories`)."""
        involved = {s for pair in moved.values() for s in pair}
        before = store.story_sizes(involved) if moved else {}
        flows: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        touched = _write_memberships(store, run_id, now, units, decided, moved, group_story,
                                     flows) | left
        created = touched - set(store.existing_stories(touched))
        events = _account_moves(events, flows, now)
        split = {e[0] for e in events if e[1] == "split_from"}
        events.extend(e for e in _growth_events(store, run_id, touched, created, now)
                      if not (e[1] == "created" and e[0] in split))
        live = _refresh_stories(store, run_id, touched, self._embedder().model_id, self.params,
                                contrast)
        self._save_states(store, run_id, touched, bool(moved))
        if self._pending is not None and not all(self._pending.stories.is_candidate(s) for s in live):
            # a story the kept state retired (quiet) or never loaded is active again (a
            # near-duplicate of its member joined it): the next round reloads from the store
            self._pending = None
        quiet = _mark_quiet(store, run_id, times, self.params)
        if self._pending is not None:
            for sid, *_ in quiet:
                self._pending.stories.retire(sid)
        store.insert_events(events + quiet, run_id)
        out = {"embedded": len(units),
               "joined existing": sum(1 for s, _, _ in decided.values() if s not in created),
               "new stories": len(created), "moved (batch)": len(moved),
               "stories total": store.count_open_stories()}
        if moved:
            out["changes"] = _change_report(before, store.story_sizes(involved), flows, events)
        return out

    def _embeddings(self, store: Store, run_id: int, units: list[Unit], progress) -> np.ndarray:
        """Embeddings of the units: reused from the store when present, else computed and stored."""
        if not units:
            return np.zeros((0, 0), np.float32)
        embedder = self._embedder()
        have = store.embeddings_of([u.article_id for u in units], embedder.model_id)
        todo = [u for u in units if u.article_id not in have]
        progress.stage(f"embedding {len(todo)} group representatives", total=len(todo))
        step = self.embed.chunk
        for lo in range(0, len(todo), step):
            chunk = todo[lo:lo + step]
            vecs = embedder.encode_articles([u.title for u in chunk], [u.text for u in chunk])
            have.update(zip((u.article_id for u in chunk), vecs))
            store.insert_embeddings([u.article_id for u in chunk], embedder.model_id, vecs, run_id)
            progress.advance(len(chunk))
        return np.stack([have[u.article_id] for u in units]).astype(np.float32)

    def _online(self, store: Store, units: list[Unit], emb: np.ndarray, new_ids: StoryIds,
                when: datetime, active: story_hybrid.ActiveCache | None = None
                ) -> tuple[Decided, dict[str, tuple[str, str]], list[tuple]]:
        """Decisions for the new units in arrival order; with the hybrid scorer also the stored
        units moved by stories merging (a new unit bridged them) and their "merged_into"
        events. ``active``: the previous round's state when it is still valid."""
        if not units:
            # only near-duplicates of stored groups: no state changed, so the held state serves
            # the next round too (dropping it made that round reparse every active story)
            self._pending = active
            return {}, {}, []
        order = sorted(range(len(units)), key=lambda i: (_epoch(units[i].published)
                                                         if units[i].published else math.inf,
                                                         units[i].seq))
        times = np.array([_epoch(units[i].published) for i in order])
        if self.params.scorer == "hybrid":
            out_h, self._fresh_states, merges, self._pending = story_hybrid.hybrid_online(
                store, self.params, [units[i] for i in order], emb[order], times,
                self._embedder().model_id, new_ids, story_hybrid.TermCache(), active)
            decided = {units[i].article_id: (a.story_id, None if math.isnan(a.probability)
                                             else a.probability, a.reason)
                       for i, a in zip(order, out_h)}
            stored = set(store.existing_stories(merges))
            moved = {r[1]: (r[0], merges[r[0]])
                     for r in store.story_member_rows(stored, self._embedder().model_id)}
            events = [(s, "merged_into", merges[s], when,
                       f"online: a new article bridged it with {merges[s]} (average-linkage "
                       "P(same story) at or above the threshold)") for s in sorted(stored)]
            return decided, moved, events
        active = _load_active(store, self.params, times, emb.shape[1])
        feats = [guard_features(units[i].title, units[i].text) for i in order]
        out = assign_online(active, emb[order], times, feats, self.params, new_ids)
        return {units[i].article_id: (a.story_id, None if math.isnan(a.score) else a.score, a.reason)
                for i, a in zip(order, out)}, {}, []

    def _save_states(self, store: Store, run_id: int, touched: set[str], moved: bool) -> None:
        """Keep the hybrid scorer's story states in step with the memberships: the states the
        online assignment left, rebuilt from the members for touched stories whose members
        moved (batch) or that have no state; with the cosine scorer, touched stories' states
        are dropped (rebuilt when the hybrid scorer next needs them)."""
        fresh, self._fresh_states = self._fresh_states or {}, None
        if not touched and not fresh:
            return
        model_id = self._embedder().model_id
        if self.params.scorer != "hybrid":
            store.replace_story_states(dict.fromkeys(touched), model_id, run_id)
            return
        stale = set(touched) - set(fresh)
        if not moved and self.mode == "online":
            stale -= store.stories_with_state(stale, model_id)
        states = dict(fresh)
        states.update(story_hybrid.rebuild_states(store, stale, model_id, story_hybrid.TermCache()))
        store.replace_story_states(states, model_id, run_id)

    def _batch(self, store: Store, units: list[Unit], emb: np.ndarray, new_ids: StoryIds,
               window: tuple[datetime | None, datetime | None], when: datetime):
        """Re-cluster the stored units of ``window`` (None bounds: open) plus the new ``units``
        from scratch and reconcile the clusters with the stored story ids."""
        lo, hi = window
        rows, old_emb, previous = store.window_units(self._embedder().model_id, lo, hi)
        old_units = [Unit.from_row(r) for r in rows]
        if not units and not old_units:
            return {}, {}, []
        all_units = old_units + units
        vecs = emb if not old_units else old_emb if not units else np.concatenate([old_emb, emb])
        t = np.array([_epoch(u.published) for u in all_units])
        if self.params.scorer == "hybrid":
            labels = story_hybrid.hybrid_batch_labels(store, self.params, all_units, vecs, t,
                                                      len(units), story_hybrid.TermCache())
            how = "hybrid scorer, average linkage over P(same story), merge at P >= " \
                  f"{story_hybrid.load_scorer(self.params).threshold}"
        else:
            feats = [guard_features(u.title, u.text) for u in all_units]
            labels = cluster_batch(vecs, t, feats, self.params)
            how = f"{self.params.linkage} linkage, threshold {self.params.threshold}"
        mapping, evs = reconcile(previous, {u.article_id: int(lab) for u, lab in zip(all_units, labels)},
                                 new_ids)
        decided: Decided = {}
        moved: dict[str, tuple[str, str]] = {}
        for u, lab in zip(all_units, labels):
            sid = mapping[int(lab)]
            old = previous.get(u.article_id)
            if old is None:
                decided[u.article_id] = (sid, None, f"batch re-cluster ({how}): cluster {sid}")
            elif old != sid:
                moved[u.article_id] = (old, sid)
        events = [(e.story_id, e.kind, e.other_story_id, when, e.detail) for e in evs
                  if e.kind != "created"]
        return decided, moved, events


def embedder_for(embed: EmbedParams):
    """The :class:`~clustering.embed.Embedder` of ``embed`` (built lazily: no model is loaded
    until the first encode). The default model runs on ``embed.backend``; another model on
    torch. The one place that turns settings into an embedder, so that a Ray run's embedding
    actors and the story step on the driver produce the same ``model_id`` and vectors."""
    from clustering.embed import Embedder

    backend = embed.backend if embed.model is None else "torch"
    return Embedder(embed.model, lead_tokens=embed.lead_tokens, batch_size=embed.batch_size,
                    backend=backend)


def _load_active(store: Store, params: StoryParams, times: np.ndarray, dim: int) -> ActiveStories:
    """Active stories that the new items may join: status active and, when the items have
    times, last seen within ``active_days`` before the earliest of them."""
    since = None
    if np.isfinite(times).any():
        since = datetime.fromtimestamp(float(np.nanmin(times)) - params.active_days * SECONDS_PER_DAY,
                                       tz=timezone.utc)
    rows = store.active_story_rows(since)
    if not rows:
        return ActiveStories(dim)
    return ActiveStories.from_arrays(
        [r[0] for r in rows], np.array([r[1] for r in rows], dtype=np.float32),
        [r[2] for r in rows], [math.nan if r[3] is None else r[3] for r in rows],
        [math.nan if r[4] is None else r[4] for r in rows],
        [GuardFeatures.from_dict(json.loads(r[5])) if r[5] else None for r in rows])


def _write_memberships(store: Store, run_id: int, now: datetime, units: list[Unit],
                       decided: Decided, moved: dict[str, tuple[str, str]],
                       group_story: dict[str, str],
                       flows: dict[tuple[str, str], list[int]] | None = None) -> set[str]:
    """Open memberships for every member of the groups involved; close and reopen those of
    moved units' groups. Returns the story ids touched; ``flows`` gets (old story, new story)
    -> [articles moved, near-duplicate groups moved]."""
    rows: list[tuple[str, str, float | None, str]] = []
    touched: set[str] = set()
    # groups whose unit was decided now: all members without an open membership join
    target: dict[str, tuple[str, float | None, str, str]] = {}
    for u in units:
        if u.article_id in decided:
            sid, score, why = decided[u.article_id]
            target[u.group_id] = (sid, score, why, u.article_id)
    for gid, sid in group_story.items():
        target.setdefault(gid, (sid, None, "", ""))
    if target:
        for gid, aid in store.members_without_story(target):
            sid, score, why, unit = target[gid]
            if aid == unit:
                rows.append((aid, sid, score, why))
            else:
                rows.append((aid, sid, None, f"near-duplicate group {gid} is in story {sid}"))
            touched.add(sid)
    if moved:
        moved_groups = {u[1]: moved[u[0]] for u in store.units_by_id(moved)}
        members = store.open_members_of_groups(moved_groups)
        store.close_memberships([aid for _, aid, _ in members], now, run_id)
        for gid, aid, was in members:
            old, new = moved_groups[gid]
            rows.append((aid, new, None, f"batch re-cluster moved group {gid} from {old} to {new}"))
            touched.update((old, new, was))  # was: a member left in another story by a group merge
            if flows is not None:
                flows[(old, new)][0] += 1
        if flows is not None:
            for old, new in moved_groups.values():
                flows[(old, new)][1] += 1
    store.open_memberships(rows, now, run_id)
    return touched


def _account_moves(events: list[tuple], flows: dict[tuple[str, str], list[int]], when: datetime
                   ) -> list[tuple]:
    """Make the events of a batch round account for every article moved: merge and split
    events get the article counts of their flow (reconcile counts embedded units), and a flow
    between two stories that no merge or split names becomes a ``moved_to`` event on the story
    the articles left."""
    out, named = [], set()
    for sid, kind, other, t, detail in events:
        pair = (sid, other) if kind == "merged_into" else (other, sid) if kind == "split_from" else None
        if pair and pair in flows:
            n, g = flows[pair]
            named.add(pair)
            verb = "merged into" if kind == "merged_into" else "split off"
            detail = f"{detail}; {n} article(s) in {g} near-duplicate group(s) {verb}"
        out.append((sid, kind, other, t, detail))
    for (old, new), (n, g) in sorted(flows.items()):
        if (old, new) not in named:
            out.append((old, "moved_to", new, when,
                        f"batch re-cluster moved {n} article(s) in {g} near-duplicate group(s) "
                        f"from {old} to {new}"))
    return out


def _change_report(before: dict[str, int], after: dict[str, int],
                   flows: dict[tuple[str, str], list[int]], events: list[tuple]) -> dict[str, Any]:
    """What a batch round changed: articles and groups moved, the stories merged away and split
    off, and every story whose size changed (articles before -> after), largest change first."""
    kinds = defaultdict(list)
    for sid, kind, other, _, _ in events:
        kinds[kind].append((sid, other))
    sizes = [{"story_id": s, "before": before.get(s, 0), "after": after.get(s, 0)}
             for s in after if before.get(s, 0) != after.get(s, 0)]
    sizes.sort(key=lambda d: (-abs(d["after"] - d["before"]), d["story_id"]))
    return {"articles moved": sum(n for n, _ in flows.values()),
            "groups moved": sum(g for _, g in flows.values()),
            "merged": [f"{s} -> {o}" for s, o in kinds["merged_into"]],
            "split": [f"{o} -> {s}" for s, o in kinds["split_from"]],
            "moved": [f"{o} -> {n}: {a} article(s)" for (o, n), (a, _) in sorted(flows.items())],
            "sizes": sizes}


def _growth_events(store: Store, run_id: int, touched: set[str], created: set[str],
                   now: datetime) -> list[tuple[str, str, str | None, datetime, str]]:
    """"created" for new stories, "grew" for stored stories that got articles in this run."""
    if not touched:
        return []
    out = []
    for sid, n, first, last in store.run_growth(run_id, touched):
        if sid in created:
            out.append((sid, "created", None, as_utc(first) or now, f"new story with {n} article(s)"))
        else:
            out.append((sid, "grew", None, as_utc(last) or now, f"+{n} article(s)"))
    return out


def _contrast_titles(store: Store, touched: set[str], limit: int,
                     cache: dict[str, list[str]] | None) -> dict[str, list[str]]:
    """story id -> open members' titles of the ``limit`` most recently seen active stories not
    in ``touched`` (the contrast set of c-TF-IDF labels; stories without a member left out).
    ``cache``: titles of stories as a writer last saw them (read only for the stories it lacks,
    and pruned here to the contrast set when it grows past a few times ``limit``)."""
    recent = [s for s in store.recent_story_ids(limit + len(touched)) if s not in touched][:limit]
    cache = {} if cache is None else cache
    cache.update(store.open_member_titles([s for s in recent if s not in cache]))
    if len(cache) > 4 * limit + len(touched):
        keep = set(recent)
        for sid in [s for s in cache if s not in keep]:
            del cache[sid]
    return {sid: cache[sid] for sid in recent if cache[sid]}


def _refresh_stories(store: Store, run_id: int, touched: set[str], model_id: str,
                     params: StoryParams, contrast: dict[str, list[str]] | None = None) -> set[str]:
    """Recompute the rows of the touched stories from their open memberships: times, sizes,
    centroid sums over embedded units, guard features of the first unit, label (c-TF-IDF terms
    in the titles' own spelling, :func:`~clustering.stories.display.display_terms`, against the
    titles of recently seen other stories), representative (the member of the largest
    near-duplicate group; ties: earliest published, then ingest). ``contrast``: a writer's
    cache of those titles (:class:`StoryStep`), brought up to date here. Returns the touched
    stories that are active now (those with open members)."""
    if not touched:
        return set()
    old = store.story_created_runs(touched)
    by_story: dict[str, list] = defaultdict(list)
    for r in store.story_member_rows(touched, model_id):
        by_story[r[0]].append(r)
    texts: dict[str, list[str]] = defaultdict(list)
    for sid, rows in by_story.items():
        texts[sid] = [r[2] or (r[3] or "")[:300] for r in rows]
    for sid, titles in _contrast_titles(store, touched, params.label_contrast, contrast).items():
        texts[sid].extend(titles)
    if contrast is not None:  # the touched stories' titles as they are now
        contrast.update((sid, [r[2] or "" for r in by_story.get(sid, [])]) for sid in touched)
    labels = ctfidf_labels(texts, top_k=params.label_terms)
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
            "label_terms": display_terms(labels.get(sid, []),
                                         [r[2] or (r[3] or "")[:300] for r in rows]),
            "representative_id": rep,
            "status": "active" if rows else "merged",
            "created_run": old.get(sid, run_id), "updated_run": run_id,
        })
    store.replace_stories(touched, out)
    return {r["story_id"] for r in out if r["status"] == "active"}


def _mark_quiet(store: Store, run_id: int, times: list[datetime], params: StoryParams
                ) -> list[tuple]:
    """Stories whose last article is more than ``active_days`` older than the newest article
    of this run (``times``: the run's publication times) go quiet (status "quiet", a
    "went_quiet" event)."""
    if not times:
        return []
    cutoff = max(times) - timedelta(days=params.active_days)
    rows = store.stories_last_seen_before(cutoff)
    if not rows:
        return []
    store.mark_quiet([r[0] for r in rows], run_id)
    return [(sid, "went_quiet", None, as_utc(last) + timedelta(days=params.active_days),
             f"no new article for {params.active_days:g} days") for sid, last in rows]


# ---- explain --------------------------------------------------------------------------------

def explain_story(store: Store, id_a: str, id_b: str, params: StoryParams) -> dict[str, Any] | None:
    """Why two stored articles are or are not in one story: their open memberships and the
    reasons recorded, and the similarity, time gap, decayed score and guard verdict of their
    groups' embedded representatives (scored with ``params``, the settings of the last run);
    with the hybrid scorer, P(same story), the main features, their shares of the logit and
    the threshold (:func:`clustering.story_hybrid.explain_pair`), the verdict naming the scorer.
    None when no stories were clustered."""
    if not store.has_story_members():
        return None
    (sa, ra, _, _), (sb, rb, _, _) = [store.story_facts(a) or (None, None, None, None)
                                      for a in (id_a, id_b)]
    out: dict[str, Any] = {"story_a": sa, "story_b": sb, "same_story": sa is not None and sa == sb,
                           "reason_a": ra, "reason_b": rb}
    ua, ub = store.embedded_unit_of(id_a), store.embedded_unit_of(id_b)
    if ua and ub:
        cos = float(np.dot(np.asarray(ua[1]), np.asarray(ub[1])))
        gap = (abs(_epoch(as_utc(ua[4])) - _epoch(as_utc(ub[4]))) if ua[4] and ub[4] else math.nan)
        if params.scorer == "hybrid":
            h = story_hybrid.explain_pair(store, params, ua, ub)
            out.update({"embedded_representatives": [ua[0], ub[0]], "cosine": round(cos, 4),
                        "time_gap_days": None if math.isnan(gap) else round(gap / SECONDS_PER_DAY, 2),
                        **h})
            p, thr = h["probability"], h["threshold"]
            out["verdict"] = ("one story" if out["same_story"] else
                              f"{h['scorer']}: P(same story) {p:.3f} "
                              f"{'>=' if p >= thr else '<'} threshold {thr} (pairwise; online "
                              "stories compare with their kept members)")
            return out
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
