"""The store's point lookups (IN lists of parameters, answered by index scans) return what its
join lookups (a registered Arrow table of keys) return, on the bundled EgyNews day; and adding
articles one run at a time joins the groups the batch run makes."""

from __future__ import annotations

import pytest

from clustering.store import Store, base

from .conftest import EGY_DAY, ingest, scalar


@pytest.fixture(scope="module")
def day_store():
    st = Store(":memory:")
    ingest(st, [EGY_DAY])
    yield st
    st.close()


def _both(monkeypatch, call):
    """``call()`` by point lookups, then with every lookup forced onto the join path."""
    small = call()
    with monkeypatch.context() as m:
        m.setattr(base, "POINT_LOOKUP_MAX", 0)
        joined = call()
    return small, joined


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
        small, joined = _both(monkeypatch, call)
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
