"""The hybrid story scorer inside the engine (store, NewsClusterer, StoryClusterer), on real data
with the real embedding model: batch order invariance, stored state and document frequencies,
explain, the in-memory estimator."""

from __future__ import annotations

import dataclasses
import json
import random
import shutil
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from clustering import Config, NewsClusterer, StoryClusterer
from clustering.evaluate.metrics import bcubed
from clustering.io.readers import read_articles
from clustering.store import Store, base
from clustering.stories.hybrid import unpack_vector

from .conftest import SEED_PAGE, both_lookup_paths, scalar

pytestmark = pytest.mark.slow  # the embedding model on real data

N_DAY = 150


@pytest.fixture(scope="module")
def embedder():
    from clustering.embed import Embedder

    return Embedder()


@pytest.fixture(scope="module")
def articles(egy_day_articles):
    """The seed page and the first N_DAY articles of the bundled EgyNews day."""
    return read_articles([SEED_PAGE]).articles + list(egy_day_articles[:N_DAY])


def open_stories(nc: NewsClusterer) -> dict[str, str]:
    return dict(nc.store.con.execute(
        "SELECT article_id, story_id FROM story_members WHERE valid_to IS NULL").fetchall())


def test_batch_mode_is_invariant_to_input_order(articles, embedder):
    cfg = Config().replace(stories={"mode": "batch"})
    runs = []
    for seed in (None, 1):
        arts = list(articles)
        if seed is not None:
            random.Random(seed).shuffle(arts)
        with NewsClusterer(":memory:", cfg, embedder=embedder) as nc:
            nc.ingest(arts)
            runs.append(open_stories(nc))
    a, b = runs
    assert set(a) == set(b) == {x.id for x in articles}
    ids = sorted(a)
    assert len(set(a.values())) > 20                          # many stories, not one blob
    assert bcubed([a[i] for i in ids], [b[i] for i in ids]).f1 == 1.0


def test_online_hybrid_keeps_state_and_document_frequencies_in_the_store(articles, embedder):
    with NewsClusterer(":memory:", Config(), embedder=embedder) as nc:
        half = len(articles) // 2
        nc.ingest(articles[:half])
        st = nc.store
        units = scalar(st, "SELECT count(*) FROM embeddings")
        # every embedded unit counted once in the document frequencies
        assert scalar(st, "SELECT df FROM doc_freqs WHERE term = ''") == units
        # every story with an embedded member has a state; its size is its embedded members
        sizes = dict(st.con.execute("SELECT story_id, units FROM stories WHERE units > 0").fetchall())
        states = {k: json.loads(v) for k, v in st.con.execute(
            "SELECT story_id, state FROM story_state").fetchall()}
        assert set(states) == set(sizes)
        assert all(states[k]["size"] == sizes[k] for k in sizes)
        first = open_stories(nc)
        nc.ingest(articles[half:])
        units2 = scalar(st, "SELECT count(*) FROM embeddings")
        assert units2 > units
        assert scalar(st, "SELECT df FROM doc_freqs WHERE term = ''") == units2
        now = open_stories(nc)
        # online moves members only when their story merged into another (a new unit bridged)
        merged = dict(st.con.execute(
            "SELECT story_id, other_story_id FROM story_events WHERE kind = 'merged_into'").fetchall())
        assert all(now[k] == v or merged.get(v) == now[k] for k, v in first.items())
        sizes = dict(st.con.execute("SELECT story_id, units FROM stories WHERE units > 0").fetchall())
        states = {k: json.loads(v)["size"] for k, v in st.con.execute(
            "SELECT story_id, state FROM story_state").fetchall()}
        assert states == sizes
        # a re-cluster (batch, hybrid) moves members: the states follow the memberships
        nc.recluster()
        sizes = dict(st.con.execute("SELECT story_id, units FROM stories WHERE units > 0").fetchall())
        states = {k: json.loads(v)["size"] for k, v in st.con.execute(
            "SELECT story_id, state FROM story_state").fetchall()}
        assert states == sizes
        assert scalar(st, "SELECT df FROM doc_freqs WHERE term = ''") == units2  # no recount


def test_online_merges_stored_stories_a_new_item_bridges(embedder):
    """uci headlines posted 10 per call, item by item (online_batch=1): when an item bridges two
    stored stories they merge; the store keeps one open membership per article, the merged
    story closed (status merged, a merged_into event, no state), the states in step."""
    import csv

    from .conftest import shared

    with open(shared("uci-headlines/uci_news_aggregator_dev_stories.csv"), encoding="utf-8",
              newline="") as f:
        rows = list(csv.DictReader(f))
    keep = sorted({r["STORY"] for r in rows})[:6]
    rows = [r for r in rows if r["STORY"] in keep]
    rows = [rows[k] for k in np.random.default_rng(0).permutation(len(rows))[:200]]
    arts = [{"id": r["ID"], "title": r["TITLE"], "published": "2014-03-10T00:00:00Z"} for r in rows]
    cfg = Config().replace(stories={"online_batch": 1})
    with NewsClusterer(":memory:", cfg, embedder=embedder) as nc:
        for lo in range(0, len(arts), 10):
            nc.ingest(arts[lo:lo + 10])
        st = nc.store
        events = st.con.execute("SELECT story_id, other_story_id FROM story_events "
                                "WHERE kind = 'merged_into'").fetchall()
        assert events, "no stored stories merged in 20 calls"
        gone = {a for a, _ in events}
        members = open_stories(nc)
        assert len(members) == scalar(st, "SELECT count(*) FROM articles")
        assert gone.isdisjoint(members.values())
        status = dict(st.con.execute("SELECT story_id, status FROM stories").fetchall())
        assert all(status[g] == "merged" for g in gone)
        states = {k: json.loads(v)["size"] for k, v in st.con.execute(
            "SELECT story_id, state FROM story_state").fetchall()}
        assert gone.isdisjoint(states)
        sizes = dict(st.con.execute("SELECT story_id, units FROM stories WHERE units > 0").fetchall())
        assert states == sizes
        gold = {r["ID"]: r["STORY"] for r in rows}
        assert bcubed([gold[k] for k in members], list(members.values())).f1 > 0.8


def test_a_writer_held_open_reuses_its_online_state_and_stays_exact(articles, embedder, tmp_path):
    """One article per call: a NewsClusterer held open keeps the active stories in memory between
    calls (no reparse of every stored state); the stories equal those of a writer reopened for
    every call, which reloads them from the store, labels included (the held writer keeps the
    titles of its label contrast set). A run by another writer in between is noticed (newest
    run id) and the state reloaded."""
    arts = articles[:40]
    held, fresh = tmp_path / "held.duckdb", tmp_path / "fresh.duckdb"
    copy = {"id": f"{arts[30].id}-copy", "title": arts[30].title, "text": arts[30].text,
            "source": "copy", "published": arts[30].published.isoformat()
            if arts[30].published else None}
    with NewsClusterer(held, Config(), embedder=embedder) as nc:
        for a in arts[:30]:
            nc.ingest([a])
        assert nc.story_step._active is not None and nc.story_step._active.run_id == \
            nc.store.last_run_id()
        reused = nc.story_step._active
        nc.ingest([arts[30]])
        assert nc.story_step._active.stories is reused.stories      # the same object, reused
        # a call that only adds a copy of a stored article embeds nothing and keeps the state
        # (dropping it made the next call reparse every active story)
        assert nc.ingest([copy]).stories["embedded"] == 0
        assert nc.story_step._active is not None and \
            nc.story_step._active.run_id == nc.store.last_run_id()
        assert nc.story_step._active.stories is reused.stories
    for a in arts[:31] + [copy]:
        with NewsClusterer(fresh, Config(), embedder=embedder) as nc:
            nc.ingest([a])
    with NewsClusterer(held, Config(), embedder=embedder, read_only=True) as a, \
            NewsClusterer(fresh, Config(), embedder=embedder, read_only=True) as b:
        assert open_stories(a) == open_stories(b)
        sa = dict(a.store.con.execute("SELECT story_id, state FROM story_state").fetchall())
        sb = dict(b.store.con.execute("SELECT story_id, state FROM story_state").fetchall())
        assert sa == sb
        # labels too: the held writer reuses the titles of its label contrast set
        rows = "SELECT story_id, label, label_terms, representative_id, size, status FROM stories ORDER BY 1"
        assert a.store.con.execute(rows).fetchall() == b.store.con.execute(rows).fetchall()
    # another writer's run between two calls: the held state no longer fits and is reloaded
    with NewsClusterer(held, Config(), embedder=embedder) as nc:
        nc.ingest([arts[31]])
        kept = nc.story_step._active
        with NewsClusterer(nc.store, Config(), embedder=embedder) as other:
            other.ingest([arts[32]])
        assert not kept.fits(nc.store.last_run_id(), kept.model_id)
        nc.ingest([arts[33]])
        assert nc.story_step._active.stories is not kept.stories


def test_explain_reports_probability_features_and_threshold(articles, embedder):
    with NewsClusterer(":memory:", Config(), embedder=embedder) as nc:
        nc.ingest(articles[:11])                                  # the seed page
        stories = open_stories(nc)
        page = next(k for k in stories if "#" not in k)
        naval = [k for k in stories if k.endswith("#related-1") or k.endswith("#related-2")]
        same = nc.explain(*naval)["story"]
        apart = nc.explain(page, naval[0])["story"]
    assert same["same_story"] and same["probability"] >= same["threshold"] == 0.5
    assert not apart["same_story"] and apart["probability"] < 0.5
    assert "hybrid" in apart["verdict"] and "P(same story)" in apart["verdict"]
    assert set(apart["features"]) >= {"emb", "title", "text", "ent", "log_gap_days"}


def test_story_clusterer_hybrid_batch_and_online_on_the_seed_page(embedder):
    arts = read_articles([SEED_PAGE]).articles
    ids = [a.id for a in arts]
    page = next(i for i, a in enumerate(ids) if "#" not in a)
    naval = [i for i, a in enumerate(ids) if a.endswith(("#related-1", "#related-2"))]
    batch = StoryClusterer(embedder=embedder).fit_predict(arts)
    online = StoryClusterer(embedder=embedder).partial_fit(arts).labels_
    cosine = StoryClusterer(embedder=embedder, scorer="cosine").fit_predict(arts)
    for labels in (batch, online):
        assert labels[naval[0]] == labels[naval[1]]
        assert np.sum(labels == labels[page]) == 1          # the page article alone
    assert np.sum(cosine == cosine[page]) > 1               # the cosine scorer merges it
    with pytest.raises(ValueError):
        StoryClusterer(scorer="nope").fit(arts)


def test_cli_train_refits_the_scorer_and_run_uses_it(tmp_path):
    import gzip

    from typer.testing import CliRunner

    from clustering.cli import app
    from clustering.stories import StoryScorer

    from .conftest import shared

    src = shared("ecbplus/ecbplus_topics_1-35.jsonl.gz")
    with gzip.open(src, "rt", encoding="utf-8") as fh:
        rows = [r for r in map(json.loads, fh) if r["topic"] in (1, 2, 3)]
    data = tmp_path / "ecb.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    runner = CliRunner()
    out = tmp_path / "w.json"
    res = runner.invoke(app, ["train", str(data), "--input", str(data), "--gold-column",
                              "story_id", "--group-column", "topic", "--out", str(out)],
                        catch_exceptions=False)
    assert res.exit_code == 0, res.output
    sc = StoryScorer.load(out)
    assert sc.meta["articles"] == len(rows) and sc.meta["stories"] == len({r["story_id"] for r in rows})
    f1 = {k: float(v) for k, v in (ln.split(": ") for ln in res.output.splitlines()
                                   if ln.startswith("in-sample"))}
    assert f1["in-sample B-cubed F1 (new scorer)"] > 0.8
    db = tmp_path / "t.duckdb"
    res = runner.invoke(app, ["run", str(data), "--db", str(db), "--scorer-weights", str(out),
                              "--json", "-q"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    with NewsClusterer(db, read_only=True) as nc:
        assert nc.stored_config().stories.scorer_weights == str(out)
        reasons = [r[0] for r in nc.store.con.execute(
            "SELECT reason FROM story_members WHERE reason LIKE 'joined%'").fetchall()]
    assert reasons and all("P(same story)" in r for r in reasons)
    bad = runner.invoke(app, ["run", str(data), "--db", str(db), "--scorer-weights",
                              str(tmp_path / "missing.json")])
    assert bad.exit_code != 0 and "scorer-weights" in bad.output


def test_story_labels_are_shown_in_the_titles_spelling(articles, embedder):
    from clustering.normalise import normalise

    with NewsClusterer(":memory:", Config(), embedder=embedder) as nc:
        nc.ingest(articles)
        rows = nc.store.con.execute(
            "SELECT s.story_id, s.label_terms, list(coalesce(nullif(a.title, ''), "
            "substr(coalesce(a.text, ''), 1, 300))) FROM stories s JOIN story_members m "
            "USING (story_id) JOIN articles a ON a.id = m.article_id WHERE m.valid_to IS NULL "
            "GROUP BY ALL").fetchall()
    changed = 0
    for _, terms, titles in rows:
        words = {w for t in titles for w in t.split()}      # titles (no title: the lead)
        for term in terms:
            assert any(term in w for w in words), (term, titles)  # a word of the titles
            changed += term != normalise(term)
    assert changed > 0               # some terms differ from their normalised form ("ة", capitals)


def _unpacked_state(text: str) -> dict:
    """A stored story state with its vectors as lists of numbers (either format)."""
    d = json.loads(text)
    d["sum"] = unpack_vector(d["sum"]).tolist()
    for m in d["members"]:
        m["emb"] = unpack_vector(m["emb"]).tolist()
    return d


def test_states_stored_before_vectors_were_packed_load_the_same(articles, embedder, tmp_path):
    """A store whose story states hold their vectors as JSON numbers with \\u-escaped terms
    (as written before states were packed) decides the next articles exactly as the same store
    with packed states, and the states it rewrites come out packed and the same."""
    packed, legacy = tmp_path / "packed.duckdb", tmp_path / "legacy.duckdb"
    with NewsClusterer(packed, Config(), embedder=embedder) as nc:
        nc.ingest(articles[:100])
    shutil.copy(packed, legacy)
    with Store(legacy) as st:
        rows = st.con.execute("SELECT story_id, state FROM story_state").fetchall()
        assert rows and all(isinstance(json.loads(v)["sum"], str) for _, v in rows)
        for sid, v in rows:
            st.con.execute("UPDATE story_state SET state = ? WHERE story_id = ?",
                           [json.dumps(_unpacked_state(v)), sid])
        old_bytes = sum(len(json.dumps(_unpacked_state(v)).encode()) for _, v in rows)
    assert sum(len(v.encode()) for _, v in rows) < 0.4 * old_bytes
    for path in (packed, legacy):
        with NewsClusterer(path, Config(), embedder=embedder) as nc:
            for lo in range(100, 130, 10):
                nc.ingest(articles[lo:lo + 10])
    with NewsClusterer(packed, Config(), embedder=embedder, read_only=True) as a, \
            NewsClusterer(legacy, Config(), embedder=embedder, read_only=True) as b:
        assert open_stories(a) == open_stories(b)
        sa = dict(a.store.con.execute("SELECT story_id, state FROM story_state").fetchall())
        sb = dict(b.store.con.execute("SELECT story_id, state FROM story_state").fetchall())
        assert sa.keys() == sb.keys()
        assert {k: _unpacked_state(v) for k, v in sa.items()} == \
            {k: _unpacked_state(v) for k, v in sb.items()}
        rewritten = [k for k in sb if sb[k] == sa[k]]
        assert rewritten and all(isinstance(json.loads(sb[k])["sum"], str) for k in rewritten)


def test_story_lookups_by_key_equal_the_joins(articles, embedder, monkeypatch):
    """The story step's reads by key (IN lists, answered by index scans, for a few stories,
    groups, articles or terms) return what the joins with a registered table of keys return,
    on a store with online stories, closed memberships (updates) and unknown keys; the
    key path registers no table."""
    with NewsClusterer(":memory:", Config(), embedder=embedder) as nc:
        nc.ingest(articles[:100])
        nc.recluster()
        nc.ingest(articles[100:])
        # updates: an edited text takes the article out of its story (a closed membership)
        nc.ingest([dataclasses.replace(a, text=f"{a.text} (updated)", title=f"{a.title} تحديث")
                   for a in articles[10:40:6]])
        st, model = nc.store, nc.story_step.model_id
        q = lambda sql: [r[0] for r in st.con.execute(sql).fetchall()]  # noqa: E731
        closed = q("SELECT DISTINCT story_id FROM story_members WHERE valid_to IS NOT NULL "
                   "ORDER BY 1 LIMIT 5")
        assert closed
        stories = q("SELECT story_id FROM stories ORDER BY size DESC, story_id LIMIT 8") + closed + [
            "S-not-stored"]
        gids = q("SELECT group_id FROM dup_groups ORDER BY size DESC, group_id LIMIT 6") + q(
            "SELECT group_id FROM dup_groups WHERE size = 1 ORDER BY group_id LIMIT 6") + ["g-not-stored"]
        ids = q("SELECT article_id FROM embeddings ORDER BY article_id LIMIT 20") + q(
            "SELECT article_id FROM dup_members WHERE article_id NOT IN (SELECT article_id FROM "
            "embeddings) ORDER BY 1 LIMIT 5") + ["not-stored"]
        terms = q("SELECT term FROM doc_freqs ORDER BY df DESC, term LIMIT 40") + ["not-a-term"]
        run = st.last_run_id()
        calls = {
            "story_member_rows": lambda: st.story_member_rows(stories, model),
            "existing_stories": lambda: st.existing_stories(stories),
            "story_sizes": lambda: st.story_sizes(stories),
            "story_created_runs": lambda: st.story_created_runs(stories),
            "stories_with_state": lambda: st.stories_with_state(stories, model),
            "doc_freqs_of": lambda: st.doc_freqs_of(terms),
            "embeddings_of": lambda: {k: v.tolist() for k, v in st.embeddings_of(ids, model).items()},
            "stories_of_groups": lambda: st.stories_of_groups(gids),
            "group_representatives": lambda: st.group_representatives(gids),
            "run_growth": lambda: st.run_growth(run, q("SELECT story_id FROM story_members WHERE "
                                                       f"run_id = {run} ORDER BY 1") + stories),
        }
        temps: list = []
        real = Store._temp
        monkeypatch.setattr(Store, "_temp", lambda self, t: temps.append(t) or real(self, t))
        for name, call in calls.items():
            temps.clear()
            small = call()
            assert not temps, name  # by key: no registered table
            with monkeypatch.context() as m:
                m.setattr(base, "POINT_LOOKUP_MAX", 0)
                joined = call()
            assert temps, name
            assert small == joined, name
            assert small and small != ([] if isinstance(small, list) else {}), name
        assert st.stories_with_state(stories, model) == set(st.story_states(stories, model))
        every = q("SELECT story_id FROM stories ORDER BY story_id")
        small, joined = both_lookup_paths(monkeypatch, lambda: st.story_states(every, model))
        assert small == joined and len(small) > 20
        rows = st.story_member_rows(stories, model)
        assert {r[0] for r in rows} == set(stories) - set(closed) - {"S-not-stored"} | (
            set(closed) & set(q("SELECT story_id FROM story_members WHERE valid_to IS NULL")))
        assert any(r[7] is None for r in rows) and any(r[7] is not None for r in rows)
        assert st.story_member_rows([], model) == []
        # the label contrast: recent active stories and their open members' titles
        want = q("SELECT story_id FROM stories WHERE status = 'active' ORDER BY last_seen DESC "
                 "NULLS LAST, story_id LIMIT 30")
        assert st.recent_story_ids(30) == want and st.recent_story_ids(0) == []
        titles = {sid: [t for (t,) in st.con.execute(
            "SELECT coalesce(a.title, '') FROM story_members sm JOIN articles a ON a.id = sm.article_id "
            "WHERE sm.story_id = ? AND sm.valid_to IS NULL ORDER BY a.seq", [sid]).fetchall()]
            for sid in want + closed}
        small, joined = both_lookup_paths(monkeypatch, lambda: st.open_member_titles(want + closed))
        assert small == joined == titles
        assert any(len(v) > 1 for v in titles.values())
        # the largest story number: kept in a counter row, as the scan of every story id gives
        top = scalar(st, "SELECT max(TRY_CAST(substr(story_id, 2) AS BIGINT)) FROM stories")
        assert top > 20 and st.max_story_number() == top
        assert st.story_member_rows([], model) == []
        st.con.execute("DELETE FROM counters")  # a store written before the counter existed
        assert st.max_story_number() == top == scalar(st, "SELECT value FROM counters")
        # members of stored groups without an open membership (as an update leaves them)
        assert st.members_without_story(gids) == []
        victims = [r[0] for r in st.con.execute(
            "SELECT article_id FROM dup_members WHERE group_id IN (?, ?) ORDER BY article_id",
            [gids[0], gids[6]]).fetchall()][:3]
        st.close_memberships(victims, datetime.now(timezone.utc), run + 1)
        small, joined = both_lookup_paths(monkeypatch, lambda: st.members_without_story(gids))
        assert small == joined and sorted(a for _, a in small) == victims


def test_quiet_stories_drop_their_states_and_get_them_back_when_touched(articles, embedder):
    """A story that goes quiet loses its hybrid state (online assignment loads active stories
    only, so ``story_state`` stays the size of the active window, not of the archive); an
    update that touches it again makes it active with a state rebuilt from its members."""
    day = [a for a in articles if a.published and a.published.year == 2013][:80]
    with NewsClusterer(":memory:", Config(), embedder=embedder) as nc:
        st = nc.store
        q = lambda sql: [r[0] for r in st.con.execute(sql).fetchall()]  # noqa: E731
        nc.ingest(day[:70])
        before = set(q("SELECT story_id FROM story_state"))
        assert len(before) > 20 and before == set(q("SELECT story_id FROM stories WHERE units > 0"))
        late = dataclasses.replace(day[70], id="late", published=day[70].published + timedelta(days=30))
        nc.ingest([late])
        quiet = set(q("SELECT story_id FROM stories WHERE status = 'quiet'"))
        assert quiet >= before - set(q("SELECT story_id FROM story_members WHERE article_id = 'late'"))
        assert not quiet & set(q("SELECT story_id FROM story_state"))
        # a quiet story's member edited: the story is refreshed, active again, its state rebuilt
        sid, aid = st.con.execute(
            "SELECT sm.story_id, sm.article_id FROM story_members sm JOIN stories s USING (story_id) "
            "WHERE s.status = 'quiet' AND s.size > 1 ORDER BY sm.story_id, sm.article_id LIMIT 1").fetchall()[0]
        edited = next(a for a in day if a.id == aid)
        nc.ingest([dataclasses.replace(edited, text=f"{edited.text} (updated)")])
        status, units = st.con.execute("SELECT status, units FROM stories WHERE story_id = ?",
                                       [sid]).fetchall()[0]
        assert status == "active" and units >= 1
        state = st.story_states([sid], nc.story_step.model_id)[sid]
        assert json.loads(state)["size"] == units


def test_a_failed_run_makes_the_story_step_forget_what_it_keeps(articles, embedder, monkeypatch):
    """A run that fails after the story step (rolled back) leaves the step with nothing kept:
    the next run may reuse the failed run's id, and kept stories or label contrast titles of
    the rolled-back run would then look valid."""
    with NewsClusterer(":memory:", Config(), embedder=embedder) as nc:
        step = nc.story_step
        nc.ingest(articles[:20])
        last = nc.store.last_run_id()
        assert step._active is not None and step._contrast and step._contrast_run == last

        def disk_full(*args, **kwargs):
            raise RuntimeError("disk full")

        with monkeypatch.context() as m:
            m.setattr(nc.store, "record_run", disk_full)
            with pytest.raises(RuntimeError, match="disk full"):
                nc.ingest(articles[20:25])
        assert nc.store.last_run_id() == last
        assert step._active is None and step._pending is None
        assert step._contrast == {} and step._contrast_run is None
        assert nc.ingest(articles[20:25]).run_id == last + 1  # the failed run's id, reused
        assert step._contrast_run == last + 1


def test_a_quiet_story_a_near_duplicate_revives_is_reloaded_by_a_held_writer(articles, embedder):
    """A copy of a quiet story's member joins that story (its near-duplicate group is there):
    the story is active again in the store, so a writer held open drops the kept state, in
    which that story was retired, and its next round loads the active stories as a reopened
    writer would."""
    day = [a for a in articles if a.published and a.published.year == 2013][:60]
    with NewsClusterer(":memory:", Config(), embedder=embedder) as nc:
        st, step = nc.store, nc.story_step
        nc.ingest(day[:50])
        late = dataclasses.replace(day[50], id="late", published=day[50].published + timedelta(days=30))
        nc.ingest([late])
        sid, aid = st.con.execute(
            "SELECT sm.story_id, sm.article_id FROM story_members sm JOIN stories s USING (story_id) "
            "WHERE s.status = 'quiet' ORDER BY sm.story_id, sm.article_id LIMIT 1").fetchall()[0]
        assert step._active is not None and not step._active.stories.is_candidate(sid)
        source = next(a for a in day if a.id == aid)
        copy = dataclasses.replace(source, id="copy", source="another outlet", published=late.published)
        nc.ingest([copy])
        assert scalar(st, "SELECT story_id FROM story_members WHERE article_id = 'copy' "
                          "AND valid_to IS NULL") == sid
        assert scalar(st, "SELECT status FROM stories WHERE story_id = ?", [sid]) == "active"
        assert step._active is None  # reloaded next round
        nc.ingest([dataclasses.replace(day[51], published=late.published)])
        assert step._active is not None and step._active.stories.is_candidate(sid)
