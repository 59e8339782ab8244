"""Batched MinHash signatures, bit-for-bit compatible with datasketch's ``MinHash``.

A MinHash signature (Broder 1997) of a shingle set keeps, for each of ``num_perm`` random
permutations of the hash space, the smallest permuted value; the share of equal positions in two
signatures estimates the Jaccard similarity of the sets. datasketch 2.x applies, per shingle hash
``h`` (32-bit), the MurmurHash3 finaliser and then the affine permutations ``a*h + b mod 2^32``
(scheme "affine32"). Calling ``MinHash.update`` once per shingle costs a Python call and a small
numpy operation each; here the same arithmetic runs on a whole batch at once as one
(shingles x permutations) uint32 matrix, reduced per document with ``np.minimum.reduceat``.

The permutation parameters are taken from datasketch itself (``MinHash(num_perm, seed)``), so a
signature computed here equals, value for value, the one datasketch computes for the same 32-bit
shingle hashes (a test checks it), and can be wrapped in a ``LeanMinHash`` for ``MinHashLSH``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from datasketch import LeanMinHash, MinHash

#: Signature dtype (datasketch "affine32" scheme).
SIG_DTYPE = np.uint32
SCHEME = "affine32"
_MAX = np.iinfo(np.uint32).max
# MurmurHash3 fmix32 constants, as in datasketch.minhash._FMIX_CONSTANTS[32].
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))
#: Shingles processed per chunk: bounds the temporary matrix to chunk * num_perm * 4 bytes.
CHUNK = 16_384


@lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``(a, b)`` permutation parameters datasketch uses for ``MinHash(num_perm, seed)``.

    Returns two uint32 arrays of shape (num_perm,).
    """
    a, b = MinHash(num_perm=num_perm, seed=seed, scheme=SCHEME).permutations
    return a.astype(np.uint32), b.astype(np.uint32)


def fold32(hashes64: np.ndarray) -> np.ndarray:
    """Fold 64-bit shingle hashes to the 32-bit values MinHash permutes (the high half)."""
    return (hashes64 >> np.uint64(32)).astype(np.uint32)


def _fmix32(h: np.ndarray) -> np.ndarray:
    s1, m1, s2, m2, s3 = _FMIX32
    with np.errstate(over="ignore"):
        h = h ^ (h >> s1)
        h = h * m1
        h = h ^ (h >> s2)
        h = h * m2
        return h ^ (h >> s3)


#: MinHash implementations :func:`signatures` offers: our numpy port of datasketch's
#: "affine32" scheme, and rensa's (Rust; another hash family, several times faster).
SCHEMES = ("rensa", "datasketch")


def signatures(sets: list[np.ndarray], num_perm: int = 128, seed: int = 1,
               scheme: str = "datasketch") -> np.ndarray:
    """MinHash signatures of many shingle sets in one vectorised pass.

    ``scheme="datasketch"`` gives, value for value, datasketch's ``MinHash.update`` result for
    the same 32-bit shingle hashes; ``scheme="rensa"`` gives rensa's ``RMinHash`` signatures of
    the 64-bit shingle hashes (``digest_matrix_from_flat_token_hashes``), a different but equally
    valid MinHash, several times faster (``benchmarks/bench_minhash.py``). Signatures of
    different schemes are not comparable.

    Args:
        sets: per document, its shingle hashes (uint64, as from
            :func:`clustering.dedup.shingles.shingle_batch`; duplicates allowed).
        num_perm: number of permutations (signature length).
        seed: permutation seed; signatures are comparable only with the same (num_perm, seed).

    Returns:
        uint32 array of shape (len(sets), num_perm). An empty set gives the all-``2^32-1`` row,
        which datasketch also gives for an empty MinHash.

    Memory: at most ``CHUNK * num_perm * 4`` bytes of temporaries (8 MB at 128 permutations),
    whatever the size of a single document.
    """
    if scheme == "rensa":
        return _rensa_signatures(sets, num_perm, seed)
    if scheme != "datasketch":
        raise ValueError(f"MinHash scheme must be one of {SCHEMES}, got {scheme!r}")
    a, b = permutations(num_perm, seed)
    n = len(sets)
    out = np.full((n, num_perm), _MAX, dtype=SIG_DTYPE)
    if n == 0:
        return out
    lens = np.fromiter((len(s) for s in sets), dtype=np.int64, count=n)
    if lens.sum() == 0:
        return out
    flat = _fmix32(fold32(np.concatenate([s for s in sets if len(s)])))
    doc_of = np.repeat(np.arange(n), lens)
    for lo in range(0, len(flat), CHUNK):
        hi = min(lo + CHUNK, len(flat))
        with np.errstate(over="ignore"):
            phv = flat[lo:hi, None] * a[None, :] + b[None, :]
        docs = doc_of[lo:hi]
        seg = np.flatnonzero(np.r_[True, docs[1:] != docs[:-1]])
        mins = np.minimum.reduceat(phv, seg, axis=0)
        seg_docs = docs[seg]
        out[seg_docs] = np.minimum(out[seg_docs], mins)
    return out


def _rensa_signatures(sets: list[np.ndarray], num_perm: int, seed: int) -> np.ndarray:
    from rensa import RMinHash

    n = len(sets)
    if n == 0:
        return np.zeros((0, num_perm), dtype=SIG_DTYPE)
    lens = np.fromiter((len(s) for s in sets), dtype=np.uint64, count=n)
    offsets = np.zeros(n + 1, dtype=np.uint64)
    np.cumsum(lens, out=offsets[1:])
    flat = np.concatenate(sets).astype(np.uint64, copy=False) if offsets[-1] else np.zeros(0, np.uint64)
    m = RMinHash.digest_matrix_from_flat_token_hashes(flat, offsets, num_perm, seed)
    # an empty set gives the all-(2^32 - 1) row, as datasketch does
    return np.array(m.to_rows(), dtype=SIG_DTYPE).reshape(n, num_perm)


def to_lean(signature: np.ndarray, seed: int = 1) -> LeanMinHash:
    """Wrap one signature row as a datasketch ``LeanMinHash`` (for ``MinHashLSH``)."""
    return LeanMinHash(seed=seed, hashvalues=signature, scheme=SCHEME)


def estimate_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """Jaccard estimate: the share of equal positions of two signatures of equal length."""
    if sig_a.shape != sig_b.shape:
        raise ValueError("signatures of different lengths cannot be compared")
    return float(np.mean(sig_a == sig_b))
