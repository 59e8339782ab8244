"""The Ray Data engine (``--engine ray``) against the local engine on real data: the same
near-duplicate partition, group ids, representatives and memberships, fresh and incremental
(a Ray run into a store checks new articles against the stored signatures).

One local Ray cluster (2 CPUs, a small object store) is shared by the module. Without Ray the
module is skipped on a user's machine and fails in CI (``.ci/run`` sets NEWS_CLUSTER_REQUIRE_RAY).
"""

from __future__ import annotations

import gzip
import json
import os
import random

import numpy as np
import pyarrow as pa
import pytest

from clustering.dedup.engine import UnionFind
from clustering.distributed.batches import star_step

from .conftest import EGY_DAY, ROOT, shared

try:
    import ray
except ImportError:  # pragma: no cover - depends on the environment
    if os.environ.get("CI") or os.environ.get("NEWS_CLUSTER_REQUIRE_RAY"):
        pytest.fail("ray is not installed: pip install -e '.[ray]'", pytrace=False)
    pytest.skip("ray is not installed (pip install -e '.[ray]')", allow_module_level=True)


@pytest.fixture(scope="module", autouse=True)
def ray_cluster():
    """One local cluster for the module: 2 CPUs, a 512 MB object store."""
    from clustering.distributed.ray_run import configure_data_context

    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, object_store_memory=512 * 1024 * 1024, include_dashboard=False,
                 log_to_driver=False)
    configure_data_context()
    yield
    if started:
        ray.shutdown()


def _nc(db=":memory:"):
    """A NewsClusterer with stories off; ``db`` a file puts a Ray run's writes in the store's
    own writer process (clustering/store/writer.py), ":memory:" keeps them in the driver."""
    from clustering import Config, NewsClusterer

    return NewsClusterer(str(db), Config().replace(stories={"mode": "none"}))


def _state(nc):
    """(partition as a set of frozensets, memberships, groups) of a store."""
    con = nc.store.con  # tests read tables directly
    members = con.execute("SELECT article_id, group_id, rule FROM dup_members ORDER BY 1").fetchall()
    groups = con.execute("SELECT group_id, representative_id, size FROM dup_groups ORDER BY 1").fetchall()
    by_group: dict[str, set[str]] = {}
    for a, g, _ in members:
        by_group.setdefault(g, set()).add(a)
    return {frozenset(s) for s in by_group.values()}, members, groups


def _ray(nc, paths):
    from clustering.distributed import ingest_ray

    return ingest_ray(nc, [str(p) for p in paths])


@pytest.fixture(scope="module")
def egy_slice(tmp_path_factory):
    """A slice of the 14 shared EgyNews days: the first 1,500 records of 2013-02-07 and of
    2013-02-08 (two days, so groups span a day boundary)."""
    src = shared("egynews2013/egynews2013_2013-02-01_to_02-14.jsonl.gz")
    keep: dict[str, list[str]] = {"2013-02-07": [], "2013-02-08": []}
    with gzip.open(src, "rt", encoding="utf-8") as f:
        for line in f:
            day = (json.loads(line).get("timestamp") or "")[:10]
            if day in keep and len(keep[day]) < 1500:
                keep[day].append(line)
    out = tmp_path_factory.mktemp("slice") / "egy_slice.jsonl"
    out.write_text("".join(keep["2013-02-07"] + keep["2013-02-08"]), encoding="utf-8")
    return out


def test_star_steps_find_the_components_union_find_finds():
    # random sparse graph on 400 nodes; run the steps as Ray runs them, on one shard
    rng = random.Random(7)
    edges = [(rng.randrange(400), rng.randrange(400)) for _ in range(300)]
    edges = [(u, v) for u, v in edges if u != v]
    src = np.array([u for u, v in edges], np.int64)
    dst = np.array([v for u, v in edges], np.int64)
    for _ in range(50):
        both = pa.table({"src": np.r_[src, dst], "dst": np.r_[dst, src]})
        large = star_step(both, large=True)
        small = star_step(large.select(["src", "dst"]), large=False)
        src, dst = small.column("src").to_numpy(), small.column("dst").to_numpy()
        if pa.compute.sum(large.column("changed")).as_py() in (0, None) and \
                pa.compute.sum(small.column("changed")).as_py() in (0, None):
            break
    else:
        pytest.fail("large-star/small-star did not converge")
    label = dict(zip(src.tolist(), dst.tolist()))
    uf = UnionFind()
    for u, v in edges:
        uf.union(str(u), str(v))
    comp: dict[str, int] = {}
    for n in {x for e in edges for x in e}:
        r = uf.find(str(n))
        comp[r] = min(comp.get(r, n), n)
    for n in {x for e in edges for x in e}:
        assert label.get(n, n) == comp[uf.find(str(n))]
    assert all(s > d for s, d in zip(src, dst))


def test_bundled_day_same_groups_as_local_engine():
    with _nc() as local, _nc() as distributed:
        s_local = local.ingest([EGY_DAY])
        s_ray = _ray(distributed, [EGY_DAY])
        part_l, members_l, groups_l = _state(local)
        part_r, members_r, groups_r = _state(distributed)
        assert s_ray.new_articles == s_local.new_articles == 3080
        assert s_ray.skipped == s_local.skipped == {"empty text": 17}
        assert (s_ray.exact_repeats, s_ray.near_duplicates) == (s_local.exact_repeats, s_local.near_duplicates)
        assert s_local.groups > 500
        assert part_r == part_l
        # group ids (earliest member), representatives and sizes too, and how each joined
        assert groups_r == groups_l
        assert [m[:2] for m in members_r] == [m[:2] for m in members_l]
        assert [m[2] for m in members_r] == [m[2] for m in members_l]
        assert distributed.store.counts()["signatures"] == local.store.counts()["signatures"]
        bands = "SELECT config, key, item FROM lsh_bands ORDER BY 1, 2, 3"
        assert distributed.store.con.execute(bands).fetchall() == local.store.con.execute(bands).fetchall()


def test_egynews_slice_incremental_against_stored_signatures(egy_slice, tmp_path):
    # both stores hold the bundled day (local run); then the slice is added locally / by Ray,
    # whose writes go to the file store's own writer process
    with _nc() as local, _nc(tmp_path / "ray.duckdb") as distributed:
        local.ingest([EGY_DAY])
        distributed.ingest([EGY_DAY])
        s_local = local.ingest([egy_slice])
        s_ray = _ray(distributed, [egy_slice])
        part_l, members_l, groups_l = _state(local)
        part_r, members_r, groups_r = _state(distributed)
        assert s_ray.new_articles == s_local.new_articles > 2900
        assert part_r == part_l
        assert groups_r == groups_l
        assert [m[:2] for m in members_r] == [m[:2] for m in members_l]
        # a re-run of the slice by Ray adds nothing
        again = _ray(distributed, [egy_slice])
        assert again.new_articles == 0 and again.already_stored == s_ray.new_articles
        assert _state(distributed)[0] == part_r


def test_local_run_after_ray_run_finds_ray_ingested_article(tmp_path):
    # the Ray run writes the band keys (lsh_bands) as a local run does; without them the local
    # run below (same settings, so no re-indexing) would find no candidate for the copy
    with _nc() as nc:
        _ray(nc, [EGY_DAY])
        con = nc.store.con  # tests read tables directly
        assert con.execute("SELECT count(*) FROM lsh_bands").fetchone()[0] > 0
        art_id, title, text = con.execute(
            "SELECT a.id, a.title, a.text FROM articles a JOIN dup_groups g ON g.group_id = a.id "
            "WHERE g.size = 1 AND length(a.text) > 2000 ORDER BY length(a.text) DESC LIMIT 1").fetchone()
        copy = tmp_path / "copy.jsonl"
        # the same story with one word added: a near-duplicate, not an exact repeat
        copy.write_text(json.dumps({"id": "copy-of-" + art_id, "source": "elsewhere", "title": title,
                                    "body": text + " اضافه", "timestamp": "2013-02-02 08:00:00"},
                                   ensure_ascii=False) + "\n", encoding="utf-8")
        s = nc.ingest([copy])
        assert s.new_articles == 1 and s.exact_repeats == 0
        gid, rule = con.execute("SELECT group_id, rule FROM dup_members WHERE article_id = ?",
                                ["copy-of-" + art_id]).fetchone()
        assert gid == art_id and rule in ("jaccard", "containment")


def test_cli_run_engine_ray(tmp_path):
    import subprocess
    import sys

    db = tmp_path / "r.duckdb"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-m", "clustering.cli", "run", str(EGY_DAY), "--db", str(db),
                          "--engine", "ray", "--stories", "none", "--json", "--quiet"],
                         capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    summary = json.loads(out.stdout)
    assert summary["new_articles"] == 3080 and "engine: ray" in summary["notes"]
    groups = subprocess.run([sys.executable, "-m", "clustering.cli", "groups", "--db", str(db)],
                            capture_output=True, text=True, timeout=120, env=env)
    assert groups.returncode == 0 and groups.stdout.strip()


def _day_rows(n: int) -> list[dict]:
    """The first ``n`` records of the bundled day, each with a URL of its outlet's site."""
    rows = []
    with gzip.open(EGY_DAY, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if len(r.get("body") or "") > 200:
                r["url"] = f"https://www.{r['source'].lower()}.example/news/{r['id']}"
                rows.append(r)
            if len(rows) == n:
                break
    return rows


def _write(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_updates_and_canonical_urls_as_in_a_local_run(tmp_path):
    # first input: 300 articles with URLs; second: text, metadata and URL updates of stored
    # articles, one article sent twice under two ids with one URL, unchanged records, new ones
    rows = _day_rows(400)
    first = _write(tmp_path / "first.jsonl", rows[:300])
    edited = dict(rows[0], body=rows[0]["body"] + "\nتحديث: تفاصيل جديدة عن الخبر بعد نشره")
    moved = dict(rows[1], timestamp="2013-02-01 23:59:00")
    by_url = dict(rows[2], id="new-id-of-" + rows[2]["id"], body=rows[2]["body"][:-40] + " مصدر جديد",
                  url=rows[2]["url"].replace("https://www.", "http://") + "?utm_source=rss")
    twice_a = dict(rows[300], url="https://www.x.example/a/1")
    twice_b = dict(rows[301], id=rows[301]["id"] + "-b", url="https://x.example/a/1/?fbclid=1")
    second = _write(tmp_path / "second.jsonl",
                    [edited, moved, by_url, twice_a, *rows[3:50], *rows[302:400], twice_b])
    with _nc() as local, _nc(tmp_path / "ray.duckdb") as distributed:  # Ray: writer process
        local.ingest([first])
        _ray(distributed, [first])
        con_l, con_r = local.store.con, distributed.store.con  # tests read tables directly
        curls = "SELECT id, canonical_url FROM articles ORDER BY 1"
        assert con_r.execute(curls).fetchall() == con_l.execute(curls).fetchall()
        assert con_r.execute("SELECT count(canonical_url) FROM articles").fetchone()[0] == 300
        s_local = local.ingest([second])
        s_ray = _ray(distributed, [second])
        con_r = distributed.store.con  # reopened after the writer process
        for key in ("new_articles", "updated_text", "updated_metadata", "matched_by_url", "already_stored",
                    "skipped"):
            assert getattr(s_ray, key) == getattr(s_local, key), key
        assert (s_local.updated_text, s_local.updated_metadata, s_local.matched_by_url) == (2, 1, 2)
        assert s_local.already_stored == 47 and s_local.new_articles == 99
        assert s_local.skipped == {"older version of an article updated later in the same input": 1}
        part_l, members_l, groups_l = _state(local)
        part_r, members_r, groups_r = _state(distributed)
        assert part_r == part_l and groups_r == groups_l
        assert [m[:2] for m in members_r] == [m[:2] for m in members_l]
        versions = "SELECT id, content_hash, published, canonical_url FROM article_versions ORDER BY 1, 2"
        assert con_r.execute(versions).fetchall() == con_l.execute(versions).fetchall()
        assert len(con_l.execute(versions).fetchall()) == 3
        arts = "SELECT id, version, content_hash, published, canonical_url FROM articles ORDER BY 1"
        assert con_r.execute(arts).fetchall() == con_l.execute(arts).fetchall()
        assert distributed.history(rows[0]["id"])[-1]["version"] == 2
        # the same input again changes nothing in either engine
        again = _ray(distributed, [second])
        assert (again.new_articles, again.updated_text, again.updated_metadata) == (0, 0, 0)
        assert _state(distributed)[0] == part_r


def test_stories_agree_with_local_engine_on_a_slice(tmp_path):
    # stories at the defaults (online, hybrid scorer): the Ray run embeds the new groups'
    # representatives on its actor pool and runs the local story step on the driver
    from clustering import Config, NewsClusterer
    from clustering.evaluate.metrics import bcubed

    path = _write(tmp_path / "slice.jsonl", _day_rows(450))
    # the Ray side into a file: the story step on the driver calls the store's writer process
    with NewsClusterer(":memory:", Config()) as local, \
            NewsClusterer(str(tmp_path / "ray.duckdb"), Config()) as distributed:
        s_local = local.ingest([path])
        s_ray = _ray(distributed, [path])
        assert s_local.stories["embedded"] == s_ray.stories["embedded"] > 300
        con_l, con_r = local.store.con, distributed.store.con  # tests read tables directly
        # the actor pool's vectors are the story step's (same model id, nothing re-embedded)
        emb = "SELECT model_id, count(*) FROM embeddings GROUP BY 1"
        assert con_r.execute(emb).fetchall() == con_l.execute(emb).fetchall()
        # embedded in the local step's chunks, so the int8 model gives the very same vectors
        vecs = "SELECT article_id, vector FROM embeddings ORDER BY 1"
        assert con_r.execute(vecs).fetchall() == con_l.execute(vecs).fetchall()
        open_ = "SELECT article_id, story_id FROM story_members WHERE valid_to IS NULL ORDER BY 1"
        loc, ray_ = dict(con_l.execute(open_).fetchall()), dict(con_r.execute(open_).fetchall())
        assert sorted(loc) == sorted(ray_) and len(loc) == 450
        ids = sorted(loc)
        m = bcubed([loc[i] for i in ids], [ray_[i] for i in ids])
        assert m.f1 >= 0.99, m
        print(f"story agreement B-cubed {m}")
        assert len(set(loc.values())) < 440  # stories join articles, not all singletons


def test_failed_run_leaves_a_file_store_unchanged(tmp_path, monkeypatch):
    # a Ray run into a file store fails after the writer process loaded articles: on the driver
    # (updates step) or in the writer itself (a missing shard); the store is as before each time
    from clustering.distributed import ray_run
    from clustering.store import StoreError

    rows = _day_rows(300)
    first, second = _write(tmp_path / "a.jsonl", rows[:150]), _write(tmp_path / "b.jsonl", rows[150:])
    with _nc(tmp_path / "ray.duckdb") as nc:
        _ray(nc, [first])
        before = nc.store.counts()

        def boom(store, plan):
            raise RuntimeError("driver failed mid-write")

        with monkeypatch.context() as m:
            m.setattr(ray_run, "finish_updates", boom)
            with pytest.raises(RuntimeError, match="driver failed mid-write"):
                _ray(nc, [second])
        assert nc.store.counts() == before
        real = ray_run._parquet_files
        with monkeypatch.context() as m:
            m.setattr(ray_run, "_parquet_files",
                      lambda folder: real(folder) + ([str(folder / "gone.parquet")] if folder.name == "members"
                                                     else []))
            with pytest.raises(StoreError, match="writer process failed"):
                _ray(nc, [second])
        assert nc.store.counts() == before
        s = _ray(nc, [second])  # the store still takes the run
        assert s.new_articles > 100 and nc.store.counts()["articles"] == before["articles"] + s.new_articles
