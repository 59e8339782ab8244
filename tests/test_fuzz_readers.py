"""Fuzz test of the readers (hypothesis, bounded: a few seconds per reader in CI).

For JSON Lines, JSON documents, CSV, Parquet, news pages (text and HTML) and gzip, generated
inputs mix well-formed records with hostile values (lone surrogates, objects where text is
expected, NaN, huge numbers, control characters, broken quotes, random bytes, truncation,
corrupt compressed bytes, string columns that are not UTF-8). Whatever the input:
no exception other than InputError escapes, every Article's str fields are valid Unicode
(encodable as UTF-8), and where the records can be counted, read + skipped accounts for each.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clustering.io.errors import InputError
from clustering.io.readers import read_articles

#: CI: 120 fixed examples per reader. A longer random campaign: FUZZ_EXAMPLES=5000.
_LONG = int(os.environ.get("FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=_LONG or 120, deadline=None, derandomize=not _LONG,
                database=None,  # fixed examples: nothing to replay, no .hypothesis/ folder
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

#: Any code point, lone surrogates included (hypothesis leaves them out by default).
any_char = st.characters(exclude_categories=[])
words = st.sampled_from(["القاهرة", "مصر", "وزير", "الأمطار", "Cairo", "floods", "rate", "٢١",
                         "21", "killed", "[/bold]", "<b>", "\\", '"', ",", "\t", "\r", "\x00",
                         "\ud800", "\ufeff", "\u200f", "🔥"])
texts = st.one_of(st.text(any_char, max_size=30),
                  st.lists(words, max_size=8).map(" ".join))
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                    st.floats(allow_nan=True, allow_infinity=True), texts)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(texts, inner, max_size=3)), max_leaves=6)
field_names = st.sampled_from(["id", "title", "text", "body", "published", "source", "url",
                               "lang", "headline", "date", "extra"])
records = st.builds(lambda id_, rest: {"id": id_, **rest},
                    st.one_of(texts, st.integers(), st.floats(), values),
                    st.dictionaries(st.one_of(field_names, texts), values, max_size=5))
# A record line as a producer would write it (ASCII escapes keep lone surrogates as \udxxx).
record_lines = records.map(lambda r: json.dumps(r, ensure_ascii=True).encode("ascii"))
garbage_lines = st.one_of(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b" ")),
                          st.text(any_char, max_size=30).map(
                              lambda t: t.replace("\n", " ").encode("utf-8", "surrogatepass")),
                          st.sampled_from([b"[1, 2]", b"null", b'"x"', b"{", b"}", b"[[[[",
                                           b'{"id": "x", "title": "\xd8\xa7\xff"}']))


def check_articles(res) -> None:
    for a in res.articles:
        for v in (a.id, a.title, a.text, a.source, a.url, a.lang, a.listed_on):
            if v is not None:
                assert isinstance(v, str)
                v.encode("utf-8")          # raises on a lone surrogate
        assert a.id and (a.title or a.text)


def read(path):
    """read_articles, with InputError the only exception allowed; None when it was raised."""
    try:
        res = read_articles([path])
    except InputError as exc:
        str(exc).encode("utf-8")           # the one-line message is printable
        return None
    check_articles(res)
    return res


@FUZZ
@given(first=record_lines, rest=st.lists(st.one_of(record_lines, garbage_lines), max_size=12))
def test_jsonl_fuzz(tmp_path_factory, first, rest):
    lines = [first] + rest
    p = tmp_path_factory.mktemp("jl") / "in.jsonl"
    p.write_bytes(b"\n".join(lines) + b"\n")
    res = read(p)
    if res is not None:
        # The first line is a record, so the file is JSON Lines: one record or skip per line.
        countable = [ln for ln in lines if ln.strip(b" \t\r\n\x0b\x0c")]
        wrapped = sum(1 for ln in countable if ln.lstrip().startswith(b"{") and b"[{" in ln)
        if not wrapped:
            assert len(res.articles) + res.skips.total == len(countable)


@FUZZ
@given(recs=st.lists(records, max_size=8), indent=st.sampled_from([None, 2]),
       wrap=st.booleans(), cut=st.floats(0, 1), damage=st.binary(max_size=4))
def test_json_document_fuzz(tmp_path_factory, recs, indent, wrap, cut, damage):
    doc = {"status": "ok", "articles": recs} if wrap else recs
    data = json.dumps(doc, indent=indent).encode("ascii")
    if damage:
        at = int(len(data) * cut)
        data = data[:at] + damage + data[at:]
    p = tmp_path_factory.mktemp("jd") / "in.json"
    p.write_bytes(data)
    res = read(p)
    if res is not None and not damage and recs:
        assert len(res.articles) + res.skips.total == len(recs)


cells = st.one_of(texts, st.sampled_from(['"', '""', 'a"b', '"unclosed', "x\ny", "٢٠١٣-٠٢-٠١",
                                         "2013-02-01T10:00:00Z", "Fri, 01 Feb 2013 10:00:00"]))
headers = st.lists(st.sampled_from(["id", "title", "body", "published", "source", "doc",
                                    "headline", "extra"]), min_size=1, max_size=5)


@FUZZ
@given(header=headers, rows=st.lists(st.lists(cells, max_size=6), max_size=10),
       raw=st.booleans(), noise=st.binary(max_size=6), enc=st.sampled_from(["utf-8", "cp1256"]))
def test_csv_fuzz(tmp_path_factory, header, rows, raw, noise, enc):
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
    text = buf.getvalue()
    data = text.encode(enc, errors="replace") if enc == "cp1256" else \
        text.encode("utf-8", "surrogatepass")
    if raw:  # hand-written damage: random bytes and a stray quote
        data = data[: len(data) // 2] + noise + b'"' + data[len(data) // 2:]
    p = tmp_path_factory.mktemp("csv") / "in.csv"
    p.write_bytes(data)
    res = read(p)
    clean = not raw and enc == "utf-8" and not any(
        "\ud800" <= c <= "\udfff" or c in "\r\x00" for row in [header, *rows] for cell in row
        for c in cell)
    if res is not None and clean and len(set(header)) == len(header):
        data_rows = [r for r in rows if r]
        assert len(res.articles) + res.skips.total == len(data_rows)


page_lines = st.one_of(texts, st.sampled_from(
    ["مقالات مشابهة", "إقرأ أيضاً:", "Related articles", "• خبر عن القاهرة", "1. Cairo floods",
     "تابعوا آخر أخبار العربية عبر Google News", "مادة إعلانية", "<p>", "</div>", "&#xd800;",
     "&#0;", "<!", "<!-- -->", "\x1f", "\ufffe", "<![CDATA[", "<script>x</script>", "<a href='http://x'>رابط</a>"]))


@FUZZ
@given(lines=st.lists(page_lines, max_size=15), html=st.booleans(), bom=st.booleans())
def test_page_fuzz(tmp_path_factory, lines, html, bom):
    body = "\n".join(lines)
    if html:
        body = f"<html><body><article><h1>{lines[0] if lines else ''}</h1>{body}</article>" \
               "</body></html>"
    data = (b"\xef\xbb\xbf" if bom else b"") + body.encode("utf-8", "surrogatepass")
    p = tmp_path_factory.mktemp("pg") / ("page.html" if html else "page.txt")
    p.write_bytes(data)
    read(p)


@FUZZ
@given(first=record_lines, rest=st.lists(st.one_of(record_lines, garbage_lines), max_size=8),
       cut=st.floats(0, 1), flip=st.integers(0, 255),
       name=st.sampled_from(["in.jsonl.gz", "in.csv.gz", "in.txt.gz", "in.parquet.gz"]))
def test_gzip_fuzz(tmp_path_factory, first, rest, cut, flip, name):
    whole = gzip.compress(b"\n".join([first, *rest]) + b"\n")
    at = int(len(whole) * cut)
    if flip % 2:   # truncated anywhere, even in the header
        data = whole[: max(1, at)]
    else:          # one corrupt byte anywhere
        at = min(at, len(whole) - 1)
        data = whole[:at] + bytes([whole[at] ^ (flip | 1)]) + whole[at + 1:]
    p = tmp_path_factory.mktemp("gz") / name
    p.write_bytes(data)
    read(p)


@FUZZ
@given(ids=st.lists(st.one_of(st.binary(max_size=8), st.integers(-5, 5)), min_size=1,
                    max_size=8),
       titles=st.lists(st.binary(max_size=24), min_size=1, max_size=8),
       published=st.one_of(st.just("ts"), st.just("text"), st.just("none")))
def test_parquet_fuzz(tmp_path_factory, ids, titles, published):
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = min(len(ids), len(titles))
    # string columns holding arbitrary bytes (not always UTF-8), as a careless writer leaves them
    if all(isinstance(i, int) for i in ids[:n]):
        id_col = pa.array(ids[:n], type=pa.int64())
    else:
        id_col = pa.array([i if isinstance(i, bytes) else str(i).encode() for i in ids[:n]],
                          type=pa.binary()).view(pa.string())
    cols = {"id": id_col, "title": pa.array(titles[:n], type=pa.binary()).view(pa.string())}
    if published == "ts":
        cols["published"] = pa.array([1359720000 * 1000 + k for k in range(n)],
                                     type=pa.timestamp("ms"))
    elif published == "text":
        cols["published"] = pa.array(["Fri, 01 Feb 2013 10:00:00 +0200", "x"] * n)[:n]
    p = tmp_path_factory.mktemp("pq") / "in.parquet"
    pq.write_table(pa.table(cols), p)
    res = read(p)
    if res is not None:
        assert len(res.articles) + res.skips.total == n
