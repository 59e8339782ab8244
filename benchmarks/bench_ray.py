"""Ray Data engine benchmark: throughput with 1 and 2 Ray workers (local cluster CPUs), driver
memory as the input grows, and partition equality with the local engine on the 14 EgyNews days.

Inputs of N articles repeat the EgyNews archive (44,149 records) with new ids (``id#k``), so
larger inputs hold more exact repeats but the same kind of text. Each measurement runs in a fresh
process (its own Ray cluster, its own peak RSS); stories are off (dedup pipeline only).

    python benchmarks/bench_ray.py --sizes 10000 40000 --cpus 1 2 --equality
    python benchmarks/bench_ray.py --sizes 10000 40000 160000 --cpus 2 --store file  # driver RSS
    python benchmarks/bench_ray.py --sizes 40000 --cpus 2 --store file --bulk-memory-mb 128  # cap
    python benchmarks/bench_ray.py --sizes --stories-days 2013-02-06   # story agreement, stories on
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


def days_input(days: list[str]) -> Path:
    """A JSONL file of the archive's records published on ``days`` (YYYY-MM-DD), file order."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"egynews_days_{'_'.join(days)}.jsonl"
    if not path.exists():
        with gzip.open(EGYNEWS, "rt", encoding="utf-8") as f, open(path, "w", encoding="utf-8") as out:
            for line in f:
                if (json.loads(line).get("timestamp") or "")[:10] in days:
                    out.write(line)
    return path


def _rss_mb() -> float:
    """The process's resident memory now (MiB, /proc/self/status VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def _peak_mb(who: int = resource.RUSAGE_SELF) -> float:
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


class RssByStage:
    """A progress reporter that notes, when each stage starts, the driver's RSS, DuckDB's own
    memory (MiB; in the store's writer process while one runs) the seconds since the first
    stage and the writer process's RSS (MiB; None without one): where memory and time go as the
    input grows."""

    def __init__(self, store, writers: list):
        self.store = store
        self.writers = writers  # RemoteStore objects the run started (probe_store_steps)
        self.stages: list[tuple[str, float, float, float, float | None]] = []
        self.t0: float | None = None

    def stage(self, name: str, total: int | None = None) -> None:
        now = time.perf_counter()
        self.t0 = now if self.t0 is None else self.t0
        live = [w for w in self.writers if w._proc.returncode is None and not w._dead]
        if live:
            duck, writer = live[-1].duckdb_memory_mb(), live[-1].writer_memory()["rss_mb"]
        else:
            duck, writer = self.store.duckdb_memory_mb(), None
        self.stages.append((name, _rss_mb(), duck, round(now - self.t0, 1), writer))

    def advance(self, n: int = 1) -> None:
        pass


def probe_store_steps() -> tuple[list[tuple], list]:
    """Wrap the store's bulk load and publish (CHECKPOINT, snapshot copy) to note the driver's
    RSS and peak RSS (MiB) after each, and with the store's writer process
    (:mod:`clustering.store.writer`) that process's RSS and peak RSS too (rows ``step,
    driver_rss, driver_peak[, writer_rss, writer_peak]``). Returns (the list the notes go to,
    the list of writer processes started)."""
    from clustering.store.base import StoreBase
    from clustering.store.bulk import BulkExchange
    from clustering.store.writer import RemoteStore

    log: list[tuple] = []
    writers: list = []
    load, publish = BulkExchange.load_parquet, StoreBase.publish
    init, request = RemoteStore.__init__, RemoteStore._request

    def load_probe(self, name, paths):
        n = load(self, name, paths)
        log.append((f"loaded {name}", _rss_mb(), _peak_mb()))
        return n

    def publish_probe(self):
        log.append(("committed", _rss_mb(), _peak_mb()))
        publish(self)
        log.append(("published (checkpoint, snapshot copy)", _rss_mb(), _peak_mb()))

    def init_probe(self, *a, **k):
        self._open = []  # the blocks the driver is inside (memory_limited, transaction)
        init(self, *a, **k)
        writers.append(self)

    def request_probe(self, op, name=None, args=(), kwargs=None):
        closing = self._open.pop() if op == "exit" else None
        if op == "enter":
            self._open.append(name)
        out = request(self, op, name, args, kwargs)
        step = f"loaded {args[0]}" if (op, name) == ("call", "load_parquet") else \
            "committed and published (checkpoint, snapshot copy)" if closing == "transaction" else None
        if step:
            m = request(self, "memory")
            log.append((step, _rss_mb(), _peak_mb(), m["rss_mb"], m["peak_rss_mb"]))
        return out

    BulkExchange.load_parquet, StoreBase.publish = load_probe, publish_probe
    RemoteStore.__init__, RemoteStore._request = init_probe, request_probe
    return log, writers


def one(n: int, cpus: int, engine: str, store: str = "memory", days: list[str] | None = None,
        bulk_memory_mb: int | None = None, in_driver: bool = False) -> dict:
    """One run into a fresh store (``store`` "memory" or "file": a DuckDB file under OUT, so the
    driver does not hold the data); wall seconds and the driver's peak RSS. With ``days`` the
    input is those EgyNews days and stories are on (defaults: online, hybrid scorer).
    ``bulk_memory_mb`` overrides ``run.bulk_memory_mb`` (DuckDB's cap in a Ray run, MiB).
    A Ray run writes a file store through the store's writer process unless ``in_driver``
    (``RayOptions.writer_process``); that process's peak RSS is ``writer_peak_rss_mb``, its own
    VmHWM (``RUSAGE_CHILDREN`` would not do: a forked child keeps the driver's high-water mark
    across exec). Make the inputs first (``make_input``, here on first use): building one holds
    the archive in memory, which would be the driver's peak."""
    import ray

    from clustering import Config, NewsClusterer
    from clustering.distributed import RayOptions, ingest_ray

    path = days_input(days) if days else make_input(n) if n else EGYNEWS
    cfg = Config() if days else Config().replace(stories={"mode": "none"})
    if bulk_memory_mb is not None:
        cfg = cfg.replace(run={"bulk_memory_mb": bulk_memory_mb})
    db = ":memory:"
    if store == "file":
        db = OUT / f"store_{engine}_{n}_{cpus}{'_stories' if days else ''}.duckdb"
        for p in (db, Path(f"{db}.wal"), Path(f"{db}.snapshot")):
            p.unlink(missing_ok=True)
    store_steps, writers = probe_store_steps()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with NewsClusterer(db, cfg) as nc:
        if engine == "ray":
            ray.init(num_cpus=cpus, object_store_memory=1 << 30, include_dashboard=False, log_to_driver=False)
            t0 = time.perf_counter()
            prog = RssByStage(nc.store, writers)
            s = ingest_ray(nc, [path], options=RayOptions(num_cpus=cpus, writer_process=not in_driver),
                           progress=prog)
            prog.stage("end")
            stages = {"rss_by_stage_mb": prog.stages, "driver_peak_after_run_mb": _peak_mb(),
                      "writer_peak_rss_mb": writers[-1].stats.get("peak_rss_mb") if writers else None,
                      "writer_process": bool(writers)}
        else:
            t0 = time.perf_counter()
            s = nc.ingest([path])
            stages = {}
        secs = time.perf_counter() - t0
        rows = nc.store.con.execute("SELECT article_id, group_id FROM dup_members").fetchall()
        stories_in = {}
        if days:
            story_rows = nc.store.con.execute(
                "SELECT article_id, story_id FROM story_members WHERE valid_to IS NULL").fetchall()
            story_file = OUT / f"stories_{engine}_{'_'.join(days)}.json"
            story_file.write_text(json.dumps(story_rows))
            stories_in = {"stories": s.stories, "story_memberships": str(story_file)}
        if engine == "ray":
            ray.shutdown()
    part_file = OUT / f"partition_{engine}_{n}_{cpus}.json"
    part_file.write_text(json.dumps(rows))
    return {"engine": engine, "n": s.new_articles, "cpus": cpus, "store": store, "seconds": round(secs, 1),
            "articles_per_s": round(s.new_articles / secs, 1), "ms_per_article": round(1000 * secs / s.new_articles, 2),
            "driver_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "driver_rss_before_mb": round(rss0, 1), "groups": s.groups, "exact": s.exact_repeats,
            "near": s.near_duplicates, "candidates": s.lsh_candidates, "partition": str(part_file), **stories_in,
            "bulk_memory_mb": cfg.run.bulk_memory_mb, **stages, "store_steps_mb": store_steps}


def _spawn(n: int, cpus: int, engine: str, store: str = "memory", days: list[str] | None = None,
           bulk_memory_mb: int | None = None, in_driver: bool = False) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    cmd = [sys.executable, __file__, "--one", str(n), str(cpus), "--engine", engine, "--store", store]
    if bulk_memory_mb is not None:
        cmd += ["--bulk-memory-mb", str(bulk_memory_mb)]
    if in_driver:
        cmd += ["--in-driver"]
    out = subprocess.run(cmd + (["--stories-days", *days] if days else []), capture_output=True, text=True,
                         env=env)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def story_agreement(local_file: str, ray_file: str) -> dict:
    """B-cubed P/R/F1 of the Ray run's open story memberships against the local run's (local as
    "gold"), over the articles both hold."""
    from clustering.evaluate.metrics import bcubed

    loc, ray_ = dict(json.loads(Path(local_file).read_text())), dict(json.loads(Path(ray_file).read_text()))
    ids = sorted(set(loc) & set(ray_))
    m = bcubed([loc[i] for i in ids], [ray_[i] for i in ids])
    return {"articles": len(ids), "only_local": len(set(loc) - set(ray_)), "only_ray": len(set(ray_) - set(loc)),
            "bcubed_p": round(m.precision, 4), "bcubed_r": round(m.recall, 4), "bcubed_f1": round(m.f1, 4),
            "stories_local": len(set(loc.values())), "stories_ray": len(set(ray_.values()))}


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
    ap.add_argument("--store", choices=["memory", "file"], default="memory",
                    help="DuckDB in the driver's memory or a file (driver memory measurements)")
    ap.add_argument("--stories-days", nargs="*", default=[], metavar="YYYY-MM-DD",
                    help="stories on, over these EgyNews days: local vs Ray story agreement (B-cubed)")
    ap.add_argument("--bulk-memory-mb", type=int, default=None,
                    help="run.bulk_memory_mb for the Ray runs (DuckDB's cap, MiB; default: the config's)")
    ap.add_argument("--in-driver", action="store_true",
                    help="Ray runs keep DuckDB in the driver (RayOptions(writer_process=False)), as "
                         "before the store's writer process")
    a = ap.parse_args()
    if a.one:
        print(json.dumps(one(a.one[0], a.one[1], a.engine, a.store, a.stories_days or None, a.bulk_memory_mb,
                             a.in_driver)))
        return
    results = []
    if a.stories_days:
        loc = _spawn(0, 2, "local", "file", a.stories_days)
        ray_ = _spawn(0, 2, "ray", "file", a.stories_days)
        agree = story_agreement(loc["story_memberships"], ray_["story_memberships"])
        eq = _partition(loc["partition"]) == _partition(ray_["partition"])
        results += [loc, ray_, {"story_agreement": agree, "partition_equal": eq}]
        print(f"stories over {' '.join(a.stories_days)}: {loc['n']} articles; local {loc['seconds']} s, "
              f"ray {ray_['seconds']} s; partition equal: {eq}; {json.dumps(agree)}", flush=True)
    if a.equality:
        loc, ray_ = _spawn(0, 2, "local"), _spawn(0, 2, "ray")
        results += [loc, ray_]
        eq = _partition(loc["partition"]) == _partition(ray_["partition"])
        print(f"14 days: local {loc['seconds']} s, ray {ray_['seconds']} s, "
              f"{loc['groups']} / {ray_['groups']} groups, partition equal: {eq}", flush=True)
        results.append({"equality_14_days": eq})
    for n in a.sizes:
        for c in a.cpus:
            r = _spawn(n, c, "ray", a.store, bulk_memory_mb=a.bulk_memory_mb, in_driver=a.in_driver)
            results.append(r)
            print(json.dumps(r), flush=True)
    cap = "" if a.bulk_memory_mb is None else f"_cap{a.bulk_memory_mb}"
    where = "_in_driver" if a.in_driver else ""
    (OUT / f"results{'_stories' if a.stories_days else ''}{cap}{where}.json").write_text(
        json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
