"""Candidate pairs from MinHash LSH (datasketch ``MinHashLSH``), one index per shingle kind.

LSH splits each signature into ``b`` bands of ``r`` rows; two documents become a *candidate pair*
when all rows of at least one band agree, which happens with probability ``1 - (1 - s^r)^b`` at
Jaccard ``s`` (Leskovec, Rajaraman & Ullman, *Mining of Massive Datasets*, ch. 3). datasketch picks
``(b, r)`` for a threshold by minimising the weighted false-positive and false-negative areas
under that curve; we expose the choice so runs record it. Candidates are only candidates: the
caller verifies each with the exact Jaccard of the shingle sets before joining anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import numpy as np
from datasketch import MinHashLSH
from datasketch.lsh import _optimal_param

from clustering.dedup.minhash import to_lean

#: Weights of (false positive, false negative) probability when choosing bands/rows. Recall
#: matters far more than precision here because every candidate is verified exactly afterwards:
#: with (0.05, 0.95) a pair at the threshold becomes a candidate with probability ~0.97 (25 bands
#: x 5 rows at 0.5 would give only 0.55); see benchmarks/RESULTS.md for the recall this buys.
LSH_WEIGHTS = (0.05, 0.95)


@lru_cache(maxsize=64)
def bands_rows(threshold: float, num_perm: int, weights: tuple[float, float] = LSH_WEIGHTS
               ) -> tuple[int, int]:
    """The ``(bands, rows)`` datasketch chooses for a Jaccard threshold and signature length
    (a numeric search of ~20 ms, cached).

    Raises ValueError when ``threshold`` is not in (0, 1).
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"Jaccard threshold must be in (0, 1), got {threshold}")
    return _optimal_param(threshold, num_perm, weights[0], weights[1])


def candidate_probability(s: float | np.ndarray, bands: int, rows: int) -> float | np.ndarray:
    """Probability that a pair at Jaccard ``s`` becomes a candidate: ``1 - (1 - s^r)^b``."""
    return 1.0 - (1.0 - np.power(s, rows)) ** bands


class CandidateIndex:
    """MinHash LSH indexes keyed by shingle kind ("word", "char"), each with its own threshold.

    Args:
        thresholds: shingle kind -> Jaccard threshold the index is tuned for.
        num_perm: signature length; every inserted signature must have it.
        seed: the MinHash seed of the signatures (recorded in the LeanMinHash wrappers).
    """

    def __init__(self, thresholds: dict[str, float], num_perm: int, seed: int):
        self.num_perm = num_perm
        self.seed = seed
        self.params = {kind: bands_rows(t, num_perm) for kind, t in thresholds.items()}
        self._lsh = {kind: MinHashLSH(num_perm=num_perm, params=br)
                     for kind, br in self.params.items()}
        self.size = 0

    def _index(self, kind: str) -> MinHashLSH:
        try:
            return self._lsh[kind]
        except KeyError:
            raise ValueError(f"unknown shingle kind {kind!r}") from None

    def insert_many(self, ids: Iterable[str], kinds: Iterable[str], sigs: np.ndarray) -> None:
        """Insert signatures (uint32, shape (n, num_perm)) under their ids and kinds.

        Kind "title" (a full article's title fingerprint) goes into the "char" index under the
        key ``"title:" + id``.
        """
        by_kind: dict[str, list[tuple[str, np.ndarray]]] = {}
        for key, kind, sig in zip(ids, kinds, sigs):
            if kind == "title":
                kind, key = "char", "title:" + key
            by_kind.setdefault(kind, []).append((key, sig))
        for kind, rows in by_kind.items():
            with self._index(kind).insertion_session() as session:
                for key, sig in rows:
                    session.insert(key, to_lean(sig, self.seed), check_duplication=False)
            self.size += len(rows)

    def insert(self, key: str, kind: str, sig: np.ndarray) -> None:
        """Insert one signature."""
        self._index(kind).insert(key, to_lean(sig, self.seed), check_duplication=False)
        self.size += 1

    def query(self, kind: str, sig: np.ndarray) -> list[str]:
        """Ids of stored documents of the same kind sharing at least one band with ``sig``,
        sorted for determinism."""
        return sorted(self._index(kind).query(to_lean(sig, self.seed)))
