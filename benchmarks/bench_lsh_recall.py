"""LSH recall: the engine's near-duplicate edges and groups against brute-force exact Jaccard.

For each EgyNews slice (articles of the first N days, in time order):

1. The engine: :meth:`clustering.NewsClusterer.ingest` into ``":memory:"`` with stories off. Its
   verified edges are captured by wrapping ``clustering.pipeline.find_edges`` (the run itself is
   unchanged); its groups are read back from ``dup_members``.
2. The reference: the same articles read by the same reader, fingerprinted by
   :func:`clustering.dedup.engine.fingerprint_batch`; one document per distinct normalised text
   (exact repeats are linked by hash, as the engine does); every pair of the same shingle kind
   with exact Jaccard >= the kind's threshold (:func:`clustering.dedup.exact.all_pairs_jaccard`);
   union-find over repeats + pairs gives the reference groups.

Measured: pair recall / precision of the engine's same-kind Jaccard edges against the reference
pairs (recall also per Jaccard band), group agreement (B-cubed, pairwise F1, ARI, with the
reference as gold), the number of reference pairs at thresholds 0.3..0.9 (the Jaccard
distribution behind the default), and the share of articles that need no embedding because
they are not the representative of their group.
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from pathlib import Path

from common import Timer, egynews_days, main_for, peak_rss_mb, pyplot, save_fig, section, table, write_jsonl

SWEEP = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def _engine(path: Path, params):
    """Run the pipeline; return (summary, captured edges, {article id: group id}, seconds)."""
    import clustering.pipeline as P
    from clustering import Config, NewsClusterer

    captured = []
    orig = P.find_edges

    def spy(*args, **kwargs):
        rep = orig(*args, **kwargs)
        captured.extend(rep.edges)
        return rep

    P.find_edges = spy
    try:
        config = Config(dedup=params).replace(stories={"mode": "none"})
        with NewsClusterer(":memory:", config) as nc:
            with Timer() as t:
                summary = nc.ingest([path])
            groups = nc.store.cluster_assignments()[0]
    finally:
        P.find_edges = orig
    return summary, captured, groups, t.s


def _reference(path: Path, params):
    """Brute-force reference: (articles, fingerprints, unique index list, pairs at min SWEEP)."""
    from clustering.dedup.engine import fingerprint_batch
    from clustering.dedup.exact import all_pairs_jaccard
    from clustering.io.readers import read_articles

    arts = read_articles([path]).articles
    fp = fingerprint_batch(arts, params, with_signatures=False)
    first: dict[str, int] = {}
    for i, h in enumerate(fp.content_hash):
        first.setdefault(h, i)
    uniq = [i for i in first.values() if len(fp.shingles[i])]
    with Timer() as t:
        pairs = all_pairs_jaccard([fp.shingles[i] for i in uniq], min(SWEEP),
                                  kinds=[fp.kinds[i] for i in uniq])
    pairs = [(uniq[a], uniq[b], s) for a, b, s in pairs]
    return arts, fp, first, pairs, t.s


def _union_groups(ids: list[str], links) -> dict[str, str]:
    from clustering.dedup.engine import UnionFind

    uf = UnionFind()
    for i in ids:
        uf.find(i)
    for a, b in links:
        uf.union(a, b)
    return {i: uf.find(i) for i in ids}


def evaluate_slice(n_days: int, params, workdir: Path) -> dict:
    """All figures for one slice of ``n_days`` days."""
    from clustering.evaluate import metrics

    rows = egynews_days(n_days)
    path = write_jsonl(rows, workdir / f"egynews_{n_days}d.jsonl")
    summary, edges, eng_groups, eng_s = _engine(path, params)
    arts, fp, first, pairs, brute_s = _reference(path, params)
    ids = [a.id for a in arts]
    kind_of = dict(zip(ids, fp.kinds))

    ref = {frozenset((ids[i], ids[j])): s for i, j, s in pairs
           if s >= params.threshold_for(fp.kinds[i])}
    lsh = {}
    cross = Counter()
    for e in edges:
        if e.rule == "exact":
            continue
        if kind_of[e.new_id] != kind_of[e.other_id] or e.rule == "headline":
            cross[e.rule] += 1  # headline / title links: no same-kind reference pair exists
            continue
        lsh[frozenset((e.new_id, e.other_id))] = e.similarity
    hit = set(lsh) & set(ref)
    recall = len(hit) / len(ref) if ref else 1.0
    precision = len(hit) / len(lsh) if lsh else 1.0

    # recall per Jaccard band
    bands = [(0.5, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 1.01)]
    band_rec = {}
    for lo, hi in bands:
        inb = [p for p, s in ref.items() if lo <= s < hi]
        band_rec[f"{lo:.1f}-{min(hi, 1.0):.1f}"] = (len(inb), (sum(p in lsh for p in inb) / len(inb))
                                                    if inb else None)

    # groups: reference = exact repeats + reference pairs
    h2id = {h: ids[i] for h, i in first.items()}
    links = [(ids[i], h2id[fp.content_hash[i]]) for i in range(len(ids))]
    links += [tuple(p) for p in ref]
    gold = _union_groups(ids, links)
    cs = metrics.cluster_scores(gold, eng_groups)
    n_groups_eng = len(set(eng_groups.values()))
    sizes_gold = Counter(gold.values())
    sizes_eng = Counter(eng_groups.values())

    sweep = {}
    for t in SWEEP:
        sweep[t] = {k: sum(1 for i, j, s in pairs if s >= t and fp.kinds[i] == k) for k in ("word", "char")}
    return {
        "days": n_days, "articles": len(ids), "distinct_texts": len(first),
        "char_kind": sum(k == "char" for k in fp.kinds),
        "engine_s": eng_s, "engine_art_per_s": len(ids) / eng_s, "brute_s": brute_s,
        "exact_repeats": summary.exact_repeats, "lsh_candidates": summary.lsh_candidates,
        "lsh_rejected": summary.lsh_rejected,
        "ref_pairs": len(ref), "lsh_pairs": len(lsh), "hit": len(hit),
        "pair_recall": recall, "pair_precision": precision, "cross_kind_edges": dict(cross),
        "band_recall": band_rec,
        "bcubed": cs.bcubed, "pairwise": cs.pairwise, "ari": cs.ari,
        "groups_2plus_ref": sum(1 for v in sizes_gold.values() if v > 1),
        "groups_2plus_engine": sum(1 for v in sizes_eng.values() if v > 1),
        "embedding_saved_share": 1 - n_groups_eng / len(ids),
        "sweep": sweep, "peak_rss_mb": peak_rss_mb(),
    }


def run(quick: bool, plots_dir: Path | None = None) -> dict:
    """LSH pair recall/precision and group agreement vs brute-force exact Jaccard on EgyNews
    slices, plus the Jaccard distribution sweep and the embedding savings of dedup."""
    from clustering.dedup.engine import DedupParams
    from clustering.dedup.lsh import bands_rows, candidate_probability

    params = DedupParams()
    res = section("LSH recall against brute-force exact Jaccard (EgyNews)")
    slices = [1] if quick else [3, 14]
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for d in slices:
            out.append(evaluate_slice(d, params, Path(tmp)))

    res["tables"].append(table(
        f"Engine edges vs brute force (word threshold {params.threshold}, char threshold "
        f"{params.char_threshold}, {params.num_perm} permutations)",
        ["days", "articles", "distinct texts", "reference pairs", "engine pairs", "pair recall",
         "pair precision", "headline/title links (not comparable)", "LSH candidates", "rejected by verification",
         "engine s", "brute force s"],
        [[r["days"], r["articles"], r["distinct_texts"], r["ref_pairs"], r["lsh_pairs"],
          r["pair_recall"], r["pair_precision"], sum(r["cross_kind_edges"].values()),
          r["lsh_candidates"], r["lsh_rejected"], r["engine_s"], r["brute_s"]] for r in out]))
    band_keys = list(out[0]["band_recall"])
    res["tables"].append(table(
        "Pair recall by exact Jaccard band (reference pairs in band: recall)",
        ["days"] + band_keys,
        [[r["days"]] + [f"{n:,}: {fmt_rec(v)}" for n, v in r["band_recall"].values()] for r in out]))
    res["tables"].append(table(
        "Group agreement (reference groups = gold; every article scored)",
        ["days", "B-cubed P", "B-cubed R", "B-cubed F1", "pairwise F1", "ARI",
         "groups of 2+ (reference)", "groups of 2+ (engine)", "share needing no embedding"],
        [[r["days"], r["bcubed"].precision, r["bcubed"].recall, r["bcubed"].f1, r["pairwise"].f1,
          r["ari"], r["groups_2plus_ref"], r["groups_2plus_engine"], r["embedding_saved_share"]]
         for r in out]))
    big = out[-1]
    res["tables"].append(table(
        f"Jaccard distribution: reference pairs of distinct texts at or above each threshold "
        f"({big['days']} days, {big['articles']:,} articles)",
        ["threshold", "word-shingled pairs", "char-shingled pairs",
         "P(LSH candidate) at this Jaccard, word index", "P(LSH candidate), char index"],
        [[t, v["word"], v["char"],
          float(candidate_probability(t, *bands_rows(params.threshold, params.num_perm))),
          float(candidate_probability(t, *bands_rows(params.char_threshold, params.num_perm)))]
         for t, v in big["sweep"].items()]))
    for r in out:
        k = f"{r['days']}d"
        res["summary"][f"{k}: pair recall"] = r["pair_recall"]
        res["summary"][f"{k}: pair precision"] = r["pair_precision"]
        res["summary"][f"{k}: B-cubed F1 / ARI"] = f"{r['bcubed'].f1:.4f} / {r['ari']:.4f}"
        res["summary"][f"{k}: share of articles needing no embedding"] = r["embedding_saved_share"]
    wb, wr = bands_rows(params.threshold, params.num_perm)
    cb, cr = bands_rows(params.char_threshold, params.num_perm)
    res["notes"].append(
        f"LSH bands x rows: word {wb} x {wr}, char {cb} x {cr}. Engine pairs are verified by exact "
        "Jaccard, so precision below 1 would mean a verification bug. 'headline/title links' are "
        "edges between a headline-only item and a full article's title (different shingle kinds): "
        "the engine's headline rule, outside the same-kind reference. 'share needing no embedding' = "
        "1 - groups / articles (every group, singletons included, is embedded once through its "
        "representative).")
    if not quick:
        res["notes"].append("Slices: first 3 days and all 14 days (both measured in this run).")
    res["summary"]["process peak RSS after this section (MiB)"] = max(r["peak_rss_mb"] for r in out)

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ts = list(big["sweep"])
    ax.plot(ts, [big["sweep"][t]["word"] for t in ts], "o-", label="word-shingled (bodies)")
    ax.plot(ts, [big["sweep"][t]["char"] for t in ts], "s-", label="char-shingled (short texts)")
    ax.axvline(params.threshold, ls="--", c="gray", lw=1)
    ax.set_xlabel("Jaccard threshold")
    ax.set_ylabel("pairs of distinct texts >= threshold")
    ax.set_yscale("log")
    ax.set_title(f"EgyNews {big['days']} days: exact-Jaccard pairs")
    ax.legend()
    p = save_fig(fig, plots_dir, "jaccard_sweep_egynews.png")
    if p:
        res["plots"].append(p)
    return res


def fmt_rec(v) -> str:
    """Recall as a 3-decimal string, '–' when undefined."""
    return "–" if v is None else f"{v:.3f}"


if __name__ == "__main__":
    sys.exit(main_for(run))
