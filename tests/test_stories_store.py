"""Stories end to end with the real model: the seed page, EgyNews day by day (online) and a
batch re-cluster, with the history in DuckDB checked for consistency."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict

import pytest

from clustering.config import EmbedParams, StoryParams
from clustering.pipeline import NewsClusterer
from clustering.store import Store
from clustering.story_step import StoryStep

from .conftest import SEED_PAGE, ingest, scalar, shared

pytestmark = pytest.mark.slow  # the embedding model on real data

PER_DAY = 120


def make_story_step(mode: str, scorer: str = "hybrid") -> StoryStep:
    return StoryStep(StoryParams(mode=mode, scorer=scorer), EmbedParams())


@pytest.fixture(scope="module")
def step():
    return make_story_step("online")


@pytest.fixture(scope="module")
def days(tmp_path_factory):
    """The first PER_DAY articles of each of three EgyNews days, one JSONL file per day."""
    src = shared("egynews2013/egynews2013_2013-02-01_to_02-14.jsonl.gz")
    by_day = defaultdict(list)
    with gzip.open(src, "rt", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            day = r["timestamp"][:10]
            if day in ("2013-02-02", "2013-02-03", "2013-02-04") and len(by_day[day]) < PER_DAY:
                by_day[day].append(line)
            if len(by_day) == 3 and all(len(v) == PER_DAY for v in by_day.values()):
                break
    out = tmp_path_factory.mktemp("days")
    paths = []
    for day in sorted(by_day):
        p = out / f"{day}.jsonl"
        p.write_text("".join(by_day[day]), encoding="utf-8")
        paths.append(p)
    return paths


def open_stories(store: Store) -> dict[str, str]:
    return dict(store.con.execute(
        "SELECT article_id, story_id FROM story_members WHERE valid_to IS NULL").fetchall())


def assert_history_consistent(store: Store) -> None:
    """Every article has exactly one open membership; every closed membership has a successor
    (a later row for the same article) or an event on its story in the run that closed it."""
    n_articles = scalar(store, "SELECT count(*) FROM articles")
    rows = store.con.execute("SELECT article_id, count(*) FROM story_members WHERE valid_to IS NULL "
                             "GROUP BY 1").fetchall()
    assert len(rows) == n_articles and all(c == 1 for _, c in rows)
    orphans = store.con.execute(
        "SELECT c.article_id, c.story_id FROM story_members c WHERE c.valid_to IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM story_members s WHERE s.article_id = c.article_id "
        "AND s.valid_from >= c.valid_to) AND NOT EXISTS (SELECT 1 FROM story_events e "
        "WHERE e.story_id = c.story_id AND e.run_id = c.closed_run)").fetchall()
    assert not orphans
    # stories' sizes agree with their open memberships, and every story has a "created" event
    bad = store.con.execute(
        "SELECT s.story_id FROM stories s LEFT JOIN (SELECT story_id, count(*) n FROM story_members "
        "WHERE valid_to IS NULL GROUP BY 1) m USING (story_id) WHERE s.size <> coalesce(m.n, 0)"
    ).fetchall()
    assert not bad
    assert scalar(store, "SELECT count(*) FROM stories s WHERE NOT EXISTS (SELECT 1 FROM story_events e "
                        "WHERE e.story_id = s.story_id AND e.kind IN ('created', 'split_from'))") == 0


def seed_stories(step) -> dict[str, str]:
    with Store(":memory:") as store:
        ingest(store, [SEED_PAGE], story=step)
        return {k.replace(SEED_PAGE.stem, "P"): v for k, v in open_stories(store).items()}


# Troops in Kursk / Putin's thanks: the read-also item, its verbatim repeat (#4), the two
# "Putin thanks North Korea for its soldiers in Kursk" headlines (#5, #6), #3 and #9.
KURSK = ["P#readalso-1", "P#related-3", "P#related-4", "P#related-5", "P#related-6", "P#related-9"]
NAVAL = ["P#related-1", "P#related-2"]


@pytest.mark.parametrize("mode", ["online", "batch"])
def test_seed_page_troops_and_naval_stories_cosine_scorer(step, mode):
    s = make_story_step(mode, "cosine")
    s.embedder = step.embedder
    st = seed_stories(s)
    assert len({st[k] for k in KURSK}) == 1
    assert len({st[k] for k in NAVAL}) == 1 and st[NAVAL[0]] != st[KURSK[0]]
    assert st["P"] != st[NAVAL[0]]


# The hybrid scorer (the default) changes the seed page on purpose: the page article gets a
# story of its own (what the gold says, and what the cosine scorer cannot do), the naval pair
# stays one story apart from every Kursk item, the "read also" item stays with its verbatim
# repeat; but the Kursk / thanks headlines told in different words (related-3, -5, -6, -9) are
# split (pair probabilities 0.1-0.45; benchmarks/RESULTS.md, "Learned hybrid story scorer").
@pytest.mark.parametrize("mode", ["online", "batch"])
def test_seed_page_naval_story_and_page_article_apart(step, mode):
    s = make_story_step(mode)
    s.embedder = step.embedder
    st = seed_stories(s)
    assert len({st[k] for k in NAVAL}) == 1
    assert st[NAVAL[0]] not in {st[k] for k in KURSK}
    assert st["P#readalso-1"] == st["P#related-4"]
    assert st["P"] not in {st[k] for k in KURSK + NAVAL}


@pytest.mark.xfail(strict=True, reason=(
    "known limitation of the hybrid scorer: the Kursk / thanks headlines that tell one story in "
    "different words score P(same story) 0.2-0.46 (TF-IDF text cosine 0.05-0.3), and every "
    "training weighting tried that joins them also joins the page article with a troops "
    "headline; see "
    "benchmarks/RESULTS.md, Stories: ANS paraphrases and changed claims weighed apart"))
@pytest.mark.parametrize("mode", ["online", "batch"])
def test_seed_page_kursk_headlines_one_story_hybrid(step, mode):
    s = make_story_step(mode)
    s.embedder = step.embedder
    st = seed_stories(s)
    assert len({st[k] for k in KURSK}) == 1


@pytest.mark.parametrize("mode", ["online", "batch"])
def test_seed_page_article_is_its_own_story(step, mode):
    s = make_story_step(mode)
    s.embedder = step.embedder
    st = seed_stories(s)
    assert st["P"] not in {st[k] for k in KURSK + NAVAL}


def test_online_day_by_day_keeps_story_ids_and_a_consistent_history(step, days, tmp_path):
    db = tmp_path / "stories.duckdb"
    seen: dict[str, str] = {}
    with Store(db) as store:
        for path in days:
            s = ingest(store, [path], story=step)
            assert s.stories["embedded"] <= s.new_articles   # near-duplicates cost no embedding
            now = open_stories(store)
            assert {a: now[a] for a in seen} == seen           # earlier articles kept their ids
            seen = now
            assert_history_consistent(store)
        before = store.counts()
        s = ingest(store, [days[0]], story=step)             # re-run: a no-op
        assert s.new_articles == 0
        after = store.counts()
        assert {k: v for k, v in after.items() if k != "runs"} == \
               {k: v for k, v in before.items() if k != "runs"}
        embedded = scalar(store, "SELECT count(*) FROM embeddings")
        assert embedded == scalar(store, "SELECT count(*) FROM dup_groups")
        assert embedded < scalar(store, "SELECT count(*) FROM articles")
        kinds = dict(store.con.execute("SELECT kind, count(*) FROM story_events GROUP BY 1").fetchall())
        assert kinds.get("created", 0) == scalar(store, "SELECT count(*) FROM stories")
        assert kinds.get("grew", 0) > 0


def test_batch_recluster_reconciles_ids_and_records_moves(step, days, tmp_path):
    batch = make_story_step("batch")
    batch.embedder = step.embedder        # share the loaded model
    with Store(tmp_path / "b.duckdb") as store:
        ingest(store, [days[0]], story=step)
        first = open_stories(store)
        ingest(store, [days[1]], story=batch)
        assert_history_consistent(store)
        now = open_stories(store)
        kept = sum(now[a] == first[a] for a in first)
        assert kept / len(first) > 0.5                         # most stories keep their ids
        moved = scalar(store, "SELECT count(*) FROM story_members WHERE valid_to IS NOT NULL")
        if moved:
            kinds = {r[0] for r in store.con.execute("SELECT kind FROM story_events").fetchall()}
            assert kinds & {"merged_into", "split_from", "grew"}
        # re-clustering the whole window from scratch: consistent, and a second time a no-op
        nc = NewsClusterer(store, embedder=step.embedder)
        nc.recluster()
        assert_history_consistent(store)
        settled = open_stories(store)
        s = nc.recluster()
        assert s["moved (batch)"] == 0 and open_stories(store) == settled


def test_stories_listing_and_timeline_renderings(step):
    from clustering.timeline import collapsed, render_html, render_json, render_text

    with Store(":memory:") as store:
        ingest(store, [SEED_PAGE], story=step)
        stories = store.list_stories(min_size=2)
        assert [s["size"] for s in stories] == sorted((s["size"] for s in stories), reverse=True)
        biggest = store.story_timeline(stories[0]["story_id"])
        assert len(biggest["articles"]) == stories[0]["size"]
        assert biggest["label_terms"] and biggest["events"][0]["kind"] == "created"
        lines = collapsed(biggest)
        assert len(lines) < len(biggest["articles"])        # near-duplicates folded into one line
        text = render_text(biggest)
        assert "near-duplicate(s)" in text and biggest["headline"] in text
        page = render_html(biggest)
        assert page.startswith("<!doctype html>") and "<svg" in page or "no article" in page
        assert "src=" not in page and "href=" not in page   # self-contained
        assert json.loads(render_json(biggest))["story_id"] == biggest["story_id"]
