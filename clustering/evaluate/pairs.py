"""P(same story) of text pairs with the engine's story scorer, for ``evaluate`` on pair files.

The pairs' texts are scored as the engine scores two items in a batch
(:class:`~clustering.stories.features.PairBatch` and the hybrid
:class:`~clustering.stories.scorer.StoryScorer`): E5 embeddings of title + lead, TF-IDF of
titles, texts and entities, the guard features; no times (pair files have none, so the
``no_time`` feature is 1). Document frequencies are those of the file's own distinct texts:
there is no store to take them from, and the file is the corpus the pairs come from.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["story_probabilities"]


def story_probabilities(items_a: Sequence[tuple[str, str]], items_b: Sequence[tuple[str, str]],
                        embedder: Any, scorer=None) -> np.ndarray:
    """P(same story) of each pair ``(items_a[k], items_b[k])``.

    Args:
        items_a, items_b: (title, text) per pair side, equal lengths n; a headline is
            ``(headline, "")``.
        embedder: has ``encode_articles(titles, texts) -> (m, d)`` L2-normalised (the engine's
            :class:`~clustering.embed.Embedder`).
        scorer: a :class:`~clustering.stories.scorer.StoryScorer`; default the shipped one.

    Returns:
        (n,) float64 probabilities in (0, 1). Each distinct item is embedded once.

    Raises:
        ValueError: the sides have different lengths.
    """
    from clustering.stories.features import PairBatch
    from clustering.stories.hybrid import prepare
    from clustering.stories.scorer import default_scorer
    from clustering.stories.sparse import DocumentFrequencies

    if len(items_a) != len(items_b):
        raise ValueError(f"{len(items_a)} left items but {len(items_b)} right items")
    scorer = scorer or default_scorer()
    index: dict[tuple[str, str], int] = {}
    ii = np.array([index.setdefault(tuple(x), len(index)) for x in items_a], dtype=np.int64)
    jj = np.array([index.setdefault(tuple(x), len(index)) for x in items_b], dtype=np.int64)
    if not index:
        return np.empty(0)
    titles = [t for t, _ in index]
    texts = [x for _, x in index]
    terms, guards = prepare(titles, texts)
    df = DocumentFrequencies().update(terms)
    emb = np.asarray(embedder.encode_articles(titles, texts), dtype=np.float32)
    batch = PairBatch(emb, terms, guards, None, df)
    return scorer.proba(batch.pairs(ii, jj))
