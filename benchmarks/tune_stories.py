"""Tune story-clustering parameters on ECB+ and check them on the Arabic seed page.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/tune_stories.py [--out benchmarks/out]

What it does:

1. Embeds the 772 ECB+ documents (/work/shared/data/ecbplus or ../shared/data/ecbplus; title =
   first line, body = the rest) once with :class:`clustering.embed.Embedder` and caches the
   matrix in ``<out>/ecbplus_<model>.npy`` (git-ignored); later runs reuse it.
2. Sweeps ``threshold`` x ``linkage`` for :func:`clustering.stories.cluster_batch`, without
   the guard, with it (default ``guard_min_score``) and with it on every linking pair
   (``guard_min_score=-1``), and reports B-cubed P/R/F1 and ARI against the gold ``story_id``
   (metrics from :mod:`clustering.evaluate.metrics`). Each row is also scored on the two halves
   of the topics (odd / even topic numbers) to show how stable the optimum is.
3. Runs :func:`clustering.stories.assign_online` over the same sweep (documents in file order;
   ECB+ has no dates, so no decay applies), for mean-vector similarity (the implemented one)
   and, for comparison, cosine to the re-normalised centroid.
4. Measures the guard on pairs: of the ECB+ document pairs with cosine >= 0.85, how many each
   rule flags and what fraction of those are truly different stories (precision); and on the
   Arabic ANS headline pairs (/shared/data/ans-arabic; embedded once, cached), how many
   paraphrases ("agree") and contradictions ("disagree") above a similarity it flags. Then
   sweeps ``guard_min_score`` at the chosen threshold (ECB+ F1 vs ANS contradictions caught).
5. Checks the Arabic seed page (the page article and its 10 "similar articles" headlines) for
   each threshold: Kursk / Putin's-thanks headlines in one story, the two naval nuclear
   headlines in another, the page article in neither.

Writes ``<out>/tune_stories.txt`` (the tables) and ``<out>/tune_stories.json``.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clustering.evaluate.metrics import bcubed  # noqa: E402
from clustering.stories import (  # noqa: E402
    ActiveStories,
    StoryParams,
    assign_online,
    cluster_batch,
    guard_conflict,
    guard_features,
)

THRESHOLDS = [round(x, 3) for x in np.arange(0.80, 0.955, 0.005)]
LINKAGES = ("average", "complete", "single")


def data_dir() -> Path:
    for cand in (Path("/work/shared/data"), ROOT.parent / "shared" / "data", ROOT / "shared" / "data"):
        if cand.is_dir():
            return cand
    raise SystemExit("shared/data not found")


def load_ecb() -> list[dict]:
    path = data_dir() / "ecbplus" / "ecbplus_topics_1-35.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    for r in rows:
        lines = r["text"].split("\n")
        r["title"], r["body"] = lines[0], "\n".join(lines[1:])
    return rows


def seed_page() -> tuple[list[str], str]:
    path = data_dir() / "seed-page" / "similar_articles_page_ar.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.strip() == "مقالات مشابهة")
    heads = [ln.strip().lstrip("•").strip() for ln in lines[start + 1 :] if ln.strip()][:10]
    page = next(ln.strip() for ln in lines if ln.strip())
    return heads, page


#: Seed-page headline indices (0-based, in page order) of the two stories the checks expect.
SEED_NAVAL = (0, 1)
SEED_TROOPS = (2, 3, 4, 5, 7, 8)


def embed_cached(out: Path, name: str, titles: list[str], bodies: list[str]) -> np.ndarray:
    from clustering.embed import Embedder

    emb = Embedder()
    tag = emb.model_id.replace("/", "_").replace("@", "_")
    path = out / f"{name}_{tag}_lead{emb.lead_tokens}.npy"
    if path.exists():
        x = np.load(path)
        if x.shape[0] == len(titles):
            return x
    t0 = time.time()
    x = emb.encode_articles(titles, bodies)
    print(f"embedded {len(titles)} {name} documents in {time.time() - t0:.1f} s", file=sys.stderr)
    np.save(path, x)
    return x


def load_ans() -> list[dict]:
    import csv

    rows = []
    for part in ("train", "dev"):
        path = data_dir() / "ans-arabic" / f"data_stance_{part}.csv"
        with open(path, encoding="utf-8", newline="") as f:
            rows += list(csv.DictReader(f))
    return rows


def online_labels(emb, feats, params, mode: str) -> list[str]:
    counter = itertools.count()
    if mode == "mean":
        st = ActiveStories(emb.shape[1])
        res = assign_online(st, emb, None, feats, params, lambda: f"s{next(counter)}")
        return [a.story_id for a in res]
    # comparison only: cosine to the re-normalised centroid
    sums: list[np.ndarray] = []
    labels = []
    for x in emb:
        if sums:
            S = np.stack(sums)
            cos = (S @ x) / np.linalg.norm(S, axis=1)
            k = int(np.argmax(cos))
            if cos[k] >= params.threshold:
                sums[k] = sums[k] + x
                labels.append(f"s{k}")
                continue
        sums.append(x.astype(np.float64))
        labels.append(f"s{len(sums) - 1}")
    return labels


def score(gold, pred, ari_fn):
    b = bcubed(gold, pred)
    return b.precision, b.recall, b.f1, float(ari_fn(gold, pred))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from sklearn.metrics import adjusted_rand_score as ari_fn

    rows = load_ecb()
    gold = [r["story_id"] for r in rows]
    topic = np.array([int(r["topic"]) for r in rows])
    halves = {"odd": topic % 2 == 1, "even": topic % 2 == 0}
    emb = embed_cached(args.out, "ecbplus", [r["title"] for r in rows], [r["body"] for r in rows])
    t0 = time.time()
    feats = [guard_features(r["title"], r["body"]) for r in rows]
    print(f"guard features: {time.time() - t0:.1f} s", file=sys.stderr)

    heads, page = seed_page()
    seed_emb = embed_cached(args.out, "seedpage", heads + [""], [""] * len(heads) + [page])
    seed_feats = [guard_features(h, "") for h in heads] + [guard_features("", page)]

    report: dict = {"batch": [], "online": [], "guard": {}, "seed": []}
    lines: list[str] = []

    # ---------------------------------------------------------------- guard, pair level
    cos = emb @ emb.T
    iu = np.triu_indices(len(rows), 1)
    g = np.array(gold)
    same = g[iu[0]] == g[iu[1]]
    sel = np.flatnonzero(cos[iu] >= 0.85)
    counts = {"places": [0, 0], "numbers": [0, 0]}  # [different story, same story]
    for k in sel:
        i, j = int(iu[0][k]), int(iu[1][k])
        why = guard_conflict(feats[i], feats[j])
        if why:
            kind = why.split()[0]
            counts[kind][int(same[k])] += 1
    n_pairs, n_same = len(sel), int(same[sel].sum())
    lines.append(f"Guard on ECB+ pairs with cosine >= 0.85: {n_pairs} pairs, {n_same} same-story")
    lines.append(f"{'rule':<10}{'flagged':>9}{'diff-story':>12}{'same-story':>12}{'precision':>11}")
    for kind, (diff, sm) in counts.items():
        prec = diff / (diff + sm) if diff + sm else float("nan")
        lines.append(f"{kind:<10}{diff + sm:>9}{diff:>12}{sm:>12}{prec:>11.3f}")
        report["guard"][kind] = {"flagged": diff + sm, "different": diff, "same": sm}
    lines.append(
        f"items with places {sum(bool(f.places) for f in feats)}/{len(feats)}, "
        f"with numbers {sum(bool(f.numbers) for f in feats)}/{len(feats)}"
    )
    lines.append("")

    ans_all = load_ans()
    ans_texts = sorted({r["s1"] for r in ans_all} | {r["s2"] for r in ans_all})
    ans = [r for r in ans_all if r["stance"] in ("agree", "disagree")]
    ans_pos = {t: i for i, t in enumerate(ans_texts)}
    ans_emb = embed_cached(args.out, "ans", ans_texts, [""] * len(ans_texts))
    ans_feat = {t: guard_features(t, "") for t in ans_texts}
    ans_cos = np.array([float(ans_emb[ans_pos[r["s1"]]] @ ans_emb[ans_pos[r["s2"]]]) for r in ans])
    ans_flag = np.array([guard_conflict(ans_feat[r["s1"]], ans_feat[r["s2"]]) is not None for r in ans])
    ans_agree = np.array([r["stance"] == "agree" for r in ans])

    def ans_counts(min_cos: float) -> tuple[int, int, int, int]:
        m = ans_cos >= min_cos
        return (int((m & ans_agree).sum()), int((m & ans_agree & ans_flag).sum()),
                int((m & ~ans_agree).sum()), int((m & ~ans_agree & ans_flag).sum()))

    lines.append("Guard on Arabic headline pairs (ANS train+dev), pairs with cosine >= c:")
    lines.append(f"{'c':>6}{'agree':>8}{'flagged':>9}{'disagree':>10}{'flagged':>9}")
    for c in (0.0, 0.86, 0.88, 0.90, 0.92, 0.94):
        a, af, d, df = ans_counts(c)
        lines.append(f"{c:>6.2f}{a:>8}{af:>9}{d:>10}{df:>9}")
        report["guard"][f"ans>={c}"] = {"agree": a, "agree_flagged": af, "disagree": d, "disagree_flagged": df}
    lines.append("")

    # ---------------------------------------------------------------- batch sweep
    lines.append("Batch (cluster_batch) on ECB+: B-cubed P / R / F1, ARI; F1 on odd / even topics")
    head = f"{'linkage':<9}{'guard':<6}{'thr':>6}{'P':>7}{'R':>7}{'F1':>7}{'ARI':>7}{'F1odd':>7}{'F1even':>7}{'k':>5}"
    lines.append(head)
    best = {}
    for linkage in LINKAGES:
        for use_guard in ("no", "yes", "all"):
            for thr in THRESHOLDS:
                gms = -1.0 if use_guard == "all" else StoryParams().guard_min_score
                p = StoryParams(threshold=thr, linkage=linkage, guard_min_score=gms)
                lab = cluster_batch(emb, None, None if use_guard == "no" else feats, p)
                pred = [int(x) for x in lab]
                P, R, F, A = score(gold, pred, ari_fn)
                half_f1 = {
                    h: bcubed([gold[i] for i in np.flatnonzero(m)], [pred[i] for i in np.flatnonzero(m)]).f1
                    for h, m in halves.items()
                }
                rec = dict(linkage=linkage, guard=use_guard, threshold=thr, P=P, R=R, F1=F, ARI=A,
                           F1_odd=half_f1["odd"], F1_even=half_f1["even"], k=int(lab.max()) + 1)
                report["batch"].append(rec)
                key = (linkage, use_guard)
                if key not in best or best[key]["F1"] < F:
                    best[key] = rec
                if abs(thr * 100 - round(thr * 100)) < 1e-9:  # print whole hundredths
                    lines.append(
                        f"{linkage:<9}{use_guard:<6}{thr:>6.2f}{P:>7.3f}{R:>7.3f}"
                        f"{F:>7.3f}{A:>7.3f}{half_f1['odd']:>7.3f}{half_f1['even']:>7.3f}{rec['k']:>5}"
                    )
    lines.append("")
    lines.append("guard: no = off; yes = on for pairs scoring >= guard_min_score "
                 f"({StoryParams().guard_min_score}); all = on for every linking pair")
    lines.append("Best threshold per (linkage, guard) [0.005 grid]:")
    for (linkage, use_guard), r in best.items():
        odd = max((x for x in report["batch"] if x["linkage"] == linkage and x["guard"] == use_guard),
                  key=lambda x: x["F1_odd"])
        even = max((x for x in report["batch"] if x["linkage"] == linkage and x["guard"] == use_guard),
                   key=lambda x: x["F1_even"])
        lines.append(
            f"  {linkage:<9} guard={use_guard:<3} thr {r['threshold']:.3f}: "
            f"F1 {r['F1']:.3f} ARI {r['ARI']:.3f}   best on odd topics {odd['threshold']:.3f} "
            f"(F1 even there {odd['F1_even']:.3f}), best on even {even['threshold']:.3f} "
            f"(F1 odd there {even['F1_odd']:.3f})"
        )
    lines.append("")

    # ---------------------------------------------------------------- online sweep
    lines.append("Online (assign_online, file order, no dates) on ECB+: B-cubed F1 / ARI")
    lines.append(f"{'similarity':<12}{'guard':<6}{'thr':>6}{'P':>7}{'R':>7}{'F1':>7}{'ARI':>7}")
    for mode in ("mean", "centroid"):
        for use_guard in ((False, True) if mode == "mean" else (False,)):
            for thr in THRESHOLDS:
                if abs(thr * 100 - round(thr * 100)) > 1e-9:
                    continue
                p = StoryParams(threshold=thr)
                pred = online_labels(emb, feats if use_guard else None, p, mode)
                P, R, F, A = score(gold, pred, ari_fn)
                report["online"].append(dict(similarity=mode, guard=bool(use_guard), threshold=thr,
                                             P=P, R=R, F1=F, ARI=A))
                lines.append(f"{mode:<12}{'yes' if use_guard else 'no':<6}{thr:>6.2f}{P:>7.3f}{R:>7.3f}{F:>7.3f}{A:>7.3f}")
    lines.append("")

    # ---------------------------------------------------------------- guard_min_score
    chosen = StoryParams()
    lines.append(f"guard_min_score sweep at threshold {chosen.threshold} ({chosen.linkage}): "
                 "ECB+ batch B-cubed P/R/F1 vs ANS pairs flagged")
    lines.append(f"{'gms':>6}{'P':>7}{'R':>7}{'F1':>7}{'ARI':>7}   ANS agree flagged / disagree flagged (cos >= max(thr, gms))")
    for gms in (None, -1.0, 0.90, 0.91, 0.92, 0.93, 0.94, 0.96):
        p = StoryParams(threshold=chosen.threshold, linkage=chosen.linkage,
                        guard_min_score=chosen.guard_min_score if gms is None else gms)
        lab = cluster_batch(emb, None, None if gms is None else feats, p)
        P, R, F, A = score(gold, [int(x) for x in lab], ari_fn)
        a, af, d, df = ans_counts(max(p.threshold, p.guard_min_score))
        name = "off" if gms is None else f"{gms:.2f}"
        ans_txt = "-" if gms is None else f"{af}/{a} agree, {df}/{d} disagree"
        lines.append(f"{name:>6}{P:>7.3f}{R:>7.3f}{F:>7.3f}{A:>7.3f}   {ans_txt}")
        report["guard"][f"gms={name}"] = dict(P=P, R=R, F1=F, ARI=A)
    lines.append("")

    # ---------------------------------------------------------------- seed page
    lines.append("Seed page (batch, guard on): troops together / naval together / page apart")
    for linkage in LINKAGES:
        ok_range = []
        for thr in THRESHOLDS + [round(x, 3) for x in np.arange(0.881, 0.91, 0.001)]:
            lab = cluster_batch(seed_emb, None, seed_feats, StoryParams(threshold=thr, linkage=linkage))
            troops = {int(lab[i]) for i in SEED_TROOPS}
            naval = {int(lab[i]) for i in SEED_NAVAL}
            ok = len(troops) == 1 and len(naval) == 1 and troops != naval and int(lab[10]) not in troops | naval
            report["seed"].append(dict(linkage=linkage, threshold=thr, ok=ok, labels=[int(x) for x in lab]))
            if ok:
                ok_range.append(thr)
        rng = f"{min(ok_range):.3f} .. {max(ok_range):.3f}" if ok_range else "none"
        lines.append(f"  {linkage:<9} thresholds passing: {rng}")

    text = "\n".join(lines)
    print(text)
    (args.out / "tune_stories.txt").write_text(text + "\n", encoding="utf-8")
    (args.out / "tune_stories.json").write_text(json.dumps(report, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
