"""Reading CSV/TSV bytes into raw records (header row -> dict), robust to broken quoting and bad
bytes.

- Encoding: decided once per file by :func:`clustering.io.encoding.decode` (a few invalid bytes in
  a UTF-8 file are U+FFFD, the records holding them counted in a note; another code page only
  when the file is not UTF-8 as a whole, also noted).
- Quoting: parsed with ``strict=True``. A record that breaks the quoting (an unclosed quote that
  would swallow every later row into one field, or text after a closing quote) is one counted
  skip, and parsing restarts on the line after the broken record's first line, so the rows after
  it are read. Python's csv module alone silently merges them.
- A row with more cells than the header is a counted skip; missing trailing cells are absent.
"""

from __future__ import annotations

import csv
import io
import itertools
import sys
from collections.abc import Iterator
from typing import Any, Protocol

from clustering.io import encoding

__all__ = ["MAX_RESCAN_FACTOR", "iter_csv_records"]

#: Bound on re-parsing after broken records, in multiples of the file's line count; past it the
#: rest of the file is one counted skip (a file with an unclosed quote on every line would
#: otherwise cost quadratic time).
MAX_RESCAN_FACTOR = 20


class Sink(Protocol):
    """Where skips and notes go (the readers' record builder)."""

    def skip(self, reason: str, where: str) -> None: ...

    def note(self, message: str) -> None: ...

    def check_columns(self, columns: list[str]) -> None: ...


def _physical_lines(text: str) -> list[str]:
    # StringIO(newline="") splits on \n, \r and \r\n and keeps them, as the csv module wants.
    return list(io.StringIO(text, newline=""))


def iter_csv_records(data: bytes, name: str, delimiter: str, sink: Sink
                     ) -> Iterator[tuple[dict[str, Any], str]]:
    """Yield ``(record, where)`` for each data row of a CSV/TSV file's bytes.

    Args:
        data: the whole (decompressed) file.
        name: file name for locations ("x.csv:12", 1-based physical line of the row's start).
        delimiter: "," or "\\t".
        sink: receives skips, notes, and the header (``check_columns``, which may raise
            :class:`~clustering.io.errors.InputError`).
    """
    decoded = encoding.decode(data)
    if decoded is None:
        sink.skip("undecodable file (not UTF-8, no other encoding fits)", name)
        return
    bad_lines: set[int] = set()
    if decoded.encoding != "utf-8":
        sink.note(f"{name}: not UTF-8, decoded as {decoded.encoding}")
    elif decoded.replaced:
        # Which lines hold the replaced bytes (bytes split on \n line up with text lines for
        # UTF-8, which never uses 0x0A inside a character).
        raw_lines = data.split(b"\n")
        for i, raw in enumerate(raw_lines, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                bad_lines.add(i)
    lines = _physical_lines(decoded.text)
    if bad_lines and len(lines) != len(data.split(b"\n")) - (1 if data.endswith(b"\n") else 0):
        bad_lines = set()  # lone \r line ends: count records by U+FFFD instead
    csv.field_size_limit(sys.maxsize)
    header_reader = csv.reader(iter(lines), delimiter=delimiter, strict=True)
    try:
        header = next(header_reader)
    except StopIteration:
        return
    except csv.Error as exc:
        sink.skip(f"unparsable CSV header ({exc})", f"{name}:1")
        return
    sink.check_columns(header)
    repaired, repaired_at = 0, []
    budget = MAX_RESCAN_FACTOR * max(len(lines), 1)
    pos = header_reader.line_num  # index of the next unread line
    while pos < len(lines):
        reader = csv.reader(itertools.islice(lines, pos, None), delimiter=delimiter, strict=True)
        base, done = pos, 0
        try:
            for row in reader:
                first, last = base + done + 1, base + reader.line_num
                done = reader.line_num
                if not row:
                    continue
                where = f"{name}:{first}"
                if len(row) > len(header):
                    sink.skip("unparsable CSV (too many fields)", where)
                    continue
                if bad_lines and any(i in bad_lines for i in range(first, last + 1)) or \
                        (not bad_lines and decoded.replaced and any("\ufffd" in c for c in row)):
                    repaired += 1
                    if len(repaired_at) < 3:
                        repaired_at.append(where)
                yield dict(zip(header, row)), where
            break
        except csv.Error as exc:
            sink.skip(f"unparsable CSV ({exc})", f"{name}:{base + done + 1}")
            budget -= reader.line_num - done
            pos = base + done + 1
            if budget < 0:
                sink.skip("unparsable CSV (rest of file after too many broken quotes)",
                          f"{name}:{pos + 1}")
                break
    if repaired:
        sink.note(f"{name}: {repaired} record(s) hold invalid UTF-8 bytes, read as U+FFFD "
                  f"(e.g. {', '.join(repaired_at)})")
