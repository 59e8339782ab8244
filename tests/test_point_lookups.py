"""The store's point lookups (IN lists of parameters, answered by index scans) return what its
join lookups (a registered Arrow table of keys) return, on the bundled EgyNews day; and adding
articles one run at a time joins the groups the batch run makes."""

from __future__ import annotations

import pytest

from clustering.store import Store, base

from .conftest import EGY_DAY, both_lookup_paths, ingest, scalar


@pytest.fixture(scope="module")
def day_store():
    st = Store(":memory:")
    ingest(st, [EGY_DAY])
    yield st
    st.close()


def _norm(x):
    if isinstance(x, dict):
        return {k: sorted(v, key=repr) if isinstance(v, list) else v for k, v in x.items()}
    return x


def test_point_lookups_equal_join_lookups(day_store, monkeypatch):
    st = day_store
    rows = st.con.execute("SELECT a.id, a.content_hash, a.canonical_url, m.group_id FROM articles a "
                          "JOIN dup_members m ON m.article_id = a.id "
                          "JOIN dup_groups g USING (group_id) WHERE g.size > 2 ORDER BY a.seq LIMIT 40").fetchall()
    assert len(rows) == 40
    ids = [r[0] for r in rows] + ["not-stored"]
    hashes = [r[1] for r in rows] + ["0" * 32]
    urls = [u for (u,) in st.con.execute("SELECT canonical_url FROM articles WHERE canonical_url "
                                          "IS NOT NULL ORDER BY seq LIMIT 20").fetchall()]
    gids = sorted({r[3] for r in rows})
    config = st.last_run_params()["band_config"]
    keys = [k for (k,) in st.con.execute("SELECT key FROM lsh_bands ORDER BY item LIMIT 60").fetchall()]
    calls = {
        "stored_hashes_of": lambda: st.stored_hashes_of(ids),
        "first_article_by_hash": lambda: st.first_article_by_hash(hashes),
        "texts_of": lambda: st.texts_of(ids),
        "seq_of": lambda: st.seq_of(ids),
        "current_facts": lambda: st.current_facts(ids),
        "ids_by_canonical_url": lambda: st.ids_by_canonical_url(urls or ["https://x.test/a"]),
        "group_members_touching": lambda: st.group_members_touching(ids[:5]),
        "group_candidates": lambda: st.group_candidates(gids),
        "band_matches": lambda: st.band_matches(config, __import__("numpy").array(keys)),
    }
    for name, call in calls.items():
        small, joined = both_lookup_paths(monkeypatch, call)
        assert small or (name == "ids_by_canonical_url" and not urls), name
        assert _norm(small) == _norm(joined), name
    # the groups of the first five ids hold more members than the five
    assert len(st.group_members_touching(ids[:5])) > 5


def test_max_hints_follow_deletes_and_rollbacks():
    st = Store(":memory:")
    ingest(st, [EGY_DAY])
    top = st.next_seq()
    assert top == scalar(st, "SELECT max(seq) + 1 FROM articles")
    st.con.execute("DELETE FROM articles WHERE seq >= ?", [top - 3])  # rows above the hint go
    assert st.next_seq() == top - 3
    run = st.next_run_id()
    with pytest.raises(RuntimeError), st.transaction():
        st.record_run(run, __import__("datetime").datetime.now(), "x", [], {}, {})
        assert st.next_run_id() == run + 1
        raise RuntimeError("roll back")
    assert st.next_run_id() == run
    st.close()


#: The feed page as one query (before: it read every stored text to sort the groups); the
#: reference that :meth:`Store.feed_page` must equal.
_FEED_ONE_QUERY = (
    "WITH page AS (SELECT g.group_id, a.id, a.title, a.text, a.published, a.source, a.url, a.lang, "
    "a.seq FROM dup_groups g JOIN articles a ON a.id = g.representative_id "
    "WHERE {where} ORDER BY a.published DESC NULLS LAST, a.seq DESC LIMIT ?) "
    "SELECT p.group_id, p.id, p.title, p.text, p.published, p.source, p.url, p.lang, "
    "(SELECT list(struct_pack(id := d.id, source := d.source) ORDER BY d.seq) FROM dup_members m "
    " JOIN articles d ON d.id = m.article_id WHERE m.group_id = p.group_id AND d.id <> p.id), "
    "sm.story_id FROM page p LEFT JOIN story_members sm ON sm.article_id = p.id AND sm.valid_to IS NULL "
    "ORDER BY p.published DESC NULLS LAST, p.seq DESC")


def test_feed_page_equals_the_one_query_feed(day_store, monkeypatch):
    st = day_store
    src = scalar(st, "SELECT source FROM articles GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
    lo, hi = st.con.execute("SELECT quantile_disc(published, 0.3), quantile_disc(published, 0.6) "
                            "FROM articles").fetchall()[0]
    cases = [({}, ["TRUE"], []), ({"since": lo, "until": hi}, ["a.published >= ?", "a.published <= ?"], [lo, hi]),
             ({"source": src}, ["EXISTS (SELECT 1 FROM dup_members sm2 JOIN articles s2 ON "
                                "s2.id = sm2.article_id WHERE sm2.group_id = g.group_id AND s2.source = ?)"], [src])]
    for kw, where, args in cases:
        for limit in (1, 7, 50, 1000, 5000):
            want = [{"id": r[1], "title": r[2], "text": r[3], "published": r[4], "source": r[5], "url": r[6],
                     "lang": r[7], "dup_group": r[0], "duplicates": list(r[8] or []), "story_id": r[9]}
                    for r in st.con.execute(_FEED_ONE_QUERY.format(where=" AND ".join(where)),
                                            args + [limit]).fetchall()]
            small, joined = both_lookup_paths(monkeypatch, lambda kw=kw, limit=limit: st.feed_page(limit=limit, **kw))
            assert small == want == joined, (kw, limit)
            assert want and (limit < 1000 or any(w["duplicates"] for w in want))


def test_feed_page_reads_the_page_not_every_stored_text(tmp_path):
    """A feed page of 5 reads a few blocks of the 40,000 stored texts (52 MB), not all of them:
    sorting every group with its representative's whole row read every text (at 1M stored
    articles ~0.5 s and ~3 GB of DuckDB buffers per GET /v1/feed)."""
    db = tmp_path / "feed.duckdb"
    with Store(db) as st:
        st.con.execute(
            "INSERT INTO articles (id, seq, run_id, title, text, published, source, lang, content_hash) "
            "SELECT 'a' || i, i, 1, 'title ' || i, (SELECT string_agg(md5((i * 100 + k)::VARCHAR), ' ') "
            "FROM range(40) r(k)), TIMESTAMPTZ '2013-02-01 00:00:00+00' + to_minutes(i), 'src' || (i % 7), "
            "'ar', md5(i::VARCHAR) FROM range(40000) t(i)")
        st.con.execute("INSERT INTO dup_members SELECT 'a' || i, 'a' || (i - i % 2), 1.0, NULL, 'jaccard', 1 "
                       "FROM range(40000) t(i)")
        st.con.execute("INSERT INTO dup_groups SELECT 'a' || i, 'a' || i, 2, 1 FROM range(0, 40000, 2) t(i)")
    with Store(db) as st:  # a fresh open: DuckDB's buffers hold no text yet
        def buffers() -> int:
            return dict(st.con.execute("SELECT tag, memory_usage_bytes FROM duckdb_memory()").fetchall())["BASE_TABLE"]

        before = buffers()
        page = st.feed_page(limit=5)
        read = buffers() - before
    assert [p["id"] for p in page] == ["a39998", "a39996", "a39994", "a39992", "a39990"]
    assert page[0]["duplicates"] == [{"id": "a39999", "source": "src1"}]
    assert read < 8 * 2**20, read  # the one-query feed: ~31 MB


def _dup_tables(st: Store) -> dict[str, list]:
    return {q: st.con.execute(q).fetchall() for q in (
        "SELECT id, seq, run_id, title, text, published, source, url, canonical_url, lang, "
        "content_hash FROM articles ORDER BY id",
        "SELECT article_id, config, kind, sig FROM signatures ORDER BY 1, 2, 3",
        "SELECT config, key, item FROM lsh_bands ORDER BY 1, 2, 3",
        "SELECT article_id, group_id, similarity, joined_via, rule, run_id FROM dup_members ORDER BY 1",
        "SELECT group_id, representative_id, size, run_id FROM dup_groups ORDER BY 1")}


def _one_by_one(records: list[dict]) -> tuple[dict[str, list], int, int]:
    """A store fed the day's first 400 records in one run, then 80 one per run (new articles
    joining stored groups), then 8 stored ids with edited text one per run (updates); how
    many group reads back from the store those runs made, and how many Arrow tables they
    registered."""
    reads, temps = [], []
    real, real_temp = Store.group_candidates, Store._temp

    def spy(self, gids):
        reads.append(len(gids))
        return real(self, gids)

    def temp_spy(self, table):
        temps.append(table.num_rows)
        return real_temp(self, table)

    st = Store(":memory:")
    with pytest.MonkeyPatch.context() as m:
        m.setattr(Store, "group_candidates", spy)
        m.setattr(Store, "_temp", temp_spy)
        ingest(st, records[:400])
        for r in records[400:480]:
            ingest(st, [r])
        for r in records[100:108]:
            ingest(st, [dict(r, body=(r.get("body") or "") + " (updated)")])
    out = _dup_tables(st)
    st.close()
    return out, len(reads), len(temps)


def test_one_article_runs_write_the_same_rows_on_the_fast_paths(monkeypatch):
    """A one-article run appends its rows as list parameters (not a registered Arrow table) and
    groups its members from what it read already (not a second read of the changed groups);
    the rows equal the Arrow and read-back paths', on real articles with joins and updates."""
    import gzip
    import json

    from clustering import pipeline

    with gzip.open(EGY_DAY, "rt", encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    fast, fast_reads, fast_temps = _one_by_one(records)
    with monkeypatch.context() as m:
        m.setattr(base, "SMALL_INSERT_MAX", 0)
        m.setattr(pipeline, "_members_known", lambda *a: False)
        slow, slow_reads, slow_temps = _one_by_one(records)
    assert fast == slow
    joined = [r for r in fast[next(k for k in fast if "dup_members" in k)] if r[5] > 1 and r[3]]
    assert len(joined) >= 10        # one-article runs that joined a stored group
    # the first run and the 80 new articles' runs read no group back; updates still do
    assert slow_reads - fast_reads >= 1 + 80 and fast_reads >= 8
    # every run appends articles, memberships and groups (and, unless it is an exact repeat,
    # signatures and band keys): as list parameters, not registered tables
    assert slow_temps - fast_temps >= 3 * 88


#: Memberships as one join (before: 5.3 ms for one id at 44k stored); the reference that
#: :meth:`Store.memberships_of` (three lookups by key) must equal.
_MEMBERSHIPS_ONE_QUERY = (
    "SELECT a.id, m.group_id, g.representative_id, m.similarity, m.joined_via, m.rule, g.size, "
    "coalesce(sm.story_id, sr.story_id) FROM articles a JOIN (SELECT DISTINCT unnest(?::VARCHAR[]) AS id) q "
    "ON q.id = a.id JOIN dup_members m ON m.article_id = a.id JOIN dup_groups g ON g.group_id = m.group_id "
    "LEFT JOIN story_members sm ON sm.article_id = a.id AND sm.valid_to IS NULL "
    "LEFT JOIN story_members sr ON sr.article_id = g.representative_id AND sr.valid_to IS NULL")


def test_memberships_of_equals_the_one_join(day_store, monkeypatch):
    st = day_store
    # one non-representative member per group, so the representatives below are distinct
    rows = st.con.execute("SELECT min(m.article_id), g.representative_id FROM dup_members m JOIN dup_groups g "
                          "USING (group_id) WHERE g.size > 2 AND m.article_id <> g.representative_id "
                          "GROUP BY g.group_id, g.representative_id ORDER BY 1 LIMIT 30").fetchall()
    singles = [i for (i,) in st.con.execute("SELECT representative_id FROM dup_groups WHERE size = 1 "
                                            "ORDER BY 1 LIMIT 10").fetchall()]
    assert len(rows) == 30 and len(singles) == 10 and len({r[1] for r in rows}) == 30
    ids = [r[0] for r in rows] + [r[1] for r in rows[:5]] + singles + ["not-stored", rows[0][0]]
    with pytest.raises(RuntimeError, match="roll back"), st.transaction():
        # open stories: of five representatives (their members inherit them), of one member
        # itself (it wins over its representative's), and a closed membership (ignored)
        for k, (_, rep) in enumerate(rows[:5]):
            st.con.execute("INSERT INTO story_members (article_id, story_id, valid_from) VALUES "
                           "(?, ?, now())", [rep, f"s-rep-{k}"])
        st.con.execute("INSERT INTO story_members (article_id, story_id, valid_from) VALUES (?, 's-own', now())",
                       [rows[1][0]])
        st.con.execute("INSERT INTO story_members (article_id, story_id, valid_from, valid_to) VALUES "
                       "(?, 's-closed', now(), now())", [singles[0]])
        want = {r[0]: {"dup_group": r[1], "representative_id": r[2], "similarity": r[3], "joined_via": r[4],
                       "rule": r[5], "group_size": r[6], "story_id": r[7]}
                for r in st.con.execute(_MEMBERSHIPS_ONE_QUERY, [ids]).fetchall()}
        small, joined = both_lookup_paths(monkeypatch, lambda: st.memberships_of(ids))
        assert small == want == joined
        temps = []
        with monkeypatch.context() as m:  # a few ids: IN lists only, no registered table
            real = Store._temp
            m.setattr(Store, "_temp", lambda self, table: temps.append(table) or real(self, table))
            assert st.memberships_of(ids) == want
        assert temps == []
        assert len(want) == len(set(ids)) - 1 and "not-stored" not in want
        assert want[rows[1][0]]["story_id"] == "s-own" and want[rows[2][0]]["story_id"] == "s-rep-2"
        assert want[singles[0]]["story_id"] is None
        raise RuntimeError("roll back")
    assert st.memberships_of([]) == {}
