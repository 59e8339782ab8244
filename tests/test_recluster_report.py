"""A batch re-cluster reports what it changed, and its events account for every moved article
(issue 10, "silent changes"), on the bundled EgyNews day."""

from __future__ import annotations

import gzip
import itertools
import json
import re
from collections import Counter
from datetime import datetime, timezone

import pytest

from clustering import Config, NewsClusterer

from .conftest import EGY_DAY, scalar

pytestmark = pytest.mark.slow  # the embedding model


@pytest.fixture(scope="module")
def reclustered(tmp_path_factory):
    with gzip.open(EGY_DAY, "rt", encoding="utf-8") as fh:
        recs = [json.loads(line) for line in itertools.islice(fh, 150)]
    nc = NewsClusterer(tmp_path_factory.mktemp("rc") / "db.duckdb",
                       Config().replace(stories={"mode": "online", "scorer": "cosine"}))  # moves to report
    nc.ingest(recs)
    sizes_before = dict(nc.store.con.execute(
        "SELECT story_id, count(*) FROM story_members WHERE valid_to IS NULL GROUP BY 1").fetchall())
    summary = nc.recluster()
    yield nc, summary, sizes_before
    nc.close()


def test_recluster_reports_moves_merges_splits_and_sizes(reclustered):
    nc, summary, before = reclustered
    ch = summary["changes"]
    run = scalar(nc.store, "SELECT max(run_id) FROM runs")
    moved = scalar(nc.store, "SELECT count(*) FROM story_members WHERE closed_run = ?", [run])
    assert moved > 0 and ch["articles moved"] == moved
    assert ch["groups moved"] == summary["moved (batch)"]
    after = dict(nc.store.con.execute(
        "SELECT story_id, count(*) FROM story_members WHERE valid_to IS NULL GROUP BY 1").fetchall())
    for row in ch["sizes"]:
        assert (row["before"], row["after"]) == (before.get(row["story_id"], 0), after.get(row["story_id"], 0))
    changed = {s for s in set(before) | set(after) if before.get(s, 0) != after.get(s, 0)}
    assert {r["story_id"] for r in ch["sizes"]} == changed
    kinds = Counter(nc.store.con.execute("SELECT kind FROM story_events WHERE run_id = ?", [run]).fetchall())
    assert len(ch["merged"]) == kinds[("merged_into",)] and len(ch["split"]) == kinds[("split_from",)]


def test_recluster_events_account_for_every_moved_article(reclustered):
    nc, _, _ = reclustered
    run = scalar(nc.store, "SELECT max(run_id) FROM runs")
    flows = Counter(nc.store.con.execute(
        "SELECT c.story_id, o.story_id FROM story_members c JOIN story_members o "
        "ON o.article_id = c.article_id AND o.run_id = c.closed_run AND o.valid_to IS NULL "
        "WHERE c.closed_run = ?", [run]).fetchall())
    named: Counter = Counter()
    for sid, kind, other, detail in nc.store.con.execute(
            "SELECT story_id, kind, other_story_id, detail FROM story_events WHERE run_id = ? "
            "AND kind IN ('merged_into', 'split_from', 'moved_to')", [run]).fetchall():
        pair = (other, sid) if kind == "split_from" else (sid, other)
        named[pair] += int(re.search(r"(\d+) article\(s\)", detail).group(1))
    assert named == flows and sum(flows.values()) > 0


def test_recluster_of_an_empty_or_inverted_window_is_an_error(reclustered):
    nc, _, _ = reclustered
    with pytest.raises(ValueError, match="empty window"):
        nc.recluster(since=datetime(2030, 1, 1, tzinfo=timezone.utc))
    with pytest.raises(ValueError, match="empty window"):
        nc.recluster(since=datetime(2013, 2, 3, tzinfo=timezone.utc),
                     until=datetime(2013, 2, 1, tzinfo=timezone.utc))
    again = nc.recluster()                                   # settled: a second pass moves nothing
    assert again["moved (batch)"] == 0 and "changes" not in again
