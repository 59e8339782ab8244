"""Run the whole benchmark suite and write RESULTS.md, results.json and PNG plots.

Usage::

    python benchmarks/run_all.py                 # full suite -> benchmarks/RESULTS.md, benchmarks/plots/
    python benchmarks/run_all.py --quick --out DIR   # smoke test (< ~3 min on 2 cores)
    python benchmarks/run_all.py --only minhash,pairs   # a subset of sections

``--quick`` or ``--only`` without ``--out`` writes into a fresh temporary folder (printed at the
end), so a smoke test never overwrites the committed results. The exit status is 1 when any section
failed (a section that is skipped because an optional component is missing is not a failure).
A "## Reading" section already present in the output RESULTS.md is kept as it is.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import sys
import tempfile
import time
import traceback
from pathlib import Path

import common
from common import BENCH_DIR, EMBED_TIMING, Skip, machine_facts, md_table, section, table

#: (name, module) in run order; each module has ``run(quick, plots_dir) -> dict``.
SECTIONS = [
    ("minhash", "bench_minhash"),
    ("lsh_recall", "bench_lsh_recall"),
    ("dedup_speed", "bench_dedup_speed"),
    ("pairs", "bench_pairs"),
    ("scaling", "bench_scaling"),
    ("stories", "bench_stories"),
    ("online", "bench_online"),
    ("service", "bench_service"),
    ("embed", None),
]


def embed_section(quick: bool, plots_dir: Path | None = None) -> dict:
    """Embeddings/second: ``benchmarks/bench_embed.py`` (first N EgyNews articles; headlines and
    title + lead), plus the rates of the uncached embedding calls made by the other sections."""
    res = section("Embedding speed")
    rows = []
    try:
        import bench_embed
    except ImportError as exc:
        res["notes"].append(f"benchmarks/bench_embed.py not importable ({exc}); only suite rates shown.")
    else:
        n = 64 if quick else 500
        with contextlib.redirect_stdout(io.StringIO()):
            out = bench_embed.main(["-n", str(n)])
        for key, label in (("headlines", "EgyNews headlines (encode_texts)"),
                           ("title_lead", "EgyNews title + 96-token lead (encode_articles)")):
            f = out[key]
            rows.append([label, f["texts"], f["seconds"], f["per_second"], f["mean_tokens"]])
            res["summary"][f"{label}: embeddings/s"] = f["per_second"]
        res["notes"].append(f"bench_embed.py -n {n}: model {out.get('model_id')}, load "
                            f"{out.get('load_seconds')} s, torch threads "
                            f"{out.get('machine', {}).get('torch_threads')}, load average before/after "
                            f"{out.get('load_average_before')} / {out.get('load_average_after')}.")
    for kind, (secs, n) in EMBED_TIMING.items():
        rows.append([f"uncached {kind} embedded by the other sections", int(n), secs, n / secs, None])
    res["tables"].append(table("Embeddings per second (one process, 2 cores)",
                               ["what", "texts", "seconds", "embeddings/s", "mean tokens"], rows))
    return res


def run_section(name: str, module: str | None, quick: bool, plots_dir: Path) -> dict:
    """Run one section, catching failures; adds ``status`` and ``seconds``."""
    t0 = time.perf_counter()
    try:
        fn = embed_section if module is None else __import__(module).run
        res = fn(quick, plots_dir)
        res["status"] = "ok"
    except Skip as exc:
        res = section(name)
        res["status"] = f"skipped: {exc}"
    except Exception as exc:  # noqa: BLE001 - reported, and the exit status says so
        res = section(name)
        res["status"] = f"FAILED: {type(exc).__name__}: {exc}"
        res["traceback"] = traceback.format_exc()
        print(res["traceback"], file=sys.stderr)
    res["seconds"] = time.perf_counter() - t0
    print(f"[{name}] {res['status']} in {res['seconds']:.1f} s", file=sys.stderr, flush=True)
    return res


def _kept_reading(path: Path) -> str | None:
    """The body of an existing '## Reading' section of ``path`` (None when absent)."""
    if not path.exists():
        return None
    m = re.search(r"^## Reading\n(.*?)(?=^## |\Z)", path.read_text(encoding="utf-8"), re.S | re.M)
    return m.group(1).strip() if m else None


def render(results: list[dict], facts: dict, command: str, total_s: float, out_dir: Path,
           reading: str | None) -> str:
    """RESULTS.md text."""
    lines = ["# Benchmark results", "",
             f"Produced by `{command}` in {total_s / 60:.1f} min. Speed figures are ratios against "
             "baselines measured side by side in the same run; absolute rates depend on the "
             "machine and on what else ran on it (load average below).", "", "## Machine", "",
             "| fact | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in facts.items()]
    lines += ["", "## Reading", "", reading or "_(to be written)_", "", "## Sections", "",
              "| section | status | seconds |", "|---|---|---|"]
    lines += [f"| {r['title']} | {r['status']} | {r['seconds']:.0f} |" for r in results]
    for r in results:
        lines += ["", f"## {r['title']}", ""]
        if r["status"] != "ok":
            lines += [f"Status: {r['status']}", ""]
        if r["summary"]:
            lines += ["Key figures:", ""]
            lines += [f"- {k}: {common.fmt(v)}" for k, v in r["summary"].items()]
            lines.append("")
        for t in r["tables"]:
            lines += [md_table(t), ""]
        for n in r["notes"]:
            lines += [n, ""]
        for p in r["plots"]:
            rel = Path(p).resolve().relative_to(out_dir.resolve()) if Path(p).resolve().is_relative_to(out_dir.resolve()) else p
            lines += [f"![{Path(p).stem}]({rel})", ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the sections, write the outputs; returns the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke test of every section")
    ap.add_argument("--out", type=Path, default=None,
                    help="output folder (default: benchmarks/ for the full suite, else a temp folder)")
    ap.add_argument("--only", default=None, help="comma-separated section names: "
                    + ",".join(n for n, _ in SECTIONS))
    args = ap.parse_args(argv)
    partial = args.quick or args.only  # never overwrite the committed full results by default
    out_dir = args.out or (Path(tempfile.mkdtemp(prefix="bench-")) if partial else BENCH_DIR)
    out_dir.mkdir(parents=True, exist_ok=True)
    plots_dir = out_dir / "plots"
    wanted = set(args.only.split(",")) if args.only else {n for n, _ in SECTIONS}
    unknown = wanted - {n for n, _ in SECTIONS}
    if unknown:
        ap.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    command = "python benchmarks/run_all.py" + (" --quick" if args.quick else "") + (
        f" --out {args.out}" if args.out else "") + (f" --only {args.only}" if args.only else "")
    facts = machine_facts()
    t0 = time.perf_counter()
    results = [run_section(n, m, args.quick, plots_dir) for n, m in SECTIONS if n in wanted]
    total = time.perf_counter() - t0
    import os

    with contextlib.suppress(OSError):
        facts["load average (1/5/15 min, at end)"] = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    facts["mode"] = "quick" if args.quick else "full"
    md_path = out_dir / "RESULTS.md"
    md_path.write_text(render(results, facts, command, total, out_dir, _kept_reading(md_path)),
                       encoding="utf-8")
    (out_dir / "results.json").write_text(json.dumps(
        {"command": command, "seconds": total, "machine": facts, "sections": results},
        indent=1, default=str, ensure_ascii=False), encoding="utf-8")
    failed = [r["title"] for r in results if r["status"].startswith("FAILED")]
    print(f"wrote {md_path} ({total:.0f} s); failed: {', '.join(failed) or 'none'}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
