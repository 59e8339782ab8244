"""Tune the linkage thresholds of batch story clustering by grouped cross-validation.

    cd benchmarks && PYTHONPATH=.. python tune_link_thresholds.py [--sets ecb,uci,egyar]

For each set and each of 5 folds grouped by topic / story (``GroupKFold``), a scorer is fitted
without the fold (as in ``bench_story_quality.py``) and gives the fold's P(same story) matrix;
each (article, headline) pair of the grid is then applied to it: the dendrogram cut of
:func:`clustering.stories.hybrid.cut_linkage`, then the split of two-event clusters
(``StoryParams.split_ratio`` / ``split_min``). Printed: B-cubed P / R / F1 and pairwise F1 over
the whole set per grid point, and a nested figure: for each fold the grid point that scores
best on the other folds' items, applied to the fold (the choice never sees the fold it is
scored on). Results: ``benchmarks/RESULTS.md``, "Stories: linkage thresholds by kind".
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from train_scorer import grouped_folds, training_sets

from clustering.evaluate.metrics import bcubed, cluster_scores
from clustering.stories import StoryParams
from clustering.stories.hybrid import cut_linkage, probability_matrix, split_incoherent

ARTICLE = (0.3, 0.35, 0.4, 0.45, 0.5)
HEADLINE = (0.4, 0.45, 0.5, 0.55)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="ecb,uci,egyar")
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args(argv)
    sp = StoryParams()
    grid = [(a, h) for a in ARTICLE for h in HEADLINE]
    sets = training_sets()
    for name in args.sets.split(","):
        S = sets[name]
        n = len(S)
        gold = np.array(S.gold, dtype=object)
        folds = []
        labs = {g: np.empty(n, dtype=object) for g in grid}
        for k, tr, te, sc, _ in grouped_folds(S, sets, args.folds):
            folds.append((tr, te))
            b = S.batch(te)
            P = probability_matrix(b, sc)
            for g in grid:
                lab = split_incoherent(P, cut_linkage(P, b.head, g), b.head, sp.split_ratio,
                                       sp.split_min)
                labs[g][te] = [f"{k}-{x}" for x in lab]
        for g in grid:
            cs = cluster_scores(dict(enumerate(gold)), dict(enumerate(labs[g])))
            print(f"{name} articles {g[0]} headlines {g[1]}: B-cubed P {cs.bcubed.precision:.3f} "
                  f"R {cs.bcubed.recall:.3f} F1 {cs.bcubed.f1:.3f}, pairwise F1 {cs.pairwise.f1:.3f}",
                  flush=True)
        nested = np.empty(n, dtype=object)
        chosen = []
        for tr, te in folds:
            best = max(grid, key=lambda g: (bcubed(list(gold[tr]), list(labs[g][tr])).f1, g))
            chosen.append(best)
            nested[te] = labs[best][te]
        cs = cluster_scores(dict(enumerate(gold)), dict(enumerate(nested)))
        print(f"{name} nested (chosen per fold {chosen}): B-cubed P {cs.bcubed.precision:.3f} "
              f"R {cs.bcubed.recall:.3f} F1 {cs.bcubed.f1:.3f}, pairwise F1 {cs.pairwise.f1:.3f}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
