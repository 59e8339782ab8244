"""Evaluation: clustering metrics (B-cubed, pairwise, ARI/AMI) and pair metrics (P/R/F1, ROC AUC,
Spearman), with plain-text reports. See :mod:`clustering.evaluate.metrics`."""

from clustering.evaluate.metrics import (
    PRF,
    ClusterPart,
    ClusterProblem,
    ClusterScores,
    Example,
    PairScores,
    bcubed,
    cluster_scores,
    format_cluster_scores,
    format_pair_scores,
    pair_scores,
    pairwise,
)

__all__ = [
    "PRF",
    "ClusterPart",
    "ClusterProblem",
    "ClusterScores",
    "Example",
    "PairScores",
    "bcubed",
    "cluster_scores",
    "format_cluster_scores",
    "format_pair_scores",
    "pair_scores",
    "pairwise",
]
