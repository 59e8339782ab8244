"""Story quality of the learned hybrid scorer vs TF-IDF and the E5-only engine, by grouped CV.

    PYTHONPATH=$PWD HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_story_quality.py \
        [--folds 5] [--out benchmarks/out/story_quality.md]

For each set (ECB+ topics 1-35; uci-headlines, rows shuffled, day-level dates, headline only),
in one run on the same items and embeddings:

* **hybrid**: :func:`clustering.stories.hybrid.cluster_hybrid_batch` (average linkage over
  ``1 - P(same story)``, cut at ``StoryParams.link_article`` / ``link_headline``, then the
  split of two-event clusters) with a scorer fitted, per fold, on the other folds of
  the set plus all of the other training sets (``benchmarks/train_scorer.py``: ECB+ articles
  and their headline-only twins, uci-headlines, ANS): the scorer never sees the fold it is
  scored on. Folds are grouped by ECB+ topic / uci story (``GroupKFold``).
* **hybrid online**: :func:`clustering.stories.hybrid.assign_hybrid_minibatch` with the same
  per-fold scorers, items in the (shuffled) file order: item by item (a feed posting one
  article per call), in mini-batches of :data:`SMALL_BATCH` and of ``StoryParams.online_batch``
  (the engine's default for a run over a file).
* **TF-IDF + agglomerative**: scikit-learn ``TfidfVectorizer(sublinear_tf=True,
  stop_words="english")`` over title + text, cosine, average linkage; its threshold chosen on
  the training folds by the same CV (fair), then applied to the held-out fold.
* **E5-only engine (defaults)**: :func:`clustering.stories.cluster_batch` with default
  :class:`~clustering.stories.StoryParams` (threshold 0.89, guard on); no training.

Document frequencies (unlabelled text, no gold): the hybrid rows count the whole set, as a
store that already holds the other folds' articles would (online, the held-out fold's own
articles are counted as they arrive); the "cold store" rows count the held-out fold alone (a
first run into an empty store). TF-IDF is shown both ways too (vectoriser fitted on the fold,
or on the whole set).

Scores: B-cubed P/R/F1, pairwise F1, ARI (:func:`clustering.evaluate.metrics.cluster_scores`)
over the whole set, labels of each fold kept apart. Also: features + scoring time per item.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
from common import CACHE
from train_scorer import (
    SET_WEIGHTS,
    TRAIN_ON,
    LabelledSet,
    grouped_folds,
    train,
    training_sets,
)

from clustering.evaluate.metrics import bcubed, cluster_scores
from clustering.stories import StoryParams, cluster_batch
from clustering.stories.hybrid import (
    HybridStories,
    assign_hybrid_minibatch,
    cluster_hybrid_batch,
)
from clustering.stories.sparse import DocumentFrequencies

#: Items per call of a feed that posts small batches (online mode's mini-batches of this size).
SMALL_BATCH = 50
TFIDF_GRID = np.round(np.arange(0.05, 0.90, 0.025), 3)


def _agglo(dist: np.ndarray, sim_threshold: float) -> np.ndarray:
    from sklearn.cluster import AgglomerativeClustering

    if dist.shape[0] < 2:
        return np.zeros(dist.shape[0], dtype=np.int64)
    return AgglomerativeClustering(n_clusters=None, metric="precomputed", linkage="average",
                                   distance_threshold=1.0 - sim_threshold).fit_predict(dist)


def _tfidf_dist(texts: list[str]) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfVectorizer

    X = TfidfVectorizer(sublinear_tf=True, stop_words="english").fit_transform(texts)
    d = np.clip(1.0 - (X @ X.T).toarray(), 0.0, 2.0)
    np.fill_diagonal(d, 0.0)
    return d


def _row(name: str, gold: list[str], pred: list[str], note: str = "") -> list:
    cs = cluster_scores(dict(enumerate(gold)), dict(enumerate(pred)))
    return [name, cs.bcubed.precision, cs.bcubed.recall, cs.bcubed.f1, cs.pairwise.f1, cs.ari,
            cs.n_pred_clusters, note]


def evaluate_set(S: LabelledSet, sets: dict[str, LabelledSet], folds: int) -> tuple[list, dict]:
    """Rows of the table for set S and timing figures. Per fold the scorer is trained on
    :data:`train_scorer.TRAIN_ON` with S's held-out groups removed (for ECB+: the articles and
    headline twins of the held-out topics; :func:`train_scorer.grouped_folds`)."""
    n = len(S)
    gold = list(S.gold)
    texts = [f"{i['title']}\n{i['text']}" for i in S.items]
    hyb = np.empty(n, dtype=object)
    onl = np.empty(n, dtype=object)
    mini = np.empty(n, dtype=object)
    small = np.empty(n, dtype=object)
    hyb_cold = np.empty(n, dtype=object)
    mini_cold = np.empty(n, dtype=object)
    tfp = np.empty(n, dtype=object)
    tfw = np.empty(n, dtype=object)
    thr_used, thr_warm = [], []
    t_feat = 0.0
    t_online = 0.0
    sp = StoryParams()
    d_set = _tfidf_dist(texts)
    for k, tr, te, sc, warm in grouped_folds(S, sets, folds):
        t0 = time.perf_counter()
        lab = cluster_hybrid_batch(S.batch(te), sc, split_ratio=sp.split_ratio,
                                   split_min=sp.split_min)
        t_feat += time.perf_counter() - t0
        hyb[te] = [f"{k}-{x}" for x in lab]
        # cold store: document frequencies of the held-out fold alone (a first run into an
        # empty store); the rows above and below count the whole set, as a store that already
        # holds the other folds' articles would (unlabelled text: no gold is seen)
        te_terms = [S.terms[i] for i in te]
        hyb_cold[te] = [f"{k}-{x}" for x in cluster_hybrid_batch(
            S.batch(te, DocumentFrequencies().update(te_terms)), sc,
            split_ratio=sp.split_ratio, split_min=sp.split_min)]
        # online: fresh story state per fold, items in file order; item by item (a feed
        # posting one article per call) and in the engine's mini-batches (a run over a file:
        # StoryParams.online_batch items per mini-batch). The store's document frequencies
        # start with the other folds' articles (the fold's own are counted as they arrive,
        # so they end as the batch row's), or empty (cold).
        runs = ((onl, 1, False), (small, SMALL_BATCH, False),
                (mini, StoryParams().online_batch, False),
                (mini_cold, StoryParams().online_batch, True))
        for out_arr, chunk, empty in runs:
            state = HybridStories(S.emb.shape[1])
            counter = itertools.count()
            # a copy per run: the assignment counts the fold's articles into it
            df = DocumentFrequencies() if empty else DocumentFrequencies(warm.n_docs, warm.df)
            t0 = time.perf_counter()
            asg = assign_hybrid_minibatch(state, S.emb[te], te_terms,
                                          [S.guards[i] for i in te], S.times[te], df,
                                          lambda k=k, c=counter: f"{k}-s{next(c)}", sc,
                                          chunk=chunk, split_ratio=sp.split_ratio,
                                          split_min=sp.split_min)
            if chunk == 1:
                t_online += time.perf_counter() - t0
            out_arr[te] = [state.resolve(a.story_id) for a in asg]
        # TF-IDF: threshold chosen on the training folds (one vectoriser per part, as a user
        # clustering that part alone would fit it)
        dtr = _tfidf_dist([texts[i] for i in tr])
        gtr = [gold[i] for i in tr]
        best = max(TFIDF_GRID, key=lambda s: (bcubed(gtr, _agglo(dtr, s)).f1, -s))
        thr_used.append(float(best))
        tfp[te] = [f"{k}-{x}" for x in _agglo(_tfidf_dist([texts[i] for i in te]), best)]
        # and with the idf of the whole set, as the hybrid rows' warm store (rows are
        # L2-normalised one by one, so the set's distances restricted to a part are the part's)
        dtr = d_set[np.ix_(tr, tr)]
        best = max(TFIDF_GRID, key=lambda s: (bcubed(gtr, _agglo(dtr, s)).f1, -s))
        thr_warm.append(float(best))
        tfw[te] = [f"{k}-{x}" for x in _agglo(d_set[np.ix_(te, te)], best)]
    guards = S.guards
    e5 = cluster_batch(S.emb, S.times, guards, StoryParams())
    rows = [
        _row("hybrid scorer, batch (engine defaults)", gold, list(hyb), f"{folds}-fold grouped CV"),
        _row("hybrid scorer, online item by item (file order, merges on)", gold, list(onl),
             f"{folds}-fold grouped CV"),
        _row(f"hybrid scorer, online in mini-batches of {SMALL_BATCH} (a feed posting "
             f"{SMALL_BATCH} per call)", gold, list(small), f"{folds}-fold grouped CV"),
        _row(f"hybrid scorer, online in mini-batches of {StoryParams().online_batch} (engine "
             "default)", gold, list(mini), f"{folds}-fold grouped CV"),
        _row("hybrid scorer, batch, cold store", gold, list(hyb_cold),
             f"{folds}-fold grouped CV; idf of the fold alone"),
        _row(f"hybrid scorer, online in mini-batches of {StoryParams().online_batch}, cold "
             "store", gold, list(mini_cold), f"{folds}-fold grouped CV; idf of the fold alone"),
        _row("TF-IDF + agglomerative (average)", gold, list(tfp),
             "threshold by CV: " + ", ".join(f"{t:.3f}" for t in thr_used)),
        _row("TF-IDF + agglomerative (average), idf of the whole set", gold, list(tfw),
             "threshold by CV: " + ", ".join(f"{t:.3f}" for t in thr_warm)),
        _row("E5-only engine (defaults)", gold, [str(x) for x in e5],
             "cluster_batch, threshold 0.89, guard on"),
    ]
    timing = {"prepare_ms_per_item": 1000 * S.prepare_s / n,
              "batch_features_scoring_ms_per_item": 1000 * t_feat / n,
              "online_ms_per_item": 1000 * t_online / n}
    return rows, timing


def evaluate_pair_set(S: LabelledSet, sets: dict[str, LabelledSet], folds: int) -> list[str]:
    """Rows for a labelled pair set (the cross-lingual pairs): per fold (grouped by the English
    article) the scorer is trained without the held-out pairs' items, and scores them; beside
    it the embedding cosine, its threshold chosen on the training folds (best F1)."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold

    ii, jj, y = S.pairs
    feats = S.batch().pairs(ii, jj)
    cos = feats[:, 0]
    p = np.empty(y.size)
    cthr = np.empty(y.size)
    pair_groups = S.groups[ii]
    for tr, te in GroupKFold(folds).split(np.arange(y.size), groups=pair_groups):
        held = set(pair_groups[te])
        parts = [np.flatnonzero([g not in held for g in sets[nm].groups]) if nm == S.name else None
                 for nm in TRAIN_ON]
        sc = train([sets[nm] for nm in TRAIN_ON], parts, weights=SET_WEIGHTS)
        p[te] = sc.proba(feats[te])
        grid = np.unique(np.round(cos[tr], 3))
        cthr[te] = max(grid, key=lambda t: _f1(y[tr], cos[tr] >= t))

    def row(name, score, pred, note):
        tp = int(np.sum(pred & (y == 1)))
        prec = tp / max(1, int(pred.sum()))
        rec = tp / max(1, int(y.sum()))
        f1 = 2 * prec * rec / max(1e-12, prec + rec)
        return (f"| {S.name} ({y.size} pairs, {int(y.sum())} same) | {name} | "
                f"{roc_auc_score(y, score):.3f} | {prec:.3f} | {rec:.3f} | {f1:.3f} | {note} |")

    return ["| set | score | ROC AUC | P | R | F1 | decision |", "|---|---|---|---|---|---|---|",
            row("hybrid scorer P(same story)", p, p >= 0.5, f"P >= 0.5, {folds}-fold grouped CV"),
            row("embedding cosine", cos, cos >= cthr,
                "threshold by CV: " + ", ".join(f"{t:.3f}" for t in sorted(set(cthr))))]


def _f1(y: np.ndarray, pred: np.ndarray) -> float:
    tp = float(np.sum(pred & (y == 1)))
    return 2 * tp / max(1.0, float(pred.sum()) + float(y.sum()))


def shuffled_invariance(S: LabelledSet, seed: int = 1) -> float:
    """B-cubed F1 between batch labels of S in file order and in a shuffled order (shipped
    scorer)."""
    n = len(S)
    a = cluster_hybrid_batch(S.batch())
    perm = np.random.default_rng(seed).permutation(n)
    b = np.empty(n, dtype=np.int64)
    b[perm] = cluster_hybrid_batch(S.batch(perm))
    return bcubed(list(a), list(b)).f1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--out", default=str(CACHE / "story_quality.md"))
    ap.add_argument("--sets", default="ecb,uci,egyar,xl",
                    help="comma-separated: ecb, uci, egyar (story sets), xl (cross-lingual pairs)")
    ap.add_argument("--set-weight", action="append", default=[], metavar="NAME=W",
                    help="override a training set's weight (0 leaves it out), e.g. ans-neg=0; "
                         "ANS is two sets, ans (paraphrases) and ans-neg (changed claims)")
    args = ap.parse_args(argv)
    for kv in args.set_weight:
        k, _, v = kv.partition("=")
        SET_WEIGHTS[k] = float(v)
    sets = training_sets()
    head = ("| set | method | B-cubed P | B-cubed R | B-cubed F1 | pairwise F1 | ARI | clusters "
            "| notes |")
    lines = [head, "|---|---|---|---|---|---|---|---|---|"]
    timings = {}
    names = [nm for nm in args.sets.split(",") if nm != "xl"]
    pair_lines = evaluate_pair_set(sets["xl"], sets, args.folds) if "xl" in args.sets.split(",") else []
    print("\n".join(pair_lines), flush=True)
    for name in names:
        S = sets[name]
        rows, timings[name] = evaluate_set(S, sets, args.folds)
        for r in rows:
            cells = [f"{x:.3f}" if isinstance(x, float) else str(x) for x in r]
            lines.append(f"| {name} ({len(S)}) | " + " | ".join(cells) + " |")
        print("\n".join(lines[-len(rows):]), flush=True)
    inv = {name: shuffled_invariance(sets[name]) for name in names}
    text = "\n".join(lines) + "\n\n" + "\n".join(pair_lines) + "\n\n" + "\n".join(
        f"- {k}: {v}" for k, v in timings.items()) + "\n" + "\n".join(
        f"- batch B-cubed F1 between file order and shuffled order, {k}: {v:.4f}"
        for k, v in inv.items()) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
