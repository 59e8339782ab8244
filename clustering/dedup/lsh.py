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

    def query_insert_many(self, kind: str, items: Sequence[str], sigs: np.ndarray) -> list[list[str]]:
        """For each signature in order: :meth:`query`, then :meth:`insert` under its item."""
        out = []
        for item, sig in zip(items, sigs):
            out.append(self.query(kind, sig))
            self.insert(item, kind, sig)
        return out


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

#: Most (later, earlier) pairs :func:`earlier_pairs` expands at once before de-duplicating them:
#: bounds its memory when many entries share keys (a title repeated over hundreds of articles).
PAIR_CHUNK = 1 << 22


def sorted_unique(x: np.ndarray) -> np.ndarray:
    """Sorted distinct values of an integer array (numpy 2's hash-based ``np.unique`` is ~25x
    slower than a sort for the 64k band keys of one batch)."""
    s = np.sort(x, axis=None)
    if len(s) < 2:
        return s
    return s[np.concatenate(([True], s[1:] != s[:-1]))]


def earlier_pairs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The LSH candidate pairs inside one batch: every ``(later, earlier)`` pair of rows of
    ``keys`` that share at least one band key, as a loop of query-then-insert over the rows
    would find them, computed by sorting the keys instead (one vectorised pass).

    Args:
        keys: int64 band keys, shape (m, bands) (:func:`band_keys`; keys of different bands
            differ, so the array can be flattened).

    Returns:
        ``(later, earlier)``: int64 row indices, ``earlier < later``, each pair once, sorted
        by ``later`` then ``earlier``.
    """
    m = len(keys)
    if m < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    flat = keys.reshape(-1)
    rows = np.repeat(np.arange(m, dtype=np.int64), keys.shape[1])
    order = np.lexsort((rows, flat))
    k, r = flat[order], rows[order]
    start = np.concatenate(([True], k[1:] != k[:-1]))
    run_start = np.flatnonzero(start)
    first = run_start[np.cumsum(start) - 1]  # per position: where its run of equal keys starts
    before = np.arange(len(k), dtype=np.int64) - first  # earlier rows in the run
    codes: list[np.ndarray] = []
    ends = np.cumsum(before)
    lo = 0
    while lo < len(k):  # expand in chunks of about PAIR_CHUNK pairs (at least one position)
        hi = int(np.searchsorted(ends, (ends[lo - 1] if lo else 0) + PAIR_CHUNK, "right"))
        hi = min(max(hi, lo + 1), len(k))
        c = before[lo:hi]
        total = int(c.sum())
        if total:
            later = np.repeat(r[lo:hi], c)
            offs = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(c) - c, c)
            earlier = r[np.repeat(first[lo:hi], c) + offs]
            keep = earlier < later
            codes.append(sorted_unique(later[keep] * m + earlier[keep]))
        lo = hi
    if not codes:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    u = sorted_unique(np.concatenate(codes))
    return u // m, u % m


class _Segment:
    """A sorted run of (band key, item number) rows: looked up with ``searchsorted``."""

    __slots__ = ("keys", "items")

    def __init__(self, keys: np.ndarray, items: np.ndarray):
        order = np.argsort(keys, kind="stable")
        self.keys, self.items = keys[order], items[order]

    def __len__(self) -> int:
        return len(self.keys)

    def hits(self, flat: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(query row, item number)`` for every stored row whose key is in ``flat`` (one key
        per query row entry in ``rows``; sorted ``flat`` is fastest: numpy's searchsorted then
        walks the keys in order)."""
        n = len(self.keys)
        if n == 0 or len(flat) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        lo = np.searchsorted(self.keys, flat, "left")
        found = self.keys[np.minimum(lo, n - 1)] == flat  # most keys miss: look no further
        lo, q, rows = lo[found], flat[found], rows[found]
        cnt = np.searchsorted(self.keys, q, "right") - lo
        total = int(cnt.sum())
        if total == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        offs = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        return np.repeat(rows, cnt), self.items[np.repeat(lo, cnt) + offs]


class BandIndex:
    """MinHash LSH index over band keys, keyed by shingle kind ("word", "char").

    The index holds what was inserted in this process as a few sorted arrays of (band key,
    item) rows, merged as they grow (log-structured: lookups are ``searchsorted``, a batch's
    own candidate pairs a sort, see :func:`earlier_pairs`); with ``stored`` it also finds
    items kept elsewhere (the store's band table): call :meth:`prefetch` with a batch's
    signatures first, then queries answer from memory.

    Args:
        thresholds: shingle kind -> Jaccard threshold the kind's bands/rows are tuned for.
        num_perm: signature length.
        stored: looks up stored band keys (None: nothing stored). What this index inserts is
            found in memory, so the caller persists it (:meth:`drain`) when the run ends; the
            store lookups then only see earlier runs' keys.

    Same interface as :class:`CandidateIndex` (``insert``, ``insert_many``, ``query``,
    ``query_insert_many``), so :func:`~clustering.dedup.engine.find_edges` takes either.
    """

    def __init__(self, thresholds: dict[str, float], num_perm: int, stored: StoredLookup | None = None):
        self.num_perm = num_perm
        self.params = {kind: bands_rows(t, num_perm) for kind, t in thresholds.items()}
        self._names: list[str] = []  # item number -> item key
        self._segments: list[_Segment] = []
        self._stored = stored
        self._cache: _Segment | None = None  # stored hits of the current batch's keys
        self._cache_names: list[str] = []
        self._new: list[tuple[Sequence[str], np.ndarray]] = []
        self.size = 0

    def keys(self, kind: str, sigs: np.ndarray) -> np.ndarray:
        """Band keys (n, bands) of signatures of one kind (see :func:`band_keys`)."""
        try:
            b, r = self.params[kind]
        except KeyError:
            raise ValueError(f"unknown shingle kind {kind!r}") from None
        return band_keys(np.atleast_2d(sigs), b, r, kind)

    def prefetch(self, kind: str, sigs: np.ndarray) -> None:
        """Look up the stored items sharing a band with any of a batch's signatures (one store
        call); later queries until the next :meth:`drain` answer from what it found."""
        self.prefetch_kinds([(kind, sigs)])

    def prefetch_kinds(self, parts: Sequence[tuple[str, np.ndarray]]) -> None:
        """:meth:`prefetch` of several ``(kind, signatures)`` parts in one store call (the
        stored lookup is by key alone, and the kind is hashed into each key), so a batch asks
        the store once for its bodies' and titles' keys, not once per part.

        Args:
            parts: ``(kind, sigs)`` pairs, kind "word" or "char", sigs uint32 of shape
                (n, num_perm) (n may be 0: the part is skipped).

        Raises:
            ValueError: an unknown shingle kind (from :meth:`keys`)."""
        if self._stored is None:
            return
        wanted = [self.keys(kind, sigs).reshape(-1) for kind, sigs in parts if len(sigs)]
        if not wanted:
            return
        found = self._stored(sorted_unique(np.concatenate(wanted)))
        if not found:
            return
        keys = [k for k, items in found.items() for _ in items]
        base = len(self._cache_names)
        self._cache_names.extend(item for items in found.values() for item in items)
        seg = _Segment(np.array(keys, np.int64), np.arange(base, len(self._cache_names), dtype=np.int64))
        if self._cache is not None:
            seg = _Segment(np.concatenate([self._cache.keys, seg.keys]),
                           np.concatenate([self._cache.items, seg.items]))
        self._cache = seg

    def _known(self, keys: np.ndarray) -> list[set[str]]:
        """Per row of ``keys``, the items inserted before or stored that share a band with it."""
        out: list[set[str]] = [set() for _ in range(len(keys))]
        flat = keys.reshape(-1)
        order = np.argsort(flat)
        flat, rows = flat[order], order // keys.shape[1]
        for seg, names in [(s, self._names) for s in self._segments] + (
                [(self._cache, self._cache_names)] if self._cache is not None else []):
            qrows, items = seg.hits(flat, rows)
            for q, it in zip(qrows.tolist(), items.tolist()):
                out[q].add(names[it])
        return out

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
        if not len(items):
            return
        base = len(self._names)
        self._names.extend(items)
        nums = np.repeat(np.arange(base, base + len(items), dtype=np.int64), keys.shape[1])
        segs = self._segments
        segs.append(_Segment(keys.reshape(-1).astype(np.int64), nums))
        while len(segs) > 1 and len(segs[-2]) <= 2 * len(segs[-1]):  # merge runs of like size
            b, a = segs.pop(), segs.pop()
            segs.append(_Segment(np.concatenate([a.keys, b.keys]), np.concatenate([a.items, b.items])))
        self._new.append((items, keys))
        self.size += len(items)

    def insert(self, key: str, kind: str, sig: np.ndarray) -> None:
        """Insert one signature under ``key``."""
        self._add([key], self.keys(kind, sig))

    def query(self, kind: str, sig: np.ndarray) -> list[str]:
        """Items of the same kind sharing at least one band with ``sig``, sorted."""
        return sorted(self._known(self.keys(kind, sig))[0])

    def query_insert_many(self, kind: str, items: Sequence[str], sigs: np.ndarray) -> list[list[str]]:
        """For each signature in order, the items sharing a band with it among those inserted
        before it (earlier in ``sigs``, by earlier calls, or stored), sorted; then insert them
        all under ``items``. Same answer as a loop of :meth:`query` and :meth:`insert`.

        Args:
            kind: the shingle kind of every signature.
            items: one key per signature.
            sigs: uint32 signatures (n, num_perm).
        """
        if not len(items):
            return []
        keys = self.keys(kind, sigs)
        out = self._known(keys)
        later, earlier = earlier_pairs(keys)
        for j, e in zip(later.tolist(), earlier.tolist()):
            out[j].add(items[e])
        self._add(list(items), keys)
        return [sorted(s) for s in out]

    def end_batch(self) -> None:
        """Forget what :meth:`prefetch` looked up (the next batch looks up its own keys)."""
        self._cache, self._cache_names = None, []

    def drain(self) -> tuple[np.ndarray, list[str]]:
        """The band keys inserted since the last drain as rows to persist: ``(keys (m,) int64,
        items (m,))``, one row per (item, band); also ends the batch (:meth:`end_batch`).
        The index still finds what was drained."""
        self.end_batch()
        if not self._new:
            return np.zeros(0, np.int64), []
        flat = np.concatenate([keys.reshape(-1) for _, keys in self._new])
        items = [item for names, keys in self._new for item in names for _ in range(keys.shape[1])]
        self._new = []
        return flat, items
