"""The one scoring function shared by online and batch story clustering, and its parameters.

``score = cos - decay_per_day * max(0, gap_days - grace_days)``

A story that has been quiet for days is harder to join: after a grace period, every further day
of silence costs ``decay_per_day`` of similarity. This is the time-decayed similarity of
Miranda et al. (2018, EMNLP, "Multilingual Clustering of Streaming News"), who combine content
similarity with a time term in their centroid-based online clusterer; here the time term is a
fixed linear penalty so the same number works as a threshold in online and batch mode.
"""

from __future__ import annotations

import numpy as np

from clustering.config import LINKAGES, StoryParams

__all__ = ["StoryParams", "story_score", "SECONDS_PER_DAY", "LINKAGES"]

SECONDS_PER_DAY = 86_400.0


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
