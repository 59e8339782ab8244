"""Article updates and canonical URLs (issue 10): the same article arriving again with edited
text, other metadata, or under a new id with the same canonical URL, is a new version of the
stored article; its history is kept; re-running an input changes nothing."""

from __future__ import annotations

import gzip
import json

import pytest

from clustering import Config, NewsClusterer
from clustering.io.urls import canonical_url
from clustering.store import Store

from .conftest import EGY_DAY, ingest, scalar

# ---- canonical URLs ----------------------------------------------------------------------------


@pytest.mark.parametrize("variant", [
    "https://www.youm7.com/story/2013/2/1/مرسي-يلتقي/950000",
    "http://youm7.com/story/2013/2/1/%D9%85%D8%B1%D8%B3%D9%8A-%D9%8A%D9%84%D8%AA%D9%82%D9%8A/950000/",
    "https://m.youm7.com/story/2013/2/1/مرسي-يلتقي/950000/amp?utm_source=facebook&utm_medium=social",
    "https://youm7.com/story/2013/2/1/مرسي-يلتقي/950000?fbclid=IwAR0abc#comments",
    "https://amp.youm7.com/story/2013/2/1/مرسي-يلتقي/950000?amp=1&gclid=xyz",
    "https://youm7-com.cdn.ampproject.org/c/s/youm7.com/story/2013/2/1/مرسي-يلتقي/950000/amp",
])
def test_variants_of_one_article_url_have_one_canonical_form(variant):
    assert canonical_url(variant) == \
        "//youm7.com/story/2013/2/1/%D9%85%D8%B1%D8%B3%D9%8A-%D9%8A%D9%84%D8%AA%D9%82%D9%8A/950000"


def test_parameters_that_select_the_article_are_kept_and_others_differ():
    a = canonical_url("https://www.ahram.org.eg/NewsQ/12345.aspx?id=7&utm_campaign=rss&page=2")
    assert a == "//ahram.org.eg/NewsQ/12345.aspx?id=7&page=2"
    assert canonical_url("https://ahram.org.eg/NewsQ/12345.aspx?id=8") != a
    assert canonical_url("https://www.bbc.co.uk/news/world-1234.amp.html") == "//bbc.co.uk/news/world-1234.html"
    for bad in (None, "", "   ", "/relative/path", "mailto:desk@example.com", "javascript:void(0)",
                "https://", "http://[::1"):
        assert canonical_url(bad) is None


# ---- versions ----------------------------------------------------------------------------------

BODY = ("قال وزير المالية المصري اليوم الأحد إن موازنة العام المالي الجديد ترفع الإنفاق على التعليم "
        "والصحة بنسبة عشرة في المئة وتخفض دعم الوقود على مدى ثلاث سنوات وفق خطة الحكومة ")
WIRE = [
    {"id": "w1", "title": "الحكومة تعلن موازنة العام الجديد", "body": BODY * 2, "source": "mena",
     "url": "https://www.mena.org.eg/news/2013/budget?utm_source=rss", "timestamp": "2013-02-01T08:00:00Z"},
    {"id": "o1", "title": "الحكومة تعلن موازنة العام الجديد", "body": BODY * 2 + " نقلا عن وكالة أنباء الشرق الأوسط",
     "source": "youm7", "url": "https://youm7.com/story/1", "timestamp": "2013-02-01T09:00:00Z"},
    {"id": "e1", "title": "Egypt's cabinet approves new budget",
     "body": "Egypt's cabinet approved on Sunday a budget that raises spending on schools and "
             "hospitals by ten percent and cuts fuel subsidies over three years. " * 2,
     "source": "ahram-en", "url": "https://english.ahram.org.eg/News/1.aspx", "timestamp": "2013-02-01T10:00:00Z"},
]
REWRITE = ("رفض مجلس الشورى مشروع الموازنة بعد نقاش طويل حول أسعار الوقود وأجور العاملين في "
           "القطاع العام وطالب الحكومة بتعديلات ") * 2
REWRITE = REWRITE.strip()


def group_of(store, aid):
    return scalar(store, "SELECT group_id FROM dup_members WHERE article_id = ?", [aid])


def test_edited_text_is_a_new_version_regrouped_and_the_old_one_kept(write_jsonl, tmp_path):
    with Store(tmp_path / "db.duckdb") as store:
        ingest(store, [write_jsonl(WIRE, "v1.jsonl")])
        assert group_of(store, "w1") == group_of(store, "o1") == "w1"   # syndicated copy
        s = ingest(store, [write_jsonl([dict(WIRE[0], body=REWRITE)], "v2.jsonl")])
        assert (s.updated_text, s.new_articles, s.already_stored, s.skipped) == (1, 0, 0, {})
        # the newest version is current and fingerprinted again: it no longer repeats o1
        assert scalar(store, "SELECT text FROM articles WHERE id = 'w1'") == REWRITE
        assert scalar(store, "SELECT version FROM articles WHERE id = 'w1'") == 2
        assert group_of(store, "w1") != group_of(store, "o1")
        # the group w1 founded keeps its other member, now named after it, with its row rewritten
        assert group_of(store, "o1") == "o1"
        assert scalar(store, "SELECT representative_id FROM dup_groups WHERE group_id = 'o1'") == "o1"
        assert scalar(store, "SELECT count(*) FROM dup_groups WHERE group_id = 'w1'") == 1
        assert scalar(store, "SELECT count(*) FROM dup_members") == 3
        hist = store.article_history("w1")
        assert [h["version"] for h in hist] == [1, 2] and hist[0]["text"] == WIRE[0]["body"].strip()
        assert hist[0]["change"] == "text" and hist[1]["current"]
        assert (hist[0]["group_id"], hist[1]["group_id"]) == ("w1", "w1")  # v1 in the group now named o1; v2 founds its own
        # re-running either input changes nothing (an old version sent again does not revert)
        before = store.counts()
        for name in ("v2.jsonl", "v1.jsonl"):
            s = ingest(store, [tmp_path / name])
            assert s.updated_text == s.updated_metadata == s.new_articles == 0
        assert {k: v for k, v in store.counts().items() if k != "runs"} == \
            {k: v for k, v in before.items() if k != "runs"}


def test_an_edit_back_to_syndicated_text_joins_the_group(write_jsonl, tmp_path):
    with Store(tmp_path / "db.duckdb") as store:
        ingest(store, [write_jsonl([WIRE[0], dict(WIRE[1], body=REWRITE)], "v1.jsonl")])
        assert group_of(store, "o1") != group_of(store, "w1")
        s = ingest(store, [write_jsonl([WIRE[1]], "v2.jsonl")])          # o1 now reprints the wire
        assert s.updated_text == 1 and s.near_duplicates == 1
        assert group_of(store, "o1") == group_of(store, "w1") == "w1"
        assert scalar(store, "SELECT size FROM dup_groups WHERE group_id = 'w1'") == 2


def test_metadata_change_is_recorded_not_unchanged(write_jsonl, tmp_path):
    with Store(tmp_path / "db.duckdb") as store:
        ingest(store, [write_jsonl(WIRE, "v1.jsonl")])
        moved = dict(WIRE[1], timestamp="2013-02-01T07:30:00Z", source="youm7.com")
        s = ingest(store, [write_jsonl([moved], "v2.jsonl")])
        assert (s.updated_metadata, s.updated_text, s.already_stored) == (1, 0, 0)
        assert scalar(store, "SELECT source FROM articles WHERE id = 'o1'") == "youm7.com"
        assert scalar(store, "SELECT change FROM article_versions WHERE id = 'o1'") == "published, source"
        # the representative rule (earliest published) sees the new time
        assert scalar(store, "SELECT representative_id FROM dup_groups WHERE group_id = 'w1'") == "o1"
        # a URL change that leaves the canonical URL alone is no change
        s = ingest(store, [write_jsonl([dict(moved, url="http://www.youm7.com/story/1/?utm_medium=x")],
                                       "v3.jsonl")])
        assert s.already_stored == 1 and s.updated_metadata == 0


def test_same_canonical_url_under_a_new_id_is_an_update(write_jsonl, tmp_path):
    with Store(tmp_path / "db.duckdb") as store:
        ingest(store, [write_jsonl(WIRE, "v1.jsonl")])
        again = dict(WIRE[2], id="e1-amp", url="http://english.ahram.org.eg/News/1.aspx/amp?utm_source=tw",
                     body=WIRE[2]["body"] + " The parliament will vote next week.")
        s = ingest(store, [write_jsonl([again], "v2.jsonl")])
        assert (s.matched_by_url, s.updated_text, s.new_articles) == (1, 1, 0)
        assert scalar(store, "SELECT count(*) FROM articles") == 3
        assert scalar(store, "SELECT received_id FROM article_versions WHERE id = 'e1'") == "e1-amp"
        assert scalar(store, "SELECT canonical_url FROM articles WHERE id = 'e1'") == \
            "//english.ahram.org.eg/News/1.aspx"
        s = ingest(store, [tmp_path / "v2.jsonl"])                        # re-run: unchanged
        assert s.already_stored == 1 and s.updated_text == s.matched_by_url - 1 == 0
        hist = NewsClusterer(store).history("e1")
        assert [(h["version"], h["current"]) for h in hist] == [(1, False), (2, True)]
        assert hist[1]["text"].endswith("The parliament will vote next week.")


def test_two_ids_with_one_canonical_url_in_one_input_are_one_article(write_jsonl, tmp_path):
    first = dict(WIRE[2], id="e1")
    later = dict(WIRE[2], id="e1-amp", url="https://english.ahram.org.eg/News/1.aspx/amp/?utm_medium=social",
                 body=WIRE[2]["body"] + " The parliament will vote next week.")
    with Store(tmp_path / "db.duckdb") as store:
        p = write_jsonl([WIRE[0], first, later], "in.jsonl")
        s = ingest(store, [p])
        assert (s.new_articles, s.matched_by_url) == (2, 1)
        assert s.skipped == {"older version of an article updated later in the same input": 1}
        assert scalar(store, "SELECT text FROM articles WHERE id = 'e1'").endswith("vote next week.")
        assert scalar(store, "SELECT count(*) FROM articles WHERE id = 'e1-amp'") == 0
        before = store.counts()
        s = ingest(store, [p])                                              # re-run: a no-op
        assert s.new_articles == s.updated_text == s.updated_metadata == 0
        assert {k: v for k, v in store.counts().items() if k != "runs"} == \
            {k: v for k, v in before.items() if k != "runs"}


def test_real_day_rerun_with_edits_updates_only_the_edited(tmp_path, write_jsonl):
    with gzip.open(EGY_DAY, "rt", encoding="utf-8") as fh:
        recs = [json.loads(next(fh)) for _ in range(300)]
    with Store(tmp_path / "db.duckdb") as store:
        first = ingest(store, [write_jsonl(recs, "day.jsonl")])
        stored = scalar(store, "SELECT count(*) FROM articles")
        edited = [dict(r, body=(r.get("body") or "") + " (تحديث) أضيفت تفاصيل جديدة عن الحادث") if i % 50 == 0 else r
                  for i, r in enumerate(recs)]
        s = ingest(store, [write_jsonl(edited, "day2.jsonl")])
        n_edit = len(range(0, 300, 50))
        assert s.updated_text == n_edit and s.already_stored == stored - n_edit
        assert s.skipped == first.skipped                   # the same bad records, nothing more
        assert scalar(store, "SELECT count(*) FROM articles") == stored
        assert scalar(store, "SELECT count(*) FROM article_versions") == n_edit
        assert scalar(store, "SELECT count(*) FROM dup_members") == stored
        # every group row agrees with its members
        assert scalar(store, "SELECT count(*) FROM dup_groups g WHERE size <> (SELECT count(*) FROM "
                             "dup_members m WHERE m.group_id = g.group_id)") == 0
        assert scalar(store, "SELECT count(*) FROM (SELECT DISTINCT group_id FROM dup_members)") == \
            scalar(store, "SELECT count(*) FROM dup_groups")


@pytest.mark.slow
def test_update_moves_story_membership_with_history(write_jsonl, tmp_path):
    cfg = Config().replace(stories={"mode": "online"})
    with NewsClusterer(tmp_path / "db.duckdb", cfg) as nc:
        nc.ingest([write_jsonl(WIRE, "v1.jsonl")])
        store = nc.store
        story_before = scalar(store, "SELECT story_id FROM story_members WHERE article_id = 'w1' "
                                     "AND valid_to IS NULL")
        s = nc.ingest([write_jsonl([dict(WIRE[0], body=REWRITE, title="مجلس الشورى يرفض الموازنة")],
                                   "v2.jsonl")])
        assert s.updated_text == 1
        rows = store.con.execute("SELECT story_id, valid_to IS NULL FROM story_members "
                                 "WHERE article_id = 'w1' ORDER BY valid_from").fetchall()
        assert len(rows) == 2 and rows[0] == (story_before, False) and rows[1][1]
        assert [h["story_id"] for h in nc.history("w1")] == [story_before, rows[1][0]]
        # every article has exactly one open membership, and story sizes agree with them
        assert scalar(store, "SELECT count(*) FROM story_members WHERE valid_to IS NULL") == 3
        assert scalar(store, "SELECT count(*) FROM stories s WHERE s.size <> (SELECT count(*) FROM "
                             "story_members m WHERE m.story_id = s.story_id AND m.valid_to IS NULL)") == 0
        # the group w1 represented keeps an embedded representative (o1), so it is still a unit
        assert scalar(store, "SELECT count(*) FROM embeddings WHERE article_id = 'o1'") == 1
        assert scalar(store, "SELECT count(*) FROM embeddings") == scalar(store, "SELECT count(*) FROM dup_groups")
        before = store.counts()
        nc.ingest([tmp_path / "v2.jsonl"])
        assert {k: v for k, v in store.counts().items() if k != "runs"} == \
            {k: v for k, v in before.items() if k != "runs"}
