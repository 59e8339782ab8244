"""Story quality on the hand-labelled Arabic EgyNews set (benchmarks/data/egynews_ar_stories).

    PYTHONPATH=$PWD HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python \
        benchmarks/bench_egynews_ar_stories.py

On the 450 units (both days in one call, and each day alone), B-cubed P/R/F1
(:func:`clustering.evaluate.metrics.bcubed`), pairwise F1 and predicted cluster count of:

* ``StoryClusterer().fit`` at its defaults (batch, the shipped hybrid scorer);
* ``StoryClusterer(scorer="cosine").fit`` (E5 centroid threshold, guard on);
* TF-IDF (sublinear tf, no stop-word list, title + text) cosine with average-linkage
  agglomerative clustering, its threshold the best of a grid **on this set** (tuned on the
  test data: an upper bound for the baseline, not a fair comparison).

The two engine runs share one set of embeddings (``Embedder(backend="onnx-int8")``).
"""

from __future__ import annotations

import sys

import numpy as np
from labelled_sets import load_egynews_ar_stories

from clustering import StoryClusterer
from clustering.embed import Embedder
from clustering.evaluate.metrics import bcubed, cluster_scores

GRID = np.round(np.arange(0.05, 0.90, 0.025), 3)


def tfidf_agglo(records: list[dict], gold: list[str]) -> tuple[list, float]:
    """Best-on-the-set TF-IDF + average-linkage labels and the similarity threshold used."""
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.feature_extraction.text import TfidfVectorizer

    X = TfidfVectorizer(sublinear_tf=True).fit_transform(
        [f"{r['title']}\n{r['text']}" for r in records])
    dist = np.clip(1.0 - (X @ X.T).toarray(), 0.0, 2.0)
    np.fill_diagonal(dist, 0.0)

    def run(s):
        return AgglomerativeClustering(n_clusters=None, metric="precomputed", linkage="average",
                                       distance_threshold=1.0 - s).fit_predict(dist)

    best = max(GRID, key=lambda s: (bcubed(gold, run(s)).f1, -s))
    return list(run(best)), float(best)


def row(name: str, gold: list[str], pred: list) -> str:
    cs = cluster_scores(dict(enumerate(gold)), dict(enumerate(pred)))
    b = cs.bcubed
    return (f"| {name} | {b.precision:.3f} | {b.recall:.3f} | {b.f1:.3f} | {cs.pairwise.f1:.3f} "
            f"| {cs.n_pred_clusters} |")


def main() -> int:
    records, gold = load_egynews_ar_stories()
    emb = Embedder(backend="onnx-int8").encode_articles([r["title"] for r in records],
                                                        [r["text"] for r in records])
    print(f"{len(records)} units, {len(set(gold))} gold stories")
    for part in ("both days", "06", "10"):
        idx = [i for i, r in enumerate(records)
               if part == "both days" or r["published"][8:10] == part]
        recs, g, e = [records[i] for i in idx], [gold[i] for i in idx], emb[idx]
        print(f"\n{part}: {len(idx)} units, {len(set(g))} gold stories\n")
        print("| method | B-cubed P | B-cubed R | B-cubed F1 | pairwise F1 | clusters |")
        print("|---|---|---|---|---|---|")
        print(row("StoryClusterer defaults (batch, hybrid)", g,
                  list(StoryClusterer().fit(recs, e).labels_)))
        print(row('StoryClusterer(scorer="cosine") (batch)', g,
                  list(StoryClusterer(scorer="cosine").fit(recs, e).labels_)))
        pred, thr = tfidf_agglo(recs, g)
        print(row(f"TF-IDF + average linkage, threshold {thr:.3f} tuned on the set", g, pred))
        print(row("all singletons", g, list(range(len(g)))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
