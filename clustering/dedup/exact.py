"""Brute-force exact Jaccard over all pairs: the reference that LSH is measured against.

A sparse document x shingle incidence matrix ``X`` (CSR, binary) gives every pair's intersection
size as ``X @ X.T``; only pairs sharing at least one shingle are materialised, so the cost grows
with the number of overlapping pairs, not with n^2 in memory. Still quadratic in the worst case:
use it for evaluation slices (tens of thousands of documents), not in the product path.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp


def all_pairs_jaccard(sets: Sequence[np.ndarray], threshold: float,
                      kinds: Sequence[str] | None = None, block: int = 2_000
                      ) -> list[tuple[int, int, float]]:
    """Every pair (i < j) whose exact Jaccard similarity is >= ``threshold``.

    Args:
        sets: shingle sets (sorted unique uint64 arrays), one per document.
        threshold: Jaccard threshold in (0, 1].
        kinds: optional shingle kind per document; pairs of different kinds are never compared
            (their shingles live in different spaces).
        block: rows multiplied at a time (bounds memory).

    Returns:
        ``(i, j, jaccard)`` triples sorted by (i, j).
    """
    n = len(sets)
    if n < 2:
        return []
    lens = np.fromiter((len(s) for s in sets), dtype=np.int64, count=n)
    flat = np.concatenate([s for s in sets if len(s)]) if lens.sum() else np.zeros(0, np.uint64)
    vocab, cols = np.unique(flat, return_inverse=True)
    rows = np.repeat(np.arange(n), lens)
    x = sp.csr_matrix((np.ones(len(cols), dtype=np.int32), (rows, cols.ravel())),
                      shape=(n, len(vocab)))
    xt = x.T.tocsc()
    kind_arr = np.asarray(kinds) if kinds is not None else None
    out: list[tuple[int, int, float]] = []
    for lo in range(0, n, block):
        inter = (x[lo:lo + block] @ xt).tocoo()
        i = inter.row + lo
        j = inter.col
        keep = j > i
        i, j, c = i[keep], j[keep], inter.data[keep].astype(np.float64)
        sim = c / (lens[i] + lens[j] - c)
        ok = sim >= threshold
        if kind_arr is not None:
            ok &= kind_arr[i] == kind_arr[j]
        out.extend(zip(i[ok].tolist(), j[ok].tolist(), sim[ok].tolist()))
    out.sort()
    return out
