"""The hand-labelled Arabic EgyNews story set (benchmarks/data/) and its loader."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from labelled_sets import load_egynews_ar_stories  # noqa: E402

from clustering import Deduplicator  # noqa: E402


def test_set_shape_and_fields():
    records, gold = load_egynews_ar_stories()
    assert len(records) == len(gold) == 450
    assert len({r["id"] for r in records}) == 450
    sizes = Counter(gold)
    assert sum(1 for n in sizes.values() if n >= 2) >= 60
    assert sum(1 for n in sizes.values() if n == 1) > 0
    # a label names one story on one day: its units all carry that day's date
    for r, g in zip(records, gold):
        assert r["published"][8:10] == g[1:3]
        assert r["title"] or r["text"]


def test_units_are_already_folded():
    """Each unit is one near-duplicate group's representative. Run again per day on the units
    alone, the engine's Deduplicator (defaults) joins exactly one pair: two ElWatanNews items of
    different stories (the killing of Belaid; his funeral procession) whose bodies end in the
    same "related news" list of headlines. In the full day's feed it kept them apart."""
    records, gold = load_egynews_ar_stories()
    joined = []
    for day in ("06", "10"):
        idx = [i for i, r in enumerate(records) if r["published"][8:10] == day]
        labels = Deduplicator().fit_predict([records[i] for i in idx]).tolist()
        groups = {}
        for i, lab in zip(idx, labels):
            groups.setdefault(lab, []).append(i)
        joined += [g for g in groups.values() if len(g) > 1]
    assert len(joined) == 1 and len(joined[0]) == 2
    a, b = joined[0]
    assert {records[a]["source"], records[b]["source"]} == {"ElWatanNews"}
    assert gold[a] != gold[b]
