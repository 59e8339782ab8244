"""The public Python API: the README example runs, the in-memory estimators agree with a stored
run, one Config round-trips, and every CLI command still gives the output it gave before the
engine was rebuilt over the API (golden files recorded from the previous version)."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from clustering import Article, Config, Deduplicator, NewsClusterer, StoreError, StoryClusterer
from clustering.cli import app
from clustering.io.readers import read_articles

from .conftest import EGY_DAY, ROOT, SEED_PAGE

GOLDEN = ROOT / "tests" / "golden"
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.slow
def test_readme_python_api_example_runs():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Python API"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "exact repeat" in out.stdout


# ---- Deduplicator ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def day():
    return read_articles([EGY_DAY, SEED_PAGE]).articles


@pytest.fixture(scope="module")
def stored_groups(day):
    with NewsClusterer(":memory:", Config().replace(stories={"mode": "none"})) as nc:
        nc.ingest([EGY_DAY, SEED_PAGE])
        dup, _, _ = nc.store.cluster_assignments()
        reps = {g["group_id"]: g["representative_id"] for g in nc.store.list_groups(min_size=1,
                                                                                  limit=10**6,
                                                                                  members=False)}
    return dup, reps


def test_deduplicator_in_memory_equals_the_stored_run(day, stored_groups):
    dup, reps = stored_groups
    d = Deduplicator()
    labels = d.fit_predict(day)
    assert len(labels) == len(day) and (labels >= 0).all()
    assert d.group_ids_ == [dup[a.id] for a in day]          # same groups, same group ids
    assert d.representatives_ == reps                         # same representative rule
    assert d.n_exact_repeats_ > 0 and d.n_rejected_ >= 0
    # labels are numbered by first appearance and agree with the group ids
    first = {}
    for lab, g in zip(labels, d.group_ids_):
        assert first.setdefault(g, lab) == lab
    sims = d.similarities_
    # a Jaccard joined pair reaches its threshold; a containment joined one (wire reprinted with
    # paragraphs appended) may be below it, but never below the containment rule's floor
    by_jaccard = np.array([r not in (None, "containment") for r in d.rules_])
    assert np.isnan(sims[0]) and np.nanmin(sims[by_jaccard]) >= min(Config().dedup.threshold,
                                                                    Config().dedup.char_threshold)
    assert "containment" in d.rules_ and np.nanmin(sims) > 0.1


def test_deduplicator_partial_fit_in_halves_equals_one_fit(day):
    whole = Deduplicator().fit(day)
    half = len(day) // 2
    inc = Deduplicator().partial_fit(day[:half]).partial_fit(day[half:])
    assert inc.group_ids_ == whole.group_ids_
    assert inc.labels_.tolist() == whole.labels_.tolist()
    assert inc.representatives_ == whole.representatives_


def test_deduplicator_takes_dicts_and_counts_bad_records():
    d = Deduplicator(char_threshold=0.6)
    recs = [{"id": "x1", "title": "عاجل: مصر تعلن عن خطة جديدة للنقل العام في القاهرة"},
            {"id": "x2", "headline": "مصر تعلن عن خطة جديدة للنقل العام في القاهرة"},
            {"id": "", "title": "no id"}, "not a record",
            {"id": "x1", "title": "a repeated id"}]
    assert d.fit_predict(recs).tolist() == [0, 0, -1, -1, -1]
    assert d.skips_.as_dict() == {"missing id": 1, "not a record (str)": 1, "duplicate id": 1}
    assert d.rules_ == [None, "exact"]
    d.partial_fit([{"id": "x1", "title": "again"}])           # seen before: a counted skip
    assert d.labels_.tolist() == [0, 0, -1, -1, -1, -1] and d.skips_.reasons["duplicate id"] == 2
    ex = d.explain("x1", "x2")
    assert ex["same_group"] and ex["exact_repeat"]


def test_estimator_parameters_are_stored_as_given():
    d = Deduplicator(threshold=0.7)
    assert d.get_params()["threshold"] == 0.7
    assert d.set_params(num_perm=64).num_perm == 64
    with pytest.raises(ValueError):
        d.set_params(nope=1)
    with pytest.raises(ValueError):                          # checked when fitting
        Deduplicator(threshold=1.5).fit([])
    s = StoryClusterer(threshold=0.8, linkage="complete")
    assert s.get_params()["linkage"] == "complete"
    with pytest.raises(ValueError):
        StoryClusterer(linkage="ward").fit([], embeddings=np.zeros((0, 4)))


def test_story_clusterer_with_given_embeddings_batch_and_online():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 16))
    vecs = np.stack([a, a + 0.05 * rng.normal(size=16), b, b + 0.05 * rng.normal(size=16)])
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    arts = [Article(id=f"i{k}", title=f"headline {c}") for k, c in enumerate("abcd")]
    batch = StoryClusterer(threshold=0.9).fit_predict(arts, embeddings=vecs)
    assert batch.tolist() == [0, 0, 1, 1]
    online = StoryClusterer(threshold=0.9)
    online.partial_fit(arts[:2], embeddings=vecs[:2]).partial_fit(arts[2:], embeddings=vecs[2:])
    assert online.labels_.tolist() == [0, 0, 1, 1]
    assert online.reasons_[1].startswith("joined")
    with pytest.raises(ValueError):
        StoryClusterer().fit(arts, embeddings=vecs[:3])


# ---- Config -----------------------------------------------------------------------------------

def test_config_round_trips_and_rejects_unknown_or_bad_settings():
    c = Config().replace(stories={"mode": "batch", "threshold": 0.87},
                         dedup={"shingles": {"word_k": 4}})
    assert c.stories.mode == "batch" and c.dedup.shingles.word_k == 4
    assert Config.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    with pytest.raises(ValueError, match="unknown"):
        Config().replace(dedup={"treshold": 0.5})
    with pytest.raises(ValueError, match="threshold"):
        Config().replace(dedup={"threshold": 2.0})


def test_every_run_records_its_config(tmp_path):
    c = Config().replace(stories={"mode": "none"}, dedup={"threshold": 0.6})
    with NewsClusterer(tmp_path / "c.duckdb", c) as nc:
        nc.ingest([SEED_PAGE])
        assert nc.stored_config() == c
        assert nc.store.last_run_params()["fingerprint_config"] == c.dedup.fingerprint_key()


def test_news_clusterer_errors(tmp_path):
    db = tmp_path / "e.duckdb"
    with NewsClusterer(db, Config().replace(stories={"mode": "none"})) as nc:
        nc.ingest([SEED_PAGE])
        with pytest.raises(ValueError, match="empty window"):
            nc.stories(since=_t("2025-02-02"), until=_t("2025-02-01"))
        with pytest.raises(StoreError, match="no article from source"):
            nc.stories(source="no such outlet")
        with pytest.raises(StoreError, match="no embedded articles"):
            nc.recluster()
        with pytest.raises(ValueError, match="empty window"):
            nc.recluster(since=_t("2025-02-02"), until=_t("2025-02-01"))
    with NewsClusterer(db, read_only=True) as nc, pytest.raises(StoreError, match="read-only"):
        nc.ingest([SEED_PAGE])


def _t(s):
    from clustering.io.readers import parse_published

    return parse_published(s)


# ---- the output is what it was before the rebuild ---------------------------------------------
# Golden files were written by the previous version (MinHash values of datasketch's scheme, which
# it used). The same scheme must give the same bytes; the rensa scheme (default now) may differ
# by an LSH hit or miss, so it is compared by the partition it gives.

DATASKETCH = Config().replace(stories={"mode": "none"}, dedup={"minhash": "datasketch"})


@pytest.fixture(scope="module")
def golden_nc(tmp_path_factory):
    nc = NewsClusterer(tmp_path_factory.mktemp("golden") / "day.duckdb", DATASKETCH)
    nc.ingest([EGY_DAY, SEED_PAGE])
    yield nc
    nc.close()


@pytest.fixture(scope="module")
def day_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("cli") / "day.duckdb"
    res = invoke("run", EGY_DAY, SEED_PAGE, "--db", db, "--stories", "none", "-q", "--json")
    assert res.exit_code == 0, res.output
    return db


def test_export_is_unchanged(golden_nc, tmp_path):
    out = tmp_path / "export.jsonl"
    golden_nc.export("jsonl", out)
    with gzip.open(GOLDEN / "egy_day_seed_export.jsonl.gz", "rt", encoding="utf-8") as fh:
        before = fh.read()
    assert out.read_text(encoding="utf-8") == before


def test_groups_are_unchanged(golden_nc):
    rows = json.loads(json.dumps(golden_nc.groups(min_size=1, limit=100000), default=str))
    # the previous version listed members as id, source, similarity, rule; later fields are new
    old_shape = [{**{k: v for k, v in g.items() if k != "members"},
                  "members": [{k: m[k] for k in ("id", "source", "similarity", "rule")}
                              for m in g["members"]]} for g in rows]
    canon = json.dumps(old_shape, sort_keys=True, ensure_ascii=False, default=str)
    assert hashlib.sha256(canon.encode()).hexdigest() == \
        "8edbc7bc03a798ab9ad9597eb35c7e26da576a224ab827e897c082cc256a4200"
    assert {"title", "published", "joined_via"} <= set(rows[0]["members"][0])


def test_dedup_feed_is_unchanged(tmp_path):
    out = tmp_path / "feed.jsonl"
    with NewsClusterer(":memory:", DATASKETCH) as nc:
        nc.ingest([EGY_DAY, SEED_PAGE], command="dedup")
        nc.feed(out)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == \
        "5b8a6e32b65bd4bfbcbf0015e329b9aabc410e3b6fda6fc59ccfc94cc48937a6"


def test_cli_export_agrees_with_the_golden_partition(day_db, tmp_path):
    """The CLI (rensa MinHash by default) groups the bundled data as the previous version did,
    up to LSH hits and misses: B-cubed F1 >= 0.999 between the partitions."""
    from clustering.evaluate.metrics import cluster_scores

    out = tmp_path / "export.jsonl"
    assert invoke("export", "--db", day_db, "--format", "jsonl", "--out", out).exit_code == 0
    now = {r["id"]: r["dup_group"] for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    with gzip.open(GOLDEN / "egy_day_seed_export.jsonl.gz", "rt", encoding="utf-8") as fh:
        before = {r["id"]: r["dup_group"] for r in map(json.loads, fh)}
    assert set(now) == set(before)
    assert cluster_scores(before, now).bcubed.f1 >= 0.999


def test_full_export_carries_the_records(day_db, tmp_path):
    out = tmp_path / "full.jsonl"
    assert invoke("export", "--db", day_db, "--format", "jsonl", "--out", out, "--full").exit_code == 0
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 3092
    assert {"title", "source", "url", "published", "story_label", "rule"} <= set(rows[0])
    assert sum(bool(r["title"]) for r in rows) > 3000


def test_input_text_is_never_read_as_markup(write_jsonl, tmp_path):
    db = tmp_path / "m.duckdb"
    p = write_jsonl([{"id": "m1", "title": "[/] closing [/bold] tag [red]x", "source": "[/]",
                      "text": "Body of the article about [link=x]markup[/link] in titles."},
                     {"id": "m2", "title": "[/] closing [/bold] tag [red]x", "source": "[b]"}])
    for args in (("run", p, "--db", db, "--stories", "none", "-q"), ("groups", "--db", db),
                 ("explain", "m1", "m2", "--db", db), ("run", p, "--db", db, "--stories", "none")):
        res = invoke(*args)
        assert res.exit_code == 0, res.output
        if args[0] != "run" or "-q" not in args:
            assert "[/]" in res.output        # shown as the text it is
