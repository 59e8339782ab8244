"""Shared helpers of the benchmark suite: data loading, timing, embedding cache, machine facts.

Every section module (``bench_*.py``) exposes ``run(quick: bool, plots_dir: Path | None) -> dict``
returning a :func:`section` dict: ``summary`` (key figures), ``tables`` (markdown tables),
``notes`` (sentences for RESULTS.md) and ``plots`` (PNG paths). ``run_all.py`` renders them.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import importlib.metadata as md
import json
import os
import platform
import resource
import sys
import time
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
#: Shared evaluation data (``$NEWS_CLUSTER_DATA`` overrides).
DATA = Path(os.environ.get("NEWS_CLUSTER_DATA", ROOT.parent / "shared" / "data"))
EGYNEWS = DATA / "egynews2013" / "egynews2013_2013-02-01_to_02-14.jsonl.gz"
ECBPLUS = DATA / "ecbplus" / "ecbplus_topics_1-35.jsonl.gz"
STS = DATA / "sts-headlines" / "sts_headlines_2013_2015.tsv"
ANS = [DATA / "ans-arabic" / f"data_stance_{s}.csv" for s in ("train", "dev")]
#: Cache of embeddings (git-ignored; ``$NEWS_CLUSTER_BENCH_CACHE`` overrides, e.g. for a cold run).
CACHE = Path(os.environ.get("NEWS_CLUSTER_BENCH_CACHE", BENCH_DIR / "out"))


class Skip(Exception):
    """Raised by a section part that cannot run here (missing optional component): not a failure."""


def section(title: str) -> dict:
    """An empty section result: ``{"title", "summary", "tables", "notes", "plots"}``."""
    return {"title": title, "summary": {}, "tables": [], "notes": [], "plots": []}


def table(title: str, headers: list[str], rows: list[list]) -> dict:
    """A table for RESULTS.md (cells formatted by :func:`fmt`)."""
    return {"title": title, "headers": headers, "rows": [[fmt(c) for c in r] for r in rows]}


def fmt(x) -> str:
    """Format a cell: floats to 3 significant decimals (large ones with thousands separators)."""
    if x is None:
        return "–"
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    if isinstance(x, (float, np.floating)):
        x = float(x)
        if x != x:
            return "nan"
        if abs(x) >= 1000:
            return f"{x:,.0f}"
        if abs(x) >= 100:
            return f"{x:.1f}"
        return f"{x:.3f}"
    return str(x)


def md_table(t: dict) -> str:
    """A :func:`table` dict as a GitHub markdown table with a bold caption."""
    lines = [f"**{t['title']}**", "", "| " + " | ".join(t["headers"]) + " |",
             "|" + "|".join("---" for _ in t["headers"]) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in t["rows"]]
    return "\n".join(lines)


class Timer:
    """Context manager measuring wall-clock seconds (``.s`` after exit)."""

    def __enter__(self) -> Timer:
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.s = time.perf_counter() - self.t0


def best_of(fn, repeat: int) -> tuple[float, object]:
    """Run ``fn()`` ``repeat`` times; return (fastest wall seconds, last result)."""
    best, out = float("inf"), None
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB.

    Reads ``VmHWM`` from ``/proc/self/status`` (Linux): unlike ``ru_maxrss``, it is not
    inherited from the parent through fork/vfork + exec, so a benchmark subprocess reports its
    own peak. Falls back to ``ru_maxrss`` (KiB on Linux) elsewhere.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------------------------ data


@lru_cache(maxsize=1)
def egynews_rows() -> tuple[dict, ...]:
    """All EgyNews 2013 records, sorted by timestamp (stable: file order among equal times)."""
    with gzip.open(EGYNEWS, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return tuple(sorted(rows, key=lambda r: r.get("timestamp") or ""))


def egynews_days(n_days: int) -> list[dict]:
    """Records of the first ``n_days`` calendar days of EgyNews (2013-02-01 onwards)."""
    days = sorted({r["timestamp"][:10] for r in egynews_rows()})[:n_days]
    keep = set(days)
    return [r for r in egynews_rows() if r["timestamp"][:10] in keep]


def egynews_first(n: int) -> list[dict]:
    """The first ``n`` EgyNews records in time order (with bodies or titles; the reader skips
    records with neither)."""
    return list(egynews_rows()[:n])


def write_jsonl(rows, path: Path) -> Path:
    """Write dict rows as UTF-8 JSON Lines; returns ``path``."""
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


def ecbplus_docs() -> list[dict]:
    """ECB+ documents (doc_id, topic, subtopic, story_id, text), file order."""
    with gzip.open(ECBPLUS, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def sts_pairs() -> list[tuple[float, str, str]]:
    """STS headlines pairs as ``(score 0-5, headline1, headline2)``."""
    with open(STS, encoding="utf-8", newline="") as f:
        r = csv.DictReader(f, delimiter="\t")
        return [(float(x["score_0_5"]), x["headline1"], x["headline2"]) for x in r]


def ans_pairs() -> list[tuple[str, str, str]]:
    """ANS Arabic pairs (train + dev) as ``(stance, s1, s2)``; stance agree/disagree/other."""
    out = []
    for p in ANS:
        with open(p, encoding="utf-8", newline="") as f:
            out += [(x["stance"], x["s1"], x["s2"]) for x in csv.DictReader(f)]
    return out


# ------------------------------------------------------------------------------- embeddings


#: Embedding settings of the suite: the engine's :class:`clustering.config.EmbedParams` defaults,
#: so that quality figures are those of the vectors a run stores. ``$NEWS_CLUSTER_BENCH_EMBED``
#: overrides fields for a side-by-side run, e.g. ``backend=torch`` or ``batch_size=32,chunk=64``.
EMBED_OVERRIDES = os.environ.get("NEWS_CLUSTER_BENCH_EMBED", "")


def embed_params():
    """The :class:`~clustering.config.EmbedParams` of the suite (defaults + overrides)."""
    import dataclasses

    from clustering.config import EmbedParams

    kw: dict[str, object] = {}
    for part in filter(None, (p.strip() for p in EMBED_OVERRIDES.split(","))):
        key, _, val = part.partition("=")
        field = {f.name: f for f in dataclasses.fields(EmbedParams)}.get(key.strip())
        if field is None:
            raise SystemExit(f"NEWS_CLUSTER_BENCH_EMBED: unknown EmbedParams field {key!r}")
        kw[field.name] = int(val) if field.type in ("int", int) else val.strip()
    return EmbedParams(**kw)


@lru_cache(maxsize=1)
def embedder():
    """The engine's :class:`clustering.embed.Embedder` for :func:`embed_params` (loaded once)."""
    from clustering.story_step import embedder_for

    e = embedder_for(embed_params())
    _ = e.dim  # load now, so load time is not charged to the first measured batch
    return e


#: Seconds and item counts of embedding calls that were not served from the cache, per kind
#: ("texts", "articles"): gives embeddings/second as a by-product of the suite.
EMBED_TIMING: dict[str, list[float]] = {}


def embed_cached(name: str, texts: list[str], bodies: list[str] | None = None) -> np.ndarray:
    """Embeddings of ``texts`` (``encode_texts``) or of articles (``encode_articles(texts,
    bodies)``) by :func:`embedder`, in chunks of ``embed_params().chunk`` as the story step
    embeds them, cached in ``benchmarks/out/emb-<name>-<key>.npy``.

    The key hashes the model id, lead tokens, batch settings of int8 models and the inputs, so a
    changed input or model recomputes.
    Returns float32 (n, dim), L2-normalised.
    """
    e, params = embedder(), embed_params()
    h = hashlib.blake2b(digest_size=10)
    h.update(e.model_id.encode())
    h.update(str(e.lead_tokens).encode())
    if params.backend != "torch":  # int8 vectors depend on the batch companions
        h.update(f"bs{params.batch_size}c{params.chunk}".encode())
    for t in texts:
        h.update(t.encode("utf-8") + b"\x00")
    for b in bodies or []:
        h.update(b.encode("utf-8") + b"\x01")
    path = CACHE / f"emb-{name}-{h.hexdigest()}.npy"
    if path.exists():
        return np.load(path)
    t0 = time.perf_counter()
    # In the engine's chunks (the story step embeds embed.chunk representatives per call).
    step = params.chunk
    v = np.concatenate([
        e.encode_texts(list(texts[lo:lo + step])) if bodies is None
        else e.encode_articles(list(texts[lo:lo + step]), list(bodies[lo:lo + step]))
        for lo in range(0, len(texts), step)]) if len(texts) else np.zeros((0, e.dim), np.float32)
    kind = "texts" if bodies is None else "articles"
    acc = EMBED_TIMING.setdefault(kind, [0.0, 0.0])
    acc[0] += time.perf_counter() - t0
    acc[1] += len(texts)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, v)
    return v


# --------------------------------------------------------------------------------- machine


def _version(pkg: str) -> str:
    try:
        return md.version(pkg)
    except md.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return float("nan")


def machine_facts() -> dict:
    """CPU model, cores, memory, OS, Python and library versions, date, load average."""
    facts = {
        "date (UTC)": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "CPU": _cpu_model(),
        "cores (os.cpu_count)": os.cpu_count(),
        "memory (GiB)": round(_mem_gib(), 1),
        "OS": platform.platform(),
        "Python": platform.python_version(),
    }
    for pkg in ("numpy", "scipy", "datasketch", "rensa", "duckdb", "torch", "sentence-transformers",
                "transformers", "scikit-learn", "hdbscan", "pyarrow"):
        facts[pkg] = _version(pkg)
    with contextlib.suppress(OSError):  # no load average on some systems
        facts["load average (1/5/15 min, at start)"] = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    return facts


def save_fig(fig, plots_dir: Path | None, name: str) -> str | None:
    """Save a matplotlib figure as ``plots_dir/name`` (PNG, 120 dpi); returns the path or None."""
    if plots_dir is None:
        return None
    plots_dir.mkdir(parents=True, exist_ok=True)
    path = plots_dir / name
    fig.savefig(path, dpi=120, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return str(path)


def pyplot():
    """matplotlib.pyplot with the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def main_for(run) -> None:
    """Command line of a single section: ``python benchmarks/bench_x.py [--quick] [--plots DIR]``;
    prints the section dict as JSON."""
    import argparse

    ap = argparse.ArgumentParser(description=(run.__doc__ or "").strip().splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    ap.add_argument("--plots", type=Path, default=None, help="write PNG plots into this folder")
    args = ap.parse_args()
    res = run(args.quick, args.plots)
    print(json.dumps(res, indent=2, default=str, ensure_ascii=False))
