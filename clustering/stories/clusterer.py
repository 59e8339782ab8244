"""The in-memory story clusterer, in the scikit-learn estimator style.

:class:`StoryClusterer` runs the engine's story functions (with the default hybrid scorer
:func:`~clustering.stories.assign_hybrid_minibatch` for ``partial_fit``,
:func:`~clustering.stories.cluster_hybrid_batch` for ``fit``; with ``scorer="cosine"``
:func:`~clustering.stories.assign_online` and :func:`~clustering.stories.cluster_batch`) on articles held in
memory: no database. Articles are embedded with the engine's :class:`~clustering.embed.Embedder`
unless embeddings are given.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from clustering.config import EmbedParams, StoryParams
from clustering.estimator import ParamsMixin
from clustering.records import Article, SkipReport

from .batch import MAX_BATCH_ITEMS, cluster_batch
from .features import PairBatch
from .guard import guard_features
from .hybrid import HybridStories, assign_hybrid_minibatch, cluster_hybrid_batch, prepare
from .online import ActiveStories, assign_online
from .scorer import StoryScorer, default_scorer
from .sparse import DocumentFrequencies

__all__ = ["StoryClusterer"]

_STORY = StoryParams()
_EMBED = EmbedParams()


class StoryClusterer(ParamsMixin):
    """Story labels for articles in memory, online (``partial_fit``) or batch (``fit``).

    Parameters are stored as given (``get_params`` / ``set_params``) and checked when fitting
    (:class:`~clustering.config.StoryParams` raises ValueError on bad values).

    Args:
        threshold, decay_per_day, grace_days, active_days, max_candidates, linkage,
            guard_min_score, scorer, scorer_weights: see
            :class:`~clustering.config.StoryParams` (``scorer="hybrid"``, the default: the
            learned P(same story) at the scorer's threshold, 0.5, with document frequencies
            of the articles seen since the last ``fit``; ``threshold``, ``decay_per_day``,
            ``grace_days`` and ``guard_min_score`` apply to ``scorer="cosine"`` only).
        model, lead_tokens, batch_size, backend: the embedding model (see
            :class:`~clustering.config.EmbedParams`).
        embedder: an object with ``encode_articles(titles, texts) -> (n, d) float32`` to use
            instead of building one (e.g. to share a loaded model).

    Attributes (in input order, over every call since the last ``fit``):
        ids_: accepted article ids.
        labels_: (n_records,) int64 story label per record, numbered by first appearance in
            input order; -1 for a skipped record (see ``skips_``).
        story_ids_: per accepted article, its story id (``"s1"``, ``"s2"``, ... in creation
            order).
        reasons_: per accepted article, why it joined or started its story (online), or the
            batch setting (batch).
        embeddings_: (n_accepted, d) float32 L2-normalised vectors.

    Order: ``partial_fit`` assigns a call's articles in time order (undated last, ties by
    input order), each against the stories built so far, so the result depends on the order of
    calls but not on the order within one call's timestamps; ``fit`` clusters all articles at
    once and does not depend on input order (up to exact score ties).

    Source: centroid-based online clustering with time decay (Miranda et al. 2018, EMNLP,
    "Multilingual Clustering of Streaming News"); agglomerative clustering of scikit-learn.
    """

    _PARAMS = ("threshold", "decay_per_day", "grace_days", "active_days", "max_candidates",
               "linkage", "guard_min_score", "scorer", "scorer_weights",
               "model", "lead_tokens", "batch_size", "backend", "embedder")

    def __init__(self, *, threshold: float = _STORY.threshold,
                 decay_per_day: float = _STORY.decay_per_day, grace_days: float = _STORY.grace_days,
                 active_days: float = _STORY.active_days,
                 max_candidates: int = _STORY.max_candidates, linkage: str = _STORY.linkage,
                 guard_min_score: float = _STORY.guard_min_score, scorer: str = _STORY.scorer,
                 scorer_weights: str | None = _STORY.scorer_weights,
                 model: str | None = _EMBED.model,
                 lead_tokens: int = _EMBED.lead_tokens, batch_size: int = _EMBED.batch_size,
                 backend: str = _EMBED.backend, embedder: Any = None):
        self.threshold = threshold
        self.decay_per_day = decay_per_day
        self.grace_days = grace_days
        self.active_days = active_days
        self.max_candidates = max_candidates
        self.linkage = linkage
        self.guard_min_score = guard_min_score
        self.scorer = scorer
        self.scorer_weights = scorer_weights
        self.model = model
        self.lead_tokens = lead_tokens
        self.batch_size = batch_size
        self.backend = backend
        self.embedder = embedder

    @classmethod
    def from_params(cls, params: StoryParams, embed: EmbedParams | None = None,
                    embedder: Any = None) -> StoryClusterer:
        """A StoryClusterer with the settings of a config's story and embedding sections."""
        embed = embed or EmbedParams()
        return cls(threshold=params.threshold, decay_per_day=params.decay_per_day,
                   grace_days=params.grace_days, active_days=params.active_days,
                   max_candidates=params.max_candidates, linkage=params.linkage,
                   guard_min_score=params.guard_min_score, scorer=params.scorer,
                   scorer_weights=params.scorer_weights, model=embed.model,
                   lead_tokens=embed.lead_tokens, batch_size=embed.batch_size, backend=embed.backend,
                   embedder=embedder)

    def story_params(self, mode: str) -> StoryParams:
        """The parameters as a checked :class:`~clustering.config.StoryParams`."""
        return StoryParams(mode=mode, threshold=self.threshold, decay_per_day=self.decay_per_day,
                           grace_days=self.grace_days, active_days=self.active_days,
                           max_candidates=self.max_candidates, linkage=self.linkage,
                           guard_min_score=self.guard_min_score, scorer=self.scorer,
                           scorer_weights=self.scorer_weights)

    def _scorer(self, params: StoryParams) -> StoryScorer:
        if params.scorer_weights is None:
            return default_scorer()
        return StoryScorer.load(params.scorer_weights)

    # ---- fitting ------------------------------------------------------------------------------

    def _encoder(self):
        if self.embedder is None:
            from clustering.embed import Embedder

            backend = self.backend if self.model is None else "torch"
            self.embedder = Embedder(self.model, lead_tokens=self.lead_tokens,
                                     batch_size=self.batch_size, backend=backend)
        return self.embedder

    def _reset(self) -> None:
        self._active: ActiveStories | None = None
        self._hybrid: HybridStories | None = None
        self._df = DocumentFrequencies()
        self._record_ids: list[str | None] = []
        self._story: dict[str, str] = {}
        self._reason: dict[str, str] = {}
        self._vec: dict[str, np.ndarray] = {}
        self._n_stories = 0
        self.skips_ = SkipReport()

    def _read(self, articles, embeddings) -> tuple[list[Article], np.ndarray]:
        from clustering.io.readers import read_new_records

        records = list(articles)
        read, ids, keep = read_new_records(records, self._story, len(self._record_ids))
        arts = read.articles
        self.skips_.merge(read.skips)
        self._record_ids.extend(ids)
        if embeddings is not None:
            emb = np.asarray(embeddings, dtype=np.float32)
            if emb.ndim != 2 or emb.shape[0] != len(records):
                raise ValueError(f"embeddings must have shape ({len(records)}, d), got {emb.shape}")
            emb = emb[keep]
        elif arts:
            emb = self._encoder().encode_articles([a.title for a in arts], [a.text for a in arts])
        else:
            emb = np.zeros((0, 0), np.float32)
        return arts, np.asarray(emb, dtype=np.float32)

    def _new_id(self) -> str:
        self._n_stories += 1
        return f"s{self._n_stories}"

    def fit(self, articles: Iterable[Article | Mapping[str, Any]],
            embeddings: np.ndarray | None = None) -> StoryClusterer:
        """Batch: cluster ``articles`` from scratch (agglomerative, see
        :func:`~clustering.stories.cluster_batch`); returns self.

        Args:
            articles: Articles or dicts with the documented fields.
            embeddings: optional (n_records, d) L2-normalised vectors aligned with ``articles``.

        Raises:
            ValueError: bad parameters, misaligned embeddings, or more items than batch
                clustering accepts.
        """
        params = self.story_params("batch")
        self._reset()
        arts, emb = self._read(articles, embeddings)
        if arts:
            times = np.array([a.published.timestamp() if a.published else math.nan for a in arts])
            if params.scorer == "hybrid":
                scorer = self._scorer(params)
                terms, guards = prepare([a.title for a in arts], [a.text for a in arts])
                self._df.update(terms)
                labels = cluster_hybrid_batch(PairBatch(emb, terms, guards, times, self._df),
                                              scorer, linkage=params.linkage,
                                              link=(params.link_article, params.link_headline),
                                              max_items=MAX_BATCH_ITEMS,
                                              split_ratio=params.split_ratio,
                                              split_min=params.split_min)
                how = (f"batch (hybrid scorer, {params.linkage} linkage, mean P >= "
                       f"{params.link_article} for articles, {params.link_headline} for headlines)")
            else:
                feats = [guard_features(a.title, a.text) for a in arts]
                labels = cluster_batch(emb, times, feats, params)
                how = f"batch ({params.linkage} linkage, threshold {params.threshold})"
            names: dict[int, str] = {}
            for a, lab, v in zip(arts, labels, emb):
                self._story[a.id] = names.setdefault(int(lab), self._new_id())
                self._reason[a.id] = how
                self._vec[a.id] = v
        self._refresh()
        return self

    def partial_fit(self, articles: Iterable[Article | Mapping[str, Any]],
                    embeddings: np.ndarray | None = None) -> StoryClusterer:
        """Online: assign ``articles`` to the stories seen so far or to new ones (see
        :func:`~clustering.stories.assign_online`); returns self. Raises ValueError as ``fit``."""
        params = self.story_params("online")
        if not hasattr(self, "_story"):
            self._reset()
        arts, emb = self._read(articles, embeddings)
        if arts:
            order = sorted(range(len(arts)), key=lambda i: (
                arts[i].published.timestamp() if arts[i].published else math.inf, i))
            times = np.array([arts[i].published.timestamp() if arts[i].published else math.nan
                              for i in order])
            if params.scorer == "hybrid":
                if self._hybrid is None:
                    self._hybrid = HybridStories(emb.shape[1])
                terms, guards = prepare([arts[i].title for i in order],
                                        [arts[i].text for i in order])
                out = assign_hybrid_minibatch(self._hybrid, emb[order], terms, guards, times,
                                              self._df, self._new_id, self._scorer(params),
                                              chunk=params.online_batch,
                                              active_days=params.active_days,
                                              max_candidates=params.max_candidates,
                                              split_ratio=params.split_ratio,
                                              split_min=params.split_min,
                                              link=(params.link_article, params.link_headline))
            else:
                if self._active is None:
                    self._active = ActiveStories(emb.shape[1])
                feats = [guard_features(arts[i].title, arts[i].text) for i in order]
                out = assign_online(self._active, emb[order], times, feats, params, self._new_id)
            for i, a in zip(order, out):
                self._story[arts[i].id] = a.story_id
                self._reason[arts[i].id] = a.reason
                self._vec[arts[i].id] = emb[i]
            if self._hybrid is not None and self._hybrid.merged_into:
                # stories merged online (an item bridged them): earlier items follow
                self._story = {k: self._hybrid.resolve(v) for k, v in self._story.items()}
        self._refresh()
        return self

    def fit_predict(self, articles: Iterable[Article | Mapping[str, Any]],
                    embeddings: np.ndarray | None = None) -> np.ndarray:
        """``fit(articles, embeddings)`` and return ``labels_``."""
        return self.fit(articles, embeddings).labels_

    def _refresh(self) -> None:
        ids = [i for i in self._record_ids if i is not None]
        self.ids_ = ids
        self.story_ids_ = [self._story[i] for i in ids]
        self.reasons_ = [self._reason[i] for i in ids]
        self.embeddings_ = (np.stack([self._vec[i] for i in ids]) if ids
                            else np.zeros((0, 0), np.float32))
        number: dict[str, int] = {}
        labels = np.full(len(self._record_ids), -1, dtype=np.int64)
        for k, i in enumerate(self._record_ids):
            if i is not None:
                labels[k] = number.setdefault(self._story[i], len(number))
        self.labels_ = labels
