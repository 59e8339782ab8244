"""Readers for article files: JSON Lines / JSON documents, CSV/TSV and Parquet (optionally
gzip-compressed), and scraped news pages (delegated to :mod:`clustering.io.page`).

Every reader yields :class:`~clustering.records.Article` objects and counts what it could not take
in a :class:`~clustering.records.SkipReport` (broken lines, missing ids, empty text, duplicate
ids, oversized documents, wrong field types, invalid Unicode) instead of stopping half way: the
good records of a file are never lost because of a bad one. Errors that concern a whole file (it
does not exist, it is not a supported format, it is named .gz without being gzip, a column mapping
names nothing, nothing in it could be read for one structural reason such as a missing id column)
raise :class:`InputError`. Field coercion rules: :mod:`clustering.io.fields`; encodings:
:mod:`clustering.io.encoding`; JSON layouts: :mod:`clustering.io.jsonfile`; CSV quoting:
:mod:`clustering.io.csvfile`.
"""

from __future__ import annotations

import dataclasses
import email.utils
import gzip
import io
import math
import re
import zlib
from collections.abc import Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from clustering.io.csvfile import iter_csv_records
from clustering.io.encoding import looks_like_mojibake
from clustering.io.errors import InputError
from clustering.io.fields import FieldError, has_lone_surrogate, printable, text_field
from clustering.io.jsonfile import read_json_family
from clustering.records import ARTICLE_FIELDS, Article, SkipReport

#: Default cap on the size of one document (title + text, in characters). Larger records are
#: skipped and counted: a 50 MB "article" is a scraping accident, not news.
DEFAULT_MAX_CHARS = 1_000_000

#: Column names seen in public news data sets, mapped onto ours. Explicit ``mapping`` wins; a
#: column that matches nothing is tried again in lower case ("TITLE").
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
    "publisher": "source",
}

_PAGE_SUFFIXES = {".txt", ".html", ".htm"}
_JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}
_CSV_SUFFIXES = {".csv", ".tsv"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}
_TEXT_FIELDS = ("id", "title", "text", "source", "url", "lang")
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
        f"{_shown(path)}: unsupported file type {printable(suffix) or '(none)'!r}; "
        "expected .jsonl, .csv, .tsv, .parquet (optionally .gz) or a news page (.txt, .html)"
    )


def parse_published(value: Any) -> datetime | None:
    """Parse a publication time to a timezone-aware UTC datetime.

    Accepted: a ``datetime`` (or ``date``: midnight), ISO 8601 text (``Z`` allowed), an RFC 2822
    date as in RSS feeds (``Fri, 01 Feb 2013 10:00:00 +0200``, via :mod:`email.utils`), or a Unix
    epoch as number or digits (seconds, or milliseconds if > 1e11). Naive times are taken as UTC.

    Returns None for None/NaN/empty. Raises ValueError when the value is present but not a time
    (including an object, a list or a boolean); OverflowError/OSError for epochs out of range.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"not a time: a {type(value).__name__}")  # noqa: TRY004 (a bad value)
    elif isinstance(value, (int, float)):
        if isinstance(value, float) and math.isnan(value):
            return None
        seconds = value / 1000.0 if abs(value) > 1e11 else float(value)
        return datetime.fromtimestamp(seconds, tz=UTC)
    else:
        s = value.strip()
        if not s:
            return None
        if re.fullmatch(r"-?\d+(\.\d+)?", s):
            return parse_published(float(s))
        if s.endswith(("Z", "z")):
            s = s[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(s)
        except ValueError:
            try:
                dt = email.utils.parsedate_to_datetime(s)
            except (TypeError, ValueError, IndexError):
                raise ValueError(f"not a time: {printable(s)[:40]!r}") from None
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


class _RecordBuilder:
    """Turns raw records of one file into Articles, applying the column mapping and the checks;
    counts this file's skips and notes (merged into the :class:`ReadResult` by the caller)."""

    def __init__(self, mapping: Mapping[str, str] | None, max_chars: int, name: str,
                 seen_ids: set[str], start_order: int):
        self.mapping = dict(DEFAULT_ALIASES)
        self.explicit = dict(mapping or {})
        self.mapping.update(self.explicit)
        self.max_chars = max_chars
        self.name = name
        self.skips = SkipReport()
        self.notes: list[str] = []
        self.seen = seen_ids
        self.articles: list[Article] = []
        self.order = start_order
        self.bad_times = 0
        self.columns: list[str] | None = None
        self._resolved: dict[str, Any] = {}
        self.mojibake = 0
        self.mojibake_at: list[str] = []

    def check_columns(self, columns: Iterable[str]) -> None:
        """Raise InputError when an explicit mapping names a column the file does not have."""
        cols = [printable(str(c)) for c in columns]
        if self.columns is None:
            self.columns = cols
        missing = [src for src in self.explicit if src not in set(cols)]
        if missing:
            raise InputError(f"{self.name}: column(s) {', '.join(map(printable, missing))} "
                             "named in the mapping "
                             f"are not in the file (columns: {_column_list(cols)})")

    def _field_of(self, key: Any) -> Any:
        """Our field for an input column: the mapping, else the column name itself, else the
        same in lower case ("ID", "TITLE" in the UCI News Aggregator files)."""
        try:
            return self._resolved[key]
        except (KeyError, TypeError):
            pass
        name = self.mapping.get(key, key)
        if name not in ARTICLE_FIELDS and isinstance(key, str):
            lower = key.lower()
            name = self.mapping.get(lower, lower) if lower != key else name
        if isinstance(key, str):
            self._resolved[key] = name
        return name

    def skip(self, reason: str, where: str) -> None:
        self.skips.add(reason, where)

    def into(self, result: ReadResult) -> None:
        """Add this builder's articles, skips and notes (unparsable times, mojibake) to
        ``result``."""
        result.articles.extend(self.articles)
        result.skips.merge(self.skips)
        result.notes.extend(self.notes)
        if self.bad_times:
            result.notes.append(f"{self.name}: {self.bad_times} record(s) with an "
                                "unparsable published time, kept without a time")
        if self.mojibake:
            result.notes.append(f"{self.name}: {self.mojibake} record(s) look like mojibake "
                                "(UTF-8 Arabic once decoded as windows-1256 or -1252, e.g. "
                                f"\"ط§ظ„\" for \"ال\"), kept as given: "
                                f"{', '.join(self.mojibake_at)}")

    def note(self, message: str) -> None:
        self.notes.append(message)

    def add(self, raw: Mapping[str, Any], where: str, *, surrogates: bool = True) -> None:
        """Check one raw record and keep it as an Article or count it as a skip.

        ``surrogates=False`` tells that no value can hold a lone surrogate (the record's text had
        no ``\\udxxx`` escape), which skips that check.
        """
        if self.columns is None:
            self.check_columns(raw.keys())
        rec: dict[str, Any] = {}
        for key, value in raw.items():
            name = self._field_of(key)
            if name in ARTICLE_FIELDS and (name not in rec or key == name or key in self.explicit):
                rec[name] = value
        try:
            fields = {f: text_field(rec.get(f), f, surrogates=surrogates) for f in _TEXT_FIELDS}
        except FieldError as exc:
            self.skips.add(str(exc), where)
            return
        art_id, title, text = fields["id"], fields["title"], fields["text"]
        if not art_id:
            self.skips.add("missing id", where)
            return
        if not title and not text:
            self.skips.add("empty text", where)
            return
        if not _HAS_WORD.search(title) and not _HAS_WORD.search(text):
            self.skips.add("no letters or digits (only marks, symbols or emoji)", where)
            return
        if len(title) + len(text) > self.max_chars:
            self.skips.add(f"document too large (> {self.max_chars:,} characters)", where)
            return
        if art_id in self.seen:
            self.skips.add("duplicate id", where)
            return
        try:
            published = parse_published(rec.get("published"))
        except (ValueError, OverflowError, OSError):
            published = None
            self.bad_times += 1
        if looks_like_mojibake(title) or looks_like_mojibake(text):
            self.mojibake += 1
            if len(self.mojibake_at) < 3:
                self.mojibake_at.append(where)
        self.seen.add(art_id)
        self.articles.append(Article(
            id=art_id, title=title, text=text, published=published,
            source=fields["source"] or None, url=fields["url"] or None,
            lang=fields["lang"] or None, order=self.order,
        ))
        self.order += 1


def _column_list(cols: list[str], limit: int = 12) -> str:
    shown = ", ".join(cols[:limit])
    return shown + (f", ... ({len(cols)} in all)" if len(cols) > limit else "") if cols else "none"


def _open_bytes(path: Path) -> io.BufferedIOBase:
    """The file's bytes, decompressed when its name ends in .gz.

    Raises InputError when it is missing, a directory, unreadable, or named .gz without being
    gzip-compressed (a plain file named .gz would otherwise read as nothing).
    """
    if not path.exists():
        raise InputError(f"{_shown(path)}: no such file")
    if path.is_dir():
        raise InputError(f"{_shown(path)}: is a directory, expected a file")
    try:
        raw = open(path, "rb")  # noqa: SIM115 (returned open, closed by the caller's with)
    except OSError as exc:
        raise InputError(f"{_shown(path)}: cannot read: {exc.strerror or exc}") from None
    if path.suffix.lower() == ".gz":
        magic = raw.peek(2)[:2]
        if magic != b"\x1f\x8b":
            raw.close()
            raise InputError(f"{_shown(path)}: named .gz but not gzip-compressed "
                             "(rename it without .gz, or compress it)")
        return gzip.open(raw)  # type: ignore[return-value]
    return raw


def _shown(path: Path) -> str:
    return printable(str(path))


_COMPRESSION_ERRORS = (EOFError, gzip.BadGzipFile, OSError, zlib.error)


def _read_jsonl(path: Path, builder: _RecordBuilder) -> None:
    """Read a JSON-family file (see :mod:`.jsonfile`); a truncated or corrupt compressed file
    keeps the records read before the damage and counts the rest as one skip."""
    with _open_bytes(path) as fh:
        try:
            read_json_family(fh, builder.name, builder, builder.mapping)
        except _COMPRESSION_ERRORS as exc:
            builder.skip(f"unreadable rest of file ({type(exc).__name__})", builder.name)


def _read_csv(path: Path, builder: _RecordBuilder, delimiter: str) -> None:
    with _open_bytes(path) as fh:
        try:
            data = fh.read()
        except _COMPRESSION_ERRORS as exc:
            raise InputError(f"{_shown(path)}: corrupt or truncated compressed file ({exc})") from exc
    for raw, where in iter_csv_records(data, builder.name, delimiter, builder):
        builder.add(raw, where)


def _read_parquet(path: Path, builder: _RecordBuilder) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.exists():
        raise InputError(f"{_shown(path)}: no such file")
    try:
        if path.suffix.lower() == ".gz":
            with _open_bytes(path) as fh:
                source = io.BytesIO(fh.read())
        else:
            source = path
        pf = pq.ParquetFile(source)
    except InputError:
        raise
    except Exception as exc:  # pyarrow raises several types for a broken file
        raise InputError(f"{_shown(path)}: not a readable Parquet file "
                         f"({printable(str(exc)).splitlines()[0] if str(exc) else type(exc).__name__})"
                         ) from exc
    builder.check_columns(pf.schema_arrow.names)
    row = 0
    try:
        for batch in pf.iter_batches(batch_size=10_000):
            # String columns are read as bytes: pyarrow raises for a value that is not UTF-8,
            # which would lose the batch; text_field decodes (and skips) value by value.
            cols = []
            for col in batch.columns:
                if pa.types.is_string(col.type):
                    col = col.cast(pa.binary())
                elif pa.types.is_large_string(col.type):
                    col = col.cast(pa.large_binary())
                cols.append(_column_values(col))
            names = batch.schema.names
            for values in zip(*cols):
                row += 1
                builder.add(dict(zip(names, values)), f"{builder.name}:row {row}")
    except (OSError, pa.ArrowException) as exc:
        builder.skip(f"unreadable rest of file ({type(exc).__name__})", builder.name)


def _column_values(col) -> list[Any]:
    try:
        return col.to_pylist()
    except (UnicodeDecodeError, ValueError):  # e.g. a nested column holding invalid UTF-8
        out: list[Any] = []
        for i in range(len(col)):
            try:
                out.append(col[i].as_py())
            except (UnicodeDecodeError, ValueError):
                out.append(_Unreadable())
        return out


class _Unreadable:
    """A Parquet value that could not be converted (shown as its type name in the skip)."""


#: Skip reasons that, when they account for a file that gave no article, mean the file as a
#: whole is unusable (a missing column, the wrong format): an InputError instead of a silent
#: success with thousands of skips. Reasons about single records' content are not in it.
_STRUCTURAL_PREFIXES = ("missing id", "empty text", "unparsable", "JSON line is not",
                        "JSON array item is not", "JSON document is not", "wrong type",
                        "undecodable", "unreadable rest of file", "unterminated JSON array")


def _hint(reason: str, columns: list[str] | None) -> str:
    cols = f" (columns: {_column_list(columns)})" if columns is not None else ""
    if reason == "missing id":
        return f"; name the id column with --map SOURCE=id{cols}"
    if reason == "empty text":
        return f"; name the text columns with --map SOURCE=title / --map SOURCE=text{cols}"
    if reason.startswith("wrong type"):
        return f"; map another column with --map SOURCE=FIELD{cols}"
    if reason.startswith(("unparsable JSON", "JSON ")):
        return "; expected JSON Lines, a JSON array of objects, or an object holding one list"
    return ""


def _check_file_yield(builder: _RecordBuilder) -> None:
    """Raise InputError when a file gave no article and a structural reason explains it."""
    if builder.articles or not builder.skips.total:
        return
    reason, n = builder.skips.reasons.most_common(1)[0]
    if not reason.startswith(_STRUCTURAL_PREFIXES):
        return
    total = builder.skips.total
    share = "every record" if n == total else f"{n} of {total} records"
    raise InputError(f"{builder.name}: nothing read, {share} skipped: {reason}"
                     f"{_hint(reason, builder.columns)}")


def _page_articles(path: Path, order: int, seen: set[str], result: ReadResult) -> int:
    from clustering.io.page import read_page

    arts, skips = read_page(path, start_order=order)
    replaced = 0
    for art in arts:
        where = f"{printable(path.name)}:{printable(art.id)}"
        if any(isinstance(v, str) and has_lone_surrogate(v) for v in
               (art.id, art.title, art.text, art.source, art.url, art.lang, art.listed_on)):
            skips.add("invalid Unicode (lone surrogate)", where)
            continue
        if art.id in seen:
            skips.add("duplicate id", where)
            continue
        replaced += "\ufffd" in art.title or "\ufffd" in art.text
        seen.add(art.id)
        result.articles.append(art)
    if replaced:
        result.notes.append(f"{printable(path.name)}: {replaced} item(s) hold U+FFFD (invalid "
                            "UTF-8 bytes in the file, or in the page as published)")
    result.skips.merge(skips)
    return len(result.articles)


def field_columns(columns: Iterable[str], mapping: Mapping[str, str] | None = None, *,
                  name: str = "file") -> dict[str, str]:
    """Which column of a file each of our fields is read from, by the input readers' rules:
    ``mapping`` (input column -> field) first, then :data:`DEFAULT_ALIASES` (``doc_id`` ->
    ``id``, ``body`` -> ``text``, ...), then the column's own name, then the same in lower case.

    Used by ``evaluate`` and ``train`` so a gold file's columns mean what they mean to ``run``.

    Args:
        columns: the file's column names, in file order.
        mapping: explicit renames, as ``--map SOURCE=FIELD`` gives them.
        name: the file, for the error message.

    Returns:
        field name -> column name, for the fields some column maps to (the first such column
        when several do).

    Raises:
        InputError: ``mapping`` names a column that is not in ``columns``.
    """
    builder = _RecordBuilder(mapping, DEFAULT_MAX_CHARS, name, set(), 0)
    cols = [str(c) for c in columns]
    builder.check_columns(cols)
    out: dict[str, str] = {}
    for c in cols:
        name = builder._field_of(c)
        if name in ARTICLE_FIELDS:
            out.setdefault(name, c)
    return out


def read_articles(paths: Iterable[str | Path], *, mapping: Mapping[str, str] | None = None,
                  max_chars: int = DEFAULT_MAX_CHARS) -> ReadResult:
    """Read article files into one list, in input order, with a report of what was skipped.

    Args:
        paths: files; the format comes from the suffix (``.jsonl``/``.ndjson``/``.json``: JSON
            Lines, a JSON array of objects, or an object holding one list of objects, see
            :mod:`clustering.io.jsonfile`; ``.csv``/``.tsv`` with a header row; ``.parquet``; any
            of these ``.gz``-compressed; ``.txt``/``.html``: a scraped news page, see
            :func:`clustering.io.page.read_page`).
        mapping: input column name -> our field name (``id``, ``title``, ``text``, ``published``,
            ``source``, ``url``, ``lang``), e.g. ``{"body": "text", "timestamp": "published"}``.
            Common aliases (body, timestamp, headline, ...) are mapped by default.
        max_chars: records whose title + text exceed this many characters are skipped and counted.

    Returns:
        A :class:`ReadResult`. Ids are unique across all files of one call: a repeated id is
        skipped ("duplicate id"), the first occurrence kept. Every str field of every Article is
        valid Unicode (encodable as UTF-8). Field values are coerced by
        :func:`clustering.io.fields.text_field` (numbers -> their text; objects, lists,
        booleans -> a counted "wrong type" skip); an unparsable or wrongly typed ``published``
        keeps the record without a time (counted in a note).

    Raises:
        InputError: a file does not exist, has an unsupported suffix, is named .gz but is not
            gzip, cannot be decoded at all, lacks a column named in ``mapping``, or gave no
            article because of a structural problem (every record without an id, not JSON,
            ...; the message names the reason, the columns seen and the ``--map`` hint).
    """
    result = ReadResult()
    seen: set[str] = set()
    order = 0
    for p in paths:
        path = Path(p)
        if path.is_dir():
            raise InputError(f"{_shown(path)}: is a directory, expected a file")
        fmt = detect_format(path)
        if fmt == "page":
            order = _page_articles(path, order, seen, result)
            continue
        builder = _RecordBuilder(mapping, max_chars, printable(path.name), seen, order)
        if fmt == "jsonl":
            _read_jsonl(path, builder)
        elif fmt in ("csv", "tsv"):
            _read_csv(path, builder, "\t" if fmt == "tsv" else ",")
        else:
            _read_parquet(path, builder)
        _check_file_yield(builder)
        builder.into(result)
        if not builder.articles and not builder.skips.total:
            result.notes.append(f"{builder.name}: no records")
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
    file readers check file rows (the same field rules, skips and notes).

    Args:
        records: dicts (keys as in files, aliases and ``mapping`` applied) or Articles.
        mapping: input key -> field name, as for :func:`read_articles`.
        max_chars: records whose title + text exceed this many characters are skipped.
        where: name used in skip examples (``"record:3"``).

    Returns:
        ``(result, positions)``: the :class:`ReadResult` (articles with ``order`` = input
        position, counted skips) and, per accepted article, its position in ``records``.
    """
    seen: set[str] = set()
    builder = _RecordBuilder(mapping, max_chars, where, seen, 0)
    builder.columns = []  # records need not share their keys: no per-file column check
    positions: list[int] = []
    for i, rec in enumerate(records):
        before = len(builder.articles)
        builder.order = i
        if isinstance(rec, Article):
            if rec.id in seen:
                builder.skip("duplicate id", f"{where}:{i}")
                continue
            seen.add(rec.id)
            builder.articles.append(rec if rec.order == i else dataclasses.replace(rec, order=i))
        elif isinstance(rec, Mapping):
            builder.add(rec, f"{where}:{i}")
        else:
            builder.skip(f"not a record ({type(rec).__name__})", f"{where}:{i}")
        if len(builder.articles) > before:
            positions.append(i)
    result = ReadResult()
    builder.into(result)
    return result, positions


def read_new_records(records: list[Mapping[str, Any] | Article], seen: Container[str], base: int
                     ) -> tuple[ReadResult, list[str | None], list[int]]:
    """:func:`read_records` for an estimator that has already seen some ids: a record whose id
    is in ``seen`` is a counted skip ("duplicate id", located as ``record:<base + position>``).

    Returns:
        ``(result, ids, positions)``: the result holds only the new articles; ``ids`` has one
        entry per record (its id, or None when skipped); ``positions`` the records kept.
    """
    read, positions = read_records(records)
    ids: list[str | None] = [None] * len(records)
    new: list[Article] = []
    kept: list[int] = []
    for art, pos in zip(read.articles, positions):
        if art.id in seen:
            read.skips.add("duplicate id", f"record:{base + pos}")
            continue
        ids[pos] = art.id
        new.append(art)
        kept.append(pos)
    read.articles[:] = new
    return read, ids, kept
