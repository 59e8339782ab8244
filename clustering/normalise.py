"""Text normalisation for fingerprints (shingles, MinHash, exact-duplicate hashes).

The normalised string is used **only** to compute fingerprints: the original title and text of an
:class:`~clustering.records.Article` are never changed and are what users see.

The goal is that two copies of the same news item that differ only in how they were typed or
scraped (presentation forms, diacritics, alef/hamza spelling, Arabic-Indic vs ASCII digits,
invisible direction marks, curly vs straight quotes, "عاجل |" / "Breaking:" teaser labels) produce
the same normalised string, while anything that changes the meaning (words, and above all
numbers: "2 killed" vs "21 killed") stays different.

Steps, in order (each is documented with its reason next to the table that implements it):

1. Drop invisible format characters (zero-width, bidi controls, soft hyphen) and pre-map the few
   characters whose NFKC decomposition is not what we want (″ would become two primes).
2. Unicode NFKC (Unicode Standard Annex #15, "Unicode Normalization Forms",
   https://unicode.org/reports/tr15/): folds compatibility characters -- Arabic presentation
   forms (U+FB50-U+FEFF) to base letters, ligatures such as ﻻ to ل + ا, full-width Latin and
   digits to ASCII, no-break spaces to spaces, … to "..." -- and composes canonical sequences
   (ا + U+0654 -> أ) so the letter tables below see one code point per letter.
3. ``str.casefold`` (full Unicode case folding; stronger than ``lower``: ß -> ss).
4. NFKC again, only when casefolding produced a non-NFKC string (rare; the Unicode
   NFKC_Casefold recipe is NFKC(casefold(NFKC(x)))), so the result is idempotent.
5. One translation table (built once at import): Arabic diacritics and tatweel removed,
   alef/yeh/teh-marbuta unified, Arabic-Indic and Persian digits to ASCII, quote and dash
   variants to ASCII, Arabic punctuation to ASCII. It is kept both as a ``str.translate`` table
   and as (char, replacement) pairs; the hot path applies ``str.replace`` for the pairs whose
   character occurs in the text, which gives the same result as ``str.translate`` about 7x
   faster on Arabic news text (``str.translate`` with a dict does one dict lookup per
   character). Measured: ~0.3 ms for the 2,900-character seed page, i.e. ~15 s for 50k such
   documents on one core.
6. Whitespace collapsed: every run of Unicode whitespace (spaces, tabs, newlines, U+2028 ...)
   becomes one ASCII space; leading/trailing whitespace removed.
7. Teaser labels ("بالفيديو ..", "عاجل |", "Breaking:", "(فيديو)", trailing "..") stripped from
   the start and end, repeatedly until nothing changes (:func:`strip_teasers`).

Digits are never dropped or collapsed (no "map all digits to 0"): casualty counts, scores and
dates are what distinguishes many otherwise identical news headlines.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = [
    "TeaserRules",
    "DEFAULT_TEASERS",
    "normalise",
    "strip_teasers",
    "tokens",
    "fold_pattern",
]


# ---------------------------------------------------------------------------------------------
# Character tables (built once at import)
# ---------------------------------------------------------------------------------------------


def _span(first: int, last: int) -> list[int]:
    return list(range(first, last + 1))


#: Invisible format characters, deleted before anything else. They carry no letters, but scraped
#: copies of the same headline differ in them (CMS editors insert RLM/LRM around Latin words in
#: Arabic text; copy-paste adds ZWSP/BOM), which would change every shingle they touch.
#: - U+200B ZERO WIDTH SPACE, U+200C ZWNJ, U+200D ZWJ: zero-width (in Arabic script ZWNJ/ZWJ
#:   only change the joining shape, not the word).
#: - U+200E LRM, U+200F RLM, U+202A-U+202E (LRE, RLE, PDF, LRO, RLO), U+2066-U+2069 (LRI, RLI,
#:   FSI, PDI), U+061C ARABIC LETTER MARK: bidirectional formatting characters, which by the
#:   Unicode Bidirectional Algorithm (Unicode Standard Annex #9, https://unicode.org/reports/tr9/)
#:   affect display order only, never the logical text.
#: - U+FEFF ZERO WIDTH NO-BREAK SPACE / byte-order mark, U+2060 WORD JOINER: invisible.
#: - U+00AD SOFT HYPHEN: an optional line-break hint, invisible unless a line breaks there.
FORMAT_CHARS: tuple[int, ...] = tuple(
    _span(0x200B, 0x200F) + _span(0x202A, 0x202E) + _span(0x2066, 0x2069)
    + [0xFEFF, 0x2060, 0x061C, 0x00AD]
)

#: Characters mapped *before* NFKC because NFKC would decompose them into something else:
#: ″ (U+2033 double prime) and ‶ (U+2036) would become two single primes, ‴/‷ three; they are
#: used as double quotes in scraped text. ´ (U+00B4 acute accent) and ˝ (U+02DD) would become a
#: space plus a combining accent; they are used as apostrophe / double quote.
_PRE_NFKC: dict[int, str | None] = {cp: None for cp in FORMAT_CHARS}
_PRE_NFKC.update({0x2033: '"', 0x2036: '"', 0x2034: '"', 0x2037: '"', 0x00B4: "'", 0x02DD: '"'})
_PRE_TABLE = str.maketrans(_PRE_NFKC)

#: Arabic marks deleted after NFKC. Diacritics (harakat) are optional in Arabic news text and
#: written inconsistently (قبِل / قبل, أنّ / أن); tatweel (kashida) is pure justification.
#: - U+064B-U+065F: tanween, fatha, damma, kasra, shadda, sukun, maddah/hamza above/below
#:   (combining forms; precomposed letters were already composed by NFKC), and other harakat.
#: - U+0670 ARABIC LETTER SUPERSCRIPT ALEF (dagger alef), a vowel sign.
#: - U+06D6-U+06ED: Quranic annotation marks (small high ligatures, end of ayah, rub el hizb ...).
#: - U+0610-U+061A: Arabic honorific and small high signs (combining marks of the same kind).
#: - U+0640 ARABIC TATWEEL.
ARABIC_MARKS: tuple[int, ...] = tuple(
    _span(0x064B, 0x065F) + [0x0670] + _span(0x06D6, 0x06ED) + _span(0x0610, 0x061A) + [0x0640]
)

#: Arabic letter unification, chosen because news outlets (and Egyptian usage) spell the same word
#: with different letters:
#: - alef with hamza above/below, alef with madda, alef wasla, wavy-hamza alefs -> bare alef ا:
#:   hamza on alef is very often omitted in news copy (اعلنت / أعلنت).
#: - alef maksura ى -> yeh ي: Egyptian text writes final ي as ى (على vs علي is resolved by
#:   context, not spelling, in practice).
#: - teh marbuta ة -> heh ه: final ة is commonly typed as ه.
#: - Farsi yeh ی (U+06CC) -> ي and keheh ک (U+06A9) -> ك: the Persian keyboard letters, which
#:   appear in Arabic text typed on Persian/Urdu layouts and look identical to the Arabic ones.
ARABIC_LETTERS: dict[int, str] = {
    0x0623: "\u0627",  # أ
    0x0625: "\u0627",  # إ
    0x0622: "\u0627",  # آ
    0x0671: "\u0627",  # ٱ alef wasla
    0x0672: "\u0627",  # ٲ alef with wavy hamza above
    0x0673: "\u0627",  # ٳ alef with wavy hamza below
    0x0649: "\u064a",  # ى alef maksura -> ي
    0x06CC: "\u064a",  # ی Farsi yeh -> ي
    0x0629: "\u0647",  # ة teh marbuta -> ه
    0x06A9: "\u0643",  # ک keheh -> ك
}

#: Arabic-Indic (U+0660-U+0669) and extended Arabic-Indic / Persian (U+06F0-U+06F9) digits ->
#: ASCII digits, keeping their value: "٢١ قتيلا" and "21 قتيلا" are the same headline; no digit
#: is ever dropped or merged with another.
DIGITS: dict[int, str] = {
    **{0x0660 + i: str(i) for i in range(10)},
    **{0x06F0 + i: str(i) for i in range(10)},
}

#: Quote variants -> ASCII. Curly, low-9, guillemets and primes are used interchangeably (and
#: Arabic text uses « » and “ ” in either direction: ”التورط“), so only "double" vs "single"
#: survives. Full-width forms are already folded by NFKC.
QUOTES: dict[int, str] = {
    **{cp: '"' for cp in (0x201C, 0x201D, 0x201E, 0x201F, 0x00AB, 0x00BB, 0x2033, 0x2036,
                          0x301D, 0x301E, 0x301F, 0x2E42)},
    **{cp: "'" for cp in (0x2018, 0x2019, 0x201A, 0x201B, 0x2039, 0x203A, 0x2032, 0x2035,
                          0x02BC, 0x02BB, 0x02BD, 0x0060, 0x00B4)},
}

#: Dash variants -> ASCII hyphen-minus: hyphen, non-breaking hyphen, figure dash, en dash,
#: em dash, horizontal bar, minus sign, two/three-em dashes, small/full-width forms, Armenian and
#: Hebrew hyphens. Outlets differ only in which dash their CMS produces.
DASHES: dict[int, str] = {
    cp: "-"
    for cp in (0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212, 0x2E3A, 0x2E3B,
               0xFE58, 0xFE63, 0xFF0D, 0x058A, 0x05BE, 0x2043, 0xFE31, 0xFE32)
}

#: Arabic punctuation -> ASCII: ، (U+060C) -> ",", ؛ (U+061B) -> ";", ؟ (U+061F) -> "?",
#: ۔ (U+06D4 Arabic full stop) -> ".", ٪ (U+066A) -> "%", ٫ (U+066B decimal separator) -> ".",
#: ٬ (U+066C thousands separator) -> ",", ٭ (U+066D five-pointed star) -> "*". They mean the
#: same as the ASCII marks, and the teaser separators below are written with ASCII.
ARABIC_PUNCT: dict[int, str] = {
    0x060C: ",", 0x061B: ";", 0x061F: "?", 0x06D4: ".", 0x066A: "%", 0x066B: ".", 0x066C: ",",
    0x066D: "*",
}

_MAIN: dict[int, str | None] = {cp: None for cp in ARABIC_MARKS + FORMAT_CHARS}
_MAIN.update(ARABIC_LETTERS)
_MAIN.update(DIGITS)
_MAIN.update(QUOTES)
_MAIN.update(DASHES)
_MAIN.update(ARABIC_PUNCT)
#: The post-NFKC translation table (marks and format characters deleted; letters, digits,
#: quotes, dashes, punctuation mapped), for ``str.translate``.
_MAIN_TABLE = str.maketrans(_MAIN)

# The same two tables as (char, replacement) pairs. :func:`_apply` runs ``str.replace`` for the
# pairs whose character occurs in the text; on Arabic news text this is ~7x faster than
# ``str.translate`` with a dict table (which does a Python dict lookup per character), and gives
# the identical result because no replacement contains a character that is itself replaced.
_PRE_PAIRS: tuple[tuple[str, str], ...] = tuple((chr(k), v or "") for k, v in _PRE_NFKC.items())
_MAIN_PAIRS: tuple[tuple[str, str], ...] = tuple((chr(k), v or "") for k, v in _MAIN.items())
assert not any(c in v for _, v in _MAIN_PAIRS for c, _ in _MAIN_PAIRS)
assert not any(c in v for _, v in _PRE_PAIRS for c, _ in _PRE_PAIRS)


def _apply(s: str, pairs: tuple[tuple[str, str], ...]) -> str:
    """``s.translate(table)`` for the table given as ``pairs``, computed with ``str.replace``."""
    for ch, rep in pairs:
        if ch in s:
            s = s.replace(ch, rep)
    return s


def _normalise_chars(text: str) -> str:
    """Steps 1-6 of the module docstring (everything except teaser stripping)."""
    s = _apply(text, _PRE_PAIRS)
    s = unicodedata.normalize("NFKC", s)
    s = s.casefold()
    if not unicodedata.is_normalized("NFKC", s):
        s = unicodedata.normalize("NFKC", s)
    s = _apply(s, _MAIN_PAIRS)
    return " ".join(s.split())


def fold_pattern(pattern: str) -> str:
    """Apply the character-level rules to a hand-written regular expression.

    Use this on a regex written with ordinary Arabic spelling (أ, ة, ى, harakat ...) so that it
    matches :func:`normalise` output. Only the translation tables are applied (format characters
    and Arabic marks removed, Arabic letters/digits/punctuation, quotes and dashes unified): no
    NFKC, no casefolding and no whitespace change, which would corrupt regex syntax (``\\S`` would
    casefold to ``\\s``). Write Latin letters in patterns in lower case.

    Args:
        pattern: the regex source.

    Returns:
        The folded regex source.
    """
    return pattern.translate(_PRE_TABLE).translate(_MAIN_TABLE)


# ---------------------------------------------------------------------------------------------
# Teasers
# ---------------------------------------------------------------------------------------------

#: Separators after a (loose) prefix, on normalised text: ".." / "..." (also from …), ":", "|",
#: "," (from ،), and a dash that is spaced on at least one side ("عاجل - ...", "عاجل -...",
#: "عاجل- ..."). An unspaced dash is a hyphenated word ("video-game"), not a separator.
_LOOSE_SEP = r"(?:\s*(?:\.{2,}|[:|,])|\s*-+\s|\s+-+)"
#: Separators after a strict (English) prefix: only ":", "|" and a spaced dash; "Watch, ..." or
#: "Live.." are ordinary sentences more often than labels.
_STRICT_SEP = r"(?:\s*[:|]|\s*-+\s|\s+-+)"
#: Separators before a suffix word: "|" or a dash with a space before it ("... - صور").
_SUFFIX_SEP = r"(?:\s*\||\s+-+)\s*"


def _alternation(words: Iterable[str]) -> str:
    # Longest first, so "بالفيديو" is tried before "فيديو" and "breaking news" before "breaking".
    uniq = sorted(set(words), key=lambda w: (-len(w), w))
    return "|".join(re.escape(w) for w in uniq)


@dataclass(frozen=True)
class TeaserRules:
    """Teaser labels stripped from the start and end of a normalised string.

    News sites prefix or suffix the same headline with labels that say what kind of item it is,
    not what happened ("بالفيديو.. ", "عاجل | ", "Breaking: ", " | فيديو", " (video)"). Two
    copies of one story that differ only in such a label must fingerprint the same.

    All words are given in ordinary spelling and normalised at construction with the same
    character rules as :func:`normalise` (so "إنفوجراف" and "انفوجراف" are one rule, and the
    rule matches text whose alef/teh-marbuta forms were already unified). Rules only ever match
    at the very start or end of the string, so a headline that merely contains a teaser word in
    the middle ("الرئيس يشاهد فيديو ...") is not changed.

    Attributes:
        prefixes: words stripped from the start when followed by a loose separator: ".." /
            "..." / ":" / "|" / "،" (",") / a spaced dash. Used for Arabic labels.
        strict_prefixes: words stripped from the start only when followed by ":", "|" or a spaced
            dash. Used for English labels, where "Watch the ..." or "Live, ..." are sentences.
        suffixes: words stripped from the end when after "|" or a spaced dash
            ("... | فيديو", "... - صور"), or when in round or square brackets ("(video)",
            "[photos]"). The bracketed forms are also stripped at the start ("(فيديو) ...").
        strip_trailing_ellipsis: strip a trailing ".." / "..." (a teaser cut-off mark: "قال
            الرئيس .."), with any space before it.

    Errors:
        ``ValueError`` when a word normalises to the empty string.
    """

    prefixes: tuple[str, ...] = ()
    strict_prefixes: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()
    strip_trailing_ellipsis: bool = True
    _prefix_patterns: tuple[re.Pattern[str], ...] = field(
        init=False, repr=False, compare=False, hash=False, default=()
    )
    _suffix_patterns: tuple[re.Pattern[str], ...] = field(
        init=False, repr=False, compare=False, hash=False, default=()
    )
    _tail: int = field(init=False, repr=False, compare=False, hash=False, default=0)

    def __post_init__(self) -> None:
        groups: dict[str, list[str]] = {}
        for name in ("prefixes", "strict_prefixes", "suffixes"):
            words = tuple(getattr(self, name))
            normed = []
            for w in words:
                n = _normalise_chars(w)
                if not n:
                    raise ValueError(f"teaser {name} entry {w!r} is empty after normalisation")
                normed.append(n)
            object.__setattr__(self, name, words)
            groups[name] = normed
        pre: list[re.Pattern[str]] = []
        suf: list[re.Pattern[str]] = []
        if groups["prefixes"]:
            pre.append(re.compile(rf"(?:{_alternation(groups['prefixes'])}){_LOOSE_SEP}\s*"))
        if groups["strict_prefixes"]:
            alt = _alternation(groups["strict_prefixes"])
            pre.append(re.compile(rf"(?:{alt}){_STRICT_SEP}\s*"))
        if groups["suffixes"]:
            alt = _alternation(groups["suffixes"])
            pre.append(re.compile(rf"[(\[]\s*(?:{alt})\s*[)\]]\s*"))
            suf.append(re.compile(rf"{_SUFFIX_SEP}(?:{alt})$"))
            suf.append(re.compile(rf"\s*[(\[]\s*(?:{alt})\s*[)\]]$"))
        if self.strip_trailing_ellipsis:
            suf.append(re.compile(r"\s*\.{2,}$"))
        object.__setattr__(self, "_prefix_patterns", tuple(pre))
        object.__setattr__(self, "_suffix_patterns", tuple(suf))
        # Suffixes are searched in the last ``_tail`` characters only (normalised text has single
        # spaces, so a suffix match is short); a long body is not scanned end to end per rule.
        longest = max((len(w) for w in groups["suffixes"]), default=0)
        object.__setattr__(self, "_tail", 2 * longest + 64)

    @classmethod
    def from_lines(cls, lines: Iterable[str], *, strip_trailing_ellipsis: bool = True) -> TeaserRules:
        """Build rules from lines such as a config file's.

        Each non-blank line that does not start with ``#`` is ``KIND: WORD`` where KIND is
        ``prefix``, ``strict-prefix`` or ``suffix`` (case-insensitive), e.g.::

            prefix: عاجل
            strict-prefix: breaking
            suffix: video

        Args:
            lines: the lines (an open text file works).
            strip_trailing_ellipsis: passed through.

        Returns:
            The rules.

        Raises:
            ValueError: a line without a known KIND, or an empty WORD.
        """
        kinds = {"prefix": [], "strict-prefix": [], "suffix": []}
        for i, raw in enumerate(lines, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            kind, sep, word = line.partition(":")
            kind = kind.strip().casefold()
            if not sep or kind not in kinds or not word.strip():
                raise ValueError(f"teaser rule line {i}: expected 'prefix|strict-prefix|suffix: WORD', got {line!r}")
            kinds[kind].append(word.strip())
        return cls(
            prefixes=tuple(kinds["prefix"]),
            strict_prefixes=tuple(kinds["strict-prefix"]),
            suffixes=tuple(kinds["suffix"]),
            strip_trailing_ellipsis=strip_trailing_ellipsis,
        )


#: Default teaser rules (Arabic and English news).
#: - Arabic prefixes: بالصور / بالفيديو / فيديو / صور ("in pictures/video"), عاجل ("breaking"),
#:   خاص ("special"), حصري ("exclusive"), شاهد ("watch"), إنفوجراف / انفوجراف ("infographic"),
#:   تقرير ("report"): media-type or urgency labels that one outlet adds and another does not.
#: - English strict prefixes: breaking, breaking news, watch, video, photos, exclusive, update,
#:   updated, live.
#: - Suffixes: فيديو, صور, بالفيديو, بالصور, انفوجراف, video, videos, photo, photos, pictures
#:   ("... | فيديو", "... - صور", "(video)", "[photos]").
#: - A trailing ".." / "..." cut-off mark.
DEFAULT_TEASERS = TeaserRules(
    prefixes=("بالصور", "بالفيديو", "فيديو", "صور", "عاجل", "خاص", "حصري", "شاهد", "انفوجراف",
              "إنفوجراف", "تقرير"),
    strict_prefixes=("breaking", "breaking news", "watch", "video", "photos", "exclusive",
                     "update", "updated", "live"),
    suffixes=("فيديو", "صور", "بالفيديو", "بالصور", "انفوجراف", "video", "videos", "photo",
              "photos", "pictures"),
)


def strip_teasers(text: str, rules: TeaserRules = DEFAULT_TEASERS) -> str:
    """Strip teaser labels from the start and end of an already normalised string.

    Every rule is tried in turn and the whole set is applied again until nothing changes
    ("عاجل | بالفيديو.. X (فيديو)" -> "X"). A strip that would leave nothing is not applied
    (a headline that is only "فيديو:" keeps it; an empty fingerprint would match everything).

    Args:
        text: output of :func:`normalise` with ``teasers=None`` (rules match normalised text:
            ASCII separators, unified alef/teh marbuta, casefolded Latin).
        rules: the rules; :data:`DEFAULT_TEASERS` by default.

    Returns:
        The string without teasers, with no leading/trailing whitespace.
    """
    s = text.strip()
    changed = True
    while changed and s:
        changed = False
        for pat in rules._prefix_patterns:
            m = pat.match(s)
            if m and m.end() < len(s):
                s = s[m.end():].strip()
                changed = True
        for pat in rules._suffix_patterns:
            cut = max(0, len(s) - rules._tail)
            m = pat.search(s, cut)
            if m and m.start() > 0:
                s = s[: m.start()].strip()
                changed = True
    return s


def normalise(text: str, *, teasers: TeaserRules | None = DEFAULT_TEASERS) -> str:
    """Normalise text for fingerprinting (never for display).

    Steps (see the module docstring for the reasons): drop zero-width / bidi control characters
    (UAX #9) and the soft hyphen; Unicode NFKC (UAX #15); casefold; remove Arabic harakat, Quranic
    marks and tatweel; unify alef forms (أ إ آ ٱ -> ا), ى -> ي, ة -> ه; Arabic-Indic and Persian
    digits -> ASCII digits (digits are always kept: "2 killed" != "21 killed"); quotes -> ``"``
    / ``'``; dashes -> ``-``; ، ؛ ؟ -> , ; ?; collapse whitespace to single spaces; then strip
    teaser labels (:func:`strip_teasers`) unless ``teasers`` is None.

    Idempotent: ``normalise(normalise(x)) == normalise(x)``.

    Args:
        text: any text (title, body, or both joined).
        teasers: teaser rules to strip after the character rules; None to keep teasers.

    Returns:
        The normalised string (single-spaced, stripped; may be empty).
    """
    s = _normalise_chars(text)
    if teasers is not None and s:
        s = strip_teasers(s, teasers)
    return s


# ---------------------------------------------------------------------------------------------
# Tokens
# ---------------------------------------------------------------------------------------------

_TOKEN_RE: re.Pattern[str] | None = None
_FAST_RE: re.Pattern[str] | None = None


def _token_re() -> re.Pattern[str]:
    """Word pattern: letters/digits plus combining marks (built on first use).

    Python's ``\\w`` does not include combining marks (Unicode category M), so it would split
    Devanagari, Bengali or Thai words at every vowel sign. Arabic harakat are removed by
    :func:`normalise` already, but other scripts' marks are letters' parts, so they are added to
    the class. The mark list is read from :mod:`unicodedata` (the running Python's Unicode
    version), scanning planes 0-2 and the variation-selector block, once per process.
    """
    global _TOKEN_RE, _FAST_RE
    if _TOKEN_RE is None:
        ranges: list[tuple[int, int]] = []
        cps = list(range(0x0300, 0x30000)) + list(range(0xE0100, 0xE01F0))
        start = prev = -2
        for cp in cps:
            if unicodedata.category(chr(cp))[0] == "M":
                if cp != prev + 1:
                    if start >= 0:
                        ranges.append((start, prev))
                    start = cp
                prev = cp
        if start >= 0:
            ranges.append((start, prev))
        marks = "".join(
            re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
            for a, b in ranges
        )
        _TOKEN_RE = re.compile(rf"[^\W_](?:[^\W_]|[{marks}])*")
        # the same tokens where no underscore occurs, with one character class per step
        # instead of an alternation (about a third faster)
        _FAST_RE = re.compile(rf"[^\W_][\w{marks}]*")
    return _TOKEN_RE


def tokens(normalised: str) -> list[str]:
    """Split a normalised string into word tokens: the tokeniser used for word shingles.

    A token is a maximal run of Unicode letters and digits (Python's ``\\w`` without ``_``),
    including combining marks that follow a letter. Digits are tokens like words ("21",
    "2024"); punctuation, symbols, underscores and whitespace separate tokens and are dropped.
    A decimal or grouped number is split at its separator ("2.5" -> "2", "5"), which keeps all
    its digits.

    Args:
        normalised: output of :func:`normalise` (other strings work, but then "أن" and "ان" are
            different tokens).

    Returns:
        The tokens in order (possibly empty).
    """
    slow = _token_re()
    found = _FAST_RE.findall(normalised)
    if "_" not in normalised:
        return found
    out: list[str] = []
    for tok in found:  # an underscore separates tokens: split those matches exactly
        if "_" in tok:
            out.extend(slow.findall(tok))
        else:
            out.append(tok)
    return out
