"""Hand-labelled article pairs for the story scorer: loaders.

:func:`load_crosslingual_pairs` reads ``benchmarks/data/egynews_crosslingual_pairs.jsonl.gz``,
English-Arabic pairs from EgyNews 2013 (days 2013-02-03 to 2013-02-14) labelled by reading
the two articles; how they were built, the guidelines and the counts are in
``benchmarks/data/README_crosslingual.md``.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

__all__ = ["CROSSLINGUAL_PAIRS", "LABELS", "load_crosslingual_pairs"]

CROSSLINGUAL_PAIRS = Path(__file__).resolve().parent / "data" / "egynews_crosslingual_pairs.jsonl.gz"
#: The labels, from closest to farthest: same event / same topic, other event / unrelated.
LABELS = ("same", "near", "other")
_FIELDS = ("id_a", "source_a", "timestamp_a", "title_a", "body_a", "id_b", "source_b",
           "timestamp_b", "title_b", "body_b", "label", "cosine", "doubt")


def load_crosslingual_pairs(path: str | Path = CROSSLINGUAL_PAIRS) -> list[dict]:
    """The English-Arabic pairs, one dict per pair, in file order.

    Keys: ``id_a, source_a, timestamp_a, title_a, body_a`` (the English article),
    ``id_b, source_b, timestamp_b, title_b, body_b`` (the Arabic one; timestamps are the
    crawl's "YYYY-MM-DD HH:MM:SS" strings), ``label`` (one of :data:`LABELS`, by reading),
    ``cosine`` (float: the candidate finder's E5 onnx-int8 title+lead cosine, *not* a label)
    and ``doubt`` (bool: the annotator was unsure of the label).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: a row lacks a field or has a label outside :data:`LABELS`.
    """
    rows = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            row = json.loads(line)
            missing = [k for k in _FIELDS if k not in row]
            if missing:
                raise ValueError(f"{path}:{n}: missing fields {missing}")
            if row["label"] not in LABELS:
                raise ValueError(f"{path}:{n}: label {row['label']!r} not in {LABELS}")
            rows.append(row)
    return rows
