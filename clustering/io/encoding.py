"""Guessing the encoding of text that is not UTF-8.

charset-normalizer (a well-kept detector) is asked first for long samples, but on a few short
Arabic headlines it often picks a Cyrillic or Greek Mac code page. Arabic being a first-class
language here, windows-1256 is tried first: it is taken when the decoded sample's letters are
mostly Arabic, which text in another encoding practically never produces.
"""

from __future__ import annotations

#: Share of Arabic letters among all letters above which a windows-1256 reading is accepted.
ARABIC_SHARE = 0.6


def guess_encoding(sample: bytes) -> str | None:
    """The most likely encoding of ``sample`` (bytes that are not UTF-8), or None.

    windows-1256 when it decodes to mostly Arabic letters; otherwise charset-normalizer's best
    guess (None when it has none, or only a BOM-less UTF-16/32 reading of noise).
    """
    try:
        text = sample.decode("cp1256")
    except UnicodeDecodeError:
        text = ""
    letters = [c for c in text if c.isalpha()]
    if letters and sum("\u0600" <= c <= "\u06ff" for c in letters) / len(letters) >= ARABIC_SHARE:
        return "cp1256"
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is None or best.encoding.startswith(("utf_16", "utf_32")):
        return None
    return best.encoding
