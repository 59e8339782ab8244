"""Candidate pairs from MinHash LSH banding, one index per shingle kind.

LSH splits each signature into ``b`` bands of ``r`` rows; two documents become a *candidate pair*
when all rows of at least one band agree, which happens with probability ``1 - (1 - s^r)^b`` at
Jaccard ``s`` (Leskovec, Rajaraman & Ullman, *Mining of Massive Datasets*, ch. 3). datasketch picks
``(b, r)`` for a threshold by minimising the weighted false-positive and false-negative areas
under that curve; we take its choice (``bands_rows``) and record it with each run. Candidates are
only candidates: the caller verifies each with the exact Jaccard of the shingle sets before
joining anything.

:class:`BandIndex` is the index the engine uses: each band of a signature is reduced to one
64-bit *band key* in a vectorised numpy pass, and the index is a dict from key to ids, so an
insert or a query costs ``b`` dict operations instead of datasketch's per-band byte hashing
(measured in ``benchmarks/bench_lsh_recall.py``). Band keys are what the store persists, so a
new batch looks up only its own keys instead of reloading every stored signature.
:class:`CandidateIndex` (datasketch ``MinHashLSH``) is kept as the reference that tests compare
the band index against.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
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


_MIX = np.uint64(0x9E3779B97F4A7C15)
_KIND_SALT = {"word": np.uint64(0x5851F42D4C957F2D), "char": np.uint64(0x14057B7EF767814F)}


def band_keys(sigs: np.ndarray, bands: int, rows: int, kind: str) -> np.ndarray:
    """One 64-bit key per LSH band of each signature.

    Two signatures get the same key for band ``j`` when their rows ``j*rows .. (j+1)*rows - 1``
    are equal (and, with probability ~2^-64 per pair, by a hash collision, which only adds a
    candidate that verification rejects). Keys of different bands, kinds and (bands, rows)
    settings differ, so they can share one table.

    Args:
        sigs: uint32 signatures, shape (n, num_perm) with num_perm >= bands * rows.
        bands, rows: the LSH setting.
        kind: "word" or "char".

    Returns:
        int64 array (n, bands) (the uint64 key bits, signed for storage in DuckDB BIGINT).
    """
    s = np.ascontiguousarray(sigs[:, : bands * rows], dtype=np.uint32).astype(np.uint64)
    s = s.reshape(len(sigs), bands, rows)
    salt = _KIND_SALT[kind] ^ (np.uint64(bands) << np.uint64(40)) ^ (np.uint64(rows) << np.uint64(20))
    with np.errstate(over="ignore"):
        h = np.full((len(sigs), bands), salt, dtype=np.uint64) ^ np.arange(bands, dtype=np.uint64)
        for j in range(rows):  # polynomial hash over the band's rows, then a splitmix finaliser
            h = (h ^ s[:, :, j]) * _MIX
            h ^= h >> np.uint64(29)
        h ^= h >> np.uint64(32)
    return h.view(np.int64)


#: Looks up stored band keys: int64 keys -> {key: [item keys]}.
StoredLookup = Callable[[np.ndarray], dict[int, list[str]]]


class BandIndex:
    """MinHash LSH index over band keys, keyed by shingle kind ("word", "char").

    The index holds what was inserted in this process; with ``stored`` it also finds items kept
    elsewhere (the store's band table): call :meth:`prefetch` with a batch's signatures first,
    then :meth:`query` answers from memory.

    Args:
        thresholds: shingle kind -> Jaccard threshold the kind's bands/rows are tuned for.
        num_perm: signature length.
        stored: looks up stored band keys (None: nothing stored).

    Same interface as :class:`CandidateIndex` (``insert``, ``insert_many``, ``query``), so
    :func:`~clustering.dedup.engine.find_edges` takes either.
    """

    def __init__(self, thresholds: dict[str, float], num_perm: int, stored: StoredLookup | None = None):
        self.num_perm = num_perm
        self.params = {kind: bands_rows(t, num_perm) for kind, t in thresholds.items()}
        self._mem: dict[int, list[str]] = {}
        self._stored = stored
        self._cache: dict[int, list[str]] = {}
        self._memo: dict[bytes, list[int]] = {}  # band keys of prefetched signatures
        self._new: list[tuple[Sequence[str], np.ndarray]] = []
        self.size = 0

    def keys(self, kind: str, sigs: np.ndarray) -> np.ndarray:
        """Band keys (n, bands) of signatures of one kind (see :func:`band_keys`)."""
        try:
            b, r = self.params[kind]
        except KeyError:
            raise ValueError(f"unknown shingle kind {kind!r}") from None
        return band_keys(np.atleast_2d(sigs), b, r, kind)

    def _keys_of(self, kind: str, sig: np.ndarray) -> list[int]:
        memo = self._memo.get(sig.tobytes() + kind.encode())
        return memo if memo is not None else self.keys(kind, sig)[0].tolist()

    def prefetch(self, kind: str, sigs: np.ndarray) -> None:
        """Compute the band keys of a batch's signatures at once (later ``query``/``insert``
        of these signatures reuse them) and look up the stored items sharing a band with any
        of them (one store call)."""
        if len(sigs) == 0:
            return
        keys = self.keys(kind, sigs)
        tag = kind.encode()
        self._memo.update((sig.tobytes() + tag, row) for sig, row in zip(sigs, keys.tolist()))
        if self._stored is not None:  # stored hits of this batch's keys, until the next drain
            self._cache.update(self._stored(np.unique(keys)))

    def insert_many(self, ids: Iterable[str], kinds: Iterable[str], sigs: np.ndarray) -> None:
        """Insert signatures (uint32, shape (n, num_perm)) under their ids and kinds (kind
        "title" goes into the "char" index under ``"title:" + id``)."""
        ids, kinds = list(ids), list(kinds)
        by_kind: dict[str, list[int]] = {}
        for i, kind in enumerate(kinds):
            by_kind.setdefault("char" if kind == "title" else kind, []).append(i)
        for kind, rows in by_kind.items():
            keys = self.keys(kind, sigs[rows])
            items = [("title:" + ids[i]) if kinds[i] == "title" else ids[i] for i in rows]
            self._add(items, keys)

    def _add(self, items: Sequence[str], keys: np.ndarray) -> None:
        mem = self._mem
        for item, row in zip(items, keys.tolist()):
            for k in row:
                lst = mem.get(k)
                if lst is None:
                    mem[k] = [item]
                else:
                    lst.append(item)
        self._new.append((items, keys))
        self.size += len(items)

    def insert(self, key: str, kind: str, sig: np.ndarray) -> None:
        """Insert one signature under ``key``."""
        self._add([key], np.array([self._keys_of(kind, sig)], dtype=np.int64))

    def query(self, kind: str, sig: np.ndarray) -> list[str]:
        """Items of the same kind sharing at least one band with ``sig``, sorted."""
        out: set[str] = set()
        mem, cache = self._mem, self._cache
        for k in self._keys_of(kind, sig):
            hit = mem.get(k)
            if hit:
                out.update(hit)
            hit = cache.get(k)
            if hit:
                out.update(hit)
        return sorted(out)

    def drain(self) -> tuple[np.ndarray, list[str]]:
        """The band keys inserted since the last drain as rows to persist: ``(keys (m,) int64,
        items (m,))``, one row per (item, band). Ends a batch: clears the list and what
        :meth:`prefetch` looked up."""
        if not self._new:
            return np.zeros(0, np.int64), []
        flat = np.concatenate([keys.reshape(-1) for _, keys in self._new])
        items = [item for names, keys in self._new for item in names for _ in range(keys.shape[1])]
        self._new = []
        self._memo.clear()
        self._cache.clear()
        return flat, items
