"""The feed service over real HTTP: a uvicorn server on 127.0.0.1 and an httpx client, on the
seed page and the bundled EgyNews day. Dedup only (no embedding model) except the one test
marked slow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime

import httpx
import pytest

from clustering import Config
from clustering.io.page import read_page
from clustering.io.readers import read_articles
from clustering.service import create_app

from .conftest import EGY_DAY, ROOT, SEED_PAGE
from .live_server import free_port, live_server, wait_ready
from .test_cli import invoke

DEDUP_ONLY = Config().replace(stories={"mode": "none"})
TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def records(arts):
    """Articles as the JSON a news app would post (the fields the readers take)."""
    return [{k: v for k, v in a.to_dict().items() if k not in ("listed_on", "order")} for a in arts]


@pytest.fixture(scope="module")
def seed_records():
    arts, _ = read_page(SEED_PAGE)
    return records(arts)


@pytest.fixture(scope="module")
def day_records():
    """The first 300 articles of the bundled EgyNews day."""
    return records(read_articles([EGY_DAY]).articles[:300])


@pytest.fixture(scope="module")
def run_export(tmp_path_factory):
    """`news-cluster run` on the seed page, exported: id -> row."""
    d = tmp_path_factory.mktemp("run")
    assert invoke("run", SEED_PAGE, "--db", d / "run.duckdb", "--stories", "none", "-q").exit_code == 0
    assert invoke("export", "--db", d / "run.duckdb", "--format", "jsonl", "--out", d / "x.jsonl").exit_code == 0
    return {r["id"]: r for r in map(json.loads, (d / "x.jsonl").read_text(encoding="utf-8").splitlines())}


def test_seed_page_posted_one_by_one_folds_as_run_does(tmp_path, seed_records, run_export):
    with live_server(create_app(tmp_path / "s.duckdb", config=DEDUP_ONLY)) as base:
        answers = []
        for rec in seed_records:
            r = httpx.post(base + "/v1/articles", json=rec)
            assert r.status_code == 200, r.text
            answers.append(r.json())
        # reposting is a no-op that answers the current state (representatives may have moved)
        again = httpx.post(base + "/v1/articles", json=seed_records).json()
    assert [a["id"] for a in answers] == [r["id"] for r in seed_records] == list(run_export)
    assert all(a["status"] == "stored" for a in answers)
    for a in answers:
        want = run_export[a["id"]]
        assert (a["dup_group"], a["similarity"]) == (want["dup_group"], want["similarity"]), a["id"]
        assert a["is_duplicate"] == (want["dup_group"] != a["id"])
    assert sum(a["is_duplicate"] for a in answers) == 2      # a repeated headline, a near-duplicate one
    assert again["already_stored"] == len(seed_records) and again["stored"] == again["rejected"] == 0
    assert {r["id"]: r["representative_id"] for r in again["results"]} == \
        {i: w["representative_id"] for i, w in run_export.items()}


def test_feed_lists_each_group_once(tmp_path, day_records):
    with live_server(create_app(tmp_path / "f.duckdb", config=DEDUP_ONLY)) as base:
        for lo in range(0, len(day_records), 100):
            assert httpx.post(base + "/v1/articles", json=day_records[lo:lo + 100], timeout=60).status_code == 200
        state = httpx.post(base + "/v1/articles", json=day_records, timeout=60).json()["results"]
        feed = httpx.get(base + "/v1/feed", params={"limit": 1000}).json()["items"]
        src = day_records[0]["source"]
        by_source = httpx.get(base + "/v1/feed", params={"limit": 1000, "source": src}).json()["items"]
        times = sorted(r["published"] for r in day_records)
        lo_t, hi_t = times[50], times[150]
        window = httpx.get(base + "/v1/feed", params={"limit": 1000, "since": lo_t, "until": hi_t}).json()["items"]
        top = httpx.get(base + "/v1/feed", params={"limit": 7}).json()["items"]
        bad = httpx.get(base + "/v1/feed", params={"since": "yesterday-ish"})
    groups = {r["dup_group"] for r in state}
    assert len(groups) < len(day_records)                    # the day has near-duplicates
    assert len(feed) == len(groups) and {f["dup_group"] for f in feed} == groups
    shown = [f["id"] for f in feed] + [d["id"] for f in feed for d in f["duplicates"]]
    assert sorted(shown) == sorted(r["id"] for r in day_records)   # every article once
    rep = {r["id"]: r["representative_id"] for r in state}
    assert all(rep[f["id"]] == f["id"] for f in feed)
    assert any(f["duplicates"] for f in feed)
    assert by_source and all(src in {f["source"]} | {d["source"] for d in f["duplicates"]} for f in by_source)
    assert len(by_source) < len(feed)
    t = lambda v: datetime.fromisoformat(v.replace("Z", "+00:00"))
    assert window and all(t(lo_t) <= t(f["published"]) <= t(hi_t) for f in window) and len(window) < len(feed)
    assert [f["id"] for f in top] == [f["id"] for f in feed[:7]]
    assert [t(f["published"]) for f in feed] == sorted((t(f["published"]) for f in feed), reverse=True)
    assert bad.status_code == 422 and "since" in bad.json()["detail"]


def test_writes_need_the_token_reads_do_not(tmp_path, seed_records, monkeypatch):
    with live_server(create_app(tmp_path / "a.duckdb", token=TOKEN, config=DEDUP_ONLY)) as base:
        none = httpx.post(base + "/v1/articles", json=seed_records[0])
        wrong = httpx.post(base + "/v1/articles", json=seed_records[0], headers={"Authorization": "Bearer nope"})
        ok = httpx.post(base + "/v1/articles", json=seed_records[0], headers=AUTH)
        feed = httpx.get(base + "/v1/feed")
    assert none.status_code == wrong.status_code == 401
    assert none.headers["www-authenticate"] == "Bearer"
    assert ok.status_code == 200 and ok.json()["status"] == "stored"
    assert feed.status_code == 200 and [f["id"] for f in feed.json()["items"]] == [seed_records[0]["id"]]
    monkeypatch.setenv("NEWS_CLUSTER_TOKEN", "from-env")
    with live_server(create_app(tmp_path / "a.duckdb", config=DEDUP_ONLY)) as base:
        assert httpx.post(base + "/v1/articles", json=seed_records[1]).status_code == 401
        assert httpx.post(base + "/v1/articles", json=seed_records[1],
                          headers={"Authorization": "Bearer from-env"}).status_code == 200


def test_bodies_over_the_limit_get_413_and_store_nothing(tmp_path, day_records):
    body = json.dumps(day_records[:40]).encode()
    assert len(body) > 20_000
    with live_server(create_app(tmp_path / "b.duckdb", config=DEDUP_ONLY, max_body_bytes=20_000)) as base:
        big = httpx.post(base + "/v1/articles", content=body, headers={"Content-Type": "application/json"})
        chunked = httpx.post(base + "/v1/articles", content=(body[i:i + 4096] for i in range(0, len(body), 4096)),
                             headers={"Content-Type": "application/json"})
        small = httpx.post(base + "/v1/articles", json=day_records[:2])
        health = httpx.get(base + "/healthz").json()
    assert "transfer-encoding" not in big.request.headers and "transfer-encoding" in chunked.request.headers
    assert big.status_code == chunked.status_code == 413
    assert small.status_code == 200 and health["articles"] == 2


def test_invalid_articles_get_422_and_the_valid_ones_are_stored(tmp_path, seed_records):
    good1, good2 = seed_records[0], seed_records[1]
    batch = [good1, {"id": "no-text", "title": "  "}, {"title": "no id at all"}, "a string",
             good2, {**good2, "title": "same id again"}, {"id": "x" * 5, "text": "🙂🙂"}]
    with live_server(create_app(tmp_path / "i.duckdb", config=DEDUP_ONLY)) as base:
        r = httpx.post(base + "/v1/articles", json=batch)
        single = httpx.post(base + "/v1/articles", json={"id": "t1"})
        conflict = httpx.post(base + "/v1/articles", json={**good1, "text": "another text entirely"})
        not_json = httpx.post(base + "/v1/articles", content=b"{not json", headers={"Content-Type": "application/json"})
        scalar = httpx.post(base + "/v1/articles", json=42)
        feed = httpx.get(base + "/v1/feed").json()["items"]
    assert r.status_code == 422
    body = r.json()
    assert body["stored"] == 2 and body["rejected"] == 5
    errors = {x["index"]: x.get("error") for x in body["results"]}
    assert errors == {0: None, 1: "empty text", 2: "missing id", 3: "not a JSON object (str)", 4: None,
                      5: "duplicate id in this request",
                      6: "no letters or digits (only marks, symbols or emoji)"}
    assert body["detail"].startswith("5 of 7 article(s) rejected") and "\n" not in body["detail"]
    assert single.status_code == 422 and single.json()["detail"] == "empty text"
    # an id already stored with other text is a new version of the article, as `run` keeps it
    assert conflict.status_code == 200 and conflict.json()["status"] == "updated"
    assert not_json.status_code == 422 and not_json.json()["detail"].startswith("body is not JSON")
    assert scalar.status_code == 422
    assert sorted(f["id"] for f in feed) == sorted([good1["id"], good2["id"]])


def test_a_restart_keeps_everything(tmp_path, seed_records, day_records):
    db = tmp_path / "r.duckdb"
    with live_server(create_app(db, config=DEDUP_ONLY)) as base:
        first = httpx.post(base + "/v1/articles", json=day_records[:150], timeout=60).json()["results"]
        feed1 = httpx.get(base + "/v1/feed", params={"limit": 1000}).json()
    # a copy of a stored article posted after the restart must fold into it: signatures persist
    original = next(r for r in day_records[:150] if len(r["text"]) > 400)
    copy = {**original, "id": "copy-after-restart", "source": "another outlet",
            "text": original["text"] + " (syndicated)"}
    with live_server(create_app(db, config=DEDUP_ONLY)) as base:
        health = httpx.get(base + "/healthz").json()
        feed2 = httpx.get(base + "/v1/feed", params={"limit": 1000}).json()
        again = httpx.post(base + "/v1/articles", json=day_records[:150], timeout=60).json()["results"]
        folded = httpx.post(base + "/v1/articles", json=copy).json()
    assert health["articles"] == 150 and feed2 == feed1
    assert [(a["dup_group"], a["status"]) for a in again] == [(a["dup_group"], "already stored") for a in first]
    assert folded["is_duplicate"] and folded["dup_group"] == first[day_records.index(original)]["dup_group"]
    assert folded["similarity"] >= DEDUP_ONLY.dedup.threshold


def test_reads_are_answered_while_a_write_runs(tmp_path):
    arts = records(read_articles([EGY_DAY]).articles[:1500])
    with live_server(create_app(tmp_path / "c.duckdb", config=DEDUP_ONLY, max_body_bytes=64 << 20)) as base:
        httpx.post(base + "/v1/articles", json=arts[:10])
        done = {}

        def write():
            done["answer"] = httpx.post(base + "/v1/articles", json=arts[10:], timeout=300)
            done["at"] = time.monotonic()

        t = threading.Thread(target=write)
        t.start()
        time.sleep(0.3)
        reads = []
        while "at" not in done and len(reads) < 200:
            feed = httpx.get(base + "/v1/feed", params={"limit": 1000})
            stored = httpx.get(base + "/healthz").json()["articles"]
            reads.append((time.monotonic(), (len(feed.json()["items"]), stored)))
        t.join()
        after = (len(httpx.get(base + "/v1/feed", params={"limit": 1000}).json()["items"]),
                 httpx.get(base + "/healthz").json()["articles"])
    assert done["answer"].status_code == 200 and after == (1000, 1500)
    during = [n for at, n in reads if at < done["at"]]
    assert (10, 10) in during, "no read finished while the write ran"
    # each saw a committed state, before or (between commit and the answer) after, never half a write
    assert {n for _, n in during} <= {10, 1500}


def test_openapi_schema_lists_the_api(tmp_path):
    with live_server(create_app(tmp_path / "o.duckdb", config=DEDUP_ONLY)) as base:
        schema = httpx.get(base + "/openapi.json").json()
        missing = httpx.get(base + "/v1/stories/S999999")
        explain_missing = httpx.get(base + "/v1/explain", params={"a": "x", "b": "y"})
    assert {"/healthz", "/v1/articles", "/v1/feed", "/v1/stories", "/v1/stories/{story_id}",
            "/v1/explain", "/stories", "/stories/{story_id}"} <= set(schema["paths"])
    assert "oneOf" in schema["paths"]["/v1/articles"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert missing.status_code == explain_missing.status_code == 404


def test_serve_command_binds_loopback_and_takes_the_token_from_the_environment(tmp_path, seed_records):
    port = free_port()
    env = {**os.environ, "NEWS_CLUSTER_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "clustering.cli", "serve", "--db", str(tmp_path / "cli.duckdb"),
                             "--port", str(port), "--stories", "none"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, timeout=60)
        assert httpx.post(base + "/v1/articles", json=seed_records[0]).status_code == 401
        assert httpx.post(base + "/v1/articles", json=seed_records[0], headers=AUTH).status_code == 200
        locked = subprocess.run([sys.executable, "-m", "clustering.cli", "serve", "--db", str(tmp_path / "cli.duckdb"),
                                 "--port", str(free_port())], env=env, capture_output=True, text=True, timeout=60)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert locked.returncode == 2 and "locked" in locked.stderr and len(locked.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_stories_over_http_on_the_seed_page(tmp_path, seed_records):
    with live_server(create_app(tmp_path / "st.duckdb", config=Config())) as base:
        answers = [httpx.post(base + "/v1/articles", json=r, timeout=120).json() for r in seed_records]
        stories = httpx.get(base + "/v1/stories").json()["stories"]
        timeline = httpx.get(base + f"/v1/stories/{stories[0]['story_id']}").json()
        ex = httpx.get(base + "/v1/explain", params={"a": seed_records[0]["id"], "b": seed_records[1]["id"]}).json()
    assert all(a["story_id"] for a in answers)
    assert {a["story_id"] for a in answers} == {s["story_id"] for s in stories}
    assert sum(s["size"] for s in stories) == len(seed_records)
    # copies share their representative's story
    assert all(a["story_id"] == next(b["story_id"] for b in answers if b["id"] == a["dup_group"])
               for a in answers)
    assert timeline["story_id"] == stories[0]["story_id"] and len(timeline["articles"]) == stories[0]["size"]
    assert timeline["events"][0]["kind"] == "created"
    assert "near_duplicate" in ex and "story" in ex


def test_hourly_plot_counts_every_timed_article_once():
    from clustering.service.pages import hourly_by_source, hourly_svg

    arts = [{"published": a.published, "source": a.source} for a in read_articles([EGY_DAY]).articles[:400]]
    arts.append({"published": None, "source": "untimed"})
    hours, series = hourly_by_source(arts)
    assert sum(map(sum, series.values())) == 400 and "untimed" not in series
    assert all((b - a).total_seconds() == 3600 for a, b in zip(hours, hours[1:]))
    assert hours[0] == min(a["published"] for a in arts[:400]).replace(minute=0, second=0, microsecond=0)
    totals = [sum(v[i] for v in series.values()) for i in range(len(hours))]
    svg = hourly_svg(hours, series)
    assert svg.startswith("<svg") and svg.count("<rect") == sum(1 for v in series.values() for n in v if n) + len(series)
    assert f">{max(totals)}</text>" in svg
    assert "<script" not in hourly_svg(hours[:1], {"<script>x</script>": [1]})


def test_snapshot_is_published_between_requests_not_inside_them(tmp_path, day_records):
    """A POST commits without copying the file for outside readers (even with
    run.snapshot_every_s = 0); the publisher thread publishes once writes pause
    (run.snapshot_idle_s), and a reader outside the service then sees every committed article."""
    from clustering.service.engine import Engine
    from clustering.store import Store
    from clustering.store.base import snapshot_path

    db = tmp_path / "s.duckdb"
    snap = snapshot_path(db)
    mtime = lambda: snap.stat().st_mtime_ns if snap.exists() else None
    eng = Engine(db, DEDUP_ONLY.replace(run={"snapshot_every_s": 0.0, "snapshot_idle_s": 3600.0}))
    try:
        before = mtime()
        for rec in day_records[:10]:
            eng.post([rec])
        assert mtime() == before  # the requests did not publish; the thread waits for a pause
    finally:
        eng.close()  # publishes what is pending
    with Store(snap, read_only=True) as st:
        assert st.counts()["articles"] == 10

    eng = Engine(db, DEDUP_ONLY.replace(run={"snapshot_every_s": 0.0, "snapshot_idle_s": 0.5}))
    try:
        before = mtime()
        for rec in day_records[10:30]:
            eng.post([rec])
        stored = eng.article_count()
        assert stored >= 25
        deadline, seen = time.monotonic() + 15, None
        while seen != stored and time.monotonic() < deadline:
            time.sleep(0.3)
            if mtime() != before:
                with Store(snap, read_only=True) as st:
                    seen = st.counts()["articles"]
        assert seen == stored  # published while the engine is open, no request waiting for it
    finally:
        eng.close()


def test_restart_on_an_up_to_date_snapshot_does_not_publish_in_the_first_request(tmp_path, day_records):
    """A writer reopening a file whose snapshot is up to date starts its publish timer at the
    open: the first commit (the service's first POST; the first ingest of a NewsClusterer held
    open) does not copy the whole file (O(archive), ~15 s at 1M stored articles) but is held
    back like the later ones and published between requests / at close."""
    from clustering import NewsClusterer
    from clustering.service.engine import Engine
    from clustering.store import Store
    from clustering.store.base import snapshot_path

    db = tmp_path / "s.duckdb"
    snap = snapshot_path(db)
    with NewsClusterer(db, DEDUP_ONLY) as nc:
        nc.ingest(day_records[:5])
    published = snap.stat().st_mtime_ns

    eng = Engine(db, DEDUP_ONLY.replace(run={"snapshot_idle_s": 3600.0}))  # the restart
    try:
        assert snap.stat().st_mtime_ns == published  # the open found the snapshot up to date
        eng.post([day_records[5]])
        assert snap.stat().st_mtime_ns == published  # the first request did not publish
    finally:
        eng.close()  # publishes what is pending
    with Store(snap, read_only=True) as st:
        assert st.counts()["articles"] == 6

    published = snap.stat().st_mtime_ns
    with NewsClusterer(db, DEDUP_ONLY.replace(run={"snapshot_every_s": 3600.0})) as nc:
        nc.ingest(day_records[6:7], overview=False)
        assert snap.stat().st_mtime_ns == published  # held back by the timer, from the open
    with Store(snap, read_only=True) as st:
        assert st.counts()["articles"] == 7  # published at close
