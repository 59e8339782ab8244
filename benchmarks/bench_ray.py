"""Ray Data engine benchmark: throughput with 1 and 2 Ray workers (local cluster CPUs), driver
memory as the input grows, and partition equality with the local engine on the 14 EgyNews days.

Inputs of N articles repeat the EgyNews archive (44,149 records) with new ids (``id#k``), so
larger inputs hold more exact repeats but the same kind of text. Each measurement runs in a fresh
process (its own Ray cluster, its own peak RSS); stories are off (dedup pipeline only).

    python benchmarks/bench_ray.py --sizes 10000 40000 --cpus 1 2 --equality
    python benchmarks/bench_ray.py --one 10000 2        # one measurement, prints JSON
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(ROOT))
EGYNEWS = ROOT.parent / "shared" / "data" / "egynews2013" / "egynews2013_2013-02-01_to_02-14.jsonl.gz"
OUT = BENCH_DIR / "out" / "ray"


def make_input(n: int) -> Path:
    """A JSONL file of ``n`` records: the archive repeated, ids suffixed ``#k`` from the 2nd copy."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"egynews_x{n}.jsonl"
    if path.exists():
        return path
    with gzip.open(EGYNEWS, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    with open(path, "w", encoding="utf-8") as out:
        for i in range(n):
            r = dict(rows[i % len(rows)])
            k = i // len(rows)
            if k:
                r["id"] = f"{r['id']}#{k}"
            out.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


def one(n: int, cpus: int, engine: str) -> dict:
    """One run into a fresh in-memory store; wall seconds and the driver's peak RSS."""
    import ray

    from clustering import Config, NewsClusterer
    from clustering.distributed import RayOptions, ingest_ray

    path = make_input(n) if n else EGYNEWS
    cfg = Config().replace(stories={"mode": "none"})
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with NewsClusterer(":memory:", cfg) as nc:
        if engine == "ray":
            ray.init(num_cpus=cpus, object_store_memory=1 << 30, include_dashboard=False, log_to_driver=False)
            t0 = time.perf_counter()
            s = ingest_ray(nc, [path], options=RayOptions(num_cpus=cpus))
        else:
            t0 = time.perf_counter()
            s = nc.ingest([path])
        secs = time.perf_counter() - t0
        rows = nc.store.con.execute("SELECT article_id, group_id FROM dup_members").fetchall()
        stories_in = {}
        if engine == "ray":
            ray.shutdown()
    part_file = OUT / f"partition_{engine}_{n}_{cpus}.json"
    part_file.write_text(json.dumps(rows))
    return {"engine": engine, "n": s.new_articles, "cpus": cpus, "seconds": round(secs, 1),
            "articles_per_s": round(s.new_articles / secs, 1), "ms_per_article": round(1000 * secs / s.new_articles, 2),
            "driver_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "driver_rss_before_mb": round(rss0, 1), "groups": s.groups, "exact": s.exact_repeats,
            "near": s.near_duplicates, "candidates": s.lsh_candidates, "partition": str(part_file), **stories_in}


def _spawn(n: int, cpus: int, engine: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    out = subprocess.run([sys.executable, __file__, "--one", str(n), str(cpus), "--engine", engine],
                         capture_output=True, text=True, env=env)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _partition(path: str) -> set[frozenset]:
    groups: dict[str, set] = {}
    for a, g in json.loads(Path(path).read_text()):
        groups.setdefault(g, set()).add(a)
    return {frozenset(s) for s in groups.values()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 40_000, 160_000])
    ap.add_argument("--cpus", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--equality", action="store_true", help="14 EgyNews days: Ray vs local partition")
    ap.add_argument("--one", type=int, nargs=2, metavar=("N", "CPUS"))
    ap.add_argument("--engine", default="ray")
    a = ap.parse_args()
    if a.one:
        print(json.dumps(one(a.one[0], a.one[1], a.engine)))
        return
    results = []
    if a.equality:
        loc, ray_ = _spawn(0, 2, "local"), _spawn(0, 2, "ray")
        results += [loc, ray_]
        eq = _partition(loc["partition"]) == _partition(ray_["partition"])
        print(f"14 days: local {loc['seconds']} s, ray {ray_['seconds']} s, "
              f"{loc['groups']} / {ray_['groups']} groups, partition equal: {eq}", flush=True)
        results.append({"equality_14_days": eq})
    for n in a.sizes:
        for c in a.cpus:
            r = _spawn(n, c, "ray")
            results.append(r)
            print(json.dumps(r), flush=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
