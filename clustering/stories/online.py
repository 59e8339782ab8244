"""Online story clustering: assign items one by one to the active stories, or start new ones.

Centroid-based single-pass clustering with time decay, after Miranda et al. (2018, EMNLP,
"Multilingual Clustering of Streaming News"): each story keeps the sum of its members'
embeddings; an item is scored against the stories active around its time, the best one above
the threshold takes it (unless the guard vetoes), otherwise it starts a new story.

Similarity to a story is the dot product of the item with the story's *mean* vector
``sum / size`` (not re-normalised). For L2-normalised embeddings this is exactly the average
cosine between the item and the story's members, i.e. the average-linkage similarity used by
:func:`~clustering.stories.batch.cluster_batch`, so one threshold means the same in both modes.
(Cosine to the re-normalised centroid was also measured and is more permissive for large
stories; see the :mod:`clustering.stories` docstring.)

Everything here is pure and deterministic: same state and same input give the same output.
Cost per item: one (k_active, d) matrix-vector product over the stories in the window, never
over all stories ever seen: the caller drops expired stories with
:meth:`ActiveStories.expire` (e.g. ``active.expire(now, params.active_days)`` after each
batch, once they are stored); stories outside an item's window are skipped by time anyway.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .guard import GuardFeatures, guard_conflict
from .scoring import SECONDS_PER_DAY, StoryParams, story_score

__all__ = ["ActiveStories", "Assignment", "assign_online"]


@dataclass(frozen=True)
class Assignment:
    """Where :func:`assign_online` put one item.

    Attributes:
        story_id: the story joined or created.
        score: the joined story's score; for a new story, the best candidate's score that was
            not taken (below threshold or vetoed), NaN when there was no candidate.
        created: True when the item started a new story.
        reason: one line for ``explain`` ("joined s1: score 0.931 >= 0.880 (cos 0.931, quiet
            0.0 d)", "new story: s1 scored 0.902 but places differ: Cairo vs Alexandria", ...).
    """

    story_id: str
    score: float
    created: bool
    reason: str


class ActiveStories:
    """In-memory state of the active stories (mutable; updated in place by :func:`assign_online`).

    Row ``i`` describes story ``ids[i]``:

    * ``sums[i]``: sum of its members' embeddings, float32, shape (k, d);
    * ``sizes[i]``: number of members, int64;
    * ``first_seen[i]`` / ``last_seen[i]``: earliest / latest member time, float64 epoch
      seconds (NaN when no member had a time);
    * ``features[i]``: :class:`GuardFeatures` of its representative: the first member with any
      numbers or places (the first member if none had).

    Rows stay in insertion order (creation order), which is also the deterministic tie-break.

    Args:
        dim: embedding dimension d.
    """

    def __init__(self, dim: int) -> None:
        if int(dim) != dim or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim}")
        self.dim = int(dim)
        self._n = 0
        self._ids: list[str] = []
        self._pos: dict[str, int] = {}
        self._sums = np.zeros((0, self.dim), dtype=np.float32)
        self._sizes = np.zeros(0, dtype=np.int64)
        self._first = np.zeros(0, dtype=np.float64)
        self._last = np.zeros(0, dtype=np.float64)
        self._features: list[GuardFeatures] = []

    # ------------------------------------------------------------------ construction / export

    @classmethod
    def from_arrays(
        cls,
        ids: Sequence[str],
        sums: np.ndarray,
        sizes: Sequence[int] | np.ndarray,
        first_seen: Sequence[float] | np.ndarray,
        last_seen: Sequence[float] | np.ndarray,
        features: Sequence[GuardFeatures | None] | None = None,
        *,
        dim: int | None = None,
    ) -> ActiveStories:
        """Build the state from stored columns (e.g. rows of a DuckDB table).

        Args:
            ids: k distinct story ids.
            sums: (k, d) centroid sums (converted to float32).
            sizes: (k,) member counts, each >= 1.
            first_seen, last_seen: (k,) epoch seconds, NaN for "no time".
            features: k representative features (None entries or None: empty features).
            dim: d, required only when k == 0 and ``sums`` has no second dimension.

        Returns:
            A new :class:`ActiveStories` (the inputs are copied).

        Raises:
            ValueError: on shape mismatches, duplicate ids or sizes < 1.
        """
        ids = [str(i) for i in ids]
        k = len(ids)
        sums = np.asarray(sums, dtype=np.float32)
        if sums.ndim != 2:
            if k == 0 and dim is not None:
                sums = np.zeros((0, int(dim)), dtype=np.float32)
            else:
                raise ValueError(f"sums must be 2-D (k, d), got shape {sums.shape}")
        d = sums.shape[1] if dim is None else int(dim)
        if sums.shape != (k, d):
            raise ValueError(f"sums must have shape ({k}, {d}), got {sums.shape}")
        sizes = np.asarray(sizes, dtype=np.int64).reshape(-1)
        first = np.asarray(first_seen, dtype=np.float64).reshape(-1)
        last = np.asarray(last_seen, dtype=np.float64).reshape(-1)
        for name, arr in (("sizes", sizes), ("first_seen", first), ("last_seen", last)):
            if arr.shape != (k,):
                raise ValueError(f"{name} must have shape ({k},), got {arr.shape}")
        if k and sizes.min() < 1:
            raise ValueError("sizes must be >= 1")
        if len(set(ids)) != k:
            raise ValueError("ids must be distinct")
        if features is None:
            feats = [GuardFeatures()] * k
        else:
            feats = [f or GuardFeatures() for f in features]
        if len(feats) != k:
            raise ValueError(f"features must have {k} entries, got {len(feats)}")
        st = cls(d)
        st._ids = list(ids)
        st._pos = {s: i for i, s in enumerate(ids)}
        st._sums = sums.copy()
        st._sizes = sizes.copy()
        st._first = first.copy()
        st._last = last.copy()
        st._features = list(feats)
        st._n = k
        return st

    def to_arrays(self) -> dict[str, object]:
        """The state as columns: copies, safe to store.

        Returns:
            ``{"ids": list[str], "sums": (k, d) float32, "sizes": (k,) int64,
            "first_seen": (k,) float64, "last_seen": (k,) float64,
            "features": list[GuardFeatures]}`` (``GuardFeatures.to_dict`` for storage).
        """
        n = self._n
        return {
            "ids": list(self._ids),
            "sums": self._sums[:n].copy(),
            "sizes": self._sizes[:n].copy(),
            "first_seen": self._first[:n].copy(),
            "last_seen": self._last[:n].copy(),
            "features": list(self._features),
        }

    # ------------------------------------------------------------------ read access

    def __len__(self) -> int:
        return self._n

    def __contains__(self, story_id: object) -> bool:
        return story_id in self._pos

    @property
    def ids(self) -> list[str]:
        """Story ids in row order (a copy)."""
        return list(self._ids)

    def index(self, story_id: str) -> int:
        """Row of ``story_id``. Raises KeyError if it is not active."""
        return self._pos[story_id]

    def size(self, story_id: str) -> int:
        """Number of members of ``story_id``."""
        return int(self._sizes[self._pos[story_id]])

    def mean_vector(self, story_id: str) -> np.ndarray:
        """The story's mean embedding ``sum / size``, (d,) float32 (not re-normalised)."""
        i = self._pos[story_id]
        return self._sums[i] / np.float32(self._sizes[i])

    def features(self, story_id: str) -> GuardFeatures:
        """Guard features of the story's representative."""
        return self._features[self._pos[story_id]]

    # ------------------------------------------------------------------ updates

    def _grow(self, need: int) -> None:
        cap = self._sums.shape[0]
        if need <= cap:
            return
        new = max(need, 2 * cap, 16)
        for name in ("_sums", "_sizes", "_first", "_last"):
            old = getattr(self, name)
            arr = np.zeros((new,) + old.shape[1:], dtype=old.dtype)
            arr[: self._n] = old[: self._n]
            setattr(self, name, arr)

    def add(self, story_id: str, vec: np.ndarray, t: float, features: GuardFeatures | None) -> int:
        """Append a new one-member story; returns its row. Raises ValueError if the id exists."""
        if story_id in self._pos:
            raise ValueError(f"story id {story_id!r} already active")
        self._grow(self._n + 1)
        i = self._n
        self._sums[i] = vec
        self._sizes[i] = 1
        self._first[i] = t
        self._last[i] = t
        self._ids.append(story_id)
        self._features.append(features or GuardFeatures())
        self._pos[story_id] = i
        self._n += 1
        return i

    def join(self, row: int, vec: np.ndarray, t: float, features: GuardFeatures | None) -> None:
        """Add one member to the story at ``row``: sum, size, first/last seen, representative."""
        self._sums[row] += vec
        self._sizes[row] += 1
        self._first[row] = np.fmin(self._first[row], t)
        self._last[row] = np.fmax(self._last[row], t)
        if self._features[row].empty and features is not None and not features.empty:
            self._features[row] = features

    def expire(self, now: float, active_days: float) -> list[str]:
        """Drop stories last seen more than ``active_days`` before ``now`` (epoch seconds).

        Stories without a time (NaN) are kept. Row order of the rest is preserved.

        Returns:
            The removed story ids, in row order. Their rows are gone afterwards: store the
            state (:meth:`to_arrays`) first if the removed stories' sums are still needed.
        """
        n = self._n
        cutoff = float(now) - float(active_days) * SECONDS_PER_DAY
        drop = self._last[:n] < cutoff  # NaN compares False: kept
        if not drop.any():
            return []
        keep = ~drop
        removed = [s for s, d in zip(self._ids, drop) if d]
        self._sums = self._sums[:n][keep].copy()
        self._sizes = self._sizes[:n][keep].copy()
        self._first = self._first[:n][keep].copy()
        self._last = self._last[:n][keep].copy()
        self._ids = [s for s, d in zip(self._ids, drop) if not d]
        self._features = [f for f, d in zip(self._features, drop) if not d]
        self._pos = {s: i for i, s in enumerate(self._ids)}
        self._n = len(self._ids)
        return removed

    # ------------------------------------------------------------------ scoring

    def candidates(
        self, vec: np.ndarray, t: float, params: StoryParams
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The stories an item at time ``t`` may join, best first by cosine.

        Active = the item's time lies within ``active_days`` of the story's [first, last]
        seen interval (always, when either side has no time). Among those, at most
        ``max_candidates`` with the highest similarity (mean-vector dot product) are kept.

        Returns:
            ``(rows, cos, gap_seconds)``: int64 rows, float64 similarities and float64 gaps
            (distance of ``t`` to the story's interval; NaN without times), ordered by
            decreasing similarity, ties by row.
        """
        n = self._n
        if n == 0:
            e = np.zeros(0)
            return e.astype(np.int64), e, e
        first, last = self._first[:n], self._last[:n]
        with np.errstate(invalid="ignore"):
            gap = np.maximum(0.0, np.maximum(first - t, t - last))  # NaN propagates
            active = ~(gap > params.active_days * SECONDS_PER_DAY)
        rows = np.flatnonzero(active)
        if rows.size == 0:
            e = np.zeros(0)
            return rows.astype(np.int64), e, e
        if 2 * rows.size >= n:  # mostly active: one contiguous product is cheaper than a gather
            sims = (self._sums[:n] @ vec)[rows].astype(np.float64) / self._sizes[rows]
        else:
            sims = (self._sums[rows] @ vec).astype(np.float64) / self._sizes[rows]
        k = int(params.max_candidates)
        if rows.size > k:
            part = np.argpartition(-sims, k - 1)[:k]
            # argpartition is not stable among equal values at the cut: take all ties of the
            # k-th value, then cut after the deterministic sort below.
            kth = sims[part].min()
            part = np.flatnonzero(sims >= kth)
            rows, sims = rows[part], sims[part]
        order = np.lexsort((rows, -sims))[:k]
        rows, sims = rows[order], sims[order]
        return rows.astype(np.int64), sims, gap[rows]


def _fmt_days(gap: float) -> str:
    return "no time" if math.isnan(gap) else f"quiet {gap / SECONDS_PER_DAY:.1f} d"


def assign_online(
    active: ActiveStories,
    emb: np.ndarray,
    times: Sequence[float] | np.ndarray | None,
    features: Sequence[GuardFeatures] | None,
    params: StoryParams,
    new_story_id: Callable[[], str],
) -> list[Assignment]:
    """Assign items, in the given order, to active stories or to new ones; updates ``active``.

    For each item: candidates = active stories within ``params.active_days`` of its time, at
    most ``params.max_candidates`` best by similarity (:meth:`ActiveStories.candidates`);
    score = :func:`~clustering.stories.scoring.story_score` (similarity, quiet gap); the best
    candidate with score >= ``params.threshold`` whose representative the guard does not
    reject (the guard is asked only when the score is >= ``params.guard_min_score``) is
    joined (sum, size, first/last seen updated in place); otherwise a new story is started
    with id ``new_story_id()``. Items later in the list see the stories created or grown by
    earlier ones. Ties are broken by story row (creation order).

    Source: centroid-based online clustering with time decay, Miranda et al. (2018, EMNLP),
    "Multilingual Clustering of Streaming News".

    Args:
        active: the state; modified in place.
        emb: (n, d) embeddings, L2-normalised (float32 recommended), d == ``active.dim``.
        times: (n,) epoch seconds (NaN = unknown), or None for no times at all.
        features: n :class:`GuardFeatures` (None: no guard).
        params: :class:`StoryParams`.
        new_story_id: called once per new story, in item order; must return unused ids.

    Returns:
        n :class:`Assignment`, in item order.

    Raises:
        ValueError: on shape mismatches, or if ``new_story_id`` returns an active id.
    """
    emb = np.asarray(emb, dtype=np.float32)
    if emb.ndim != 2 or emb.shape[1] != active.dim:
        raise ValueError(f"emb must have shape (n, {active.dim}), got {emb.shape}")
    n = emb.shape[0]
    t_all = np.full(n, np.nan) if times is None else np.asarray(times, dtype=np.float64)
    if t_all.shape != (n,):
        raise ValueError(f"times must have shape ({n},), got {t_all.shape}")
    if features is not None and len(features) != n:
        raise ValueError(f"features must have {n} entries, got {len(features)}")
    thr = params.threshold
    out: list[Assignment] = []
    for j in range(n):
        x, t = emb[j], float(t_all[j])
        feat = None if features is None else features[j]
        rows, sims, gaps = active.candidates(x, t, params)
        scores = story_score(sims, gaps, params) if rows.size else sims
        order = np.lexsort((rows, -scores)) if rows.size else rows
        joined = None
        best_missed: tuple[int, float, str] | None = None
        for o in order:
            s = float(scores[o])
            if s < thr:
                if best_missed is None:
                    best_missed = (int(rows[o]), s, f"scored {s:.3f} < {thr:.3f}")
                break
            why = None
            if feat is not None and s >= params.guard_min_score:
                why = guard_conflict(feat, active._features[int(rows[o])])
            if why is not None:
                if best_missed is None:
                    best_missed = (int(rows[o]), s, f"scored {s:.3f} but {why}")
                continue
            joined = int(o)
            break
        if joined is not None:
            row = int(rows[joined])
            sid = active._ids[row]
            s = float(scores[joined])
            active.join(row, x, t, feat)
            out.append(
                Assignment(
                    sid,
                    s,
                    False,
                    f"joined {sid}: score {s:.3f} >= {thr:.3f} "
                    f"(cos {sims[joined]:.3f}, {_fmt_days(float(gaps[joined]))})",
                )
            )
            continue
        sid = new_story_id()
        active.add(sid, x, t, feat)  # raises ValueError on a reused id
        if best_missed is None:
            reason = (
                "new story: no active story"
                if not rows.size
                else f"new story: no candidate scored >= {thr:.3f}"
            )
            out.append(Assignment(sid, float("nan"), True, reason))
        else:
            row, s, why = best_missed
            out.append(Assignment(sid, s, True, f"new story: {active._ids[row]} {why}"))
    return out
