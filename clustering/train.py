"""Refit the story scorer on a user's own labels (``news-cluster train``).

Reads articles and gold story labels (the cluster gold format of ``evaluate``: one row per
article, an id column and a story label column), embeds the articles with the engine's model,
builds their terms (:func:`~clustering.stories.prepare`) and document frequencies, and fits
:func:`~clustering.stories.fit_scorer` (pairs: all positives up to 20,000, hard and random
negatives; :func:`~clustering.stories.scorer.training_pairs`). The result is a weights JSON
file for ``run --scorer-weights`` / ``StoryParams.scorer_weights``.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np

from clustering.records import Article
from clustering.stories import (
    DocumentFrequencies,
    PairBatch,
    StoryScorer,
    cluster_hybrid_batch,
    default_scorer,
    fit_scorer,
    prepare,
)

__all__ = ["IN_SAMPLE_MAX", "train_scorer"]

#: Largest labelled set scored in sample after the fit (batch clustering is O(n^2)).
IN_SAMPLE_MAX = 5_000


def train_scorer(articles: Sequence[Article], gold: Mapping[str, Hashable], embedder: Any, *,
                 groups: Mapping[str, Hashable] | None = None, C: float = 1.0, seed: int = 0,
                 source: str = "") -> tuple[StoryScorer, dict[str, Any]]:
    """Fit a scorer on the ``articles`` that have a gold label.

    Args:
        articles: the input articles (those without a gold label are ignored).
        gold: article id -> story label.
        embedder: an object with ``encode_articles(titles, texts) -> (n, d)`` (the engine's
            :class:`~clustering.embed.Embedder`), the model the scorer will be used with.
        groups: article id -> group (e.g. a topic) for hard negatives inside groups, or None.
        C: inverse L2 penalty of the logistic regression.
        seed: pair-sampling seed.
        source: provenance written into the weights' ``meta``.

    Returns:
        ``(scorer, info)``: info has the counts (articles, stories, pairs) and, for sets of at
        most :data:`IN_SAMPLE_MAX` articles, the in-sample batch B-cubed F1 of the new and the
        shipped scorer (in sample: an optimistic figure, not a held-out score).

    Raises:
        ValueError: fewer than 2 labelled articles, or labels of a single story only.
    """
    from clustering.evaluate.metrics import bcubed

    arts = [a for a in articles if a.id in gold]
    labels = [str(gold[a.id]) for a in arts]
    if len(arts) < 2 or len(set(labels)) < 2:
        raise ValueError(f"need labelled articles of at least 2 stories, got {len(arts)} "
                         f"article(s) of {len(set(labels))} story(ies)")
    titles, texts = [a.title for a in arts], [a.text for a in arts]
    emb = np.asarray(embedder.encode_articles(titles, texts), dtype=np.float32)
    terms, guards = prepare(titles, texts)
    df = DocumentFrequencies().update(terms)
    times = np.array([a.published.timestamp() if a.published else math.nan for a in arts])
    batch = PairBatch(emb, terms, guards, times, df)
    grp = None if groups is None else [[str(groups.get(a.id, "")) for a in arts]]
    meta = {"trained_on": source, "articles": len(arts), "stories": len(set(labels)),
            "model_id": getattr(embedder, "model_id", ""), "C": C, "seed": seed,
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d")}
    scorer = fit_scorer([(batch, labels)], groups=grp, C=C, seed=seed, meta=meta)
    info: dict[str, Any] = {"articles": len(arts), "stories": len(set(labels))}
    if len(arts) <= IN_SAMPLE_MAX:
        for name, sc in (("new", scorer), ("shipped", default_scorer())):
            pred = cluster_hybrid_batch(batch, sc)
            info[f"in-sample B-cubed F1 ({name} scorer)"] = round(bcubed(labels, pred.tolist()).f1, 4)
    return scorer, info
