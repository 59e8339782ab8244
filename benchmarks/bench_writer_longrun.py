"""A writer held open for many one-article calls: latency percentiles with the reader
snapshot's publishes inside them, for ``run.snapshot_share`` values side by side.

Each run copies a stored state (a DuckDB file built by ``bench_ingest_one.py``, e.g. its
``x23.duckdb`` of ~1M articles kept with ``--states``) to a scratch file, links the state as
the copy's up-to-date reader snapshot, opens one :class:`clustering.NewsClusterer` on it
(stories off) and times N calls of ``ingest([record])``: real EgyNews records of the 14 days
(bodies over 400 characters) without their first sentence, under new ids (near-duplicates of
stored articles, as in ``bench_ingest_one.py``). Reported per share: calls, wall seconds, the
publishes that fell inside calls and their seconds, median / p99 / p99.9 / max ms, peak RSS.

    python benchmarks/bench_writer_longrun.py /tmp/states/x23.duckdb --calls 3000 --shares 0 0.05
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, md_table, table

_RUN = r"""
import json, os, shutil, sys, time
sys.path.insert(0, sys.argv[5])
from pathlib import Path
from common import egynews_days
from clustering import Config, NewsClusterer
from clustering.store.base import snapshot_path
state, db, n, share = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
shutil.copy2(state, db)
os.link(state, snapshot_path(db))  # the state's own bytes: an up-to-date snapshot of the copy
rows = [r for r in egynews_days(14) if len(r.get("body") or "") > 400]
ones = [dict(r, id=f"bench-long-{k}", body=r["body"].split(".", 1)[-1])
        for k, r in enumerate(rows[k * 997 % len(rows)] for k in range(n))]
nc = NewsClusterer(db, Config().replace(stories={"mode": "none"}, run={"snapshot_share": share}))
ms, pubs, snap = [], [], snapshot_path(db)
t_all = time.perf_counter()
for r in ones:
    before = snap.stat().st_mtime_ns
    t0 = time.perf_counter()
    nc.ingest([r], overview=False)
    dt = time.perf_counter() - t0
    ms.append(1000 * dt)
    if snap.stat().st_mtime_ns != before:
        pubs.append(round(dt, 1))
wall = time.perf_counter() - t_all
hwm = next(int(l.split()[1]) / 1024 for l in open("/proc/self/status") if l.startswith("VmHWM"))
ms.sort()
q = lambda p: ms[min(len(ms) - 1, int(p * (len(ms) - 1)))]
print(json.dumps({"calls": n, "wall_s": round(wall, 1), "publishes": pubs,
                  "median": round(q(0.5), 1), "p99": round(q(0.99), 1), "p999": round(q(0.999), 1),
                  "max": round(ms[-1], 1), "interval_s": round(nc.store.publish_interval, 1),
                  "peak_mib": round(hwm)}))
os._exit(0)  # the close would publish (another copy of the file): not part of the figures
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("state", type=Path, help="a stored state (DuckDB file) to copy for each run")
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--shares", type=float, nargs="+", default=[0.0, 0.05])
    args = ap.parse_args(argv)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    rows = []
    for share in args.shares:
        with tempfile.TemporaryDirectory(dir=args.state.parent) as tmp:
            out = subprocess.run([sys.executable, "-c", _RUN, str(args.state), str(Path(tmp) / "w.duckdb"),
                                  str(args.calls), str(share), str(Path(__file__).resolve().parent)],
                                 env=env, capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append([share, r["calls"], r["wall_s"], (f"{len(r['publishes'])} ({', '.join(map(str, r['publishes']))} s)" if r["publishes"] else "0"),
                     r["median"], r["p99"], r["p999"], r["max"], r["interval_s"], r["peak_mib"]])
        print(rows[-1], flush=True)
    print(md_table(table("A writer held open: one-article calls", ["snapshot_share", "calls", "wall s", "publishes inside calls", "median ms", "p99 ms",
                 "p99.9 ms", "max ms", "interval after s", "peak RSS MiB"], rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
