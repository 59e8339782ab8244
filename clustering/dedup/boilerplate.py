"""Outlet boilerplate: shingles that many articles of one source share.

An outlet appends the same footer ("تابعونا على فيسبوك ...", a copyright line, a "read also"
block) to every article. Two short unrelated articles of that outlet then share most of their
shingles, and Jaccard calls them near-duplicates. Shingles that occur in many *different*
articles of the same source are the outlet's template, not the news: they are learned from the
batch (document frequency per source over distinct texts) and dropped before MinHash and
verification. Syndication is text shared *across* articles of different content hash; a shingle
in at least ``min_articles`` distinct texts of one outlet is not that.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["learn_boilerplate", "strip_boilerplate"]


def learn_boilerplate(sources: Sequence[str | None], sets: Sequence[np.ndarray],
                      kinds: Sequence[str], hashes: Sequence[str], min_articles: int) -> np.ndarray:
    """The boilerplate shingles of a batch.

    Args:
        sources: outlet of each article (None: unknown; never learned from).
        sets: word or character shingle sets (sorted unique uint64), aligned with ``sources``.
        kinds: shingle kind per article; only "word" (full article) sets are learned from.
        hashes: content hash per article; exact repeats count once.
        min_articles: a shingle in at least this many distinct texts of one source is
            boilerplate (>= 2).

    Returns:
        Sorted unique uint64 array of boilerplate shingle hashes (every source together: an
        outlet's footer text is no evidence of syndication wherever it appears).
    """
    by_source: dict[str, list[np.ndarray]] = {}
    seen: set[str] = set()
    for src, s, k, h in zip(sources, sets, kinds, hashes):
        if src is None or k != "word" or h in seen or not len(s):
            continue
        seen.add(h)
        by_source.setdefault(src, []).append(s)
    found = [np.zeros(0, np.uint64)]
    for group in by_source.values():
        if len(group) < min_articles:
            continue
        vals, counts = np.unique(np.concatenate(group), return_counts=True)
        found.append(vals[counts >= min_articles])
    return np.unique(np.concatenate(found))


def strip_boilerplate(s: np.ndarray, boilerplate: np.ndarray) -> np.ndarray:
    """``s`` without the boilerplate shingles (both sorted unique uint64); ``s`` itself when
    nothing is dropped."""
    if not len(boilerplate) or not len(s):
        return s
    keep = ~np.isin(s, boilerplate, assume_unique=True)
    return s if keep.all() else s[keep]
