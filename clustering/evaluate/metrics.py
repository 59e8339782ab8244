"""Evaluation metrics for near-duplicate detection and story clustering.

Everything here is a pure function of its inputs. Clustering metrics are computed from the
sparse contingency table of (gold cluster, predicted cluster) counts, so they run in
O(n log n) time and O(n) memory: 100k items take about a second. AMI uses scikit-learn's
formula, but its expected mutual information is summed over distinct (gold size, pred size)
pairs rather than all cluster pairs (scikit-learn's own loop takes minutes at 100k items).

Clustering metrics
------------------
* :func:`bcubed` -- B-cubed precision / recall / F1 (Bagga & Baldwin 1998, "Entity-based
  cross-document coreferencing using the vector space model"; Amigo et al. 2009 "A comparison
  of extrinsic clustering evaluation metrics based on formal constraints"), the metric used for
  streaming news clustering by Miranda et al. 2018 (EMNLP, "Multilingual Clustering of
  Streaming News").
* :func:`pairwise` -- pair-counting precision / recall / F1 over all unordered item pairs.
* :func:`cluster_scores` -- the above plus ARI / AMI (as scikit-learn defines them), cluster counts, and the
  worst merged / split clusters with example titles, aligned on item ids.

Pair metrics
------------
* :func:`pair_scores` -- precision / recall / F1 of binary same-story decisions, ROC AUC of
  the scores, Spearman rho of the scores against graded gold (e.g. STS 0-5), best-F1
  threshold.

Conventions
-----------
Precision with no predicted positives (no predicted pairs, no positive decisions) is 1.0, and
recall with no gold positives is 1.0: a method that asserts nothing makes no false claim, and
there is nothing to find. F1 is the harmonic mean, 0.0 when precision + recall == 0. Hence
both sides all-singletons gives pairwise P = R = F1 = 1.0, while all-singletons predicted
against a gold clustering with pairs gives P = 1.0, R = 0.0, F1 = 0.0.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "PRF",
    "Example",
    "ClusterPart",
    "ClusterProblem",
    "ClusterScores",
    "PairScores",
    "bcubed",
    "pairwise",
    "cluster_scores",
    "pair_scores",
    "format_cluster_scores",
    "format_pair_scores",
]


# --------------------------------------------------------------------------- result types


@dataclass(frozen=True)
class PRF:
    """Precision, recall and their harmonic mean F1, each in [0, 1]."""

    precision: float
    recall: float
    f1: float

    @classmethod
    def from_pr(cls, precision: float, recall: float) -> PRF:
        """Build from precision and recall; F1 = 2PR / (P + R), 0.0 when P + R == 0."""
        p, r = float(precision), float(recall)
        f1 = 0.0 if p + r == 0.0 else 2.0 * p * r / (p + r)
        return cls(p, r, f1)

    def to_dict(self) -> dict[str, float]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1}


@dataclass(frozen=True)
class Example:
    """One example item: its id and title (None when no title was given)."""

    id: str
    title: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"id": _jsonable(self.id), "title": self.title}


@dataclass(frozen=True)
class ClusterPart:
    """One piece of a problem cluster.

    For a merged predicted cluster a part is a gold cluster inside it; for a split gold
    cluster a part is a predicted cluster holding some of its items.

    Attributes:
        label: the part's cluster label (None for a gold item missing from the prediction,
            which is scored as a singleton).
        count: items of this part inside the problem cluster.
        size: total size of the part's cluster.
        examples: up to ``examples`` items of the intersection, in input order.
    """

    label: Hashable
    count: int
    size: int
    examples: tuple[Example, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": _jsonable(self.label),
            "count": self.count,
            "size": self.size,
            "examples": [e.to_dict() for e in self.examples],
        }


@dataclass(frozen=True)
class ClusterProblem:
    """A predicted cluster that merges gold clusters, or a gold cluster split by the prediction.

    Attributes:
        label: the problem cluster's label.
        size: its number of items.
        n_parts: how many clusters of the other side it touches.
        n_off_majority: its items outside its largest part (the wrongly merged / split-off
            items).
        parts: the largest parts, by count (at most ``parts`` of them).
        n_parts_omitted: parts not listed.
    """

    label: Hashable
    size: int
    n_parts: int
    n_off_majority: int
    parts: tuple[ClusterPart, ...]
    n_parts_omitted: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": _jsonable(self.label),
            "size": self.size,
            "n_parts": self.n_parts,
            "n_off_majority": self.n_off_majority,
            "parts": [p.to_dict() for p in self.parts],
            "n_parts_omitted": self.n_parts_omitted,
        }


@dataclass(frozen=True)
class ClusterScores:
    """Result of :func:`cluster_scores`.

    Attributes:
        bcubed, pairwise: :class:`PRF` results.
        ari, ami: adjusted Rand index / adjusted mutual information (scikit-learn).
        n_items: gold ids scored (including those missing from the prediction).
        n_gold_clusters, n_pred_clusters: cluster counts over the scored items; items missing
            from the prediction count as predicted singletons.
        missing_in_pred: gold ids absent from the prediction (scored as singletons).
        extra_in_pred: predicted ids absent from gold (ignored).
        worst_merged: predicted clusters mixing the most gold clusters.
        worst_split: gold clusters spread over the most predicted clusters.
    """

    bcubed: PRF
    pairwise: PRF
    ari: float
    ami: float
    n_items: int
    n_gold_clusters: int
    n_pred_clusters: int
    missing_in_pred: int
    extra_in_pred: int
    worst_merged: tuple[ClusterProblem, ...] = field(default_factory=tuple)
    worst_split: tuple[ClusterProblem, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (labels that are not str/int/float/bool/None become str)."""
        return {
            "bcubed": self.bcubed.to_dict(),
            "pairwise": self.pairwise.to_dict(),
            "ari": self.ari,
            "ami": self.ami,
            "n_items": self.n_items,
            "n_gold_clusters": self.n_gold_clusters,
            "n_pred_clusters": self.n_pred_clusters,
            "missing_in_pred": self.missing_in_pred,
            "extra_in_pred": self.extra_in_pred,
            "worst_merged": [p.to_dict() for p in self.worst_merged],
            "worst_split": [p.to_dict() for p in self.worst_split],
        }


@dataclass(frozen=True)
class PairScores:
    """Result of :func:`pair_scores`.

    Attributes:
        n_pairs: number of pairs scored.
        n_positive: gold positives (after binarising at ``positive_at``).
        positive_at: the binarisation threshold used (None: gold was already binary).
        decisions: PRF of the given decisions against binary gold (None if none given).
        n_decided_positive: positive decisions (None if no decisions given).
        roc_auc: ROC AUC of ``scores`` against binary gold, or None (see ``roc_auc_note``).
        spearman: Spearman rho of ``scores`` against the (graded) gold, or None (see
            ``spearman_note``).
        best_threshold, best_f1: the score threshold (decide positive iff score >= threshold)
            that maximises F1 on these pairs, and that F1; None when only one class present.
            Optimistic (tuned on the evaluation data): report it as an oracle, not a result.
    """

    n_pairs: int
    n_positive: int
    positive_at: float | None
    decisions: PRF | None
    n_decided_positive: int | None
    roc_auc: float | None
    roc_auc_note: str | None
    spearman: float | None
    spearman_note: str | None
    best_threshold: float | None
    best_f1: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict."""
        return {
            "n_pairs": self.n_pairs,
            "n_positive": self.n_positive,
            "positive_at": self.positive_at,
            "decisions": None if self.decisions is None else self.decisions.to_dict(),
            "n_decided_positive": self.n_decided_positive,
            "roc_auc": self.roc_auc,
            "roc_auc_note": self.roc_auc_note,
            "spearman": self.spearman,
            "spearman_note": self.spearman_note,
            "best_threshold": self.best_threshold,
            "best_f1": self.best_f1,
        }


# --------------------------------------------------------------------------- helpers


def _jsonable(x: Any) -> Any:
    if x is None or isinstance(x, (str, bool)):
        return x
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x)
    return str(x)


def _encode(labels: Iterable[Hashable], n: int) -> tuple[np.ndarray, list[Hashable]]:
    """Map arbitrary hashable labels to codes 0..k-1 (first-seen order); return codes, labels."""
    index: dict[Hashable, int] = {}
    codes = np.fromiter(
        (index.setdefault(lab, len(index)) for lab in labels), dtype=np.int64, count=n
    )
    return codes, list(index)


def _check_pair(gold: Sequence[Hashable], pred: Sequence[Hashable]) -> int:
    n_g, n_p = len(gold), len(pred)
    if n_g != n_p:
        raise ValueError(f"gold and pred must have the same length, got {n_g} and {n_p}")
    if n_g == 0:
        raise ValueError("gold and pred are empty: nothing to evaluate")
    return n_g


def _contingency(
    g: np.ndarray, p: np.ndarray, n_g: int, n_p: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Non-zero cells of the contingency table as (gold code, pred code, count) arrays."""
    keys = g * np.int64(n_p) + p
    uniq, counts = np.unique(keys, return_counts=True)
    return uniq // n_p, uniq % n_p, counts.astype(np.int64)


def _tables(gold: Sequence[Hashable], pred: Sequence[Hashable]):
    n = _check_pair(gold, pred)
    g, _ = _encode(gold, n)
    p, _ = _encode(pred, n)
    n_g, n_p = int(g.max()) + 1, int(p.max()) + 1
    gi, pj, c = _contingency(g, p, n_g, n_p)
    return n, np.bincount(g, minlength=n_g), np.bincount(p, minlength=n_p), gi, pj, c


def _bcubed_from_table(n, gsize, psize, gi, pj, c) -> PRF:
    c2 = c.astype(np.float64) ** 2
    precision = float(np.sum(c2 / psize[pj])) / n
    recall = float(np.sum(c2 / gsize[gi])) / n
    return PRF.from_pr(precision, recall)


def _pairs(x: np.ndarray) -> int:
    x = x.astype(np.int64)
    return int(np.sum(x * (x - 1) // 2))


def _prf_counts(tp: int, n_pred_pos: int, n_gold_pos: int) -> PRF:
    """PRF from counts with the module's vacuous-truth conventions (see module docstring)."""
    precision = tp / n_pred_pos if n_pred_pos > 0 else 1.0
    recall = tp / n_gold_pos if n_gold_pos > 0 else 1.0
    return PRF.from_pr(precision, recall)


def _pairwise_from_table(gsize, psize, c) -> PRF:
    return _prf_counts(_pairs(c), _pairs(psize), _pairs(gsize))


def _entropy(sizes: np.ndarray, n: int) -> float:
    p = sizes[sizes > 0].astype(np.float64) / n
    return float(-np.sum(p * np.log(p)))


def _expected_mutual_info(gsize: np.ndarray, psize: np.ndarray, n: int) -> float:
    """Expected mutual information under the permutation (hypergeometric) model.

    Same formula as ``sklearn.metrics.cluster.expected_mutual_information`` (Vinh et al.
    2010, eq. 24a), but summed over distinct (gold size, pred size) pairs weighted by how
    many clusters have them: the term depends only on the two sizes, so the cost is
    O(sum over distinct size pairs of min(a, b)) instead of O(R * C * ...). With n items
    there are at most ~sqrt(2n) distinct sizes per side, so 100k items take well under a
    second where scikit-learn's loop over all cluster pairs takes minutes.
    """
    from scipy.special import gammaln

    a_vals, a_cnt = np.unique(gsize[gsize > 0], return_counts=True)
    b_vals, b_cnt = np.unique(psize[psize > 0], return_counts=True)
    if a_vals.size == 0 or b_vals.size == 0:
        return 0.0
    b = b_vals.astype(np.float64)
    log_n = math.log(n)
    gln_n1 = float(gammaln(n + 1))
    gln_b = gammaln(b + 1) + gammaln(n - b + 1)
    log_b = np.log(b)
    emi = 0.0
    for a, ca in zip(a_vals.tolist(), a_cnt.tolist()):
        start = np.maximum(1, a - n + b_vals)
        end = np.minimum(a, b_vals)
        length = np.maximum(0, end - start + 1)
        total = int(length.sum())
        if total == 0:
            continue
        v = np.repeat(np.arange(b_vals.size), length)
        offs = np.cumsum(length) - length
        nij = (start[v] + (np.arange(total) - offs[v])).astype(np.float64)
        bv = b[v]
        gln = (
            float(gammaln(a + 1) + gammaln(n - a + 1))
            + gln_b[v]
            - gammaln(nij + 1)
            - gln_n1
            - gammaln(a - nij + 1)
            - gammaln(bv - nij + 1)
            - gammaln(n - a - bv + nij + 1)
        )
        term = (nij / n) * (log_n + np.log(nij) - math.log(a) - log_b[v]) * np.exp(gln)
        emi += ca * float(np.sum(b_cnt[v] * term))
    return emi


def _ami_from_table(n, gsize, psize, gi, pj, c) -> float:
    """Adjusted mutual information, arithmetic normalisation, as scikit-learn computes it
    (``adjusted_mutual_info_score`` with ``average_method="arithmetic"``), including its
    special cases and its epsilon guards; only the expected MI is computed faster."""
    n_g, n_p = int(np.count_nonzero(gsize)), int(np.count_nonzero(psize))
    if n_g == n_p == 1:
        return 1.0
    if n_g == 1 or n_p == 1:
        return 0.0
    cf = c.astype(np.float64)
    mi = float(
        np.sum(cf / n * (np.log(cf) + math.log(n) - np.log(gsize[gi].astype(np.float64))
                         - np.log(psize[pj].astype(np.float64))))
    )
    mi = max(mi, 0.0)
    emi = _expected_mutual_info(gsize, psize, n)
    normalizer = (_entropy(gsize, n) + _entropy(psize, n)) / 2.0
    eps = np.finfo(np.float64).eps
    den = normalizer - emi
    den = min(den, -eps) if den < 0 else max(den, eps)
    num = mi - emi
    num = min(num, -eps) if num < 0 else max(num, eps)
    return float(num / den)


# --------------------------------------------------------------------------- clustering


def bcubed(gold: Sequence[Hashable], pred: Sequence[Hashable]) -> PRF:
    """B-cubed precision, recall and F1 of a predicted clustering against gold.

    For each item, precision is the fraction of its predicted cluster that shares its gold
    cluster, and recall the fraction of its gold cluster that shares its predicted cluster;
    both are averaged over items. From the contingency table n_ij (items in gold cluster i
    and predicted cluster j)::

        precision = (1/n) * sum_ij n_ij**2 / |pred_j|
        recall    = (1/n) * sum_ij n_ij**2 / |gold_i|

    F1 is their harmonic mean. Label values do not matter, only the partition.

    Source: Bagga & Baldwin (1998), "Entity-based cross-document coreferencing using the
    vector space model"; used for news stream clustering by Miranda et al. (2018, EMNLP),
    "Multilingual Clustering of Streaming News".

    Args:
        gold: gold cluster label of each item (length n, any hashable labels).
        pred: predicted cluster label of each item (length n, aligned with ``gold``).

    Returns:
        :class:`PRF`. All-singletons predicted gives precision 1.0; one predicted cluster
        gives recall 1.0.

    Raises:
        ValueError: if the lengths differ or the input is empty.
    """
    return _bcubed_from_table(*_tables(gold, pred))


def pairwise(gold: Sequence[Hashable], pred: Sequence[Hashable]) -> PRF:
    """Pair-counting precision, recall and F1 over all unordered item pairs.

    A pair is predicted positive when both items share a predicted cluster, gold positive
    when they share a gold cluster. With TP = sum_ij C(n_ij, 2), predicted pairs
    sum_j C(|pred_j|, 2) and gold pairs sum_i C(|gold_i|, 2)::

        precision = TP / predicted pairs,   recall = TP / gold pairs

    Degenerate cases (by convention, see the module docstring): no predicted pairs ->
    precision 1.0; no gold pairs -> recall 1.0. So all-singletons on both sides gives
    P = R = F1 = 1.0; all-singletons predicted against gold with pairs gives F1 0.0; any
    predicted pair against all-singletons gold gives precision 0.0 and F1 0.0.

    These counts are the off-diagonal entries of
    ``sklearn.metrics.cluster.pair_confusion_matrix`` (which counts ordered pairs, twice).
    Source: the pair-counting measures of Rand (1971) / Manning et al. (2008, IR book,
    sec. 16.3).

    Args:
        gold: gold cluster label of each item (length n).
        pred: predicted cluster label of each item (length n, aligned with ``gold``).

    Returns:
        :class:`PRF`.

    Raises:
        ValueError: if the lengths differ or the input is empty.
    """
    n, gsize, psize, gi, pj, c = _tables(gold, pred)
    return _pairwise_from_table(gsize, psize, c)


def _problems(
    outer: np.ndarray,
    inner: np.ndarray,
    outer_size: np.ndarray,
    inner_size: np.ndarray,
    cell_outer: np.ndarray,
    cell_inner: np.ndarray,
    cell_count: np.ndarray,
    outer_labels: Sequence[Hashable],
    inner_labels: Sequence[Hashable],
    ids: Sequence[str],
    titles: Mapping[str, str] | None,
    *,
    worst: int,
    examples: int,
    max_parts: int,
) -> tuple[ClusterProblem, ...]:
    """The ``worst`` outer clusters touching the most inner clusters (ties: more items off
    their largest part, then larger, then first seen), with their largest parts."""
    if worst <= 0:
        return ()
    n_outer = len(outer_size)
    n_parts = np.bincount(cell_outer, minlength=n_outer)
    largest = np.zeros(n_outer, dtype=np.int64)
    np.maximum.at(largest, cell_outer, cell_count)
    off = outer_size - largest
    cand = np.flatnonzero(n_parts >= 2)
    if cand.size == 0:
        return ()
    order = np.lexsort((cand, -outer_size[cand], -off[cand], -n_parts[cand]))
    chosen = cand[order[:worst]]

    # Cells of the chosen clusters, largest parts first.
    sel_cells = np.flatnonzero(np.isin(cell_outer, chosen))
    # Example items for each (outer, inner) cell of the chosen clusters, in input order.
    items = np.flatnonzero(np.isin(outer, chosen))
    key = outer[items] * np.int64(len(inner_size)) + inner[items]
    srt = np.argsort(key, kind="stable")
    skey = key[srt]
    starts = np.flatnonzero(np.r_[True, skey[1:] != skey[:-1]])
    ends = np.r_[starts[1:], skey.size]
    ex_of: dict[int, np.ndarray] = {
        int(skey[s]): items[srt[s : min(e, s + examples)]] for s, e in zip(starts, ends)
    }

    out = []
    for o in chosen:
        cells = sel_cells[cell_outer[sel_cells] == o]
        cells = cells[np.lexsort((cell_inner[cells], -cell_count[cells]))]
        parts = []
        for cidx in cells[:max_parts]:
            i = int(cell_inner[cidx])
            ex_items = ex_of.get(int(o) * len(inner_size) + i, np.empty(0, np.int64))
            exs = tuple(
                Example(ids[k], None if titles is None else titles.get(ids[k]))
                for k in ex_items.tolist()
            )
            parts.append(
                ClusterPart(
                    label=inner_labels[i],
                    count=int(cell_count[cidx]),
                    size=int(inner_size[i]),
                    examples=exs,
                )
            )
        out.append(
            ClusterProblem(
                label=outer_labels[int(o)],
                size=int(outer_size[o]),
                n_parts=int(n_parts[o]),
                n_off_majority=int(off[o]),
                parts=tuple(parts),
                n_parts_omitted=max(0, len(cells) - max_parts),
            )
        )
    return tuple(out)


def cluster_scores(
    gold: Mapping[str, Hashable],
    pred: Mapping[str, Hashable],
    titles: Mapping[str, str] | None = None,
    *,
    examples: int = 3,
    worst: int = 3,
    parts: int = 10,
) -> ClusterScores:
    """Score a predicted clustering against gold, aligned on item ids.

    Every id of ``gold`` is scored. Gold ids missing from ``pred`` are each treated as a
    predicted singleton (their predicted label is reported as None) and counted in
    ``missing_in_pred``; ids only in ``pred`` are ignored and counted in ``extra_in_pred``.

    Computes B-cubed (:func:`bcubed`) and pairwise (:func:`pairwise`) PRF, the adjusted
    Rand index (Hubert & Arabie 1985; ``sklearn.metrics.adjusted_rand_score``), the adjusted
    mutual information (Vinh et al. 2010; equal to ``sklearn.metrics.
    adjusted_mutual_info_score`` with its default arithmetic normalisation, but with the
    expected MI summed over distinct cluster-size pairs, because scikit-learn's loop over all
    cluster pairs takes minutes at 100k items), and two error lists for inspection:

    * ``worst_merged``: predicted clusters that touch the most gold clusters (ties: most
      items outside their largest gold cluster, then size), with the gold clusters they
      merge (count inside, full size, example titles);
    * ``worst_split``: gold clusters spread over the most predicted clusters (same ties),
      with the predicted clusters holding them.

    Only clusters that actually merge / are split (touch >= 2 clusters) are listed.

    Args:
        gold: id -> gold cluster label. Must not be empty.
        pred: id -> predicted cluster label.
        titles: optional id -> title, for the examples.
        examples: example items per part.
        worst: how many worst merged / split clusters to list.
        parts: at most this many parts listed per problem cluster (largest first).

    Returns:
        :class:`ClusterScores` (``to_dict()`` for JSON).

    Raises:
        ValueError: if ``gold`` is empty or ``examples`` / ``worst`` / ``parts`` < 0.
    """
    from sklearn.metrics import adjusted_rand_score

    if len(gold) == 0:
        raise ValueError("gold is empty: nothing to evaluate")
    if examples < 0 or worst < 0 or parts < 0:
        raise ValueError("examples, worst and parts must be >= 0")
    ids = list(gold)
    n = len(ids)
    g, g_labels = _encode((gold[i] for i in ids), n)

    # Predicted codes: present ids encoded by label; missing ids get fresh singleton codes.
    index: dict[Hashable, int] = {}
    p = np.empty(n, dtype=np.int64)
    missing = []
    for k, i in enumerate(ids):
        if i in pred:
            p[k] = index.setdefault(pred[i], len(index))
        else:
            missing.append(k)
    p_labels: list[Hashable] = list(index)
    if missing:
        p[missing] = np.arange(len(p_labels), len(p_labels) + len(missing))
        p_labels.extend([None] * len(missing))
    extra = sum(1 for i in pred if i not in gold)

    n_g, n_p = len(g_labels), len(p_labels)
    gi, pj, c = _contingency(g, p, n_g, n_p)
    gsize = np.bincount(g, minlength=n_g)
    psize = np.bincount(p, minlength=n_p)

    common = dict(ids=ids, titles=titles, worst=worst, examples=examples, max_parts=parts)
    merged = _problems(p, g, psize, gsize, pj, gi, c, p_labels, g_labels, **common)
    split = _problems(g, p, gsize, psize, gi, pj, c, g_labels, p_labels, **common)

    return ClusterScores(
        bcubed=_bcubed_from_table(n, gsize, psize, gi, pj, c),
        pairwise=_pairwise_from_table(gsize, psize, c),
        ari=float(adjusted_rand_score(g, p)),
        ami=_ami_from_table(n, gsize, psize, gi, pj, c),
        n_items=n,
        n_gold_clusters=n_g,
        n_pred_clusters=n_p,
        missing_in_pred=len(missing),
        extra_in_pred=extra,
        worst_merged=merged,
        worst_split=split,
    )


# --------------------------------------------------------------------------- pairs


def pair_scores(
    labels: Sequence[float | int | bool],
    scores: Sequence[float],
    decisions: Sequence[bool] | None = None,
    *,
    positive_at: float | None = None,
) -> PairScores:
    """Score pairwise similarity scores and same-story decisions against pair gold labels.

    Args:
        labels: gold label per pair (length n): binary (0/1/bool) or graded (e.g. STS 0-5).
        scores: the engine's similarity score per pair (length n, finite floats; higher
            means more similar).
        decisions: optional engine decision per pair (True = same story / duplicate).
        positive_at: binarise graded gold as ``label >= positive_at`` (e.g. 4.0 for STS).
            Required unless ``labels`` are all 0/1.

    Returns:
        :class:`PairScores` with

        * PRF of ``decisions`` against the binary gold (conventions of the module
          docstring: no positive decisions -> precision 1.0; no gold positives -> recall
          1.0);
        * ROC AUC of ``scores`` (``sklearn.metrics.roc_auc_score``), None with a note when
          only one class is present;
        * Spearman rho of ``scores`` vs the graded (unbinarised) gold
          (``scipy.stats.spearmanr``), None with a note when either side is constant;
        * the oracle best-F1 threshold on ``scores``.

    Raises:
        ValueError: on length mismatch, empty input, non-finite labels or scores, or
            non-binary labels without ``positive_at``.

    The STS headlines pairs this is meant for: Agirre et al. (2013-2015), SemEval STS.
    """
    from scipy.stats import spearmanr
    from sklearn.metrics import precision_recall_curve, roc_auc_score

    n = len(labels)
    if len(scores) != n:
        raise ValueError(f"labels and scores must have the same length, got {n} and {len(scores)}")
    if decisions is not None and len(decisions) != n:
        raise ValueError(
            f"labels and decisions must have the same length, got {n} and {len(decisions)}"
        )
    if n == 0:
        raise ValueError("no pairs: labels and scores are empty")
    y = np.asarray(labels, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64)
    if not np.all(np.isfinite(y)):
        raise ValueError("labels contain NaN or infinite values")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores contain NaN or infinite values")
    if positive_at is None:
        if not np.all((y == 0.0) | (y == 1.0)):
            raise ValueError(
                "labels are not binary (0/1); pass positive_at to binarise graded labels"
            )
        gold = y == 1.0
    else:
        gold = y >= float(positive_at)
    n_pos = int(gold.sum())

    prf = None
    n_dec = None
    if decisions is not None:
        d = np.asarray(decisions, dtype=bool)
        n_dec = int(d.sum())
        prf = _prf_counts(int(np.sum(d & gold)), n_dec, n_pos)

    auc = auc_note = best_t = best_f1 = None
    if n_pos == 0 or n_pos == n:
        auc_note = f"only one class present (all {'positive' if n_pos else 'negative'})"
    else:
        auc = float(roc_auc_score(gold, s))
        prec, rec, thr = precision_recall_curve(gold, s)
        prec, rec = prec[:-1], rec[:-1]
        denom = prec + rec
        f1 = np.where(denom > 0, 2 * prec * rec / np.where(denom > 0, denom, 1.0), 0.0)
        k = int(np.argmax(f1))
        best_t, best_f1 = float(thr[k]), float(f1[k])

    rho = rho_note = None
    if np.all(y == y[0]):
        rho_note = "gold labels are constant"
    elif np.all(s == s[0]):
        rho_note = "scores are constant"
    else:
        rho = float(spearmanr(s, y)[0])

    return PairScores(
        n_pairs=n,
        n_positive=n_pos,
        positive_at=None if positive_at is None else float(positive_at),
        decisions=prf,
        n_decided_positive=n_dec,
        roc_auc=auc,
        roc_auc_note=auc_note,
        spearman=rho,
        spearman_note=rho_note,
        best_threshold=best_t,
        best_f1=best_f1,
    )


# --------------------------------------------------------------------------- formatting


def _num(x: float | None, width: int = 8) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-".rjust(width)
    return f"{x:{width}.4f}"


def _short(x: Any, width: int) -> str:
    s = "" if x is None else str(x).replace("\n", " ")
    return s if len(s) <= width else s[: width - 3] + "..."


def _format_problems(kind: str, part_kind: str, probs: Sequence[ClusterProblem]) -> list[str]:
    lines = [f"{kind}:"]
    if not probs:
        lines.append("  (none)")
        return lines
    for pr in probs:
        lines.append(
            f"  cluster {_short(pr.label, 40)!s}: size {pr.size}, {pr.n_parts} {part_kind} "
            f"clusters, {pr.n_off_majority} items outside the largest"
        )
        for part in pr.parts:
            label = "<missing from pred>" if part.label is None else _short(part.label, 30)
            lines.append(f"    {part.count:>6} of {part_kind} {label} (size {part.size})")
            for ex in part.examples:
                text = ex.title if ex.title is not None else ""
                lines.append(f"           - [{_short(ex.id, 20)}] {_short(text, 90)}")
        if pr.n_parts_omitted:
            lines.append(f"    ... {pr.n_parts_omitted} more {part_kind} clusters")
    return lines


def format_cluster_scores(s: ClusterScores, title: str) -> str:
    """Render :class:`ClusterScores` as a fixed-width plain-text report.

    Args:
        s: the scores.
        title: heading line (e.g. dataset and method name).

    Returns:
        A multi-line string (no trailing newline).
    """
    rule = "=" * max(len(title), 44)
    lines = [title, rule]
    lines.append(f"{'metric':<10}{'precision':>10}{'recall':>10}{'f1':>10}")
    lines.append("-" * 40)
    for name, prf in (("B-cubed", s.bcubed), ("pairwise", s.pairwise)):
        lines.append(
            f"{name:<10}{_num(prf.precision, 10)}{_num(prf.recall, 10)}{_num(prf.f1, 10)}"
        )
    lines.append(f"{'ARI':<10}{_num(s.ari, 10)}")
    lines.append(f"{'AMI':<10}{_num(s.ami, 10)}")
    lines.append("-" * 40)
    lines.append(
        f"items {s.n_items}, gold clusters {s.n_gold_clusters}, "
        f"predicted clusters {s.n_pred_clusters}"
    )
    lines.append(
        f"missing from pred {s.missing_in_pred} (scored as singletons), "
        f"extra in pred {s.extra_in_pred} (ignored)"
    )
    if s.worst_merged or s.worst_split:
        lines.append("")
        lines += _format_problems("worst merged (predicted clusters)", "gold", s.worst_merged)
        lines += _format_problems("worst split (gold clusters)", "pred", s.worst_split)
    return "\n".join(lines)


def format_pair_scores(s: PairScores, title: str, positive: str | None = None) -> str:
    """Render :class:`PairScores` as a fixed-width plain-text report.

    Args:
        s: the scores.
        title: heading line.
        positive: the positive class in words (e.g. ``"score >= 4"``); default: from
            ``s.positive_at``.

    Returns:
        A multi-line string (no trailing newline).
    """
    rule = "=" * max(len(title), 44)
    gold = ("binary gold" if s.positive_at is None else f"gold >= {s.positive_at:g}") \
        if positive is None else f"positive = {positive}"
    lines = [title, rule, f"pairs {s.n_pairs}, positive {s.n_positive} ({gold})", "-" * 44]
    if s.decisions is not None:
        lines.append(f"{'':<22}{'precision':>10}{'recall':>10}{'f1':>10}")
        d = s.decisions
        lines.append(
            f"{'decisions':<22}{_num(d.precision, 10)}{_num(d.recall, 10)}{_num(d.f1, 10)}"
        )
        lines.append(f"{'decided positive':<22}{s.n_decided_positive:>10}")
    lines.append(
        f"{'ROC AUC':<22}{_num(s.roc_auc, 10)}"
        + (f"  ({s.roc_auc_note})" if s.roc_auc_note else "")
    )
    lines.append(
        f"{'Spearman rho':<22}{_num(s.spearman, 10)}"
        + (f"  ({s.spearman_note})" if s.spearman_note else "")
    )
    if s.best_f1 is not None:
        lines.append(
            f"{'oracle best F1':<22}{_num(s.best_f1, 10)}  (score >= {s.best_threshold:.4g})"
        )
    return "\n".join(lines)
