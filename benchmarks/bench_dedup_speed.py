"""Dedup speed side by side: the engine (per stage), the rensa peer script and the brute-force
exact-Jaccard reference on the same EgyNews input, in one run; and the cost of adding one article
to a stored archive as it grows.

1. Engine: ``NewsClusterer.ingest`` (stories off) into a fresh DuckDB file, in a subprocess;
   stage seconds from ``RunSummary.timings``.
2. Peer: ``shared/tools/peer_dedup_rensa.py`` (the 40-line rensa pipeline) on the same file, in a
   subprocess.
3. Reference: :func:`clustering.dedup.exact.all_pairs_jaccard` over the engine's shingle sets
   (inverted index, every pair at or above the thresholds).
4. Incremental: one new article at a time ingested into the store of (1) and into a smaller
   store, each its own run (transaction), in a process that already holds the store open (as the
   feed service does); median of a few, after one warm-up.

Ratios are what count: all three run on the same machine in the same minutes.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, egynews_days, main_for, section, table, write_jsonl

PEER = ROOT.parent / "shared" / "tools" / "peer_dedup_rensa.py"

_ONE_BY_ONE = """
import json, sys, time
from clustering import Config, NewsClusterer
rows = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
secs = []
with NewsClusterer(sys.argv[2], Config().replace(stories={"mode": "none"})) as nc:
    for r in rows:
        t0 = time.perf_counter()
        nc.ingest([r], overview=False)
        secs.append(time.perf_counter() - t0)
print(json.dumps({"seconds": secs}))
"""

_ENGINE = """
import json, sys, time
t0 = time.perf_counter()
from clustering import Config, NewsClusterer
with NewsClusterer(sys.argv[2], Config().replace(stories={"mode": "none"})) as nc:
    s = nc.ingest([sys.argv[1]])
    t1 = time.perf_counter()
print(json.dumps({"seconds": s.seconds, "timings": s.timings, "new": s.new_articles,
                  "groups": s.groups, "exact": s.exact_repeats, "near": s.near_duplicates,
                  "close_s": time.perf_counter() - t1, "all_s": time.perf_counter() - t0}))
"""


def _py(code: str, *args: str) -> tuple[dict, float]:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         check=True, env={"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                                          "PATH": "/usr/bin:/bin"})
    return json.loads(out.stdout.strip().splitlines()[-1]), time.perf_counter() - t0


def _reference(path: Path) -> float:
    from clustering.config import DedupParams
    from clustering.dedup.engine import fingerprint_batch
    from clustering.dedup.exact import all_pairs_jaccard
    from clustering.io.readers import read_articles

    arts = read_articles([path]).articles
    t0 = time.perf_counter()
    p = DedupParams()
    fp = fingerprint_batch(arts, p, with_signatures=False)
    for kind in ("word", "char"):
        idx = [i for i, k in enumerate(fp.kinds) if k == kind]
        all_pairs_jaccard([fp.shingles[i] for i in idx], p.threshold_for(kind))
    return time.perf_counter() - t0


def run(quick: bool = False, plots_dir: Path | None = None) -> dict:
    """Dedup seconds per stage beside the rensa peer script and the brute-force reference."""
    res = section("Dedup speed: engine vs rensa peer script vs brute force (same input, same run)")
    n_days = 1 if quick else 14
    rows_in = egynews_days(n_days)
    with tempfile.TemporaryDirectory() as tmp:
        src = write_jsonl(rows_in, Path(tmp) / "egynews.jsonl")
        gz = Path(tmp) / "egynews.jsonl.gz"
        subprocess.run(["gzip", "-k", str(src)], check=True)
        eng, eng_wall = _py(_ENGINE, str(src), str(Path(tmp) / "big.duckdb"))
        peer = None
        if PEER.exists():
            out = subprocess.run([sys.executable, str(PEER), str(gz)], capture_output=True, text=True,
                                 check=True)
            peer = json.loads(out.stdout.strip().splitlines()[-1])
        ref_s = _reference(src)
        rows = [["engine (NewsClusterer.ingest, stories off)", eng["new"], eng["seconds"],
                 eng["new"] / eng["seconds"], eng["groups"]]]
        if peer:
            rows.append(["rensa peer script (shared/tools)", peer["docs"], peer["s_total"],
                         peer["docs"] / peer["s_total"], peer["groups_2plus"]])
        rows.append(["brute-force exact Jaccard (fingerprint + all pairs)", eng["new"], ref_s,
                     eng["new"] / ref_s, ""])
        res["tables"].append(table(f"EgyNews, {n_days} day(s): seconds and articles/s",
                                   ["pipeline", "articles", "seconds", "articles/s", "groups of 2+"], rows))
        res["tables"].append(table("Engine stages (seconds, RunSummary.timings)", ["stage", "seconds"],
                                   [[k, v] for k, v in eng["timings"].items()]
                                   + [["close (CHECKPOINT, reader snapshot), outside ingest", eng["close_s"]],
                                      ["whole engine process from import to exit", eng["all_s"]]]))
        if peer:
            res["summary"]["engine seconds / peer seconds (target <= 0.5)"] = eng["seconds"] / peer["s_total"]
        res["summary"]["engine seconds / brute-force seconds"] = eng["seconds"] / ref_s

        # one more article at a time into the stored archive, in a warm process
        one_rows = []
        small = Path(tmp) / "small.duckdb"
        _py(_ENGINE, str(write_jsonl(rows_in[:2000], Path(tmp) / "first.jsonl")), str(small))
        n_one = 3 if quick else 8
        for name, db, n in (("2,000 stored", small, 2000),
                            (f"{eng['new']:,} stored", Path(tmp) / "big.duckdb", eng["new"])):
            ones = [dict(rows_in[k * 7 + 3], id=f"bench-new-{name[:3]}-{k}") for k in range(n_one)]
            out, _ = _py(_ONE_BY_ONE, str(write_jsonl(ones, Path(tmp) / "ones.jsonl")), str(db))
            one_rows.append([name, n, 1000 * statistics.median(out["seconds"][1:])])
        res["tables"].append(table("Adding one article per run in a warm process (median after a warm-up)",
                                   ["store", "articles", "ms per article"], one_rows))
        res["summary"]["ms to add one article, small vs large store"] = (
            f"{one_rows[0][2]:.0f} / {one_rows[1][2]:.0f}")
    res["notes"].append("Engine and peer run as subprocesses one after the other; the engine's figure "
                        "includes writing everything to DuckDB in one transaction, the peer keeps nothing.")
    return res


if __name__ == "__main__":
    main_for(run)
