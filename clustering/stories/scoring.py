"""The one scoring function shared by online and batch story clustering, and its parameters.

``score = cos - decay_per_day * max(0, gap_days - grace_days)``

A story that has been quiet for days is harder to join: after a grace period, every further day
of silence costs ``decay_per_day`` of similarity. This is the time-decayed similarity of
Miranda et al. (2018, EMNLP, "Multilingual Clustering of Streaming News"), who combine content
similarity with a time term in their centroid-based online clusterer; here the time term is a
fixed linear penalty so the same number works as a threshold in online and batch mode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["StoryParams", "story_score", "SECONDS_PER_DAY", "LINKAGES"]

SECONDS_PER_DAY = 86_400.0
#: Linkages accepted by :class:`StoryParams` (``ward`` needs Euclidean inputs, not a
#: precomputed distance matrix, so it is not offered).
LINKAGES = ("average", "complete", "single")


@dataclass(frozen=True)
class StoryParams:
    """Parameters of story clustering (online and batch).

    Defaults were chosen on ECB+ (English, 772 documents, 66 gold stories; B-cubed F1), the
    Arabic seed page and Arabic headline pairs (ANS) with multilingual-e5-small embeddings;
    see ``benchmarks/tune_stories.py`` and the figures in the :mod:`clustering.stories`
    docstring. In short: 0.89 average linkage is the lowest round threshold that keeps the
    seed page's stories apart (ECB+ alone would take 0.87).

    Attributes:
        threshold: minimum score to join a story (online: score against the story's mean
            vector; batch: merge clusters while their linkage score exceeds it). In cosine
            units of L2-normalised E5 embeddings, where same-story pairs sit around 0.9 and
            unrelated news around 0.8.
        decay_per_day: score lost per day of quiet beyond ``grace_days`` (cosine units/day).
        grace_days: days of quiet that cost nothing.
        active_days: online mode considers only stories seen within this many days of the item
            (the window of :class:`~clustering.stories.online.ActiveStories`).
        max_candidates: online mode scores at most this many stories per item (the best by
            cosine among the active ones).
        linkage: batch linkage, one of ``"average"``, ``"complete"``, ``"single"``.
        guard_min_score: the guard (:func:`~clustering.stories.guard.guard_conflict`) is
            consulted only for pairs (batch) or candidate stories (online) whose score is at
            least this: items "otherwise alike", whose texts differ mainly in a number or a
            place. Below it the similarity alone decides.

    Raises:
        ValueError: on out-of-range values or an unknown linkage.
    """

    threshold: float = 0.89
    decay_per_day: float = 0.01
    grace_days: float = 1.0
    active_days: float = 7.0
    max_candidates: int = 50
    linkage: str = "average"
    guard_min_score: float = 0.92

    def __post_init__(self) -> None:
        if not (-1.0 <= self.threshold <= 1.0) or math.isnan(self.threshold):
            raise ValueError(f"threshold must be in [-1, 1], got {self.threshold}")
        if not self.decay_per_day >= 0.0:
            raise ValueError(f"decay_per_day must be >= 0, got {self.decay_per_day}")
        if not self.grace_days >= 0.0:
            raise ValueError(f"grace_days must be >= 0, got {self.grace_days}")
        if not self.active_days > 0.0:
            raise ValueError(f"active_days must be > 0, got {self.active_days}")
        if int(self.max_candidates) != self.max_candidates or self.max_candidates < 1:
            raise ValueError(f"max_candidates must be an integer >= 1, got {self.max_candidates}")
        if not (-1.0 <= self.guard_min_score <= 1.0):
            raise ValueError(f"guard_min_score must be in [-1, 1], got {self.guard_min_score}")
        if self.linkage not in LINKAGES:
            raise ValueError(f"linkage must be one of {LINKAGES}, got {self.linkage!r}")


def story_score(cos, gap_seconds, params: StoryParams):
    """Time-decayed similarity: ``cos - decay_per_day * max(0, |gap| / 86400 - grace_days)``.

    Vectorised: ``cos`` and ``gap_seconds`` broadcast against each other (numpy rules).

    Args:
        cos: cosine similarity (scalar or array, any shape).
        gap_seconds: quiet time in seconds (scalar or array broadcastable to ``cos``), or None.
            Its absolute value is used. None or NaN entries mean "no time information" and get
            no decay (e.g. ECB+, which has no dates).
        params: :class:`StoryParams` (``decay_per_day``, ``grace_days``).

    Returns:
        float64 array of the broadcast shape (a numpy float64 scalar for scalar inputs).
    """
    c = np.array(cos, dtype=np.float64)  # a copy: callers may modify the result
    if gap_seconds is None or params.decay_per_day == 0.0:
        return c[()] if c.ndim == 0 else c
    g = np.abs(np.asarray(gap_seconds, dtype=np.float64)) / SECONDS_PER_DAY
    penalty = params.decay_per_day * np.maximum(0.0, g - params.grace_days)
    penalty = np.where(np.isnan(penalty), 0.0, penalty)
    out = c - penalty
    return out[()] if out.ndim == 0 else out
