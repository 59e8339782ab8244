"""What the near-duplicate rules on body text change on the 14 EgyNews days.

Runs the engine's own stages (:func:`fingerprint_batch`, :func:`find_edges` with an in-memory
:class:`BandIndex`, :func:`assign_groups`) over all 14 days in time order, once with the body
rules off (no containment, no numbers rule: the rules before this change) and once with the
defaults, and reports edges by rule, pairs each rule kept apart, groups, the articles whose group
changed, samples of each rule's evidence, and the time of each pass. Then a containment recall
check: real EgyNews wire bodies reprinted with 2-4 paragraphs of other real articles appended.

    PYTHONPATH=. python benchmarks/bench_dedup_rules.py [--days 14] [--samples 8]
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import replace

from common import egynews_days

from clustering.config import DedupParams
from clustering.dedup.engine import assign_groups, find_edges, fingerprint_batch, prefetch_candidates
from clustering.dedup.lsh import BandIndex
from clustering.records import Article


def articles(rows: list[dict]) -> list[Article]:
    out, seen = [], set()
    for r in rows:
        if r["id"] in seen or not ((r.get("title") or "").strip() or (r.get("body") or "").strip()):
            continue
        seen.add(r["id"])
        out.append(Article(id=r["id"], title=r.get("title") or "", text=r.get("body") or "",
                           source=r.get("source")))
    return out


def run(arts: list[Article], params: DedupParams, batch: int = 2000):
    index = BandIndex({"word": params.threshold, "char": params.char_threshold}, params.num_perm)
    first: dict[str, str] = {}
    known: dict = {}
    edges, decisions, blocked = [], [], {}
    sets: dict[str, object] = {}
    t0 = time.perf_counter()
    for lo in range(0, len(arts), batch):
        b = arts[lo:lo + batch]
        fp = fingerprint_batch(b, params)
        prefetch_candidates(index, fp)
        rep = find_edges([a.id for a in b], fp, params, index, first, lambda want: {}, known,
                         keep_decisions=True)
        index.drain()
        for a, h in zip(b, fp.content_hash):
            first.setdefault(h, a.id)
        edges += rep.edges
        sets.update((a.id, x) for a, x, k in zip(b, fp.shingles, fp.kinds) if k == "word")
        decisions += rep.decisions
        for k, v in rep.blocked.items():
            blocked[k] = blocked.get(k, 0) + v
    secs = time.perf_counter() - t0
    seq = {a.id: i for i, a in enumerate(arts)}
    groups = {k: m.group_id for k, m in assign_groups([a.id for a in arts], edges, {}, seq).items()}
    run.sets = sets
    return edges, decisions, blocked, groups, secs


def chaining(groups: dict[str, str], sets: dict, low: float = 0.3) -> str:
    """Member pairs of multi-member groups (full articles only) by exact Jaccard: how much
    single-link chaining puts dissimilar articles together."""
    from clustering.dedup.shingles import jaccard

    inv: dict[str, list[str]] = {}
    for k, g in groups.items():
        if k in sets:
            inv.setdefault(g, []).append(k)
    pairs = below = lower = 0
    worst = 1.0
    for members in inv.values():
        for i in range(len(members)):
            for j in range(i + 1, len(members)):
                jac = jaccard(sets[members[i]], sets[members[j]])
                pairs += 1
                below += jac < 0.5
                lower += jac < low
                worst = min(worst, jac)
    return (f"{pairs} member pairs of full articles; Jaccard < 0.5: {below} ({below / max(pairs, 1):.1%}), "
            f"< {low}: {lower} ({lower / max(pairs, 1):.1%}); lowest {worst:.3f}")


def summary(groups: dict[str, str]) -> tuple[int, int, int]:
    sizes: dict[str, int] = {}
    for g in groups.values():
        sizes[g] = sizes.get(g, 0) + 1
    multi = [s for s in sizes.values() if s > 1]
    return len(multi), sum(multi), max(multi, default=0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--chaining", action="store_true", help="only the chaining statistics")
    args = ap.parse_args()
    arts = articles(egynews_days(args.days))
    by_id = {a.id: a for a in arts}
    on = DedupParams()
    off = replace(on, body_numbers=False, containment_min_shingles=10**9, boilerplate_min_articles=0,
                  min_headline_tokens=1, generic_title_bodies=10**9)
    print(f"{len(arts)} articles, {args.days} days")
    if args.chaining:
        for name, p in (("before (rules off)", off), ("after (defaults)", on)):
            groups = run(arts, p)[3]
            print(f"chaining {name}: {chaining(groups, run.sets)}", flush=True)
        return
    res = {}
    for name, p in (("before (rules off)", off), ("after (defaults)", on)):
        edges, decs, blocked, groups, secs = run(arts, p)
        rules: dict[str, int] = {}
        for e in edges:
            rules[e.rule] = rules.get(e.rule, 0) + 1
        n, members, big = summary(groups)
        res[name] = (edges, decs, groups)
        print(f"| {name} | {len(edges)} | {rules} | {blocked} | {n} | {members} | {big} | {secs:.1f} s |")
    g0, g1 = res["before (rules off)"][2], res["after (defaults)"][2]
    # articles whose co-members changed
    def comembers(g):
        inv: dict[str, set] = {}
        for k, v in g.items():
            inv.setdefault(v, set()).add(k)
        return {k: frozenset(inv[v]) for k, v in g.items()}
    c0, c1 = comembers(g0), comembers(g1)
    changed = [k for k in c0 if c0[k] != c1[k]]
    print(f"articles whose group changed: {len(changed)}")
    rng = random.Random(0)
    decs = res["after (defaults)"][1]
    for rule in ("numbers", "containment"):
        pick = [d for d in decs if (d[2].blocked_by == rule if rule == "numbers" else d[2].rule == rule)]
        print(f"\n## {rule}: {len(pick)} decisions; samples")
        for a, b, d in rng.sample(pick, min(args.samples, len(pick))):
            b = b.removeprefix("title:")
            print(f"- {a[:8]} {by_id[a].source} / {b[:8]} {by_id[b].source}: {d.reason}")
            print(f"    A: {by_id[a].title[:90]}\n    B: {by_id[b].title[:90]}")
    # containment recall on constructed reprints
    rng = random.Random(1)
    bodies = [a for a in arts if len(a.text.split()) >= 120]
    wires = rng.sample(bodies, 200)
    fillers = [a for a in bodies if a not in wires]
    test = []
    for w in wires:
        paras = " ".join(rng.choice(fillers).text for _ in range(rng.randint(1, 2)))
        test.append(w)
        test.append(Article(id="re-" + w.id, title=w.title, text=w.text + "\n\n" + paras, source="reprint"))
    for name, p in (("before (rules off)", off), ("after (defaults)", on)):
        _, _, _, groups, secs = run(test, p)
        found = sum(groups["re-" + w.id] == groups[w.id] for w in wires)
        print(f"containment recall {name}: {found}/{len(wires)} reprints joined their wire ({secs:.1f} s)")


if __name__ == "__main__":
    main()
