"""Loaders for the project's own hand-labelled evaluation sets (``benchmarks/data/``).

    from labelled_sets import load_egynews_ar_stories      # from a benchmarks/ script
    records, gold = load_egynews_ar_stories()
    labels = StoryClusterer().fit_predict(records)

How each set was built, its guidelines and counts: ``benchmarks/data/README.md``.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
EGYNEWS_AR_STORIES = DATA / "egynews_ar_stories.jsonl.gz"

__all__ = ["EGYNEWS_AR_STORIES", "load_egynews_ar_stories"]


def load_egynews_ar_stories(path: str | Path = EGYNEWS_AR_STORIES,
                            ) -> tuple[list[dict], list[str]]:
    """The hand-labelled Arabic EgyNews story set: records and their gold story labels.

    Args:
        path: the gzipped JSON-lines file (default: the shipped set, 450 units of
            2013-02-06 and 2013-02-10, time order).

    Returns:
        ``(records, gold)``, both of length n (same order). Each record is a dict in the
        readers' field names, ready for :class:`clustering.StoryClusterer` or
        :class:`clustering.Deduplicator`: ``id``, ``title``, ``text`` (the body),
        ``published`` (ISO 8601 without offset, read as UTC; the feed's own clock, probably
        Cairo time), ``source``; plus ``category``, ``dup_group_size`` (copies folded into
        this unit) and ``doubt`` (the annotator's note, ``""`` if none). ``gold[i]`` is the
        story label of ``records[i]`` (e.g. ``"d06-s012"``; a label names one story, on one
        day).

    Raises:
        FileNotFoundError: no file at ``path``.
        KeyError: a row lacks one of the set's fields.
    """
    records, gold = [], []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            records.append({"id": r["id"], "title": r["title"], "text": r["body"],
                            "published": r["timestamp"].replace(" ", "T"),
                            "source": r["source"], "category": r["category"],
                            "dup_group_size": r["dup_group_size"], "doubt": r["doubt"]})
            gold.append(r["story"])
    return records, gold
