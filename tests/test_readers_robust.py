"""Issue 10, bad input: no bad record sinks a read. Each test mixes real EgyNews (Arabic) records
and English wire-style records with one kind of bad record, and checks that every good record is
read (and stored by a run) while the bad one is a counted skip or a clear InputError."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from clustering.io.encoding import decode, guess_encoding
from clustering.io.errors import InputError
from clustering.io.page import read_page
from clustering.io.readers import parse_published, read_articles
from clustering.store import Store

from .conftest import EGY_DAY, SEED_PAGE, ingest, shared

ENGLISH = [
    {"id": "en-1", "title": "Floods close Cairo ring road after overnight storm",
     "body": "Heavy rain flooded several tunnels on the ring road, the traffic police said."},
    {"id": "en-2", "title": "Central bank holds interest rates steady",
     "body": "The central bank kept its overnight deposit rate at 9.25 percent on Thursday."},
]


def egy(n: int) -> list[dict]:
    """The first ``n`` records of the bundled EgyNews day that have a title (raw dicts)."""
    out = []
    with gzip.open(EGY_DAY, "rt", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            if rec.get("title") and rec.get("body"):
                out.append(rec)
            if len(out) == n:
                return out
    raise AssertionError("not enough records")


def good_records(n: int = 8) -> list[dict]:
    return egy(n) + ENGLISH


def jsonl(path, items) -> None:
    """Write items (dicts, or raw JSON text written as is) one per line, ASCII-escaped so that a
    lone surrogate is written as the escape ``\\ud800`` exactly as a real producer would."""
    path.write_text("".join((i if isinstance(i, str) else json.dumps(i)) + "\n" for i in items),
                    encoding="utf-8")


def stored(path, **kw):
    with Store(":memory:") as store:
        summary = ingest(store, [path], **kw)
        ids = {r[0] for r in store.con.execute("SELECT id FROM articles").fetchall()}
        titles = dict(store.con.execute("SELECT id, title FROM articles").fetchall())
    return summary, ids, titles


def ids_of(recs) -> list[str]:
    return [str(r["id"]) for r in recs]


# --- 1. lone surrogates ------------------------------------------------------------------------


def test_lone_surrogate_in_value_or_id_is_a_counted_skip_and_the_rest_is_stored(tmp_path):
    good = good_records()
    bad = ['{"id": "sur-title", "title": "\\ud800 \\u0645\\u0635\\u0631", "body": "text"}',
           '{"id": "sur-\\udfff", "title": "Cairo metro fares rise"}',
           '{"id": "sur-source", "title": "Cairo metro fares rise", "source": "\\udbff"}',
           '{"id": "sur-url", "title": "Cairo metro", "url": "http://x/\\ud83d"}']
    # a key holding a lone surrogate names no field: the record is read, the key ignored
    harmless = '{"id": "sur-key", "title": "Alexandria port reopens", "\\ud800x": "y"}'
    p = tmp_path / "sur.jsonl"
    jsonl(p, good[:4] + bad[:2] + [harmless] + good[4:] + bad[2:])
    res = read_articles([p])
    assert [a.id for a in res.articles] == ids_of(good[:4]) + ["sur-key"] + ids_of(good[4:])
    assert res.skips.as_dict() == {"invalid Unicode (lone surrogate) in title": 1,
                                   "invalid Unicode (lone surrogate) in id": 1,
                                   "invalid Unicode (lone surrogate) in source": 1,
                                   "invalid Unicode (lone surrogate) in url": 1}
    summary, ids, _ = stored(p)          # DuckDB, pyarrow and hashing never see a surrogate
    assert ids == set(ids_of(good)) | {"sur-key"} and summary.new_articles == len(good) + 1


def test_surrogates_in_csv_bytes_and_parquet_strings_never_reach_the_store(tmp_path):
    good = good_records(6)
    # CSV: a surrogate can only arrive as its (invalid) UTF-8 bytes, ED A0 80 ("WTF-8")
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id", "title", "body"])
    for r in good:
        w.writerow([r["id"], r["title"], r["body"]])
    data = buf.getvalue().encode("utf-8") + b"wtf8,\xed\xa0\x80 Giza pyramids,closed for a day\n"
    p = tmp_path / "wtf8.csv"
    p.write_bytes(data)
    res = read_articles([p])
    assert [a.id for a in res.articles] == ids_of(good) + ["wtf8"]
    assert res.articles[-1].title.startswith("\ufffd") and res.skips.total == 0
    assert any("1 record(s) hold invalid UTF-8" in n for n in res.notes)
    assert stored(p)[1] == set(ids_of(good)) | {"wtf8"}

    # Parquet: a string column whose bytes are not UTF-8 (another writer's bug) is one skip
    titles = [r["title"].encode("utf-8") for r in good] + [b"\xed\xa0\x80 bad"]
    col = pa.array(titles, type=pa.binary()).view(pa.string())
    q = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"id": ids_of(good) + ["pq-bad"], "title": col}), q)
    res = read_articles([q])
    assert [a.id for a in res.articles] == ids_of(good)
    assert res.skips.as_dict() == {"invalid UTF-8 bytes in title": 1}
    assert [a.title for a in res.articles] == [r["title"] for r in good]


# --- 2. encodings decided per file ---------------------------------------------------------------


def _csv_bytes(recs) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id", "title", "body"])
    for r in recs:
        w.writerow([r["id"], r["title"], r["body"]])
    return buf.getvalue().encode("utf-8")


def test_utf8_csv_with_one_invalid_byte_stays_utf8_not_cp1256(tmp_path):
    good = egy(30)
    data = _csv_bytes(good)
    cut = data.index(good[10]["title"].encode("utf-8")) + 4   # inside record 11's title
    p = tmp_path / "one-bad-byte.csv"
    p.write_bytes(data[:cut] + b"\xff" + data[cut:])
    res = read_articles([p])
    assert [a.id for a in res.articles] == ids_of(good)
    titles = [a.title for a in res.articles]
    assert titles[:10] == [r["title"] for r in good[:10]]          # no mojibake anywhere
    assert titles[11:] == [r["title"] for r in good[11:]]
    assert "\ufffd" in titles[10] and titles[10].replace("\ufffd", "") != ""
    assert not any("cp1256" in n for n in res.notes)
    line = data[:data.index(b"\n" + good[10]["id"].encode()) + 1].count(b"\n") + 1
    assert any(f"1 record(s) hold invalid UTF-8 bytes, read as U+FFFD (e.g. {p.name}:{line})" in n
               for n in res.notes)


def test_mojibake_already_in_valid_utf8_is_noted_never_silent(tmp_path):
    good = good_records(6)
    moj = [dict(r, id=f"moj-{k}", title=r["title"].encode("utf-8").decode(codec, "replace"))
           for k, (r, codec) in enumerate(zip(egy(3), ["cp1256", "cp1252", "latin-1"]))]
    p = tmp_path / "moj.jsonl"
    jsonl(p, good[:3] + moj + good[3:])
    res = read_articles([p])
    assert [a.id for a in res.articles] == ids_of(good[:3] + moj + good[3:])   # kept as given
    (note,) = [n for n in res.notes if "mojibake" in n]
    assert note.startswith("moj.jsonl: 3 record(s) look like mojibake")
    assert note.endswith("moj.jsonl:4, moj.jsonl:5, moj.jsonl:6")
    clean = tmp_path / "clean.jsonl"                 # real Arabic (with » after a final ط): none
    jsonl(clean, egy(200))
    assert not any("mojibake" in n for n in read_articles([clean]).notes)

def test_real_cp1256_csv_still_decoded_as_cp1256(tmp_path):
    good = egy(12)
    p = tmp_path / "cp1256.csv"
    p.write_bytes(_csv_bytes(good).decode("utf-8").encode("cp1256", errors="replace"))
    res = read_articles([p])
    assert [a.id for a in res.articles] == ids_of(good)
    assert res.articles[0].title == good[0]["title"].encode("cp1256", "replace").decode("cp1256")
    assert any("decoded as cp1256" in n for n in res.notes)


def test_jsonl_line_with_one_invalid_byte_is_utf8_with_replacement(tmp_path):
    good = good_records(5)
    lines = [json.dumps(r, ensure_ascii=False).encode("utf-8") for r in good]
    cut = lines[2].index(b'"title": "') + 14
    lines[2] = lines[2][:cut] + b"\x92" + lines[2][cut:]
    p = tmp_path / "bad-byte.jsonl"
    p.write_bytes(b"\n".join(lines) + b"\n")
    res = read_articles([p])
    assert [a.id for a in res.articles] == ids_of(good)
    assert res.articles[2].title.replace("\ufffd", "") == good[2]["title"]
    assert [a.title for a in res.articles[3:]] == [r["title"] for r in good[3:]]
    assert any("1 line(s) of UTF-8 with invalid bytes" in n for n in res.notes)


def test_utf8_arabic_is_never_guessed_as_cp1256_mojibake():
    text = " ".join(r["title"] for r in egy(20)).encode("utf-8")
    assert guess_encoding(text) != "cp1256"
    d = decode(text + b"\xff")
    assert d.encoding == "utf-8" and d.replaced == 1
    assert d.text.rstrip("\ufffd") == text.decode("utf-8")


def test_page_with_one_invalid_byte_reads_as_utf8(tmp_path):
    data = SEED_PAGE.read_bytes()
    good, _ = read_page(SEED_PAGE, page_id="p")
    cut = data.index(good[1].title.encode("utf-8")) + 6
    p = tmp_path / "page.txt"
    p.write_bytes(data[:cut] + b"\xfe" + data[cut:])
    arts, _ = read_page(p, page_id="p")
    assert [a.id for a in arts] == [a.id for a in good]
    assert arts[0].text == good[0].text and arts[0].title == good[0].title
    assert [a.title for a in arts[2:]] == [a.title for a in good[2:]]
    assert "\ufffd" in arts[1].title
    res = read_articles([p])
    assert any("1 item(s) hold U+FFFD" in n for n in res.notes)


# --- 3. .gz that is not gzip; JSON arrays ---------------------------------------------------------


@pytest.mark.parametrize("name", ["plain.jsonl.gz", "plain.csv.gz", "plain.parquet.gz",
                                  "plain.txt.gz"])
def test_plain_file_named_gz_is_a_one_line_error(tmp_path, name):
    p = tmp_path / name
    p.write_text("id,title\n" + json.dumps(ENGLISH[0]) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=rf"{name}: named \.gz but not gzip-compressed") as ei:
        read_articles([p])
    assert "\n" not in str(ei.value)
    with Store(":memory:") as store:
        before = store.counts()
        with pytest.raises(InputError):
            ingest(store, [p])
        assert store.counts() == before


def test_pretty_printed_json_array_and_wrapped_list_are_read_as_records(tmp_path):
    good = good_records()
    arr = tmp_path / "articles.json"
    arr.write_text(json.dumps(good, ensure_ascii=False, indent=2), encoding="utf-8")
    wrapped = tmp_path / "export.json"
    wrapped.write_text(json.dumps({"status": "ok", "total": len(good), "articles": good},
                                  ensure_ascii=False, indent=4), encoding="utf-8")
    one_line = tmp_path / "array.jsonl"
    one_line.write_text(json.dumps(good, ensure_ascii=False), encoding="utf-8")
    gz = tmp_path / "articles.json.gz"
    gz.write_bytes(gzip.compress(arr.read_bytes()))
    single = tmp_path / "one.json"
    single.write_text(json.dumps(good[0], ensure_ascii=False, indent=2), encoding="utf-8")
    for p in (arr, wrapped, one_line, gz):
        res = read_articles([p])
        assert [a.id for a in res.articles] == ids_of(good), p.name
        assert [a.title for a in res.articles] == [r["title"] for r in good]
        assert res.skips.total == 0
    assert [a.id for a in read_articles([single]).articles] == ids_of(good[:1])
    assert stored(arr)[1] == set(ids_of(good))


def test_broken_item_in_a_json_array_is_one_skip_and_the_rest_is_read(tmp_path):
    good = good_records()
    text = json.dumps(good, ensure_ascii=False, indent=2)
    broken = text.replace(f'"id": "{good[3]["id"]}",', f'"id": "{good[3]["id"]}" "oops",', 1)
    p = tmp_path / "broken.json"
    p.write_text(broken, encoding="utf-8")
    res = read_articles([p])
    assert [a.id for a in res.articles] == ids_of(good[:3] + good[4:])
    assert res.skips.as_dict() == {"unparsable JSON": 1}
    p.write_text(text[: len(text) * 3 // 4], encoding="utf-8")            # cut off
    res = read_articles([p])
    assert 0 < len(res.articles) < len(good)
    assert [a.id for a in res.articles] == ids_of(good[:len(res.articles)])
    assert res.skips.total == 1



def test_concatenated_pretty_printed_objects_as_jq_writes_them(tmp_path):
    good = good_records()
    parts = [json.dumps(r, ensure_ascii=False, indent=2) for r in good]
    parts[2] = parts[2].replace('"title": ', '"title" ', 1)              # one broken object
    p = tmp_path / "jq.json"
    p.write_text("\n".join(parts) + "\n", encoding="utf-8")
    res = read_articles([p])
    assert [a.id for a in res.articles] == ids_of(good[:2] + good[3:])
    assert res.skips.as_dict() == {"unparsable JSON": 1}
    assert res.skips.examples["unparsable JSON"] == [f"jq.json:{parts[0].count(chr(10)) * 2 + 3}"]

# --- 4. wrong field types -----------------------------------------------------------------------


def test_wrong_field_types_are_counted_skips_or_documented_coercions(tmp_path):
    good = good_records(4)
    odd = [
        {"id": "t-obj", "title": {"ar": "عنوان", "en": "title"}, "body": "نص"},
        {"id": "t-list", "title": ["Cairo", "Giza"]},
        {"id": True, "title": "boolean id"},
        {"id": {"$oid": "5f1"}, "title": "object id"},
        {"id": "src-list", "title": "Suez canal traffic", "source": ["ahram", "masrawy"]},
        {"id": 1e400, "title": "infinite id"},                       # json.dumps writes Infinity
    ]
    coerced = [
        {"id": 20130201, "title": "Integer id becomes its text"},
        {"id": 17.0, "title": "Integral float id (pandas) becomes 17"},
        {"id": "num-title", "title": 2013, "body": "A number as title is its text"},
        {"id": "pub-obj", "title": "Published given as an object", "published": {"$date": 1}},
    ]
    p = tmp_path / "types.jsonl"
    jsonl(p, good[:2] + odd[:3] + good[2:] + odd[3:] + coerced)
    res = read_articles([p])
    assert [a.id for a in res.articles] == ids_of(good) + ["20130201", "17", "num-title",
                                                          "pub-obj"]
    assert res.skips.as_dict() == {"wrong type: title is an object": 1,
                                   "wrong type: title is a list": 1,
                                   "wrong type: id is a boolean": 1,
                                   "wrong type: id is an object": 1,
                                   "wrong type: source is a list": 1,
                                   "wrong type: id is an infinite number": 1}
    by_id = {a.id: a for a in res.articles}
    assert by_id["num-title"].title == "2013"
    assert by_id["pub-obj"].published is None
    assert any("1 record(s) with an unparsable published time" in n for n in res.notes)
    for a in res.articles:           # never a Python repr
        assert "{" not in a.title and "[" not in a.title and "'" not in a.id
    _, ids, titles = stored(p)
    assert ids == set(by_id) and titles["20130201"] == "Integer id becomes its text"


# --- 5. a file skipped wholesale for one reason ----------------------------------------------------


def test_file_without_an_id_column_is_an_error_with_the_map_hint(tmp_path):
    good = egy(40)
    p = tmp_path / "no-id.csv"
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["article_key", "headline", "body"])
    for r in good:
        w.writerow([r["id"], r["title"], r["body"]])
    p.write_text(buf.getvalue(), encoding="utf-8")
    with pytest.raises(InputError) as ei:
        read_articles([p])
    msg = str(ei.value)
    assert msg.startswith("no-id.csv: nothing read, every record skipped: missing id")
    assert "--map SOURCE=id" in msg and "(columns: article_key, headline, body)" in msg
    with Store(":memory:") as store:
        with pytest.raises(InputError, match="missing id"):
            ingest(store, [p])
        assert store.counts()["articles"] == 0
    # the hint works
    assert stored(p, mapping={"article_key": "id"})[1] == set(ids_of(good))


def test_upper_case_columns_are_matched_in_lower_case():
    # The UCI News Aggregator file names its columns ID, TITLE, URL, PUBLISHER, TIMESTAMP; it
    # used to give 2,989 "missing id" skips and nothing else.
    p = shared("uci-headlines/uci_news_aggregator_dev_stories.csv")
    with open(p, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    res = read_articles([p])
    assert [a.id for a in res.articles] == [r["ID"] for r in rows] and res.skips.total == 0
    assert [a.title for a in res.articles] == [r["TITLE"] for r in rows]
    assert [a.source for a in res.articles] == [r["PUBLISHER"] or None for r in rows]
    assert all(a.published is not None and a.published.year == 2014 for a in res.articles)

def test_file_that_is_not_json_and_file_without_text_columns_are_errors(tmp_path):
    notes = tmp_path / "notes.jsonl"
    notes.write_text("Meeting notes\nfollow up with the Cairo desk\n", encoding="utf-8")
    with pytest.raises(InputError, match="every record skipped: unparsable JSON; expected JSON "
                                         "Lines, a JSON array"):
        read_articles([notes])
    ids_only = tmp_path / "ids.jsonl"
    jsonl(ids_only, [{"id": r["id"], "headline_ar": r["title"]} for r in egy(5)])
    with pytest.raises(InputError, match=r"empty text; name the text columns with --map "
                                         r"SOURCE=title.*\(columns: id, headline_ar\)"):
        read_articles([ids_only])


def test_content_skips_and_repeated_files_are_not_errors(tmp_path):
    good = good_records(3)
    p = tmp_path / "a.jsonl"
    jsonl(p, good)
    res = read_articles([p, p])           # the second copy: every record a duplicate id
    assert [a.id for a in res.articles] == ids_of(good)
    assert res.skips.as_dict() == {"duplicate id": len(good)}
    emoji = tmp_path / "emoji.jsonl"
    jsonl(emoji, [{"id": "e1", "title": "🔥🔥"}])
    assert read_articles([p, emoji]).skips.total == 1
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert read_articles([empty]).notes == ["empty.jsonl: no records"]


# --- 6. CSV quoting and RSS dates ---------------------------------------------------------------


def test_unclosed_quote_does_not_swallow_the_rows_after_it(tmp_path):
    good = egy(6)
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_ALL)
    w.writerow(["id", "title", "body"])
    for r in good[:3]:
        w.writerow([r["id"], r["title"], r["body"]])
    broken = 'broken,"Cairo governor resigns, sources say,no closing quote\n'
    tail = io.StringIO()
    w2 = csv.writer(tail, quoting=csv.QUOTE_ALL)
    for r in good[3:]:
        w2.writerow([r["id"], r["title"], r["body"]])
    p = tmp_path / "quote.csv"
    for rest in (tail.getvalue(), 'last,plain title,plain body\n'):     # quotes later / none
        p.write_text(buf.getvalue() + broken + rest, encoding="utf-8")
        res = read_articles([p])
        expect = ids_of(good) if rest is not None and rest.startswith('"') else \
            ids_of(good[:3]) + ["last"]
        assert [a.id for a in res.articles] == expect
        line = buf.getvalue().count("\n") + 1          # bodies hold newlines: physical line
        (reason, examples), = res.skips.examples.items()
        assert res.skips.total == 1 and examples == [f"quote.csv:{line}"]
        assert reason.startswith("unparsable CSV")


def test_rss_dates_keep_their_time():
    assert parse_published("Fri, 01 Feb 2013 10:00:00 +0200") == \
        datetime(2013, 2, 1, 8, 0, tzinfo=UTC)
    assert parse_published("Fri, 01 Feb 2013 10:00:00 GMT") == \
        datetime(2013, 2, 1, 10, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_published("الجمعة ١ فبراير")
    with pytest.raises(ValueError):
        parse_published({"$date": 1})


# --- found by the fuzz test ---------------------------------------------------------------------


def test_html_with_control_characters_or_no_tree_is_read_not_a_crash(tmp_path):
    # lxml raised ValueError on a control character in HTML text, and ParserError on "<!"
    body = " ".join(r["title"] for r in egy(12))
    p = tmp_path / "page.html"
    p.write_text(f"<html><body><article><h1>Cairo floods close the ring road</h1><p>{body}"
                 "\x1f</p><script>x</script><p>\ufffe</p></article></body></html>",
                 encoding="utf-8")
    res = read_articles([p])
    assert [a.title for a in res.articles] == ["Cairo floods close the ring road"]
    assert res.articles[0].text == body.replace("\u200f", "")    # trafilatura drops RLM marks
    q = tmp_path / "empty.txt"
    q.write_text("<!", encoding="utf-8")
    assert read_articles([q]).skips.as_dict() == {"empty page article": 1}


def test_file_name_in_an_undecodable_encoding_gives_printable_locations(tmp_path):
    good = good_records(3)
    name = b"\xff\xfe-akhbar.jsonl"                  # a Latin-1 name on a UTF-8 file system
    p = tmp_path / name.decode("utf-8", "surrogateescape")
    jsonl(p, good + ['{"id": "x", "title": {"nested": 1}}'])
    res = read_articles([p])
    assert [a.id for a in res.articles] == ids_of(good)
    (where,) = res.skips.examples["wrong type: title is an object"]
    where.encode("utf-8")                            # no surrogate reaches a log or the store
    assert where == f"\\udcff\\udcfe-akhbar.jsonl:{len(good) + 1}"
    bad = tmp_path / b"\xff.jsonl.gz".decode("utf-8", "surrogateescape")
    bad.write_bytes(b"not gzip")
    with pytest.raises(InputError) as ei:
        read_articles([bad])
    str(ei.value).encode("utf-8")
