"""The hand-labelled English-Arabic EgyNews pairs load, and hold what their README says."""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("labelled_pairs", ROOT / "benchmarks" / "labelled_pairs.py")
labelled_pairs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(labelled_pairs)

AR = re.compile("[\u0600-\u06ff]")


@pytest.fixture(scope="module")
def pairs() -> list[dict]:
    return labelled_pairs.load_crosslingual_pairs()


def test_counts_meet_the_targets(pairs):
    labels = Counter(p["label"] for p in pairs)
    assert labels["same"] >= 50 and labels["near"] >= 50 and labels["other"] > 0
    assert len({p["id_a"] for p in pairs}) >= 40
    assert len({(p["id_a"], p["id_b"]) for p in pairs}) == len(pairs)  # no pair twice


def test_a_is_english_b_is_arabic_next_day_at_most(pairs):
    for p in pairs:
        assert p["source_a"] in {"englishAhram", "englishFjp"}
        assert not AR.search(p["title_a"]) and AR.search(p["title_b"] + p["body_b"][:200])
        ta, tb = (datetime.fromisoformat(p[k]).date() for k in ("timestamp_a", "timestamp_b"))
        assert 0 <= (tb - ta).days <= 1
        assert "2013-02-03" <= p["timestamp_a"][:10] <= "2013-02-13"  # never the dev day 02-01
        assert 0.0 < p["cosine"] <= 1.0 and isinstance(p["doubt"], bool)


def test_loader_rejects_an_unknown_label(tmp_path):
    row = dict.fromkeys(labelled_pairs._FIELDS, "")
    row["label"] = "maybe"
    path = tmp_path / "bad.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
    with pytest.raises(ValueError, match="maybe"):
        labelled_pairs.load_crosslingual_pairs(path)
