"""Shared fixtures: paths to the bundled and shared real data, and tiny file writers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
SHARED = ROOT.parent / "shared" / "data"
SEED_PAGE = DATA / "seed-page" / "similar_articles_page_ar.txt"
EGY_DAY = DATA / "egynews" / "egynews2013_2013-02-01.jsonl.gz"


def shared(path: str) -> Path:
    """A file under ../shared/data, or skip the test when the shared data is not mounted."""
    p = SHARED / path
    if not p.exists():
        pytest.skip(f"shared data not available: {p}")
    return p


@pytest.fixture
def write_jsonl(tmp_path):
    """Write records (dicts or raw strings) as JSON Lines; returns the path."""

    def _write(records, name="in.jsonl"):
        p = tmp_path / name
        with open(p, "w", encoding="utf-8") as fh:
            for r in records:
                fh.write((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n")
        return p

    return _write


@pytest.fixture(scope="session")
def egy_day_articles():
    """The bundled EgyNews day as Articles (read once per session)."""
    from clustering.io.readers import read_articles

    return read_articles([EGY_DAY]).articles
