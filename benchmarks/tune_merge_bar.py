"""Online item by item: B-cubed scores for several story-story merge bars, by grouped CV.

    PYTHONPATH=$PWD HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/tune_merge_bar.py \
        [--article 0.5,0.6,0.7] [--headline 0.5] [--folds 5]

The protocol of ``bench_story_quality.py``'s "online item by item" row (per-fold scorers trained
without the held-out groups; the store's document frequencies start with the other folds'
articles): :func:`clustering.stories.hybrid.assign_hybrid_online` with each
``merge_bar=(article, headline)`` pair, on ECB+, uci-headlines and the Arabic EgyNews stories.
A bar of 2 or more turns the bridging merges off. Results: ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import itertools
import sys

import numpy as np
from train_scorer import grouped_folds, training_sets

from clustering.evaluate.metrics import cluster_scores
from clustering.stories.hybrid import HybridStories, assign_hybrid_online
from clustering.stories.sparse import DocumentFrequencies


def _floats(s: str) -> list[float]:
    return [float(x) for x in s.split(",") if x.strip()]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--article", type=_floats, default=[0.5, 0.6, 0.7])
    ap.add_argument("--headline", type=_floats, default=[0.5])
    ap.add_argument("--folds", type=int, default=5)
    a = ap.parse_args(argv)
    bars = list(itertools.product(a.article, a.headline))
    sets = training_sets()
    print("| set | merge bar (article, headline) | B-cubed P | R | F1 | ARI |")
    print("|---|---|---|---|---|---|")
    for name in ("ecb", "uci", "egyar"):
        S = sets[name]
        n = len(S)
        res = {b: np.empty(n, dtype=object) for b in bars}
        for k, _, te, sc, warm in grouped_folds(S, sets, a.folds):
            te_terms = [S.terms[i] for i in te]
            for b in bars:
                st, c = HybridStories(S.emb.shape[1]), itertools.count()
                asg = assign_hybrid_online(st, S.emb[te], te_terms, [S.guards[i] for i in te],
                                           S.times[te], DocumentFrequencies(warm.n_docs, warm.df),
                                           lambda k=k, c=c: f"{k}-s{next(c)}", sc, merge_bar=b)
                res[b][te] = [st.resolve(x.story_id) for x in asg]
        for b, pred in res.items():
            cs = cluster_scores(dict(enumerate(S.gold)), dict(enumerate(pred)))
            print(f"| {name} | {b[0]:g}, {b[1]:g} | {cs.bcubed.precision:.3f} | "
                  f"{cs.bcubed.recall:.3f} | {cs.bcubed.f1:.3f} | {cs.ari:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
