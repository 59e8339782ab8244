"""Story clustering on ECB+ against gold stories: the engine vs TF-IDF and HDBSCAN baselines.

Documents: ECB+ (English, one sentence per line; the first line is used as the title, the rest
as the body). Gold: ``story_id`` (two different real-world events of the same kind per topic).

Rows, all in the same run on the same documents:

* engine: :func:`clustering.stories.cluster_batch` over ``Embedder().encode_articles(first
  line, rest)`` (multilingual-e5-small, title + lead) with default :class:`StoryParams`, guard on
  (:func:`guard_features` of title and body), no times (ECB+ has no dates); also guard off, and
  the engine's threshold tuned on ECB+ itself (oracle, for a like-for-like with the tuned
  baseline).
* TF-IDF (scikit-learn ``TfidfVectorizer``, sublinear tf, English stop words) + agglomerative
  clustering (cosine, average linkage); its threshold is tuned on the same documents (oracle).
* embeddings + HDBSCAN (BERTopic-style without UMAP): the same embeddings, ``hdbscan.HDBSCAN``
  (min_cluster_size=2, Euclidean on L2-normalised vectors = cosine order); noise points become
  singletons.
* references: all singletons; one cluster per gold topic (merges each topic's two stories).

Scores (:func:`clustering.evaluate.metrics.cluster_scores`, gold = story_id): B-cubed P/R/F1,
pairwise F1, ARI, number of clusters. Embeddings are cached in ``benchmarks/out/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from common import EMBED_TIMING, Timer, ecbplus_docs, embed_cached, main_for, section, table


def _score(name: str, gold: dict, ids: list[str], labels, extra: str = "") -> list:
    from clustering.evaluate.metrics import cluster_scores

    cs = cluster_scores(gold, dict(zip(ids, [str(x) for x in labels])))
    return [name, cs.bcubed.precision, cs.bcubed.recall, cs.bcubed.f1, cs.pairwise.f1, cs.ari,
            cs.n_pred_clusters, extra]


def _agglomerative(dist: np.ndarray, threshold: float) -> np.ndarray:
    from sklearn.cluster import AgglomerativeClustering

    return AgglomerativeClustering(n_clusters=None, metric="precomputed", linkage="average",
                                   distance_threshold=threshold).fit_predict(dist)


def _tuned(name: str, gold, ids, dist: np.ndarray, sims: np.ndarray, what: str) -> tuple[list, list]:
    """Best B-cubed F1 over similarity thresholds ``sims`` (agglomerative on ``dist``)."""
    from clustering.evaluate.metrics import bcubed

    g = [gold[i] for i in ids]
    curve = []
    for s in sims:
        lab = _agglomerative(dist, 1.0 - s)
        curve.append((float(s), bcubed(g, lab).f1, lab))
    best = max(curve, key=lambda c: c[1])
    row = _score(name, gold, ids, best[2], f"{what} threshold {best[0]:.3f} tuned on ECB+ (oracle)")
    return row, [(s, f) for s, f, _ in curve]


def run(quick: bool, plots_dir: Path | None = None) -> dict:
    """B-cubed / pairwise F1 / ARI of the engine's batch story clustering on ECB+ and of TF-IDF +
    agglomerative and embeddings + HDBSCAN baselines."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from clustering.stories import StoryParams, cluster_batch, guard_features

    res = section("Stories on ECB+ (batch clustering vs baselines)")
    docs = ecbplus_docs()
    if quick:
        topics = sorted({d["topic"] for d in docs})[:5]
        docs = [d for d in docs if d["topic"] in topics]
    ids = [d["doc_id"] for d in docs]
    gold = {d["doc_id"]: d["story_id"] for d in docs}
    lines = [d["text"].strip().split("\n", 1) for d in docs]
    titles = [ln[0].strip() for ln in lines]
    bodies = [ln[1].strip() if len(ln) > 1 else "" for ln in lines]

    before = dict(EMBED_TIMING)
    with Timer() as t_emb:
        emb = embed_cached("ecbplus", titles, bodies)
    cached = EMBED_TIMING.get("articles") == before.get("articles")
    params = StoryParams()
    feats = [guard_features(t, b) for t, b in zip(titles, bodies)]
    rows = []
    with Timer() as t_eng:
        lab = cluster_batch(emb, None, feats, params)
    rows.append(_score("engine: E5 + cluster_batch, guard on (defaults)", gold, ids, lab,
                       f"threshold {params.threshold}, {params.linkage} linkage; {t_eng.s:.2f} s"))
    rows.append(_score("engine: guard off", gold, ids, cluster_batch(emb, None, None, params),
                       f"threshold {params.threshold}"))

    grid = np.round(np.arange(0.80, 0.951, 0.01), 3)
    from dataclasses import replace

    best = None
    for s in grid:
        lab = cluster_batch(emb, None, feats, replace(params, threshold=float(s)))
        r = _score("engine: threshold tuned on ECB+ (oracle), guard on", gold, ids, lab,
                   f"threshold {s:.2f} tuned on ECB+ (oracle)")
        if best is None or r[3] > best[3]:
            best = r
    rows.append(best)

    tf = TfidfVectorizer(sublinear_tf=True, stop_words="english").fit_transform(
        [d["text"] for d in docs])
    tdist = np.clip(1.0 - (tf @ tf.T).toarray(), 0.0, 2.0)
    np.fill_diagonal(tdist, 0.0)
    tf_row, tf_curve = _tuned("TF-IDF + agglomerative (cosine, average)", gold, ids, tdist,
                              np.round(np.arange(0.05, 0.951, 0.025), 3), "cosine")
    rows.append(tf_row)

    try:
        import hdbscan

        hl = hdbscan.HDBSCAN(min_cluster_size=2, metric="euclidean").fit_predict(emb.astype(np.float64))
        impl = "hdbscan"
    except ImportError:
        from sklearn.cluster import HDBSCAN

        hl = HDBSCAN(min_cluster_size=2).fit_predict(emb)
        impl = "sklearn.cluster.HDBSCAN"
    noise = int(np.sum(hl < 0))
    hl = np.where(hl < 0, -1 - np.arange(len(hl)), hl)  # noise -> singletons
    rows.append(_score("E5 + HDBSCAN (min_cluster_size=2)", gold, ids, hl,
                       f"{impl}; {noise} noise points as singletons"))
    rows.append(_score("reference: all singletons", gold, ids, range(len(ids))))
    rows.append(_score("reference: one cluster per gold topic", gold, ids, [d["topic"] for d in docs]))

    res["tables"].append(table(
        f"ECB+ {'(quick: 5 topics) ' if quick else ''}{len(docs)} documents, "
        f"{len(set(gold.values()))} gold stories, {len({d['topic'] for d in docs})} topics",
        ["method", "B-cubed P", "B-cubed R", "B-cubed F1", "pairwise F1", "ARI", "clusters", "notes"],
        rows))
    for r in rows[:5]:
        res["summary"][f"{r[0]}: B-cubed F1 / ARI"] = f"{float(r[3]):.3f} / {float(r[5]):.3f}"
    n_tok = "cached" if cached else f"{len(docs) / t_emb.s:.1f} articles/s (title + 96-token lead)"
    res["notes"].append(f"Embedding {len(docs)} ECB+ articles: {t_emb.s:.1f} s ({n_tok}).")
    res["summary"]["TF-IDF best threshold curve (cos: B-cubed F1)"] = ", ".join(
        f"{s:.2f}: {f:.3f}" for s, f in tf_curve[::4])
    return res


if __name__ == "__main__":
    sys.exit(main_for(run))
