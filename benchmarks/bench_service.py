"""Feed service latency: a load generator on loopback posting real EgyNews articles to
``news-cluster serve``, one article per request, against a stored state of N articles.

1. The state: the first N EgyNews articles in time order (the 14-day file of the shared data),
   ingested through :class:`clustering.NewsClusterer` (dedup only, or with online stories) into
   a fresh DuckDB file.
2. The server: ``python -m clustering.cli serve --db FILE --stories none|online`` in its own
   process (so its peak RSS, VmHWM, is its own); ready when ``/healthz`` answers 200.
3. The load: the next articles in time order, each POSTed alone to ``/v1/articles`` by one
   sequential httpx client (bounded: at most Q requests and T seconds per state); wall-clock
   milliseconds per request, as a news app would see them. Then 20 ``GET /v1/feed?limit=50``.

Synthetic large states (``--copies R``, dedup only): the 14-day state (43,821 articles, one
``ingest``) copied R times with new ids and salted band keys by ``bench_ingest_one``'s builder
(``44k x R``: R-fold tables, and each posted article still finds only its own near-duplicates,
those of copy 0; R = 1 is the 14-day state itself). All 14 days are stored there, so the posted
articles are the ones ``bench_ingest_one`` times: a stored EgyNews article (body over 400
characters) without its first sentence, under a new id (a near-duplicate of a stored one).
With ``--states DIR`` the states are read from / kept in DIR (``s44k.duckdb``, ``x{R}.duckdb``)
and reused; each run serves a copy, with the state itself linked as the copy's reader snapshot
(so the server's open does not publish one, as a restart on an up-to-date snapshot does not).

Usage::

    python benchmarks/bench_service.py                       # full: see FULL below
    python benchmarks/bench_service.py --quick               # smoke test (~1 min)
    python benchmarks/bench_service.py --sizes 1000,10000 --story-sizes 1000 --queries 200
    python benchmarks/bench_service.py --sizes 10000 --copies 2 23 --states /tmp/states --queries 200
    python benchmarks/bench_service.py --sizes "" --story-sizes "" --story-copies 1 10 100 --states /tmp/states

Synthetic states with stories (``--story-copies R``): the first 10,000 articles ingested with
online stories, copied R times by :func:`story_state` (the copies' times shifted back and their
stories quiet), posting the real articles that follow the first 10,000.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_ingest_one import _COPY, _copies
from common import ROOT, egynews_days, egynews_rows, section, table

#: (dedup-only state sizes, with-stories state sizes, requests per state, seconds per state)
FULL = ([1_000, 10_000], [1_000], 200, 120.0)
QUICK = ([300], [], 30, 60.0)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _near_duplicates(n: int) -> list[dict]:
    """``n`` posted records for a synthetic state: stored EgyNews articles without their first
    sentence under new ids (the records ``bench_ingest_one`` times)."""
    rows = [r for r in egynews_days(14) if len(r.get("body") or "") > 400]
    return [dict(r, id=f"bench-svc-{k}", body=r["body"].split(".", 1)[-1])
            for k, r in enumerate(rows[k * 997 % len(rows)] for k in range(n))]


def synthetic_state(copies: int, states: Path | None, tmp: Path) -> tuple[Path, int, float]:
    """The ``44k x copies`` state (see the module docstring): its file, article count and the
    seconds spent building (0 when reused from ``states``)."""
    import duckdb

    keep = states or tmp
    base = keep / "s44k.duckdb"
    t0 = time.perf_counter()
    reused = base.exists() and (copies == 1 or (keep / f"x{copies}.duckdb").exists())
    if not base.exists():
        from clustering import Config, NewsClusterer

        with NewsClusterer(base, Config().replace(stories={"mode": "none"})) as nc:
            nc.ingest(egynews_days(14), command="bench-state")
    db = base if copies == 1 else keep / f"x{copies}.duckdb"
    if not db.exists():
        _copies(base, db, copies)
    build_s = time.perf_counter() - t0 if not reused else 0.0
    with duckdb.connect(str(db), read_only=True) as con:
        n = int(con.execute("SELECT count(*) FROM articles").fetchall()[0][0])
    return db, n, build_s


def measure(rows: list[dict], n_state: int, stories: str, n_queries: int, max_seconds: float,
            state: Path | None = None, label: str | None = None) -> dict:
    """Build a state of ``rows[:n_state]`` (or serve a copy of the file ``state``, then
    ``rows`` are the records to post), serve it, post the next ``n_queries`` rows one per
    request; returns the figures of one table row."""
    import shutil

    import httpx

    from clustering import Config, NewsClusterer
    from clustering.store.base import snapshot_path

    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("NEWS_CLUSTER_TOKEN", None)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "state.duckdb"
        t0 = time.perf_counter()
        if state is None:
            with NewsClusterer(db, Config().replace(stories={"mode": stories})) as nc:
                nc.ingest(rows[:n_state], command="bench-state")
            posted = rows[n_state:n_state + n_queries]
        else:  # a copy of a built state, with the state itself as its reader snapshot
            shutil.copy2(state, db)
            os.link(state, snapshot_path(db))
            posted = rows[:n_queries]
        build_s = time.perf_counter() - t0
        port = _free_port()
        proc = subprocess.Popen([sys.executable, "-m", "clustering.cli", "serve", "--db", str(db), "--port",
                                 str(port), "--stories", stories], env=env, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        base = f"http://127.0.0.1:{port}"
        try:
            t0 = time.perf_counter()
            with httpx.Client(base_url=base, timeout=120) as client:
                while True:
                    try:
                        if client.get("/healthz").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if proc.poll() is not None or time.perf_counter() - t0 > 300:
                        raise RuntimeError(f"server did not start: {proc.stderr.read().decode()[-2000:]}")
                    time.sleep(0.1)
                ready_s = time.perf_counter() - t0
                lat, dups, codes = [], 0, set()
                start = time.perf_counter()
                for rec in posted:
                    t = time.perf_counter()
                    r = client.post("/v1/articles", json=rec)
                    lat.append((time.perf_counter() - t) * 1000)
                    codes.add(r.status_code)
                    dups += bool(r.json().get("is_duplicate"))
                    if time.perf_counter() - start > max_seconds:
                        break
                feed = []
                for _ in range(20):
                    t = time.perf_counter()
                    client.get("/v1/feed", params={"limit": 50})
                    feed.append((time.perf_counter() - t) * 1000)
            rss = _vm_hwm_mb(proc.pid)
        finally:
            proc.terminate()  # its close publishes a snapshot: a copy of the whole file
            try:
                proc.wait(timeout=300)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    a = np.asarray(lat)
    return {"stored": label or n_state, "stories": stories, "requests": len(lat), "statuses": sorted(codes),
            "duplicates": dups, "p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)),
            "mean_ms": float(a.mean()), "max_ms": float(a.max()), "feed_p50_ms": float(np.percentile(feed, 50)),
            "server_peak_rss_mb": rss, "state_build_s": build_s, "ready_s": ready_s}


#: SQL of one copy of a with-stories state, reading the attached base ``b``: ``bench_ingest_one``'s
#: copy of the dedup tables (the articles' times shifted back {d} days) and of the story tables
#: (copy {r} > 0: its stories quiet, without hybrid states, as the engine keeps quiet stories).
_STORY_COPY = [
    "INSERT INTO articles (id, seq, run_id, title, text, published, source, url, canonical_url, lang, "
    "listed_on, input_order, content_hash, version) SELECT id || '{sfx}', seq + {s}, run_id, title, text, "
    "published - INTERVAL ({d}) DAY, source, url, canonical_url || '{sfx}', lang, listed_on, input_order, "
    "content_hash || '{sfx}', version FROM b.articles",
    *_COPY[1:],
    "INSERT INTO embeddings SELECT article_id || '{sfx}', model_id, vector, run_id FROM b.embeddings",
    "INSERT INTO stories SELECT story_id || '{sfx}', first_seen - INTERVAL ({d}) DAY, "
    "last_seen - INTERVAL ({d}) DAY, size, units, vector_sum, model_id, guard, label, label_terms, "
    "representative_id || '{sfx}', CASE WHEN {r} = 0 OR status = 'merged' THEN status ELSE 'quiet' END, "
    "created_run, updated_run FROM b.stories",
    "INSERT INTO story_members SELECT article_id || '{sfx}', story_id || '{sfx}', "
    "valid_from - INTERVAL ({d}) DAY, valid_to - INTERVAL ({d}) DAY, run_id, closed_run, score, reason "
    "FROM b.story_members",
    "INSERT INTO story_state SELECT story_id || '{sfx}', model_id, state, updated_run FROM b.story_state "
    "WHERE {r} = 0",
    "INSERT INTO story_events SELECT story_id || '{sfx}', kind, other_story_id || '{sfx}', "
    "event_time - INTERVAL ({d}) DAY, run_id, detail FROM b.story_events",
]


def story_state(n_base: int, copies: int, states: Path | None, tmp: Path) -> tuple[Path, int, float]:
    """A with-stories state of ``n_base x copies`` articles: the first ``n_base`` EgyNews articles
    ingested with online stories (copy 0), then ``copies - 1`` copies of every table under
    suffixed ids, with salted band keys (a posted article finds only copy 0's near-duplicates),
    times shifted back 30 days per copy and the copies' stories quiet (without hybrid states,
    as the engine keeps quiet stories): the archive grows while the active stories stay the
    real ones, as in an archive of months. Document frequencies are
    the base's times ``copies``. Returns the file, its article count and the seconds spent
    building (0 when reused from ``states``: ``st{n_base}.duckdb``, ``st{n_base}x{copies}.duckdb``)."""
    import duckdb

    keep = states or tmp
    base, db = keep / f"st{n_base}.duckdb", keep / f"st{n_base}x{copies}.duckdb"
    t0 = time.perf_counter()
    reused = base.exists() and (copies == 1 or db.exists())
    if not base.exists():
        from clustering import Config, NewsClusterer

        with NewsClusterer(base, Config()) as nc:
            nc.ingest(list(egynews_rows()[:n_base]), command="bench-state")
    if copies == 1:
        db = base
    elif not db.exists():
        part = db.with_name(db.name + ".part")  # renamed once complete: a failed build is not reused
        _copies(base, part, copies, _STORY_COPY, ("runs", "article_versions", "counters"),
                [f"INSERT INTO doc_freqs SELECT term, df * {copies} FROM b.doc_freqs"], shift_days=30)
        part.rename(db)
    build_s = time.perf_counter() - t0 if not reused else 0.0
    with duckdb.connect(str(db), read_only=True) as con:
        total = int(con.execute("SELECT count(*) FROM articles").fetchall()[0][0])
    return db, total, build_s


def run(quick: bool, plots_dir: Path | None = None, plan: tuple | None = None,
        copies: list[int] | None = None, states: Path | None = None,
        story_copies: list[int] | None = None, story_base: int = 10_000) -> dict:
    """p50/p99 milliseconds per POST /v1/articles (one real EgyNews article per request, over
    loopback) against stored states of N articles, dedup only and with online stories, and the
    server's peak RSS; ``copies``: also synthetic ``44k x R`` states, dedup only;
    ``story_copies``: also synthetic ``story_base x R`` states with online stories
    (:func:`story_state`), posting the real articles that follow the base."""
    sizes, story_sizes, n_queries, max_seconds = plan or (QUICK if quick else FULL)
    res = section("Feed service latency")
    rows = list(egynews_rows())
    out = [measure(rows, n, "none", n_queries, max_seconds) for n in sizes]
    out += [measure(rows, n, "online", n_queries, max_seconds) for n in story_sizes]
    if copies:
        near = _near_duplicates(n_queries)
        with tempfile.TemporaryDirectory() as tmp:
            for c in copies:
                db, n, build_s = synthetic_state(c, states, Path(tmp))
                r = measure(near, n, "none", n_queries, max_seconds, state=db,
                            label=f"{n:,} (44k x {c})")
                r["state_build_s"] = build_s
                out.append(r)
                print(json.dumps(r), file=sys.stderr, flush=True)
    if story_copies:
        with tempfile.TemporaryDirectory() as tmp:
            for c in story_copies:
                db, n, build_s = story_state(story_base, c, states, Path(tmp))
                r = measure(rows[story_base:], n, "online", n_queries, max_seconds, state=db,
                            label=f"{n:,} ({story_base // 1000}k x {c})")
                r["state_build_s"] = build_s
                out.append(r)
                print(json.dumps(r), file=sys.stderr, flush=True)
    res["tables"].append(table(
        f"POST /v1/articles, one real EgyNews article per request (the next ones in time order after "
        f"the stored state), sequential client on loopback, at most {n_queries} requests / "
        f"{max_seconds:.0f} s per state; server = `news-cluster serve` in its own process",
        ["stored articles", "stories", "requests", "statuses", "near-duplicates", "p50 ms", "p99 ms",
         "mean ms", "max ms", "GET /v1/feed p50 ms", "server peak RSS MiB", "state build s", "start-up s"],
        [[r["stored"], r["stories"], r["requests"], ",".join(map(str, r["statuses"])), r["duplicates"],
          r["p50_ms"], r["p99_ms"], r["mean_ms"], r["max_ms"], r["feed_p50_ms"], r["server_peak_rss_mb"],
          r["state_build_s"], r["ready_s"]] for r in out]))
    for r in out:
        stored = r["stored"] if isinstance(r["stored"], str) else f"{r['stored']:,}"
        res["summary"][f"{stored} stored, stories {r['stories']}: p50 / p99 ms"] = (
            f"{r['p50_ms']:.1f} / {r['p99_ms']:.1f}")
    return res


if __name__ == "__main__":
    from common import md_table

    ap = argparse.ArgumentParser(description="Feed service latency (loopback load generator).")
    ap.add_argument("--quick", action="store_true", help="smoke test sizes")
    ap.add_argument("--sizes", help="dedup-only state sizes, comma-separated (e.g. 1000,10000; '' for none)")
    ap.add_argument("--story-sizes", help="with-stories state sizes, comma-separated ('' for none)")
    ap.add_argument("--queries", type=int, default=None, help="requests per state (bound)")
    ap.add_argument("--max-seconds", type=float, default=None, help="seconds per state (bound)")
    ap.add_argument("--copies", type=int, nargs="*", default=[],
                    help="synthetic states 44k x R (dedup only; R = 1: the 14 days)")
    ap.add_argument("--story-copies", type=int, nargs="*", default=[],
                    help="synthetic states with online stories, 10k x R (R = 1: the 10k state)")
    ap.add_argument("--states", type=Path, default=None,
                    help="folder where the synthetic states are kept and reused (s44k.duckdb, x{R}.duckdb)")
    ap.add_argument("--json", action="store_true", help="print the section as JSON")
    args = ap.parse_args()
    base = QUICK if args.quick else FULL
    plan = None
    if args.sizes is not None or args.story_sizes is not None or args.queries or args.max_seconds:
        ints = lambda s: [int(x) for x in s.split(",") if x]  # noqa: E731
        plan = (ints(args.sizes) if args.sizes is not None else base[0],
                ints(args.story_sizes) if args.story_sizes is not None else base[1],
                args.queries or base[2], args.max_seconds or base[3])
    res = run(args.quick, None, plan, args.copies, args.states, args.story_copies)
    print(json.dumps(res, indent=2, default=str) if args.json else "\n\n".join(md_table(t) for t in res["tables"]))
