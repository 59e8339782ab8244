"""Deciding the text encoding of input bytes, per file (CSV, JSON documents, pages) or per line
(JSON Lines).

Order of the decision (:func:`decode`):

1. Strict UTF-8 (a BOM is dropped).
2. UTF-8 with a few invalid bytes: when at most :data:`UTF8_MAX_INVALID_SHARE` of the non-ASCII
   sequences are invalid, the bytes are UTF-8 and each invalid sequence becomes U+FFFD (counted
   in :attr:`Decoded.replaced`). A stray byte in a UTF-8 file must not turn the whole file into
   another code page: UTF-8 Arabic read as windows-1256 looks like Arabic letters ("ط§ظ„...") and
   would be stored as mojibake. Real windows-1256 Arabic is almost never valid UTF-8 (about 0.5%
   of its non-ASCII sequences are, measured on the bundled EgyNews day), so the two cases are far
   apart.
3. Otherwise :func:`guess_encoding`: windows-1256 when it reads as Arabic (and not as UTF-8
   mojibake), else charset-normalizer's best guess.

charset-normalizer (a well-kept detector) often picks a Cyrillic or Greek Mac code page for a few
short Arabic headlines; Arabic being a first-class language here, windows-1256 is tried first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Share of Arabic letters among all letters above which a windows-1256 reading is accepted.
ARABIC_SHARE = 0.6

#: Largest share of invalid sequences among all non-ASCII sequences for which bytes are still
#: read as UTF-8 (with U+FFFD for the invalid ones).
UTF8_MAX_INVALID_SHARE = 0.1

#: Share of ط/ظ among the Arabic letters above which a windows-1256 reading is UTF-8 Arabic read
#: in the wrong code page (their cp1256 bytes 0xD8/0xD9 are the UTF-8 lead bytes of Arabic);
#: about 1.4% in real Arabic text, 88% in such mojibake.
MOJIBAKE_TAH_ZAH_SHARE = 0.3

#: UTF-8 Arabic that was decoded in a single-byte code page and stored so: a UTF-8 lead byte
#: of Arabic (0xD8-0xDB) read as windows-1256 (ط ظ ع غ) or windows-1252/Latin-1 (Ø Ù Ú Û),
#: followed by a continuation byte (0x80-0xBF) read the same way (or U+FFFD where the code page
#: has no character for it): "ط§ظ„" / "Ø§Ù„" for "ال".
#: Two such pairs in a row are searched: real Arabic puts "»" or a no-break space after a final
#: ط, never a pair of them.
_CONT = "\u0080-\u00bf\u20ac\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u017d" \
        "\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u017e\u0178\ufffd"
# Flat patterns (no groups or alternation): the regex engine then scans several times faster.
_MOJIBAKE_1256 = re.compile(f"[طظعغ][{_CONT}][طظعغ][{_CONT}]")
_MOJIBAKE_LATIN = re.compile(f"[ØÙÚÛ][{_CONT}][ØÙÚÛ][{_CONT}]")
#: Matches in one text from which it is taken as mojibake.
MOJIBAKE_MIN_MATCHES = 2
#: Only the start of a text is scanned: mojibake comes from decoding a whole record or file.
MOJIBAKE_SCAN_CHARS = 1000

_REPLACEMENT = "\ufffd"
_UTF8_REPLACEMENT = _REPLACEMENT.encode("utf-8")


@dataclass(frozen=True)
class Decoded:
    """Decoded text and how it was decoded.

    Attributes:
        text: the text (a UTF-8 BOM removed).
        encoding: ``"utf-8"`` or the Python codec name used (e.g. ``"cp1256"``).
        replaced: number of invalid UTF-8 sequences replaced by U+FFFD (0 for other codecs).
    """

    text: str
    encoding: str
    replaced: int = 0


def utf8_counts(data: bytes) -> tuple[int, int, str]:
    """Read ``data`` as UTF-8 with replacement.

    Returns:
        ``(valid, invalid, text)``: the number of valid non-ASCII characters, the number of
        invalid sequences (each replaced by one U+FFFD, Python's "maximal subpart" rule), and the
        text itself.
    """
    text = data.decode("utf-8", errors="replace")
    literal = data.count(_UTF8_REPLACEMENT)
    invalid = text.count(_REPLACEMENT) - literal
    non_ascii = len(text) - len(text.encode("ascii", errors="ignore"))
    return non_ascii - invalid, invalid, text


def mostly_utf8(valid: int, invalid: int) -> bool:
    """Whether bytes with ``valid`` good and ``invalid`` bad non-ASCII UTF-8 sequences are UTF-8."""
    if invalid == 0:
        return True
    return valid > 0 and invalid <= UTF8_MAX_INVALID_SHARE * (valid + invalid)


def looks_like_mojibake(text: str) -> bool:
    """Whether ``text`` holds UTF-8 Arabic stored after decoding in windows-1256/1252/Latin-1:
    at least :data:`MOJIBAKE_MIN_MATCHES` runs of two lead/continuation pairs such as "ط§ظ„" or
    "Ø§Ù„" in its first :data:`MOJIBAKE_SCAN_CHARS` characters."""
    head = text[:MOJIBAKE_SCAN_CHARS]
    patterns = [_MOJIBAKE_1256]
    if "Ø" in head or "Ù" in head:
        patterns.append(_MOJIBAKE_LATIN)
    for pattern in patterns:
        for n, _ in enumerate(pattern.finditer(head), start=1):
            if n >= MOJIBAKE_MIN_MATCHES:
                return True
    return False


def decode(data: bytes) -> Decoded | None:
    """Decode bytes of one file (or one line) by the rules in the module docstring.

    Returns:
        A :class:`Decoded`, or None when no encoding fits.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return Decoded(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    valid, invalid, text = utf8_counts(data)
    if mostly_utf8(valid, invalid):
        return Decoded(text, "utf-8", invalid)
    enc = guess_encoding(data[:200_000])
    if enc is None:
        return None
    return Decoded(data.decode(enc, errors="replace"), enc)


def guess_encoding(sample: bytes) -> str | None:
    """The most likely encoding of ``sample`` (bytes that are not UTF-8), or None.

    windows-1256 when it decodes to mostly Arabic letters that are not UTF-8 Arabic mojibake (see
    :data:`MOJIBAKE_TAH_ZAH_SHARE`); otherwise charset-normalizer's best guess (None when it has
    none, or only a BOM-less UTF-16/32 reading of noise).
    """
    try:
        text = sample.decode("cp1256")
    except UnicodeDecodeError:
        text = ""
    letters = [c for c in text if c.isalpha()]
    arabic = [c for c in letters if "\u0600" <= c <= "\u06ff"]
    mojibake = bool(arabic) and \
        sum(c in "طظ" for c in arabic) / len(arabic) > MOJIBAKE_TAH_ZAH_SHARE
    if letters and len(arabic) / len(letters) >= ARABIC_SHARE and not mojibake:
        return "cp1256"
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is None or best.encoding.startswith(("utf_16", "utf_32")):
        return None
    if best.encoding == "cp1256" and mojibake:
        return None
    return best.encoding
