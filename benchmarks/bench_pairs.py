"""Pair similarity on gold headline pairs: the engine's Jaccard (near-duplicate level) and the
embedding cosine (story level) against human judgements.

* STS headlines 2013-2015 (English, graded 0-5): positive = score >= 4.
* ANS (Arabic): positive = ``agree`` (paraphrase); ``disagree`` = contradiction of the same claim,
  ``other`` = neither; both negative. Contradictions must not be called near-duplicates.

For each pair, :func:`clustering.explain.explain_dedup` gives the exact Jaccard of the two
texts' shingle sets (headlines are character 4-gram shingled) and the engine's verdict; the
near-duplicate decision is a verdict of "exact repeat" or "near-duplicates" (same shingle kind,
Jaccard >= the kind's threshold, an LSH candidate, and no other rule keeping them apart).
Scores: Spearman rho against the graded gold, ROC AUC, precision/recall/F1 of the decision, and
a precision/recall curve of the Jaccard score alone by threshold.
The embedding cosine (E5 through :class:`clustering.embed.Embedder`, cached) is scored the same
way, with the default story threshold as its decision.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import numpy as np
from common import ans_pairs, embed_cached, main_for, pyplot, save_fig, section, sts_pairs, table

CURVE = np.round(np.arange(0.05, 1.0, 0.05), 2)


def dedup_scores(pairs: list[tuple[str, str]], params) -> tuple[np.ndarray, np.ndarray]:
    """(Jaccard score, engine decision) per pair from :func:`clustering.explain.explain_dedup`;
    an exact repeat scores 1.0. The decision is the explanation's verdict ("exact repeat" or
    "near-duplicates"), so every rule of the engine (e.g. the headline edit rule) applies.

    ``bands_rows`` is memoised while this runs: it is a pure function, but datasketch's
    parameter search behind it takes ~20 ms a call, which ``explain_dedup`` makes per pair.
    """
    import clustering.explain as X

    orig = X.bands_rows
    X.bands_rows = functools.lru_cache(maxsize=None)(orig)
    try:
        exs = [X.explain_dedup(a, b, params) for a, b in pairs]
    finally:
        X.bands_rows = orig
    score = np.array([1.0 if ex.exact_repeat else ex.jaccard for ex in exs])
    dec = np.array([ex.verdict.startswith(("exact repeat", "near-duplicates")) for ex in exs])
    return score, dec


def cosines(name: str, pairs: list[tuple[str, str]]) -> np.ndarray:
    """Embedding cosine per pair (unique texts embedded once, cached)."""
    texts = sorted({t for p in pairs for t in p})
    pos = {t: i for i, t in enumerate(texts)}
    v = embed_cached(name, texts)
    a = v[[pos[p[0]] for p in pairs]]
    b = v[[pos[p[1]] for p in pairs]]
    return np.sum(a * b, axis=1)


def pr_curve(scores: np.ndarray, gold: np.ndarray) -> tuple[list[float], list[float]]:
    """Precision and recall of ``score >= t`` for t in :data:`CURVE` (precision 1 when nothing
    is predicted positive)."""
    prec, rec = [], []
    for t in CURVE:
        d = scores >= t
        tp = int(np.sum(d & gold))
        prec.append(tp / d.sum() if d.sum() else 1.0)
        rec.append(tp / gold.sum() if gold.sum() else 1.0)
    return prec, rec


def _row(name: str, what: str, ps, extra: str = "–") -> list:
    d = ps.decisions
    return [name, what, ps.n_pairs, ps.n_positive, ps.spearman, ps.roc_auc,
            d.precision if d else None, d.recall if d else None, d.f1 if d else None,
            ps.best_threshold, ps.best_f1, extra]


def run(quick: bool, plots_dir: Path | None = None) -> dict:
    """Jaccard and embedding cosine against STS (graded) and ANS (agree/disagree) gold pairs."""
    from clustering.dedup.engine import DedupParams
    from clustering.evaluate.metrics import pair_scores
    from clustering.stories.scoring import StoryParams

    params = DedupParams()
    story_t = StoryParams().threshold
    res = section("Pair similarity on STS headlines (English) and ANS (Arabic)")
    sts = sts_pairs()
    ans = ans_pairs()
    rows, curves = [], {}

    # ---- near-duplicate level: Jaccard
    sts_gold = np.array([s for s, _, _ in sts])
    sts_j, sts_d = dedup_scores([(a, b) for _, a, b in sts], params)
    ps = pair_scores(sts_gold, sts_j, sts_d, positive_at=4.0)
    rows.append(_row("STS", "Jaccard (engine near-duplicate)", ps))
    curves["STS Jaccard"] = pr_curve(sts_j, sts_gold >= 4.0)

    stance = np.array([s for s, _, _ in ans])
    ans_gold = (stance == "agree").astype(int)
    ans_j, ans_d = dedup_scores([(a, b) for _, a, b in ans], params)
    dis = stance == "disagree"
    dis_rate = float(ans_d[dis].mean())
    ps = pair_scores(ans_gold, ans_j, ans_d)
    rows.append(_row("ANS", "Jaccard (engine near-duplicate)", ps, f"{dis_rate:.4f} ({int(ans_d[dis].sum())}/{int(dis.sum())})"))
    curves["ANS Jaccard"] = pr_curve(ans_j, ans_gold == 1)
    res["summary"]["STS Jaccard: Spearman / AUC / F1 of decision"] = (
        f"{rows[0][4]:.3f} / {rows[0][5]:.3f} / {rows[0][8]:.3f}")
    res["summary"]["ANS Jaccard: AUC / P / R of decision"] = (
        f"{rows[1][5]:.3f} / {rows[1][6]:.3f} / {rows[1][7]:.3f}")
    res["summary"]["ANS contradictions called near-duplicates (rate)"] = dis_rate
    dis_curve = [float(np.mean(ans_j[dis] >= t)) for t in CURVE]

    # ---- story level: embedding cosine (optional)
    try:
        rng = np.random.default_rng(0)
        k = 100 if quick else None
        si = np.sort(rng.choice(len(sts), k, replace=False)) if k else np.arange(len(sts))
        ai = np.sort(rng.choice(len(ans), k, replace=False)) if k else np.arange(len(ans))
        sts_c = cosines("sts", [(sts[i][1], sts[i][2]) for i in si])
        ans_c = cosines("ans", [(ans[i][1], ans[i][2]) for i in ai])
        ps = pair_scores(sts_gold[si], sts_c, sts_c >= story_t, positive_at=4.0)
        rows.append(_row("STS", f"E5 cosine (story decision at {story_t})", ps))
        sub_dis = dis[ai]
        ps = pair_scores(ans_gold[ai], ans_c, ans_c >= story_t)
        rows.append(_row("ANS", f"E5 cosine (story decision at {story_t})", ps,
                         f"{float(np.mean(ans_c[sub_dis] >= story_t)):.4f} (same story, expected)"))
        curves["STS E5 cosine"] = pr_curve(sts_c, sts_gold[si] >= 4.0)
        curves["ANS E5 cosine"] = pr_curve(ans_c, ans_gold[ai] == 1)
        res["summary"]["STS E5 cosine: Spearman / AUC"] = f"{rows[2][4]:.3f} / {rows[2][5]:.3f}"
        res["summary"]["ANS E5 cosine: Spearman / AUC"] = f"{rows[3][4]:.3f} / {rows[3][5]:.3f}"
        if k:
            res["notes"].append(f"Quick mode: the embedding rows use {k} random pairs of each set.")
    except Exception as exc:  # the embedder is optional here
        res["notes"].append(f"Embedding cosine not measured: {type(exc).__name__}: {exc}")

    res["tables"].append(table(
        f"Pair scores (near-duplicate thresholds: char {params.char_threshold}, word "
        f"{params.threshold}; STS positive = score >= 4, ANS positive = agree). Best F1 / "
        "threshold are oracle values on the same pairs.",
        ["set", "score", "pairs", "positives", "Spearman", "ROC AUC", "P (decision)",
         "R (decision)", "F1 (decision)", "best-F1 threshold", "best F1",
         "ANS disagree pairs called positive"], rows))
    res["tables"].append(table(
        "Jaccard alone by threshold (before the engine's other rules, e.g. the headline edit "
        "rule): precision / recall, and the share of ANS contradictions at or above it",
        ["threshold", "STS P", "STS R", "ANS P", "ANS R", "ANS disagree >= t"],
        [[t, curves["STS Jaccard"][0][i], curves["STS Jaccard"][1][i], curves["ANS Jaccard"][0][i],
          curves["ANS Jaccard"][1][i], dis_curve[i]] for i, t in enumerate(CURVE) if 0.2 <= t <= 0.9]))
    res["notes"].append(
        "ANS contradictions share most of their words with the claim (\"X rises\" vs \"X falls\"), "
        "so the contradiction rate measures how much lexical overlap the near-duplicate threshold "
        "tolerates; at story level contradictions are the same story, so a high cosine there is "
        "expected, not an error.")

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, ds in zip(axes, ("STS", "ANS")):
        for what, style in (("Jaccard", "-"), ("E5 cosine", "--")):
            key = f"{ds} {what}"
            if key in curves:
                p, r = curves[key]
                ax.plot(CURVE, p, style + "o", ms=3, label=f"precision ({what})")
                ax.plot(CURVE, r, style + "s", ms=3, label=f"recall ({what})")
        if ds == "ANS":
            ax.plot(CURVE, dis_curve, ":", c="k", label="contradictions >= t (Jaccard)")
        ax.axvline(params.char_threshold, ls="--", c="gray", lw=1)
        ax.axvline(story_t, ls=":", c="gray", lw=1)
        ax.set_xlabel("threshold (Jaccard or cosine)")
        ax.set_title(f"{ds}: positive = {'score >= 4' if ds == 'STS' else 'agree'}")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("precision / recall")
    p = save_fig(fig, plots_dir, "pairs_pr_vs_threshold.png")
    if p:
        res["plots"].append(p)
    return res


if __name__ == "__main__":
    sys.exit(main_for(run))
