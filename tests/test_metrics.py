"""Tests of clustering.evaluate.metrics against hand-computed values and brute-force references."""

from __future__ import annotations

import csv
import json
import math
import re
import time
from collections import Counter
from itertools import combinations

import numpy as np
import pytest
from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score
from sklearn.metrics.cluster import pair_confusion_matrix

from clustering.evaluate import (
    PRF,
    ClusterScores,
    PairScores,
    bcubed,
    cluster_scores,
    format_cluster_scores,
    format_pair_scores,
    pair_scores,
    pairwise,
)

from .conftest import SHARED

STS = SHARED / "sts-headlines" / "sts_headlines_2013_2015.tsv"


def approx_prf(prf: PRF, p: float, r: float, f: float) -> None:
    assert prf.precision == pytest.approx(p, abs=1e-12)
    assert prf.recall == pytest.approx(r, abs=1e-12)
    assert prf.f1 == pytest.approx(f, abs=1e-12)


# --------------------------------------------------------------------------- brute force


def bcubed_brute(gold, pred) -> tuple[float, float]:
    """Per-item B-cubed, O(n^2): the definition, not the contingency formula."""
    n = len(gold)
    ps, rs = [], []
    for i in range(n):
        same_pred = [j for j in range(n) if pred[j] == pred[i]]
        same_gold = [j for j in range(n) if gold[j] == gold[i]]
        both = [j for j in same_pred if gold[j] == gold[i]]
        ps.append(len(both) / len(same_pred))
        rs.append(len(both) / len(same_gold))
    return sum(ps) / n, sum(rs) / n


def pairwise_brute(gold, pred) -> tuple[int, int, int]:
    """(TP, predicted pairs, gold pairs) by looping over all unordered pairs."""
    tp = pp = gp = 0
    for i, j in combinations(range(len(gold)), 2):
        sp, sg = pred[i] == pred[j], gold[i] == gold[j]
        tp += sp and sg
        pp += sp
        gp += sg
    return tp, pp, gp


def random_labelings(seed: int, count: int, max_n: int = 60):
    rng = np.random.default_rng(seed)
    for t in range(count):
        n = int(rng.integers(1, max_n))
        g = rng.integers(0, int(rng.integers(1, 12)), n)
        p = rng.integers(0, int(rng.integers(1, 12)), n)
        if t % 3 == 0:  # correlated with gold, like a real clustering
            p = np.where(rng.random(n) < 0.7, g + 100, p)
        yield g.tolist(), p.tolist()


# --------------------------------------------------------------------------- hand examples

# Running example: n = 6
#   gold = A A A B B C      pred = 1 1 2 2 2 2
# contingency n_ij: (A,1)=2 (A,2)=1 (B,2)=2 (C,2)=1
# sizes: |A|=3 |B|=2 |C|=1 ; |1|=2 |2|=4
GOLD = ["A", "A", "A", "B", "B", "C"]
PRED = [1, 1, 2, 2, 2, 2]


def test_bcubed_hand_example():
    # P = 1/6 * (2^2/2 + 1^2/4 + 2^2/4 + 1^2/4) = 1/6 * (2 + .25 + 1 + .25) = 3.5/6 = 7/12
    # R = 1/6 * (2^2/3 + 1^2/3 + 2^2/2 + 1^2/1) = 1/6 * (5/3 + 2 + 1)   = 14/18 = 7/9
    # F1 = 2 * (7/12)(7/9) / (7/12 + 7/9) = (98/108) / (49/36) = 2/3
    approx_prf(bcubed(GOLD, PRED), 7 / 12, 7 / 9, 2 / 3)
    p, r = bcubed_brute(GOLD, PRED)
    assert (p, r) == pytest.approx((7 / 12, 7 / 9))


def test_pairwise_hand_example():
    # TP = C(2,2)+C(1,2)+C(2,2)+C(1,2) = 1+0+1+0 = 2
    # predicted pairs = C(2,2)+C(4,2) = 1+6 = 7 ; gold pairs = C(3,2)+C(2,2)+C(1,2) = 3+1+0 = 4
    # P = 2/7, R = 2/4 = 1/2, F1 = 2*(2/7)(1/2) / (2/7 + 1/2) = (2/7) / (11/14) = 4/11
    approx_prf(pairwise(GOLD, PRED), 2 / 7, 1 / 2, 4 / 11)
    assert pairwise_brute(GOLD, PRED) == (2, 7, 4)


def test_cluster_scores_hand_example_ari_ami():
    ids = [f"i{k}" for k in range(6)]
    s = cluster_scores(dict(zip(ids, GOLD)), dict(zip(ids, PRED)))
    # ARI: index = sum C(n_ij,2) = 2, sum_a = 4, sum_b = 7, C(6,2) = 15
    #   expected = 4*7/15 = 28/15, max = (4+7)/2 = 11/2
    #   ARI = (2 - 28/15) / (11/2 - 28/15) = (2/15) / (109/30) = 4/109
    assert s.ari == pytest.approx(4 / 109)
    assert s.ari == pytest.approx(adjusted_rand_score(GOLD, PRED))
    assert s.ami == pytest.approx(adjusted_mutual_info_score(GOLD, PRED), abs=1e-10)
    approx_prf(s.bcubed, 7 / 12, 7 / 9, 2 / 3)
    approx_prf(s.pairwise, 2 / 7, 1 / 2, 4 / 11)
    assert (s.n_items, s.n_gold_clusters, s.n_pred_clusters) == (6, 3, 2)
    assert (s.missing_in_pred, s.extra_in_pred) == (0, 0)


# --------------------------------------------------------------------------- edge cases


def test_perfect_clustering():
    g = ["a", "a", "b", "c", "c", "c"]
    approx_prf(bcubed(g, g), 1, 1, 1)
    approx_prf(pairwise(g, g), 1, 1, 1)
    s = cluster_scores({str(i): x for i, x in enumerate(g)}, {str(i): x for i, x in enumerate(g)})
    assert s.ari == pytest.approx(1.0) and s.ami == pytest.approx(1.0)
    assert s.worst_merged == () and s.worst_split == ()


def test_relabelled_prediction_scores_the_same():
    gold = ["a", "a", "b", "c", "c", "c", "d"]
    # Same partition, different (and overlapping, swapped) names: a->c, b->a, c->b, d->9.
    relabel = {"a": "c", "b": "a", "c": "b", "d": 9}
    pred = [relabel[x] for x in gold]
    approx_prf(bcubed(gold, pred), 1, 1, 1)
    approx_prf(pairwise(gold, pred), 1, 1, 1)
    # And relabelling a non-trivial prediction leaves every metric unchanged.
    pred2 = ["x", "x", "x", "y", "y", "z", "z"]
    pred2_renamed = [{"x": ("t", 1), "y": None, "z": "x"}[x] for x in pred2]
    assert bcubed(gold, pred2) == bcubed(gold, pred2_renamed)
    assert pairwise(gold, pred2) == pairwise(gold, pred2_renamed)
    ids = [str(i) for i in range(len(gold))]
    s1 = cluster_scores(dict(zip(ids, gold)), dict(zip(ids, pred2)))
    s2 = cluster_scores(dict(zip(ids, gold)), dict(zip(ids, pred2_renamed)))
    assert (s1.ari, s1.ami, s1.bcubed, s1.pairwise) == (s2.ari, s2.ami, s2.bcubed, s2.pairwise)


def test_all_singletons_both():
    g = [1, 2, 3, 4]
    p = ["a", "b", "c", "d"]
    # B-cubed: every item's cluster is itself: P = R = 1.
    approx_prf(bcubed(g, p), 1, 1, 1)
    # Pairwise: no predicted pairs (P := 1), no gold pairs (R := 1) -> F1 = 1 by convention.
    approx_prf(pairwise(g, p), 1, 1, 1)


def test_gold_singletons_pred_one_cluster():
    g = [1, 2, 3, 4]
    p = [0, 0, 0, 0]
    # B-cubed P = 1/4 * 4 * (1^2/4) = 1/4; R = 1/4 * 4 * (1^2/1) = 1; F1 = 2*(1/4)/(5/4) = 2/5
    approx_prf(bcubed(g, p), 1 / 4, 1, 2 / 5)
    # Pairwise: TP = 0, predicted pairs = 6 -> P = 0; gold pairs = 0 -> R = 1; F1 = 0
    approx_prf(pairwise(g, p), 0, 1, 0)


def test_gold_one_cluster_pred_singletons():
    g = [0, 0, 0, 0]
    p = [1, 2, 3, 4]
    # B-cubed P = 1; R = 1/4 * 4 * (1/4) = 1/4; F1 = 2/5
    approx_prf(bcubed(g, p), 1, 1 / 4, 2 / 5)
    # Pairwise: no predicted pairs -> P = 1; TP = 0 of 6 gold pairs -> R = 0; F1 = 0
    approx_prf(pairwise(g, p), 1, 0, 0)


def test_both_one_cluster_and_single_item():
    approx_prf(bcubed([7, 7, 7], ["x", "x", "x"]), 1, 1, 1)
    approx_prf(pairwise([7, 7, 7], ["x", "x", "x"]), 1, 1, 1)
    approx_prf(bcubed(["a"], ["b"]), 1, 1, 1)
    approx_prf(pairwise(["a"], ["b"]), 1, 1, 1)


def test_one_gold_cluster_split_in_half():
    g = [0, 0, 0, 0]
    p = [1, 1, 2, 2]
    # B-cubed P = 1; R = 1/4 * (2^2/4 + 2^2/4) = 1/2; F1 = 2*(1/2)/(3/2) = 2/3
    approx_prf(bcubed(g, p), 1, 1 / 2, 2 / 3)
    # Pairwise: TP = 1+1 = 2 = predicted pairs -> P = 1; gold pairs = 6 -> R = 1/3; F1 = 1/2
    approx_prf(pairwise(g, p), 1, 1 / 3, 1 / 2)


def test_errors():
    with pytest.raises(ValueError, match="same length"):
        bcubed([1, 2], [1])
    with pytest.raises(ValueError, match="same length"):
        pairwise([1], [1, 2])
    with pytest.raises(ValueError, match="empty"):
        bcubed([], [])
    with pytest.raises(ValueError, match="empty"):
        pairwise([], [])
    with pytest.raises(ValueError, match="empty"):
        cluster_scores({}, {"a": 1})


def test_numpy_and_mixed_labels():
    g = np.array([3, 3, 5, 5, 5])
    p = [None, None, ("t", 1), ("t", 1), "x"]
    # contingency (3,None)=2 (5,t)=2 (5,x)=1; P = 1/5*(4/2+4/2+1/1) = 1, R = 1/5*(4/2+4/3+1/3) = 11/15
    approx_prf(bcubed(g, p), 1, 11 / 15, 2 * (11 / 15) / (1 + 11 / 15))


# --------------------------------------------------------------------------- random references


def test_bcubed_matches_brute_force():
    for g, p in random_labelings(seed=0, count=60):
        prf = bcubed(g, p)
        bp, br = bcubed_brute(g, p)
        assert prf.precision == pytest.approx(bp, abs=1e-12)
        assert prf.recall == pytest.approx(br, abs=1e-12)


def test_pairwise_matches_brute_force_and_sklearn():
    for g, p in random_labelings(seed=1, count=60):
        tp, pp, gp = pairwise_brute(g, p)
        ref_p = tp / pp if pp else 1.0
        ref_r = tp / gp if gp else 1.0
        ref_f = 0.0 if ref_p + ref_r == 0 else 2 * ref_p * ref_r / (ref_p + ref_r)
        approx_prf(pairwise(g, p), ref_p, ref_r, ref_f)
        # sklearn counts ordered pairs: rows = gold, columns = pred; [1,1] = 2 TP,
        # [0,1] = 2 FP (same pred, different gold), [1,0] = 2 FN.
        c = pair_confusion_matrix(g, p)
        assert c[1, 1] == 2 * tp
        assert c[1, 1] + c[0, 1] == 2 * pp
        assert c[1, 1] + c[1, 0] == 2 * gp


def test_ari_ami_match_sklearn_on_random_labelings():
    for k, (g, p) in enumerate(random_labelings(seed=2, count=40, max_n=200)):
        ids = [f"id{i}" for i in range(len(g))]
        s = cluster_scores(dict(zip(ids, g)), dict(zip(ids, p)), worst=0)
        assert s.ari == pytest.approx(adjusted_rand_score(g, p), abs=1e-10), k
        assert s.ami == pytest.approx(adjusted_mutual_info_score(g, p), abs=1e-9), k


def test_ami_matches_sklearn_with_many_clusters():
    # Many clusters of repeated sizes: exercises the size-grouped expected MI.
    rng = np.random.default_rng(3)
    n = 3000
    g = rng.integers(0, 600, n)
    p = np.where(rng.random(n) < 0.6, g, rng.integers(0, 900, n))
    ids = [str(i) for i in range(n)]
    s = cluster_scores(dict(zip(ids, g.tolist())), dict(zip(ids, p.tolist())), worst=0)
    assert s.ami == pytest.approx(adjusted_mutual_info_score(g, p), abs=1e-9)
    assert s.ari == pytest.approx(adjusted_rand_score(g, p), abs=1e-12)


def test_fast_on_100k_items():
    rng = np.random.default_rng(4)
    n = 100_000
    g = rng.integers(0, 20_000, n)
    p = np.where(rng.random(n) < 0.8, g, rng.integers(0, 30_000, n))
    gold = {f"id{i}": int(g[i]) for i in range(n)}
    pred = {f"id{i}": int(p[i]) for i in range(n)}
    cluster_scores({"a": 1, "b": 1}, {"a": 1, "b": 2})  # warm the sklearn import
    t0 = time.perf_counter()
    s = cluster_scores(gold, pred)
    b = bcubed(g, p)
    elapsed = time.perf_counter() - t0
    assert elapsed < 8.0, elapsed
    assert s.bcubed == b
    assert 0.5 < s.ami < 1.0 and 0.5 < s.ari < 1.0


# --------------------------------------------------------------------------- cluster_scores


def test_cluster_scores_missing_and_extra_ids():
    gold = {"a": "A", "b": "A", "c": "A", "d": "B", "e": "B"}
    pred = {"a": 1, "b": 1, "d": 2, "e": 2, "z": 9}  # c missing, z extra
    titles = {k: f"title {k}" for k in "abcdez"}
    s = cluster_scores(gold, pred, titles)
    # Aligned: gold A A A B B, pred 1 1 <c alone> 2 2
    # B-cubed P = 1 (no pred cluster mixes gold clusters)
    #         R = 1/5 * (2^2/3 + 1^2/3 + 2^2/2) = 1/5 * (5/3 + 2) = 11/15
    approx_prf(s.bcubed, 1, 11 / 15, 2 * (11 / 15) / (1 + 11 / 15))
    # Pairwise: TP = 1 + 1 = 2 = predicted pairs; gold pairs = 3 + 1 = 4 -> P = 1, R = 1/2
    approx_prf(s.pairwise, 1, 1 / 2, 2 / 3)
    assert (s.missing_in_pred, s.extra_in_pred) == (1, 1)
    assert (s.n_items, s.n_gold_clusters, s.n_pred_clusters) == (5, 2, 3)
    aligned_pred = [1, 1, "missing-c", 2, 2]
    assert s.ari == pytest.approx(adjusted_rand_score(list("AAABB"), aligned_pred))
    assert s.ami == pytest.approx(adjusted_mutual_info_score(list("AAABB"), aligned_pred))
    assert s.worst_merged == ()
    (split,) = s.worst_split
    assert (split.label, split.size, split.n_parts, split.n_off_majority) == ("A", 3, 2, 1)
    assert [(pt.label, pt.count, pt.size) for pt in split.parts] == [(1, 2, 2), (None, 1, 1)]
    assert [e.id for e in split.parts[0].examples] == ["a", "b"]
    assert split.parts[1].examples[0].title == "title c"


def test_cluster_scores_worst_lists():
    gold = {"1": "S1", "2": "S1", "3": "S2", "4": "S3", "5": "S3", "6": "S4", "7": "S4", "8": "S5"}
    pred = {"1": "X", "2": "X", "3": "X", "4": "X", "5": "Y", "6": "Z", "7": "Z", "8": "Z"}
    titles = {"1": "quake hits city", "2": "city quake", "3": "election", "4": "storm"}
    s = cluster_scores(gold, pred, titles, examples=1, worst=5)
    # Merged: X = {S1: 2, S2: 1, S3: 1} touches 3 gold clusters, 2 items off its majority;
    #         Z = {S4: 2, S5: 1} touches 2, 1 off. Y is pure. Order: X then Z.
    assert [(m.label, m.size, m.n_parts, m.n_off_majority) for m in s.worst_merged] == [
        ("X", 4, 3, 2),
        ("Z", 3, 2, 1),
    ]
    x = s.worst_merged[0]
    # Parts by count desc, ties in first-seen gold order (S2 before S3).
    assert [(pt.label, pt.count, pt.size) for pt in x.parts] == [
        ("S1", 2, 2),
        ("S2", 1, 1),
        ("S3", 1, 2),
    ]
    assert [(e.id, e.title) for e in x.parts[0].examples] == [("1", "quake hits city")]
    assert x.parts[2].examples[0].title == "storm"
    # Split: only S3 is split, over X and Y.
    (sp,) = s.worst_split
    assert (sp.label, sp.size, sp.n_parts, sp.n_off_majority) == ("S3", 2, 2, 1)
    assert [(pt.label, pt.count, pt.size) for pt in sp.parts] == [("X", 1, 4), ("Y", 1, 1)]
    # worst / parts limits
    s1 = cluster_scores(gold, pred, titles, worst=1, parts=1)
    assert [m.label for m in s1.worst_merged] == ["X"]
    assert len(s1.worst_merged[0].parts) == 1 and s1.worst_merged[0].n_parts_omitted == 2
    assert cluster_scores(gold, pred, worst=0).worst_merged == ()
    # No titles: examples still carry ids.
    assert cluster_scores(gold, pred).worst_merged[0].parts[0].examples[0].title is None
    # JSON-friendly and readable.
    d = json.loads(json.dumps(s.to_dict()))
    assert d["worst_merged"][0]["parts"][0]["label"] == "S1"
    assert set(d) >= {"bcubed", "pairwise", "ari", "ami", "n_items", "missing_in_pred"}
    text = format_cluster_scores(s, "toy set")
    assert text.splitlines()[0] == "toy set"
    assert "B-cubed" in text and "quake hits city" in text and "storm" in text
    assert re.search(r"pairwise\s+[01]\.\d{4}\s+[01]\.\d{4}\s+[01]\.\d{4}", text)


def test_cluster_scores_to_dict_non_json_labels():
    s = cluster_scores({"a": ("t", 1), "b": ("t", 1), "c": 3}, {"a": 0, "b": 1, "c": 1})
    d = json.loads(json.dumps(s.to_dict()))
    assert d["worst_split"][0]["label"] == "('t', 1)"
    assert isinstance(s, ClusterScores)


# --------------------------------------------------------------------------- pair_scores


def test_pair_scores_hand_example():
    labels = [5.0, 4.2, 3.9, 1.0, 0.0]
    scores = [0.9, 0.4, 0.3, 0.5, 0.1]
    decisions = [True, True, False, True, False]
    s = pair_scores(labels, scores, decisions, positive_at=4.0)
    # gold (>= 4): T T F F F -> 2 positives
    # decisions TP = 2 (pairs 0, 1), decided positive = 3 -> P = 2/3, R = 2/2 = 1, F1 = 0.8
    assert isinstance(s, PairScores)
    assert (s.n_pairs, s.n_positive, s.n_decided_positive) == (5, 2, 3)
    approx_prf(s.decisions, 2 / 3, 1.0, 0.8)
    # AUC: positives {.9, .4} vs negatives {.3, .5, .1}: .9 beats 3, .4 beats 2 -> 5/6
    assert s.roc_auc == pytest.approx(5 / 6)
    # Spearman: score ranks 5 3 2 4 1, label ranks 5 4 3 2 1, d = 0 -1 -1 2 0, sum d^2 = 6
    #   rho = 1 - 6*6 / (5*(25-1)) = 1 - 36/120 = 0.7
    assert s.spearman == pytest.approx(0.7)
    # Best F1 over thresholds: >=.9: P1 R.5 F 2/3; >=.5: P.5 R.5; >=.4: P 2/3 R 1 F .8 (best);
    #   >=.3: P .5 R 1; >=.1: P .4 R 1
    assert s.best_threshold == pytest.approx(0.4)
    assert s.best_f1 == pytest.approx(0.8)
    text = format_pair_scores(s, "toy pairs")
    assert text.startswith("toy pairs") and "0.8333" in text and "0.7000" in text
    assert json.loads(json.dumps(s.to_dict()))["roc_auc"] == pytest.approx(5 / 6)


def test_pair_scores_binary_and_degenerate():
    # Binary gold needs no threshold; no decisions -> decisions is None.
    s = pair_scores([1, 0, True, False], [0.8, 0.2, 0.6, 0.7])
    assert s.decisions is None and s.positive_at is None and s.n_positive == 2
    # positives {.8, .6} vs negatives {.2, .7}: .8 beats 2, .6 beats 1 -> 3/4
    assert s.roc_auc == pytest.approx(3 / 4)
    # No positive decisions: precision 1 by convention, recall 0, F1 0.
    s = pair_scores([1, 0], [0.5, 0.4], [False, False])
    approx_prf(s.decisions, 1.0, 0.0, 0.0)
    # One class only: no AUC, with a reason; Spearman still defined from graded gold.
    s = pair_scores([1.0, 2.0, 3.0], [0.1, 0.2, 0.3], positive_at=4)
    assert s.roc_auc is None and "one class" in s.roc_auc_note
    assert s.best_f1 is None
    assert s.spearman == pytest.approx(1.0)
    # Constant scores: no Spearman, with a reason.
    s = pair_scores([0, 1, 1], [0.5, 0.5, 0.5])
    assert s.spearman is None and "constant" in s.spearman_note
    assert s.roc_auc == pytest.approx(0.5)
    assert "one class" in format_pair_scores(pair_scores([1, 1], [0.1, 0.2]), "t")


def test_pair_scores_errors():
    with pytest.raises(ValueError, match="same length"):
        pair_scores([1, 0], [0.5])
    with pytest.raises(ValueError, match="same length"):
        pair_scores([1, 0], [0.5, 0.1], [True])
    with pytest.raises(ValueError, match="empty"):
        pair_scores([], [])
    with pytest.raises(ValueError, match="positive_at"):
        pair_scores([0.0, 3.5, 5.0], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="NaN"):
        pair_scores([0, 1], [0.1, float("nan")])


def _tokens(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def _jaccard(a: str, b: str) -> float:
    ta, tb = _tokens(a), _tokens(b)
    return len(ta & tb) / len(ta | tb) if ta | tb else 0.0


@pytest.mark.skipif(not STS.exists(), reason="STS headlines file not available")
def test_pair_scores_on_sts_headlines_with_token_jaccard():
    # The file is tab-separated with CSV-style quoting: a field containing '"' is wrapped in
    # double quotes and inner quotes are doubled ("nato says ... "" insider "" attack ...").
    with STS.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert len(rows) == 2250
    assert Counter(r["year"] for r in rows) == {"2013": 750, "2014": 750, "2015": 750}
    assert any('" insider "' in r["headline2"] for r in rows)  # quoting undone
    labels = [float(r["score_0_5"]) for r in rows]
    assert min(labels) >= 0.0 and max(labels) <= 5.0
    scores = [_jaccard(r["headline1"], r["headline2"]) for r in rows]
    decisions = [x >= 0.5 for x in scores]

    s = pair_scores(labels, scores, decisions, positive_at=4.0)
    assert s.n_pairs == 2250 and 0 < s.n_positive < 2250
    # Word overlap is a real, imperfect signal for headline similarity.
    assert 0.5 < s.roc_auc < 1.0
    assert 0.0 < s.spearman < 1.0
    assert 0.0 < s.decisions.f1 < 1.0
    assert s.best_f1 >= s.decisions.f1 - 1e-12  # the oracle threshold is at least as good

    # Control: the same scores shuffled carry no signal.
    rng = np.random.default_rng(5)
    shuffled = pair_scores(labels, rng.permutation(scores).tolist(), positive_at=4.0)
    assert abs(shuffled.roc_auc - 0.5) < 0.1
    assert abs(shuffled.spearman) < 0.1
    assert s.roc_auc > shuffled.roc_auc + 0.15
    assert math.isfinite(s.best_threshold)
