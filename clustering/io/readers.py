"""Readers for article files: JSON Lines, CSV/TSV and Parquet (optionally gzip-compressed), and
scraped news pages (delegated to :mod:`clustering.io.page`).

Every reader yields :class:`~clustering.records.Article` objects and counts what it could not take
in a :class:`~clustering.records.SkipReport` (broken lines, missing ids, empty text, duplicate
ids, oversized documents, undecodable bytes) instead of stopping half way: the good records of a
file are never lost because of a bad one. Errors that concern a whole file (it does not exist, it
is not a supported format, a column mapping names nothing) raise :class:`InputError`.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import json
import math
import re
import sys
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from clustering.io.errors import InputError
from clustering.records import ARTICLE_FIELDS, Article, SkipReport

#: Default cap on the size of one document (title + text, in characters). Larger records are
#: skipped and counted: a 50 MB "article" is a scraping accident, not news.
DEFAULT_MAX_CHARS = 1_000_000

#: Column names seen in public news data sets, mapped onto ours. Explicit ``mapping`` wins.
DEFAULT_ALIASES = {
    "body": "text",
    "content": "text",
    "article": "text",
    "headline": "title",
    "timestamp": "published",
    "date": "published",
    "published_at": "published",
    "pub_date": "published",
    "language": "lang",
    "doc_id": "id",
}

_PAGE_SUFFIXES = {".txt", ".html", ".htm"}
_JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}
_CSV_SUFFIXES = {".csv", ".tsv"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: A letter or digit (tatweel and underscore excluded): text without one normalises to nothing.
_HAS_WORD = re.compile(r"[^\W_\u0640]")


@dataclass
class ReadResult:
    """What a read produced: the articles in input order, the skip report, and notes.

    ``notes`` are file-level remarks that lose no record (e.g. "x.csv: decoded as cp1256",
    "12 records without a usable published time").
    """

    articles: list[Article] = field(default_factory=list)
    skips: SkipReport = field(default_factory=SkipReport)
    notes: list[str] = field(default_factory=list)


def detect_format(path: Path) -> str:
    """Return "jsonl", "csv", "tsv", "parquet" or "page" from the file name.

    A trailing ``.gz`` is looked through. Raises :class:`InputError` for other suffixes.
    """
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    suffix = suffixes[-1] if suffixes else ""
    if suffix in _JSONL_SUFFIXES:
        return "jsonl"
    if suffix == ".tsv":
        return "tsv"
    if suffix in _CSV_SUFFIXES:
        return "csv"
    if suffix in _PARQUET_SUFFIXES:
        return "parquet"
    if suffix in _PAGE_SUFFIXES:
        return "page"
    raise InputError(
        f"{path}: unsupported file type {suffix or '(none)'!r}; "
        "expected .jsonl, .csv, .tsv, .parquet (optionally .gz) or a news page (.txt, .html)"
    )


def parse_published(value: Any) -> datetime | None:
    """Parse an ISO 8601 string or a Unix epoch (seconds, or milliseconds if > 1e11) to UTC.

    Naive times are taken as UTC. Returns None for None/empty. Raises ValueError when the value
    is present but not a time.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and math.isnan(value):
            return None
        seconds = value / 1000.0 if abs(value) > 1e11 else float(value)
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    else:
        s = str(value).strip()
        if not s:
            return None
        if re.fullmatch(r"-?\d+(\.\d+)?", s):
            return parse_published(float(s))
        if s.endswith("Z"):
            s = s[:-1] + "+00:00"
        dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def _clean(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    return _CONTROL.sub("", str(value)).strip()


def _optional(value: Any) -> str | None:
    s = _clean(value)
    return s or None


class _RecordBuilder:
    """Turns raw dict records into Articles, applying the column mapping and the checks."""

    def __init__(self, mapping: Mapping[str, str] | None, max_chars: int, result: ReadResult,
                 seen_ids: set[str], start_order: int):
        self.mapping = dict(DEFAULT_ALIASES)
        self.explicit = dict(mapping or {})
        self.mapping.update(self.explicit)
        self.max_chars = max_chars
        self.result = result
        self.seen = seen_ids
        self.order = start_order
        self.bad_times = 0

    def check_columns(self, columns: Iterable[str], where: str) -> None:
        """Raise InputError when an explicit mapping names a column the file does not have."""
        cols = set(columns)
        missing = [src for src in self.explicit if src not in cols]
        if missing:
            raise InputError(f"{where}: column(s) {', '.join(missing)} named in the mapping are not "
                             f"in the file (columns: {', '.join(sorted(cols))})")

    def add(self, raw: Mapping[str, Any], where: str) -> None:
        rec: dict[str, Any] = {}
        for key, value in raw.items():
            name = self.mapping.get(key, key)
            if name in ARTICLE_FIELDS and (name not in rec or key == name or key in self.explicit):
                rec[name] = value
        skips = self.result.skips
        art_id = _clean(rec.get("id"))
        if not art_id:
            skips.add("missing id", where)
            return
        title, text = _clean(rec.get("title")), _clean(rec.get("text"))
        if not title and not text:
            skips.add("empty text", where)
            return
        if not _HAS_WORD.search(title) and not _HAS_WORD.search(text):
            skips.add("no letters or digits (only marks, symbols or emoji)", where)
            return
        if len(title) + len(text) > self.max_chars:
            skips.add(f"document too large (> {self.max_chars:,} characters)", where)
            return
        if art_id in self.seen:
            skips.add("duplicate id", where)
            return
        try:
            published = parse_published(rec.get("published"))
        except (ValueError, OverflowError, OSError):
            published = None
            self.bad_times += 1
        self.seen.add(art_id)
        self.result.articles.append(Article(
            id=art_id, title=title, text=text, published=published,
            source=_optional(rec.get("source")), url=_optional(rec.get("url")),
            lang=_optional(rec.get("lang")), order=self.order,
        ))
        self.order += 1


def _open_bytes(path: Path) -> io.BufferedIOBase:
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a file")
    raw = open(path, "rb")  # noqa: SIM115 - the caller closes the returned handle
    if path.suffix.lower() == ".gz":
        return gzip.open(raw)  # type: ignore[return-value]
    return raw


def _fallback_encoding(sample: bytes) -> str | None:
    """Best-guess encoding of bytes that are not UTF-8, or None (see :mod:`.encoding`)."""
    from clustering.io.encoding import guess_encoding

    return guess_encoding(sample)


def _decode_all(path: Path, data: bytes, result: ReadResult) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    enc = _fallback_encoding(data[:200_000])
    if enc is None:
        raise InputError(f"{path}: not UTF-8 and no other text encoding fits")
    result.notes.append(f"{path.name}: not UTF-8, decoded as {enc}")
    return data.decode(enc, errors="replace")


def _read_jsonl(path: Path, builder: _RecordBuilder) -> None:
    """Read a JSON Lines file; a truncated or corrupt compressed file keeps the records read
    before the damage and counts the rest as one skip."""
    with _open_bytes(path) as fh:
        try:
            _jsonl_lines(path, fh, builder)
        except (EOFError, gzip.BadGzipFile, OSError, zlib.error) as exc:
            builder.result.skips.add(f"unreadable rest of file ({type(exc).__name__})", path.name)


def _jsonl_lines(path: Path, fh, builder: _RecordBuilder) -> None:
    result = builder.result
    fallback: str | None = None
    checked_columns = False
    for lineno, line in enumerate(fh, start=1):
        where = f"{path.name}:{lineno}"
        if not line.strip():
            continue
        try:
            text = line.decode("utf-8-sig" if lineno == 1 else "utf-8")
        except UnicodeDecodeError:
            if fallback is None:
                fallback = _fallback_encoding(line) or "latin-1"
                result.notes.append(f"{path.name}: lines that are not UTF-8 decoded as {fallback}")
            try:
                text = line.decode(fallback)
            except UnicodeDecodeError:
                result.skips.add("undecodable line", where)
                continue
        try:
            raw = json.loads(text)
        except json.JSONDecodeError:
            result.skips.add("unparsable JSON", where)
            continue
        if not isinstance(raw, dict):
            result.skips.add("JSON line is not an object", where)
            continue
        if not checked_columns:
            builder.check_columns(raw.keys(), path.name)
            checked_columns = True
        builder.add(raw, where)


def _read_csv(path: Path, builder: _RecordBuilder, delimiter: str) -> None:
    with _open_bytes(path) as fh:
        try:
            data = fh.read()
        except (EOFError, gzip.BadGzipFile, OSError, zlib.error) as exc:
            raise InputError(f"{path}: corrupt or truncated compressed file ({exc})") from exc
    text = _decode_all(path, data, builder.result)
    csv.field_size_limit(sys.maxsize)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    builder.check_columns(reader.fieldnames or [], path.name)
    lineno = 1
    while True:
        where = f"{path.name}:{reader.line_num + 1}"
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            builder.result.skips.add(f"unparsable CSV ({exc})", where)
            continue
        lineno += 1
        if None in row:  # more cells than header columns: a broken line
            builder.result.skips.add("unparsable CSV (too many fields)", where)
            continue
        builder.add(row, where)


def _read_parquet(path: Path, builder: _RecordBuilder) -> None:
    import pyarrow.parquet as pq

    if not path.exists():
        raise InputError(f"{path}: no such file")
    try:
        source = io.BytesIO(gzip.decompress(path.read_bytes())) if path.suffix.lower() == ".gz" else path
        pf = pq.ParquetFile(source)
    except Exception as exc:  # pyarrow raises several types for a broken file
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from exc
    builder.check_columns(pf.schema_arrow.names, path.name)
    row = 0
    for batch in pf.iter_batches(batch_size=10_000):
        for rec in batch.to_pylist():
            row += 1
            builder.add(rec, f"{path.name}:row {row}")


def read_articles(paths: Iterable[str | Path], *, mapping: Mapping[str, str] | None = None,
                  max_chars: int = DEFAULT_MAX_CHARS) -> ReadResult:
    """Read article files into one list, in input order, with a report of what was skipped.

    Args:
        paths: files; the format comes from the suffix (``.jsonl``/``.ndjson``/``.json``: one JSON
            object per line; ``.csv``/``.tsv`` with a header row; ``.parquet``; any of these
            ``.gz``-compressed; ``.txt``/``.html``: a scraped news page, see
            :func:`clustering.io.page.read_page`).
        mapping: input column name -> our field name (``id``, ``title``, ``text``, ``published``,
            ``source``, ``url``, ``lang``), e.g. ``{"body": "text", "timestamp": "published"}``.
            Common aliases (body, timestamp, headline, ...) are mapped by default.
        max_chars: records whose title + text exceed this many characters are skipped and counted.

    Returns:
        A :class:`ReadResult`. Ids are unique across all files of one call: a repeated id is
        skipped ("duplicate id"), the first occurrence kept.

    Raises:
        InputError: a file does not exist, has an unsupported suffix, cannot be decoded at all,
            or lacks a column named in ``mapping``.
    """
    result = ReadResult()
    seen: set[str] = set()
    order = 0
    for p in paths:
        path = Path(p)
        if path.is_dir():
            raise InputError(f"{path}: is a directory, expected a file")
        fmt = detect_format(path)
        if fmt == "page":
            from clustering.io.page import read_page

            arts, skips = read_page(path, start_order=order)
            for art in arts:
                if art.id in seen:
                    skips.add("duplicate id", f"{path.name}:{art.id}")
                    continue
                seen.add(art.id)
                result.articles.append(art)
            result.skips.merge(skips)
            order = len(result.articles)
            continue
        builder = _RecordBuilder(mapping, max_chars, result, seen, order)
        if fmt == "jsonl":
            _read_jsonl(path, builder)
        elif fmt in ("csv", "tsv"):
            _read_csv(path, builder, "\t" if fmt == "tsv" else ",")
        else:
            _read_parquet(path, builder)
        if builder.bad_times:
            result.notes.append(f"{path.name}: {builder.bad_times} record(s) with an unparsable "
                                "published time, kept without a time")
        order = builder.order
    return result


def iter_batches(articles: list[Article], size: int) -> Iterator[list[Article]]:
    """Yield consecutive slices of ``articles`` of at most ``size`` items (size >= 1)."""
    if size < 1:
        raise ValueError("batch size must be >= 1")
    for i in range(0, len(articles), size):
        yield articles[i:i + size]


def articles_to_arrow(articles: list[Article]):
    """Articles as a ``pyarrow.Table`` with one column per :class:`Article` field.

    ``published`` is a UTC timestamp column (microseconds). For exchange with a distributed
    engine (Spark, Ray, Dask) that works on Arrow batches.
    """
    import pyarrow as pa

    cols: dict[str, list[Any]] = {f: [] for f in Article.__slots__}
    for a in articles:
        for f in Article.__slots__:
            cols[f].append(getattr(a, f))
    schema = pa.schema([
        ("id", pa.string()), ("title", pa.string()), ("text", pa.string()),
        ("published", pa.timestamp("us", tz="UTC")), ("source", pa.string()),
        ("url", pa.string()), ("lang", pa.string()), ("listed_on", pa.string()),
        ("order", pa.int64()),
    ])
    return pa.table(cols, schema=schema)


def articles_from_arrow(table) -> list[Article]:
    """The inverse of :func:`articles_to_arrow`."""
    return [Article(**row) for row in table.to_pylist()]


def read_records(records: Iterable[Mapping[str, Any] | Article], *,
                 mapping: Mapping[str, str] | None = None, max_chars: int = DEFAULT_MAX_CHARS,
                 where: str = "record") -> tuple[ReadResult, list[int]]:
    """Check in-memory records (dicts with the documented fields, or :class:`Article`) as the
    file readers check file rows.

    Args:
        records: dicts (keys as in files, aliases and ``mapping`` applied) or Articles.
        mapping: input key -> field name, as for :func:`read_articles`.
        max_chars: records whose title + text exceed this many characters are skipped.
        where: name used in skip examples (``"record:3"``).

    Returns:
        ``(result, positions)``: the :class:`ReadResult` (articles with ``order`` = input
        position, counted skips) and, per accepted article, its position in ``records``.
    """
    result = ReadResult()
    seen: set[str] = set()
    builder = _RecordBuilder(mapping, max_chars, result, seen, 0)
    positions: list[int] = []
    for i, rec in enumerate(records):
        before = len(result.articles)
        builder.order = i
        if isinstance(rec, Article):
            if rec.id in seen:
                result.skips.add("duplicate id", f"{where}:{i}")
                continue
            seen.add(rec.id)
            result.articles.append(rec if rec.order == i else dataclasses.replace(rec, order=i))
        elif isinstance(rec, Mapping):
            builder.add(rec, f"{where}:{i}")
        else:
            result.skips.add(f"not a record ({type(rec).__name__})", f"{where}:{i}")
        if len(result.articles) > before:
            positions.append(i)
    return result, positions
