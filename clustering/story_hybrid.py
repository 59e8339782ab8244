"""The learned hybrid story scorer inside a run: what :mod:`clustering.story_step` does when
``StoryParams.scorer == "hybrid"`` (the default).

The pure core is :mod:`clustering.stories.hybrid` (features, :class:`HybridStories`,
:func:`assign_hybrid_online`, :func:`cluster_hybrid_batch`); this module feeds it from the store
and writes back what later runs need:

* **document frequencies** (``doc_freqs`` table): every embedded unit is counted once, when it is
  first clustered; a run reads only the frequencies of the terms its items contain, so online
  scores need no refit (Miranda et al. 2018, EMNLP, "Multilingual Clustering of Streaming News").
* **story state** (``story_state`` table): per story, :meth:`HybridStories.to_json`
  (embedding sum, sparse centroids of title / text / entities, up to 8 kept members). Online
  runs update the state of the stories they touch; after a batch re-cluster (members moved) the
  touched stories' states are rebuilt from their open members; a story without a stored state
  (e.g. clustered with the cosine scorer) is rebuilt when first needed.

Every read and write goes through :class:`~clustering.store.Store` methods.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from clustering.config import StoryParams
from clustering.store import Store, as_utc
from clustering.stories import (
    FEATURE_NAMES,
    MAX_BATCH_ITEMS,
    DocumentFrequencies,
    GuardFeatures,
    HybridStories,
    ItemTerms,
    PairBatch,
    StoryScorer,
    assign_hybrid_minibatch,
    cluster_hybrid_batch,
    default_scorer,
    guard_features,
    item_terms,
    tfidf,
)

__all__ = ["TermCache", "count_documents", "explain_pair", "hybrid_batch_labels",
           "hybrid_online", "load_scorer", "rebuild_states", "store_frequencies"]

SECONDS_PER_DAY = 86_400.0
_SCORERS: dict[str, StoryScorer] = {}


def load_scorer(params: StoryParams) -> StoryScorer:
    """The scorer of ``params``: the shipped weights, or ``params.scorer_weights`` (read once
    per process and path).

    Raises:
        FileNotFoundError, ValueError: the weights file is missing or not a scorer file.
    """
    if params.scorer_weights is None:
        return default_scorer()
    key = str(Path(params.scorer_weights).resolve())
    if key not in _SCORERS:
        _SCORERS[key] = StoryScorer.load(key)
    return _SCORERS[key]


class TermCache:
    """:func:`~clustering.stories.item_terms` and guard features of units by article id,
    computed once per step (``item_terms`` costs a few ms for an article)."""

    def __init__(self) -> None:
        self._terms: dict[str, ItemTerms] = {}
        self._guards: dict[str, GuardFeatures] = {}

    def get(self, article_id: str, title: str, text: str) -> tuple[ItemTerms, GuardFeatures]:
        """(terms, guard features) of one unit."""
        if article_id not in self._terms:
            self._terms[article_id] = item_terms(title or "", text or "")
            self._guards[article_id] = guard_features(title or "", text or "")
        return self._terms[article_id], self._guards[article_id]


def store_frequencies(store: Store, terms: Sequence[ItemTerms]) -> DocumentFrequencies:
    """The stored document frequencies of the terms of ``terms`` (the rest of the vocabulary is
    not read: those terms do not occur in these items)."""
    need: set[str] = set()
    for t in terms:
        need |= t.doc_terms()
    n, df = store.doc_freqs_of(need)
    return DocumentFrequencies(n, df)


def count_documents(store: Store, terms: Sequence[ItemTerms]) -> None:
    """Add the units ``terms`` to the stored document frequencies (each once, ever: call it
    only for units clustered for the first time)."""
    if not terms:
        return
    counts: Counter = Counter()
    for t in terms:
        counts.update(t.doc_terms())
    store.add_doc_freqs(dict(counts), len(terms))


def _build_state(sid: str, rows: list[tuple], cache: TermCache, df: DocumentFrequencies,
                 dim: int) -> str:
    """State JSON of one story from its embedded members ``(id, title, text, epoch, seq, vec)``,
    added in time order (then ingest order), as online mode adds them."""
    rows = sorted(rows, key=lambda r: (r[3] if not math.isnan(r[3]) else math.inf, r[4]))
    st = HybridStories(dim)
    for r in rows:
        terms, guard = cache.get(r[0], r[1], r[2])
        vecs = (tfidf(terms.title, df), tfidf(terms.text, df), tfidf(terms.entities, df))
        if not len(st):
            st.add(sid, r[5], r[3], vecs, guard, terms)
        else:
            st.join(0, r[5], r[3], vecs, guard, terms)
    return st.to_json(0)


def rebuild_states(store: Store, story_ids: set[str], model_id: str, cache: TermCache
                   ) -> dict[str, str | None]:
    """States (JSON) of the given stories rebuilt from their open embedded members, with the
    stored document frequencies; None for a story without embedded members (merged away)."""
    if not story_ids:
        return {}
    members: dict[str, list[tuple]] = {sid: [] for sid in story_ids}
    for r in store.story_member_rows(story_ids, model_id):
        if r[7] is not None:
            t = as_utc(r[4])
            members[r[0]].append((r[1], r[2] or "", r[3] or "", t.timestamp() if t else math.nan,
                                  r[5], np.asarray(r[7], dtype=np.float32)))
    terms = [cache.get(m[0], m[1], m[2])[0] for ms in members.values() for m in ms]
    df = store_frequencies(store, terms)
    if df.n_docs < len(terms):  # a store filled before document frequencies were kept
        df = DocumentFrequencies().update(terms)
    return {sid: (_build_state(sid, ms, cache, df, len(ms[0][5])) if ms else None)
            for sid, ms in members.items()}


@dataclass
class ActiveCache:
    """The active stories as the last online round left them, kept in memory by a long-lived
    writer (a :class:`~clustering.NewsClusterer` held open, the feed service) so that the next
    round need not parse every active story's stored state again.

    Valid for the next round only when nothing else wrote in between: ``run_id`` must be the
    store's newest committed run (a rolled-back round leaves no run row, so its cache is
    dropped), the model the same, and the new items no earlier than its window (``since``).

    Attributes:
        run_id: the run whose story step left this state.
        model_id: embedding model of the states.
        since: the oldest last-seen time the state was loaded for (None: every active story).
        stories: the state (rows of merged-away stories stay, never candidates again).
    """

    run_id: int
    model_id: str
    since: datetime | None
    stories: HybridStories

    def fits(self, run_id: int | None, model_id: str) -> bool:
        """Whether this state can serve the round after run ``run_id`` (the store's newest
        committed run) with ``model_id`` embeddings."""
        return run_id == self.run_id and model_id == self.model_id

    def covers(self, since: datetime | None) -> bool:
        """Whether the state holds every active story last seen at or after ``since``."""
        return self.since is None or (since is not None and since >= self.since)


#: Days of extra history loaded with the active stories: a held-open writer keeps them for the
#: next rounds, and a feed's next article is often a little older than the last one (outlets'
#: clocks, late RSS pulls); without slack each such article reloaded every active state. What is
#: loaded beyond the window does not change decisions (assignment filters by ``active_days``).
LOAD_SLACK_DAYS = 1.0


def _since(params: StoryParams, times: np.ndarray) -> datetime | None:
    if not np.isfinite(times).any():
        return None
    return datetime.fromtimestamp(float(np.nanmin(times)) - params.active_days * SECONDS_PER_DAY,
                                  tz=timezone.utc)


def _active_states(store: Store, params: StoryParams, since: datetime | None, model_id: str,
                   cache: TermCache, dim: int) -> tuple[HybridStories, set[str]]:
    """The active stories the items may join (as :func:`clustering.story_step._load_active`),
    from their stored states; missing states are rebuilt from the members (and stored by the
    caller: their ids come second)."""
    ids = store.active_story_ids(since)
    stored = store.story_states(ids, model_id)
    missing = set(ids) - set(stored)
    if missing:
        stored.update({k: v for k, v in rebuild_states(store, missing, model_id, cache).items()
                       if v is not None})
    rows = [json.loads(stored[sid]) for sid in ids if sid in stored]
    return HybridStories.from_dicts(rows, dim), missing


def _reusable(active: ActiveCache | None, since: datetime | None) -> HybridStories | None:
    """The cached state, unless it holds many more stories than the window needs (a writer
    held open for weeks: then reloading the window bounds its memory)."""
    if active is None or not active.covers(since):
        return None
    st = active.stories
    if since is not None and len(st) > 2_000:
        cut = since.timestamp()
        live = sum(1 for a, t in zip(st.alive, st.last) if a and (math.isnan(t) or t >= cut))
        if len(st) > 2 * live:
            return None
    return st


def hybrid_online(store: Store, params: StoryParams, units: Sequence[Any], emb: np.ndarray,
                  times: np.ndarray, model_id: str, new_story_id: Callable[[], str],
                  cache: TermCache, active: ActiveCache | None = None
                  ) -> tuple[list, dict[str, str | None], dict[str, str], ActiveCache]:
    """Assign units (already in arrival order; ``emb`` (n, d) and ``times`` (n,) epoch seconds
    aligned with them) to the active stories with :func:`assign_hybrid_minibatch`, count them in
    the stored document frequencies.

    Args:
        active: the state the previous round left, if the caller checked that it
            :meth:`ActiveCache.fits` this round; None loads the active stories from the store.

    Returns:
        (one :class:`~clustering.stories.HybridAssignment` per unit, its ``story_id`` the story
        the unit is in after the whole pass (stories merged later in the pass resolved); story
        id -> new state JSON for every story the units joined or created and for stored stories
        whose missing state was rebuilt, None for the stories merged away; merged story id ->
        the story it is now part of; the state after the round, as an :class:`ActiveCache`
        whose ``run_id`` the caller sets).
    """
    scorer = load_scorer(params)
    tg = [cache.get(u.article_id, u.title, u.text) for u in units]
    terms = [t for t, _ in tg]
    since = _since(params, times)
    stories = _reusable(active, since)
    rebuilt: set[str] = set()
    if stories is None:
        if since is not None:
            since -= timedelta(days=LOAD_SLACK_DAYS)
        stories, rebuilt = _active_states(store, params, since, model_id, cache, emb.shape[1])
    else:
        since = active.since
    df = store_frequencies(store, terms)

    def fresh_id() -> str:
        # a story created and merged away inside an earlier call was never stored, so the
        # store's counter may hand out its id again while the kept state still holds it
        sid = new_story_id()
        while sid in stories:
            sid = new_story_id()
        return sid

    out = assign_hybrid_minibatch(stories, emb, terms, [g for _, g in tg], times, df,
                                  fresh_id, scorer, chunk=params.online_batch,
                                  active_days=params.active_days,
                                  max_candidates=params.max_candidates,
                                  split_ratio=params.split_ratio, split_min=params.split_min,
                                  link=(params.link_article, params.link_headline),
                                  merge_bar=(params.merge_article, params.merge_headline))
    count_documents(store, terms)
    merges = {s: stories.resolve(s) for a in out for s in a.merged}
    out = [replace(a, story_id=stories.resolve(a.story_id)) for a in out]
    touched = ({a.story_id for a in out} | rebuilt | set(merges.values())) - set(merges)
    states: dict[str, str | None] = {stories.ids[r]: stories.to_json(r)
                                     for r in range(len(stories)) if stories.ids[r] in touched}
    states.update(dict.fromkeys(merges))
    return out, states, merges, ActiveCache(-1, model_id, since, stories)


def hybrid_batch_labels(store: Store, params: StoryParams, all_units: Sequence[Any],
                        vecs: np.ndarray, times: np.ndarray, n_new: int, cache: TermCache
                        ) -> np.ndarray:
    """Cluster label per unit of a window with :func:`cluster_hybrid_batch` (average linkage
    over 1 - P(same story), merge while the mean P reaches ``params.link_article`` /
    ``link_headline``). The last ``n_new`` units
    are new: they are counted in the stored document frequencies first; the idf weights are the
    store's (the window's own when the store counted fewer documents than the window holds).

    Raises:
        ValueError: more than :data:`~clustering.stories.MAX_BATCH_ITEMS` units.
    """
    tg = [cache.get(u.article_id, u.title, u.text) for u in all_units]
    terms = [t for t, _ in tg]
    if n_new:
        count_documents(store, terms[len(terms) - n_new:])
    df = store_frequencies(store, terms)
    if df.n_docs < len(terms):
        df = DocumentFrequencies().update(terms)
    batch = PairBatch(vecs, terms, [g for _, g in tg], times, df)
    return cluster_hybrid_batch(batch, load_scorer(params), linkage=params.linkage,
                                link=(params.link_article, params.link_headline),
                                max_items=MAX_BATCH_ITEMS, split_ratio=params.split_ratio,
                                split_min=params.split_min)


#: Features reported by ``explain`` (the rest are products of these).
EXPLAIN_FEATURES = ("emb", "title", "text", "ent", "place_conflict", "number_conflict",
                    "place_agree", "both_headline", "one_headline", "cross_script",
                    "log_gap_days")


def explain_pair(store: Store, params: StoryParams, a: tuple, b: tuple) -> dict[str, Any]:
    """P(same story) of two embedded units ``(id, vector, title, text, published)`` with the
    stored document frequencies, the main features and each one's share of the logit
    (coefficient x value; ``logit_rest``: intercept and interaction features), and the
    threshold."""
    scorer = load_scorer(params)
    cache = TermCache()
    tg = [cache.get(u[0], u[2] or "", u[3] or "") for u in (a, b)]
    terms = [t for t, _ in tg]
    df = store_frequencies(store, terms)
    if df.n_docs < 2:
        df = DocumentFrequencies().update(terms)
    times = np.array([as_utc(u[4]).timestamp() if u[4] else math.nan for u in (a, b)])
    emb = np.stack([np.asarray(u[1], dtype=np.float32) for u in (a, b)])
    x = PairBatch(emb, terms, [g for _, g in tg], times, df).pairs(np.array([0]), np.array([1]))[0]
    p = float(scorer.proba(x))
    coef = dict(zip(FEATURE_NAMES, scorer.coef))
    feats = {k: round(float(x[FEATURE_NAMES.index(k)]), 4) for k in EXPLAIN_FEATURES}
    share = {k: round(float(coef[k] * x[FEATURE_NAMES.index(k)]), 3) for k in EXPLAIN_FEATURES}
    return {"scorer": "hybrid" + (f" ({params.scorer_weights})" if params.scorer_weights else
                                  " (shipped scorer_v1.json)"),
            "probability": round(p, 4), "threshold": scorer.threshold, "features": feats,
            "logit_shares": share,
            # the intercept and the interaction features (products of the above) make up the rest
            "logit_rest": round(float(scorer.logit(x)) - sum(share.values()), 3)}
