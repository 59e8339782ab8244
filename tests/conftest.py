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
    """A file under ../shared/data. In CI (``CI`` set) a missing file fails the test loudly;
    elsewhere (a user's checkout without the shared folder) the test is skipped with the path."""
    p = SHARED / path
    if not p.exists():
        if os.environ.get("CI"):
            pytest.fail(f"shared data missing in CI: {p}")
        pytest.skip(f"shared data not available: {p}")
    return p


def scalar(store, sql: str, params: list | None = None):
    """The first value of a query on a store (tests read tables directly)."""
    rows = store.con.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None


def both_lookup_paths(monkeypatch, call):
    """``call()`` by the store's point lookups (IN lists for a few keys), then with every
    lookup forced onto the join path (a registered Arrow table of keys)."""
    from clustering.store import base

    small = call()
    with monkeypatch.context() as m:
        m.setattr(base, "POINT_LOOKUP_MAX", 0)
        joined = call()
    return small, joined


def ingest(store, paths, *, story=None, config=None, **kwargs):
    """Ingest ``paths`` into an open store through :class:`clustering.NewsClusterer`: dedup
    only, or with ``story`` (a story hook such as :class:`clustering.story_step.StoryStep`)."""
    from clustering import Config, NewsClusterer

    nc = NewsClusterer(store, config or Config().replace(stories={"mode": "none"}))
    if story is not None:
        nc.story_step = story
    return nc.ingest(paths, **kwargs)


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
