"""Reading the JSON family of files: JSON Lines, a JSON array of records, or an object holding
one list of records (``{"articles": [...]}``), pretty-printed or not, in any of the suffixes
``.jsonl``, ``.ndjson``, ``.json`` (optionally ``.gz``).

The layout is decided from the content, not the suffix: a file whose first non-blank character
is ``[`` is an array; one whose first non-blank line is a complete JSON value is JSON Lines; any
other ``{`` file is one (pretty-printed) JSON document, or several one after another (``jq``'s
default output). A broken item inside an array is a
counted skip and reading resumes at the next item, so one bad record never loses the others.

JSON Lines are decoded line by line (:func:`clustering.io.encoding.decode` rules, per line), so a
file that mixes UTF-8 lines with windows-1256 lines keeps every record; whole documents are
decoded once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, BinaryIO, Protocol

from clustering.io import encoding
from clustering.records import ARTICLE_FIELDS

__all__ = ["read_json_family", "records_of"]

_WS = b" \t\r\n"
#: Where the next array item starts after a broken one: a "}" then "," then "{".
_NEXT_ITEM = re.compile(r"\}\s*,\s*(?=\{)")
#: Where the next top-level value starts after a broken one in concatenated JSON: "{" at a line start.
_NEXT_VALUE = re.compile(r"\n(?=\{)")
#: An object whose first key holds an array: ``{"articles": [`` (for resuming a broken document).
_WRAPPED_ARRAY = re.compile(r'\A\s*\{\s*"(?:[^"\\]|\\.)*"\s*:\s*\[')


class Sink(Protocol):
    """Where records and skips go (the readers' record builder)."""

    def add(self, raw: Any, where: str, *, surrogates: bool = True) -> None: ...

    def skip(self, reason: str, where: str) -> None: ...

    def note(self, message: str) -> None: ...


def records_of(obj: Any, aliases: dict[str, str]) -> list[Any]:
    """The records in one parsed JSON value.

    An object that has none of our fields (after ``aliases``) but exactly
    one value that is a list of objects gives that list's items (``{"articles": [...]}``); any
    other value (an object, or not) is one record, as a list of one.
    """
    if isinstance(obj, dict) and not any(aliases.get(k, k) in ARTICLE_FIELDS for k in obj):
        lists = [v for v in obj.values()
                 if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)]
        if len(lists) == 1:
            return lists[0]
    return [obj]


def read_json_family(fh: BinaryIO, name: str, sink: Sink, aliases: dict[str, str]) -> None:
    """Read one JSON-family file from the binary stream ``fh`` into ``sink``.

    ``name`` is the file name for locations ("in.json:17"). Compression errors are left to the
    caller (they may happen at any read).
    """
    head: list[bytes] = []
    for line in fh:
        head.append(line)
        stripped = line.lstrip(_WS)
        if stripped.startswith(b"\xef\xbb\xbf"):
            stripped = stripped[3:].lstrip(_WS)
        if not stripped:
            continue
        if stripped[:1] == b"[":
            _document(b"".join(head) + fh.read(), name, sink, aliases)
            return
        if stripped[:1] == b"{" and not _parses(line):
            _document(b"".join(head) + fh.read(), name, sink, aliases)
            return
        break
    _lines(_chain(head, fh), name, sink, aliases)


def _parses(line: bytes) -> bool:
    try:
        json.loads(line.decode("utf-8", errors="replace"))
    except ValueError:
        return False
    return True


def _chain(head: list[bytes], rest: BinaryIO) -> Iterator[bytes]:
    yield from head
    yield from rest


def _lines(lines: Iterator[bytes], name: str, sink: Sink, aliases: dict[str, str]) -> None:
    fallback: str | None = None
    replaced = 0
    for lineno, line in enumerate(lines, start=1):
        where = f"{name}:{lineno}"
        if not line.strip():
            continue
        if lineno == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            valid, invalid, text = encoding.utf8_counts(line)
            if encoding.mostly_utf8(valid, invalid):
                replaced += 1
            else:
                if fallback is None:
                    fallback = encoding.guess_encoding(line) or "latin-1"
                    sink.note(f"{name}: lines that are not UTF-8 decoded as {fallback}")
                try:
                    text = line.decode(fallback)
                except UnicodeDecodeError:
                    sink.skip("undecodable line", where)
                    continue
        try:
            obj = json.loads(text)
        except ValueError:  # JSONDecodeError, and RecursionError-free ValueErrors of json
            sink.skip("unparsable JSON", where)
            continue
        except RecursionError:
            sink.skip("unparsable JSON (nested too deeply)", where)
            continue
        # A lone surrogate can only come from a \\udxxx escape (raw surrogate bytes are invalid
        # UTF-8): lines without one skip the per-field check (a fifth of the reading time).
        escapes = b"\\ud" in line or b"\\uD" in line
        for rec in records_of(obj, aliases):
            _add_object(sink, rec, where, "JSON line is not an object", surrogates=escapes)
    if replaced:
        sink.note(f"{name}: {replaced} line(s) of UTF-8 with invalid bytes, read with U+FFFD "
                  "in their place")


def _document(data: bytes, name: str, sink: Sink, aliases: dict[str, str]) -> None:
    decoded = encoding.decode(data)
    if decoded is None:
        sink.skip("undecodable file (not UTF-8, no other encoding fits)", name)
        return
    if decoded.encoding != "utf-8":
        sink.note(f"{name}: not UTF-8, decoded as {decoded.encoding}")
    elif decoded.replaced:
        sink.note(f"{name}: {decoded.replaced} invalid UTF-8 byte sequence(s) read as U+FFFD")
    text = decoded.text
    stripped = text.lstrip()
    offset = len(text) - len(stripped)
    if stripped.startswith("["):
        _array_items(text, offset + 1, name, sink)
        return
    try:
        obj = json.loads(text)
    except RecursionError:
        sink.skip("unparsable JSON (nested too deeply)", name)
        return
    except ValueError:
        try:
            json.JSONDecoder().raw_decode(text, offset)
            first_complete = True
        except (ValueError, RecursionError):
            first_complete = False
        m = _WRAPPED_ARRAY.match(text)
        if first_complete:  # pretty-printed objects one after another (jq's default output)
            _array_items(text, offset, name, sink, aliases=aliases)
        elif m:  # {"articles": [ ... one broken item ... ]}: stream the items
            _array_items(text, m.end(), name, sink)
        else:  # perhaps JSON Lines after a broken first line
            _lines(iter(text.encode("utf-8").splitlines(keepends=True)), name, sink, aliases)
        return
    where = f"{name}:{text.count(chr(10), 0, offset) + 1}"
    for rec in records_of(obj, aliases):
        _add_object(sink, rec, where, "JSON document is not an object")


def _add_object(sink: Sink, rec: Any, where: str, reason: str, *, surrogates: bool = True) -> None:
    if isinstance(rec, dict):
        sink.add(rec, where, surrogates=surrogates)
    else:
        sink.skip(reason, where)


def _array_items(text: str, pos: int, name: str, sink: Sink,
                 aliases: dict[str, str] | None = None) -> None:
    """Items of a JSON array starting at ``pos`` (just after its "["), resuming after broken ones.

    With ``aliases``, the values are instead a stream of top-level JSON values one after another
    (concatenated JSON), each giving :func:`records_of` records; the stream ends at the end of
    the text.
    """
    stream = aliases is not None
    decoder = json.JSONDecoder()
    n = len(text)
    line, counted_to = 1, 0
    kind = "JSON value is not an object" if stream else "JSON array item is not an object"
    resync = _NEXT_VALUE if stream else _NEXT_ITEM

    def where(at: int) -> str:
        nonlocal line, counted_to
        line += text.count("\n", counted_to, at)
        counted_to = at
        return f"{name}:{line}"

    while True:
        while pos < n and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= n:
            if not stream:
                sink.skip("unterminated JSON array", where(n))
            return
        if text[pos] == "]" and not stream:
            if text[pos + 1:].strip(" \t\r\n]}"):
                sink.skip("text after the JSON array", where(pos))
            return
        at = where(pos)
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError):
            sink.skip("unparsable JSON", at)
            m = resync.search(text, pos + 1)
            if m is None:
                return
            pos = m.end()
            continue
        if stream:
            for rec in (obj if isinstance(obj, list) else records_of(obj, aliases)):
                _add_object(sink, rec, at, kind)
        else:
            _add_object(sink, obj, at, kind)
