"""Bad input: a clear error or a counted, reported skip; the good records are all stored; a
failed run leaves the database as it was."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from clustering.io.errors import InputError
from clustering.io.readers import read_articles
from clustering.store import Store, StoreError

from .conftest import EGY_DAY, ingest, scalar

GOOD = [
    {"id": "a1", "title": "وزير العدل: تعيين النائب العام قانوني", "body": "نص الخبر الأول عن النائب العام والقضاء في مصر اليوم"},
    {"id": "a2", "title": "الأمطار تؤخر توافد المتظاهرين على التحرير", "body": "نص الخبر الثاني عن الأمطار والمتظاهرين في ميدان التحرير"},
]


def real_records(n: int) -> list[dict]:
    with gzip.open(EGY_DAY, "rt", encoding="utf-8") as fh:
        return [json.loads(next(fh)) for _ in range(n)]


def test_broken_lines_missing_ids_empty_text_and_duplicates_are_counted(write_jsonl):
    recs = real_records(20)
    lines = [json.dumps(r, ensure_ascii=False) for r in recs[:10]]
    lines += ['{"id": "broken", "title": "unterminated', "[1, 2, 3]",
              json.dumps({"title": "no id here", "body": "text"}),
              json.dumps({"id": "", "title": "empty id"}),
              json.dumps({"id": "empty", "title": "  ", "body": ""}),
              json.dumps(recs[0], ensure_ascii=False)]          # duplicate id
    lines += [json.dumps(r, ensure_ascii=False) for r in recs[10:]]
    res = read_articles([write_jsonl(lines)])
    assert [a.id for a in res.articles] == [r["id"] for r in recs]   # every good record, in order
    assert res.skips.as_dict() == {"missing id": 2, "unparsable JSON": 1, "duplicate id": 1,
                                   "JSON line is not an object": 1, "empty text": 1}
    assert res.skips.examples["unparsable JSON"] == ["in.jsonl:11"]


def test_oversized_document_is_skipped_not_fatal(write_jsonl):
    huge = {"id": "huge", "title": "x", "body": "كلمة " * 10_500_000}   # ~52 MB of text
    p = write_jsonl([GOOD[0], huge, GOOD[1]])
    res = read_articles([p])
    assert [a.id for a in res.articles] == ["a1", "a2"]
    assert list(res.skips.as_dict()) == ["document too large (> 1,000,000 characters)"]


def test_windows_1256_csv_is_decoded_and_noted(tmp_path):
    p = tmp_path / "cp1256.csv"
    rows = "id,title,body\n" + "".join(f'{r["id"]},{r["title"]},{r["body"]}\n' for r in GOOD)
    p.write_bytes(rows.encode("cp1256"))
    res = read_articles([p])
    assert [a.title for a in res.articles] == [r["title"] for r in GOOD]
    assert any("decoded as" in n for n in res.notes)


def test_jsonl_with_some_non_utf8_lines_keeps_all_records(tmp_path):
    p = tmp_path / "mixed.jsonl"
    good = json.dumps(GOOD[0], ensure_ascii=False).encode("utf-8")
    bad = json.dumps(GOOD[1], ensure_ascii=False).encode("utf-8").decode("utf-8").encode("cp1256")
    p.write_bytes(good + b"\n" + bad + b"\n")
    res = read_articles([p])
    assert [a.id for a in res.articles] == ["a1", "a2"]
    assert res.articles[1].title == GOOD[1]["title"]


def test_broken_csv_row_is_counted(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text('id,title,body\nc1,"title one","body one"\nc2,"t2","b2",extra,cells\n'
                 'c3,"title three","body three"\n', encoding="utf-8")
    res = read_articles([p])
    assert [a.id for a in res.articles] == ["c1", "c3"]
    assert res.skips.total == 1


def test_parquet_with_mapping_and_epoch_times(tmp_path):
    p = tmp_path / "x.parquet"
    pq.write_table(pa.table({"doc": ["p1", "p2"], "headline": ["one", "two"],
                             "content": ["body one", "body two"],
                             "ts": [1359720000, 1359720000123]}), p)
    res = read_articles([p], mapping={"doc": "id", "ts": "published"})
    assert [a.id for a in res.articles] == ["p1", "p2"]
    assert res.articles[0].published.year == 2013 and res.articles[1].published.year == 2013
    with pytest.raises(InputError, match="nope"):
        read_articles([p], mapping={"nope": "id"})


def test_missing_file_and_unknown_format_are_one_line_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_articles([tmp_path / "missing.jsonl"])
    odd = tmp_path / "x.docx"
    odd.write_text("hi")
    with pytest.raises(InputError, match="unsupported file type"):
        read_articles([odd])


def test_bidi_marks_and_mixed_scripts_do_not_hide_repeats(write_jsonl):
    t = "الرئيس مرسي يلتقي وفد صندوق النقد IMF في القاهرة لبحث قرض 4.8 مليار دولار"
    marked = "\u200f" + t.replace(" ", " \u200e", 3) + "\u202c"
    p = write_jsonl([{"id": "clean", "title": t}, {"id": "marked", "title": marked}])
    with Store(":memory:") as store:
        s = ingest(store, [p])
        g = dict(store.con.execute("SELECT article_id, group_id FROM dup_members").fetchall())
    assert s.exact_repeats == 1 and g["clean"] == g["marked"]


def test_id_reused_with_other_text_is_a_new_version_on_a_later_run(write_jsonl, tmp_path):
    db = tmp_path / "db.duckdb"
    with Store(db) as store:
        ingest(store, [write_jsonl(GOOD, "a.jsonl")])
        changed = [dict(GOOD[0], body="نص مختلف تماما"), GOOD[1]]
        s = ingest(store, [write_jsonl(changed, "b.jsonl")])
        assert s.skipped == {} and s.updated_text == 1
        assert s.already_stored == 1 and s.new_articles == 0
        assert scalar(store, "SELECT text FROM articles WHERE id = 'a1'") == "نص مختلف تماما"
        assert scalar(store, "SELECT text FROM article_versions WHERE id = 'a1'") == GOOD[0]["body"]


def test_failed_run_leaves_database_as_it_was(write_jsonl, tmp_path):
    db = tmp_path / "db.duckdb"
    with Store(db) as store:
        ingest(store, [write_jsonl(GOOD, "a.jsonl")])
        before = store.counts()

        def exploding_story_step(*args):
            raise RuntimeError("disk full half way")

        more = [{"id": f"n{i}", "title": f"خبر جديد رقم {i}", "body": "نص " * 50} for i in range(50)]
        with pytest.raises(RuntimeError):
            ingest(store, [write_jsonl(more, "b.jsonl")], story=exploding_story_step)
        assert store.counts() == before
        # and the database is still usable afterwards
        s = ingest(store, [write_jsonl(more, "b.jsonl")])
        assert s.new_articles == 50


def test_database_locked_by_another_process_is_a_clear_error(tmp_path):
    db = tmp_path / "locked.duckdb"
    Store(db).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('ready', flush=True); time.sleep(30)", str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreError, match="locked by another process"):
            Store(db)
    finally:
        holder.kill()
        holder.wait()


def test_not_a_database_file(tmp_path):
    p = tmp_path / "x.duckdb"
    p.write_bytes(b"this is not duckdb" * 100)
    with pytest.raises(StoreError):
        Store(p)


def test_truncated_gzip_keeps_the_records_before_the_damage(tmp_path):
    recs = real_records(40)
    whole = gzip.compress("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs).encode())
    p = tmp_path / "trunc.jsonl.gz"
    p.write_bytes(whole[: len(whole) * 2 // 3])
    res = read_articles([p])
    assert 0 < len(res.articles) < 40
    assert [a.id for a in res.articles] == [r["id"] for r in recs[:len(res.articles)]]
    assert list(res.skips.as_dict()) == ["unreadable rest of file (EOFError)"]


def test_gzipped_parquet_and_directory_input(tmp_path):
    p = tmp_path / "x.parquet"
    pq.write_table(pa.table({"id": ["g1"], "title": ["عنوان الخبر"]}), p)
    gz = tmp_path / "x.parquet.gz"
    gz.write_bytes(gzip.compress(p.read_bytes()))
    assert [a.id for a in read_articles([gz]).articles] == ["g1"]
    with pytest.raises(InputError, match="is a directory"):
        read_articles([tmp_path])


def test_text_without_letters_or_digits_is_a_counted_skip(write_jsonl):
    p = write_jsonl([{"id": "marks", "title": "\u200f\u0640\u0640\u064b\u202b"},
                     {"id": "emoji", "title": "🔥🔥🔥"}, GOOD[0]])
    res = read_articles([p])
    assert [a.id for a in res.articles] == ["a1"]
    assert res.skips.as_dict() == {"no letters or digits (only marks, symbols or emoji)": 2}


def test_short_windows_1256_headline_files_decode_as_arabic(tmp_path):
    with gzip.open(EGY_DAY, "rt", encoding="utf-8") as fh:
        heads = [json.loads(line)["title"] for line in fh][:10]
    heads = [h for h in heads if h][:5]
    p = tmp_path / "heads.csv"
    p.write_bytes(("id,title\n" + "".join(f'h{i},"{h}"\n' for i, h in enumerate(heads)))
                  .encode("cp1256", errors="replace"))
    res = read_articles([p])
    assert [a.title for a in res.articles] == [h.encode("cp1256", errors="replace").decode("cp1256")
                                               for h in heads]
    assert any("cp1256" in n for n in res.notes)
