"""Online story assignment latency: time per article of ``assign_online`` against a large state.

Vectors: real multilingual-e5-small embeddings of EgyNews headlines (the first distinct
headlines in time order, cached in ``benchmarks/out/``), with their real timestamps and guard
features (:func:`clustering.stories.guard_features` of title and body).

1. The *real state*: the first headlines (full: 10,000; quick: 240) are assigned online in time
   order with default :class:`StoryParams` (all of them fall inside the 7-day active window).
2. Larger states (quick: ~1k and ~5k articles; full: ~100k) are the real state plus copies of
   its stories under independent random rotations of the embedding space (``Q @ sum`` with
   ``Q`` orthogonal, from the QR decomposition of a Gaussian matrix). A rotation keeps every
   cosine *within* a copy (same story sizes, mean-vector norms and similarity structure as the
   real stories), while a rotated copy is unrelated to the queries, as most stored stories are.
   So the scan cost grows with the state while the stories a query can join keep the real
   structure. Times and guard features are copied from the originals; every story is active
   (the worst case for the scan).
3. Queries are the next real headlines (full: 500; quick: 60), each passed to
   ``assign_online`` alone and timed (wall clock, milliseconds).

Each state runs in its own subprocess, which reports its peak RSS (VmHWM).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from common import ROOT, egynews_rows, embed_cached, main_for, peak_rss_mb, section, table


def _child(npz: str, n_pool: int, copies: int) -> None:
    """Subprocess body: real state of the first ``n_pool`` vectors plus ``copies`` rotated copies;
    time the remaining vectors as queries; print one JSON line."""
    from clustering.stories import ActiveStories, GuardFeatures, StoryParams, assign_online

    z = np.load(npz, allow_pickle=False)
    vec, times = z["vectors"].astype(np.float32), z["times"]
    feats = [GuardFeatures.from_dict(d) for d in json.loads(str(z["features"]))]
    params = StoryParams()
    counter = iter(range(10**9))
    new_id = lambda: f"s{next(counter)}"  # noqa: E731

    real = ActiveStories(vec.shape[1])
    t0 = time.perf_counter()
    assign_online(real, vec[:n_pool], times[:n_pool], feats[:n_pool], params, new_id)
    build_s = time.perf_counter() - t0
    arr = real.to_arrays()
    k = len(arr["ids"])
    parts = [arr["sums"]]
    rng = np.random.default_rng(0)
    for _ in range(copies):
        q, _r = np.linalg.qr(rng.standard_normal((vec.shape[1], vec.shape[1])))
        parts.append((arr["sums"] @ q.T).astype(np.float32))
    reps = copies + 1
    active = ActiveStories.from_arrays(
        [f"c{c}-{i}" for c in range(reps) for i in arr["ids"]], np.concatenate(parts),
        np.tile(arr["sizes"], reps), np.tile(arr["first_seen"], reps), np.tile(arr["last_seen"], reps),
        arr["features"] * reps)
    n_stories = len(active)
    state_mb = sum(a.nbytes for a in (active._sums, active._sizes, active._first, active._last)) / 2**20
    lat, joined, above = [], 0, 0
    for j in range(n_pool, len(vec)):
        _, sims, _ = active.candidates(vec[j], float(times[j]), params)
        above += int(np.sum(sims >= params.threshold))
        t0 = time.perf_counter()
        a = assign_online(active, vec[j:j + 1], times[j:j + 1], [feats[j]], params, new_id)
        lat.append(time.perf_counter() - t0)
        joined += not a[0].created
    lat_ms = np.array(lat) * 1000
    print(json.dumps({
        "state": "real" if copies == 0 else f"real + {copies} rotated copies",
        "n_state_articles": int(n_pool * reps), "stories": n_stories, "queries": len(lat),
        "median_ms": float(np.median(lat_ms)), "p99_ms": float(np.percentile(lat_ms, 99)),
        "mean_ms": float(lat_ms.mean()), "join_rate": joined / len(lat),
        "candidates_above_threshold": above / len(lat), "state_mb": state_mb,
        "real_build_ms_per_article": 1000 * build_s / n_pool, "real_stories": k,
        "peak_rss_mb": peak_rss_mb()}))


def _real_headlines(m: int) -> tuple[list[str], np.ndarray, list[str]]:
    """The first ``m`` distinct EgyNews headlines in time order: (titles, epoch times, bodies)."""
    seen, titles, times, bodies = set(), [], [], []
    for r in egynews_rows():
        t = (r.get("title") or "").strip()
        if not t or t in seen:
            continue
        seen.add(t)
        titles.append(t)
        bodies.append(r.get("body") or "")
        ts = datetime.strptime(r["timestamp"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
        times.append(ts.timestamp())
        if len(titles) == m:
            break
    return titles, np.array(times), bodies


def run(quick: bool, plots_dir: Path | None = None) -> dict:
    """Median / p99 milliseconds per article of ``assign_online`` with ~1k/5k (quick) or
    10k/100k (full) stored articles (real E5 headline embeddings, larger states by rotated
    copies), and the peak RSS of each run."""
    from clustering.stories import guard_features

    res = section("Online story assignment latency")
    n_pool, n_query = (240, 60) if quick else (10_000, 500)
    targets = [1_000, 5_000] if quick else [10_000, 100_000]
    titles, times, bodies = _real_headlines(n_pool + n_query)
    vec = embed_cached("egynews-headlines", titles)
    feats = [guard_features(t, b).to_dict() for t, b in zip(titles, bodies)]
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "vectors.npz"
        np.savez(npz, vectors=vec, times=times, features=np.array(json.dumps(feats, ensure_ascii=False)))
        copies = sorted({0} | {max(0, round(n / n_pool) - 1) for n in targets})
        for c in copies:
            p = subprocess.run([sys.executable, __file__, "--child", str(npz), str(n_pool), str(c)],
                               capture_output=True, text=True, cwd=ROOT, timeout=1800)
            if p.returncode != 0:
                raise RuntimeError(f"online child (copies={c}) failed:\n{p.stderr[-3000:]}")
            out.append(json.loads(p.stdout.strip().splitlines()[-1]))
    res["tables"].append(table(
        f"assign_online, one article per call, default StoryParams, guard on; queries = the next "
        f"{n_query} real headlines in time order",
        ["state", "stored articles", "active stories", "median ms", "p99 ms", "mean ms",
         "join rate", "stories >= threshold per query", "state MiB", "peak RSS MiB (process)"],
        [[r["state"], r["n_state_articles"], r["stories"], r["median_ms"], r["p99_ms"], r["mean_ms"],
          r["join_rate"], r["candidates_above_threshold"], r["state_mb"], r["peak_rss_mb"]]
         for r in out]))
    res["notes"].append(
        f"Vectors: real E5 embeddings of {n_pool + n_query:,} EgyNews headlines ({n_pool:,} in the "
        f"state: {out[0]['real_stories']:,} real stories; building it online took "
        f"{out[0]['real_build_ms_per_article']:.2f} ms per article). Larger states add rotated "
        "copies of the real stories (see the module docstring): the scan cost is measured at "
        "full size, while the stories a query can join are the real ones.")
    for r in out:
        res["summary"][f"{r['n_state_articles']:,} stored articles: median / p99 ms"] = (
            f"{r['median_ms']:.3f} / {r['p99_ms']:.3f}")
    res["summary"]["peak RSS at the largest state (MiB)"] = out[-1]["peak_rss_mb"]
    return res


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(main_for(run))
