"""End-to-end scaling of ``NewsClusterer.ingest`` on EgyNews: articles/second and peak memory by size.

Each size (the first N articles in time order) runs in a fresh subprocess that calls
:meth:`clustering.NewsClusterer.ingest` on a JSONL file into a new DuckDB file in a temporary folder, and
reports its own wall time (reading, normalising, fingerprinting, LSH, verification, grouping and
the DuckDB writes, i.e. everything ``run`` does) and its peak RSS (``ru_maxrss`` of the child).
Stories are off, except for one extra run at the smallest size with the online story step
(online mode).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, egynews_first, main_for, peak_rss_mb, pyplot, save_fig, section, table, write_jsonl


def _child(n_path: str, db: str, stories: bool) -> None:
    """Subprocess body: one pipeline run; prints a JSON line with the figures."""
    from clustering import Config, NewsClusterer

    config = Config().replace(stories={"mode": "online" if stories else "none"})
    note = "online stories, default model and StoryParams" if stories else None
    with NewsClusterer(db, config) as nc:
        t0 = time.perf_counter()
        s = nc.ingest([n_path])
        secs = time.perf_counter() - t0
    print(json.dumps({
        "seconds": secs, "new_articles": s.new_articles, "read": s.read,
        "exact_repeats": s.exact_repeats, "near_duplicates": s.near_duplicates,
        "groups_2plus": s.groups, "db_mb": Path(db).stat().st_size / 2**20,
        "peak_rss_mb": peak_rss_mb(),
        "stories": s.stories, "note": note}, default=str))


def measure(n: int, workdir: Path, stories: bool = False, timeout: float = 1200) -> dict:
    """Run one size in a subprocess; returns the child's JSON (plus ``n``)."""
    src = write_jsonl(egynews_first(n), workdir / f"egy_{n}.jsonl")
    db = workdir / f"run_{n}_{int(stories)}.duckdb"
    cmd = [sys.executable, __file__, "--child", str(src), str(db)] + (["--stories"] if stories else [])
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if p.returncode != 0:
        raise RuntimeError(f"scaling child (n={n}, stories={stories}) failed:\n{p.stderr[-3000:]}")
    out = json.loads(p.stdout.strip().splitlines()[-1])
    out["n"] = n
    return out


def run(quick: bool, plots_dir: Path | None = None) -> dict:
    """Articles/second and peak RSS of ``NewsClusterer.ingest`` at several corpus sizes (fresh DuckDB file
    each), stories off; plus one run with online stories at the smallest size if available."""
    res = section("Scaling: end-to-end NewsClusterer.ingest on EgyNews")
    sizes = [500, 2_000] if quick else [1_000, 5_000, 20_000]
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            out.append(measure(n, Path(tmp)))
        # quick: a smaller story run (embedding ~8 articles/s on 2 cores would dominate the smoke test)
        story = measure(100 if quick else sizes[0], Path(tmp), stories=True)
    rows = [[r["n"], r["new_articles"], "off", r["seconds"], r["new_articles"] / r["seconds"],
             r["exact_repeats"], r["near_duplicates"], r["groups_2plus"], r["peak_rss_mb"], r["db_mb"]]
            for r in out]
    if "skipped" in story:
        res["notes"].append(f"Run with stories skipped: {story['skipped']}.")
    else:
        rows.append([story["n"], story["new_articles"], "online", story["seconds"],
                     story["new_articles"] / story["seconds"], story["exact_repeats"],
                     story["near_duplicates"], story["groups_2plus"], story["peak_rss_mb"], story["db_mb"]])
        res["summary"][f"{story['n']} articles with stories: articles/s"] = story["new_articles"] / story["seconds"]
        res["notes"].append(f"Story step summary at {story['n']} articles: {json.dumps(story['stories'], default=str)[:600]}")
    res["tables"].append(table(
        "NewsClusterer.ingest into a fresh DuckDB file (subprocess per row; first N articles in time order; "
        "articles without text are skipped by the reader)",
        ["N input", "articles stored", "stories", "seconds", "articles/s", "exact repeats",
         "near-duplicate edges", "groups of 2+", "peak RSS MiB", "DuckDB file MiB"], rows))
    for r in out:
        res["summary"][f"{r['n']} articles: articles/s"] = r["new_articles"] / r["seconds"]
        res["summary"][f"{r['n']} articles: peak RSS MiB"] = r["peak_rss_mb"]

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.plot([r["n"] for r in out], [r["new_articles"] / r["seconds"] for r in out], "o-", label="stories off")
    if "skipped" not in story:
        ax.plot([story["n"]], [story["new_articles"] / story["seconds"]], "s", label="online stories")
    ax.set_xscale("log")
    ax.set_xlabel("articles in the run (EgyNews, time order)")
    ax.set_ylabel("articles / second (end to end)")
    ax.set_ylim(bottom=0)
    ax.set_title("NewsClusterer.ingest throughput by corpus size")
    ax.legend(loc="center right")
    p = save_fig(fig, plots_dir, "throughput_vs_size.png")
    if p:
        res["plots"].append(p)
    return res


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        sys.path.insert(0, str(ROOT))
        _child(sys.argv[2], sys.argv[3], "--stories" in sys.argv)
    else:
        sys.exit(main_for(run))
