"""Similarity features between two items, or an item and a story, for the learned scorer.

One function, :func:`compose`, turns the raw similarities into the feature matrix the
:class:`~clustering.stories.scorer.StoryScorer` reads, so item-item (batch, ``explain``) and
item-story (online) scores share it. The raw parts (after Miranda et al. 2018, EMNLP,
"Multilingual Clustering of Streaming News": TF-IDF similarities of title, body and entities
plus time; and Staykovski et al. 2019 for dense + sparse):

* ``emb``: cosine of the E5 embeddings (title + lead); item-story: the dot product with the
  story's mean vector, i.e. the average cosine to its members;
* ``title``, ``text``, ``ent``: TF-IDF cosines of titles, of title + body, of entities
  (:mod:`.sparse`); item-story: average cosine to the members (sparse centroids);
* ``place_conflict``, ``number_conflict``, ``place_agree``: the guard's rules
  (:mod:`.guard`) as features, not a veto;
* ``head_a``, ``head_b``: headline-only (1.0) or not; for a story, the fraction of its members
  that are headline-only;
* ``ar_a``, ``ar_b``: Arabic script (1.0) or not; for a story, the fraction of Arabic members;
* ``gap_days``: time between the two, in days (NaN = unknown).

:class:`PairBatch` holds a batch of items as sparse matrices (scipy CSR) so that the features
of all pairs are a few sparse products: :meth:`PairBatch.block` (rows ``a:b`` against all) and
:meth:`PairBatch.pairs` (given index pairs, for training).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .guard import GuardFeatures
from .sparse import DocumentFrequencies, ItemTerms, tfidf

__all__ = ["FEATURE_NAMES", "PairBatch", "compose"]

#: Columns of :func:`compose`, in order (the scorer's JSON file lists them too).
FEATURE_NAMES = (
    "emb",
    "title",
    "text",
    "ent",
    "place_conflict",
    "number_conflict",
    "place_agree",
    "both_headline",
    "one_headline",
    "cross_script",
    "both_arabic",
    "log_gap_days",
    "no_time",
    "emb_x_both_headline",
    "emb_x_one_headline",
    "emb_x_cross_script",
    "text_x_both_headline",
    "title_x_one_headline",
    "emb_x_text",
    "emb_x_both_arabic",
    "text_x_both_arabic",
    "ent_x_text",
)


def compose(emb, title, text, ent, place_conflict, number_conflict, place_agree,
            head_a, head_b, ar_a, ar_b, gap_days) -> np.ndarray:
    """Feature matrix from raw similarities (arrays broadcast together; any shape S).

    Args:
        emb, title, text, ent: cosines (or average cosines to a story's members), in [-1, 1].
        place_conflict, number_conflict, place_agree: 0/1 (or fractions).
        head_a, head_b: headline-only indicator or fraction of each side.
        ar_a, ar_b: Arabic-script indicator or fraction of each side.
        gap_days: absolute time gap in days, NaN where unknown.

    Returns:
        float64 array of shape S + (len(FEATURE_NAMES),), columns as :data:`FEATURE_NAMES`.
    """
    emb, title, text, ent = (np.asarray(x, dtype=np.float64) for x in (emb, title, text, ent))
    ha, hb = np.asarray(head_a, dtype=np.float64), np.asarray(head_b, dtype=np.float64)
    aa, ab = np.asarray(ar_a, dtype=np.float64), np.asarray(ar_b, dtype=np.float64)
    gap = np.abs(np.asarray(gap_days, dtype=np.float64))
    no_time = np.isnan(gap)
    log_gap = np.where(no_time, 0.0, np.log1p(np.where(no_time, 0.0, gap)))
    both_h = ha * hb
    one_h = ha + hb - 2.0 * both_h
    cross = aa + ab - 2.0 * aa * ab
    cols = [emb, title, text, ent, place_conflict, number_conflict, place_agree, both_h, one_h,
            cross, aa * ab, log_gap, no_time, emb * both_h, emb * one_h, emb * cross,
            text * both_h, title * one_h, emb * text, emb * aa * ab, text * aa * ab, ent * text]
    shape = np.broadcast_shapes(*(np.shape(c) for c in cols))
    out = np.empty(shape + (len(cols),), dtype=np.float64)
    for k, c in enumerate(cols):
        out[..., k] = c
    return out


def _matrices(*fields: Sequence[dict]):
    """CSR matrices of the given rows (term -> weight dicts), all over one shared vocabulary."""
    from scipy.sparse import csr_matrix

    vocab: dict[str, int] = {}
    out = []
    for rows in fields:
        indptr, indices, data = [0], [], []
        for r in rows:
            for t, w in r.items():
                indices.append(vocab.setdefault(t, len(vocab)))
                data.append(w)
            indptr.append(len(indices))
        out.append((np.asarray(data, dtype=np.float64), np.asarray(indices, dtype=np.int64),
                    np.asarray(indptr, dtype=np.int64), len(rows)))
    width = max(1, len(vocab))
    return [csr_matrix((d, i, p), shape=(n, width)) for d, i, p, n in out]


class PairBatch:
    """A batch of items as matrices, for features of all pairs.

    Args:
        emb: (n, d) L2-normalised embeddings.
        terms: n :class:`~clustering.stories.sparse.ItemTerms`.
        guards: n :class:`~clustering.stories.guard.GuardFeatures` (None entries: empty).
        times: (n,) epoch seconds, NaN = unknown, or None.
        df: document frequencies for the idf weights (e.g. the store's, updated with this
            batch; or ``DocumentFrequencies().update(terms)``).

    Raises:
        ValueError: on length mismatches.
    """

    def __init__(self, emb: np.ndarray, terms: Sequence[ItemTerms],
                 guards: Sequence[GuardFeatures | None], times, df: DocumentFrequencies) -> None:
        emb = np.asarray(emb, dtype=np.float32)
        n = emb.shape[0]
        if len(terms) != n or len(guards) != n:
            raise ValueError(f"emb has {n} rows but {len(terms)} terms and {len(guards)} guards")
        self.n = n
        self.emb = emb
        t = np.full(n, np.nan) if times is None else np.asarray(times, dtype=np.float64)
        if t.shape != (n,):
            raise ValueError(f"times must have shape ({n},), got {t.shape}")
        self.times = t
        self.T, self.X, self.E = _matrices([tfidf(x.title, df) for x in terms],
                                           [tfidf(x.text, df) for x in terms],
                                           [tfidf(x.entities, df) for x in terms])
        g = [x or GuardFeatures() for x in guards]
        self.P, self.R, self.N = _matrices([dict.fromkeys(x.places, 1.0) for x in g],
                                           [dict.fromkeys(x.regions, 1.0) for x in g],
                                           [dict.fromkeys(x.numbers, 1.0) for x in g])
        self.has_p = np.array([bool(x.places) for x in g])
        self.has_n = np.array([bool(x.numbers) for x in g])
        self.head = np.array([float(x.headline_only) for x in terms])
        self.ar = np.array([float(x.arabic) for x in terms])

    def block(self, a: int, b: int) -> np.ndarray:
        """Features of rows ``a:b`` against all n items: (b - a, n, F) float64."""
        cos = (self.emb[a:b] @ self.emb.T).astype(np.float64)
        title = (self.T[a:b] @ self.T.T).toarray()
        text = (self.X[a:b] @ self.X.T).toarray()
        ent = (self.E[a:b] @ self.E.T).toarray()
        pp = (self.P[a:b] @ self.P.T).toarray()
        pr = (self.P[a:b] @ self.R.T).toarray() + (self.R[a:b] @ self.P.T).toarray()
        nn = (self.N[a:b] @ self.N.T).toarray()
        return self._compose(np.arange(a, b)[:, None], np.arange(self.n)[None, :], cos, title,
                             text, ent, pp, pr, nn)

    def pairs(self, ii: np.ndarray, jj: np.ndarray) -> np.ndarray:
        """Features of the index pairs ``(ii[k], jj[k])``: (m, F) float64."""
        ii = np.asarray(ii, dtype=np.int64)
        jj = np.asarray(jj, dtype=np.int64)

        def rowdot(M, N=None):
            N = M if N is None else N
            return np.asarray(M[ii].multiply(N[jj]).sum(axis=1)).ravel()

        cos = np.einsum("ij,ij->i", self.emb[ii].astype(np.float64), self.emb[jj].astype(np.float64))
        pr = rowdot(self.P, self.R) + np.asarray(self.R[ii].multiply(self.P[jj]).sum(axis=1)).ravel()
        return self._compose(ii, jj, cos, rowdot(self.T), rowdot(self.X), rowdot(self.E),
                             rowdot(self.P), pr, rowdot(self.N))

    def _compose(self, ii, jj, cos, title, text, ent, pp, pr, nn) -> np.ndarray:
        both_p = self.has_p[ii] & self.has_p[jj]
        agree = both_p & ((pp + pr) > 0)
        place_conflict = both_p & ~agree
        number_conflict = ~both_p & self.has_n[ii] & self.has_n[jj] & (nn == 0)
        gap = np.abs(self.times[ii] - self.times[jj]) / 86_400.0
        return compose(cos, title, text, ent, place_conflict.astype(np.float64),
                       number_conflict.astype(np.float64), agree.astype(np.float64),
                       self.head[ii], self.head[jj], self.ar[ii], self.ar[jj], gap)
