"""Benchmark the offline embedder: embeddings per second on headlines and on title + lead.

Reads the first N articles of an EgyNews JSONL.gz file (fields id, source, timestamp, title, body),
embeds their headlines (:meth:`Embedder.encode_texts`) and their title + body lead
(:meth:`Embedder.encode_articles`), and prints one JSON dict of figures plus machine info.

Usage::

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_embed.py -n 500
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_embed.py --build   # also time a fresh build

Figures are wall-clock on whatever else the machine is running: ``load_average`` is printed
before and after so that a busy machine shows.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from clustering.embed import Embedder, build_e5_folder  # noqa: E402

DEFAULT_DATA = (Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "egynews2013"
                / "egynews2013_2013-02-01_to_02-14.jsonl.gz")


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


def mean_tokens(embedder: Embedder, texts: list[str]) -> float:
    """Mean model input length in tokens (prompt and specials included, capped at max_seq_length)."""
    prompt = (embedder.model.prompts or {}).get("query", "")
    limit = embedder.model.max_seq_length or 10**9
    ids = embedder.tokenizer([prompt + t for t in texts], add_special_tokens=True)["input_ids"]
    return sum(min(len(x), limit) for x in ids) / max(len(ids), 1)


def timed(fn, *args) -> tuple[float, object]:
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def figures(seconds: float, n: int, tokens: float) -> dict:
    """Rate figures for one run of ``n`` texts."""
    return {
        "texts": n,
        "seconds": round(seconds, 3),
        "per_second": round(n / seconds, 1) if seconds > 0 else None,
        "mean_tokens": round(tokens, 1),
    }


def machine_info() -> dict:
    """Cores, library versions and thread count."""
    import sentence_transformers
    import torch
    import transformers

    return {
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "sentence_transformers": sentence_transformers.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark and print (and return) the JSON dict of figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="EgyNews JSONL.gz file")
    ap.add_argument("-n", type=int, default=500, help="articles to embed (first N)")
    ap.add_argument("--model", default=None, help="model name or folder (default: multilingual-e5-small)")
    ap.add_argument("--cache-dir", type=Path, default=None, help="cache dir for the default model")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lead-tokens", type=int, default=96)
    ap.add_argument("--build", action="store_true", help="also time a fresh build of the model folder")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = ap.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    load_before = os.getloadavg()
    out: dict = {}
    if args.build:
        with tempfile.TemporaryDirectory() as tmp:
            out["build_seconds"] = round(timed(build_e5_folder, Path(tmp) / "m")[0], 2)

    titles, bodies = read_articles(args.data, args.n)
    emb = Embedder(args.model, cache_dir=args.cache_dir, lead_tokens=args.lead_tokens, batch_size=args.batch_size)
    out["load_seconds"] = round(timed(lambda: emb.dim)[0], 2)  # build-if-needed + import + load
    emb.encode_texts(titles[:8])  # warm-up

    t_head, _ = timed(emb.encode_texts, titles)
    t_lead, _ = timed(emb.leads, bodies)
    article_texts = emb.article_texts(titles, bodies)
    t_art, vecs = timed(emb.encode_articles, titles, bodies)

    out.update(
        model_id=emb.model_id,
        dim=emb.dim,
        data=str(args.data),
        batch_size=args.batch_size,
        lead_tokens=args.lead_tokens,
        headlines=figures(t_head, len(titles), mean_tokens(emb, titles)),
        title_lead=figures(t_art, len(titles), mean_tokens(emb, article_texts)),
        lead_cut_seconds=round(t_lead, 3),
        machine=machine_info(),
        load_average_before=[round(x, 2) for x in load_before],
        load_average_after=[round(x, 2) for x in os.getloadavg()],
    )
    print(json.dumps(out, indent=2, ensure_ascii=False))
    assert vecs.shape == (len(titles), emb.dim)
    return out


if __name__ == "__main__":
    main()
