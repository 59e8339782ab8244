"""The story guard: keep apart items whose numbers or places clearly conflict.

Embeddings of "21 killed in Cairo" and "3 killed in Alexandria" are nearly identical (E5 cosine
~0.95): the words that tell the two events apart are a number and a place. The guard extracts
both from the title and lead of each item (:func:`guard_features`) and vetoes a join when they
clearly conflict (:func:`guard_conflict`), with a human-readable reason for ``explain``.

Rules (conservative: the guard only ever *separates*, so a false conflict splits a story; a
missed conflict leaves the decision to the similarity score):

* **places** conflict when both items name at least one place and no place of one is the same
  as, or encloses / is enclosed by, a place of the other ("Cairo" and "Egypt" agree; "Cairo"
  and "Alexandria" conflict; "Cairo, Egypt" and "Alexandria, Egypt" agree through Egypt).
* **numbers** conflict when both items give at least one number, the two sets share none, and
  no place agrees between them (an agreeing place means the same event told with an updated
  figure: "Death toll rises to 25 in Cairo" vs "21 killed in Cairo").
  Years (1900-2100), dates ("14 February", "14/2", "2013-02-14"), clock times ("10:30") and
  ordinals ("2nd") are not counted.

Measured (benchmarks/tune_stories.py, figures in the :mod:`clustering.stories` docstring): on
Arabic headline pairs (ANS) the guard flags 188 of 2,157 contradictions and 3 of 1,171
paraphrases; on ECB+ document pairs with cosine >= 0.85 its place rule is right 82% of the time
and its number rule 86% (numbers from titles; numbers from the lead were right only 66%), not
enough to help there, which is why :class:`~clustering.stories.scoring.StoryParams` asks it only
for pairs scoring >= ``guard_min_score``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clustering.normalise import normalise, tokens

from .places import enclosing, find_places

__all__ = [
    "LEAD_CHARS",
    "GuardFeatures",
    "extract_numbers",
    "guard_conflict",
    "guard_features",
    "lead_of",
]

#: Longest lead read from the body, in characters (cut back to a word boundary).
LEAD_CHARS = 300
#: The lead ends at the first sentence end after this many characters.
_LEAD_MIN_CHARS = 60
_SENT_END_RE = re.compile(r"[.!?؟](?=\s)")

_MONTHS = frozenset(
    """
    january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec
    """.split()
) | frozenset(
    tokens(
        normalise(
            "يناير فبراير مارس أبريل إبريل ابريل مايو يونيو يونيه يوليو يوليه أغسطس سبتمبر "
            "أكتوبر نوفمبر ديسمبر كانون شباط آذار نيسان أيار حزيران تموز آب أيلول تشرين"
        )
    )
)
# Dates and clock times, removed before numbers are read: 2013-02-14, 14/02/2013, 14.2.2013,
# 14/2, 10:30, 10:30:15, also with spaces around the separators as tokenised corpora write
# them ("12 / 19 / 2005", "3 : 36 pm").
_DATE_RE = re.compile(
    r"(?<!\d)(?:\d{1,4}\s?[/.\-]\s?\d{1,2}\s?[/.\-]\s?\d{1,4}"
    r"|\d{1,2}\s?/\s?\d{1,2}"
    r"|\d{1,2}\s?:\s?\d{2}(?:\s?:\s?\d{2})?(?:\s?[ap]\.?m\b\.?)?)(?!\d)"
)
# A number: digits, optionally grouped / with decimals ("2,500", "3.5"), not glued to letters
# ("mh17", "2nd", "g20" are not numbers).
_NUM_RE = re.compile(r"(?<![\w.,])(\d+(?:[.,]\d+)*)(?![\w]|[.,]\d)")
_WORD_RE = re.compile(r"[^\W\d_]+")
# Arabic letters written against digits ("ينقذ‏17‏ صيادا" loses its direction marks in
# normalisation and becomes "ينقذ17"): split them, unlike Latin "mh17" / "g20", which are names.
_AR_DIGIT_RE = re.compile(r"(?<=[\u0600-\u06ff])(?=\d)|(?<=\d)(?=[\u0600-\u06ff])")


@dataclass(frozen=True)
class GuardFeatures:
    """What the guard compares: numbers and places of an item's title and lead.

    Attributes:
        numbers: distinct numbers as canonical strings ("2500", "3.5"), sorted.
        places: place keys (lower-case English, e.g. "cairo", "north korea"), first mention
            first.
        regions: keys of the places enclosing ``places`` (countries, states, governorates),
            sorted; stored so that :func:`guard_conflict` needs no gazetteer.
    """

    numbers: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """True when the item gave neither numbers nor places (the guard can say nothing)."""
        return not self.numbers and not self.places

    def to_dict(self) -> dict[str, list[str]]:
        """Plain lists, for storage (JSON / DuckDB ``VARCHAR[]`` columns)."""
        return {
            "numbers": list(self.numbers),
            "places": list(self.places),
            "regions": list(self.regions),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> GuardFeatures:
        """Inverse of :meth:`to_dict`; None or missing keys give empty fields."""
        if not d:
            return cls()
        return cls(
            numbers=tuple(d.get("numbers") or ()),
            places=tuple(d.get("places") or ()),
            regions=tuple(d.get("regions") or ()),
        )


def lead_of(text: str, lead_chars: int = LEAD_CHARS) -> str:
    """The lead of a body: its first line, up to the first sentence end after 60 characters,
    at most ``lead_chars`` characters (cut back to a word boundary)."""
    text = (text or "").strip()
    first = text.split("\n", 1)[0]
    m = _SENT_END_RE.search(first, _LEAD_MIN_CHARS)
    if m:
        first = first[: m.end()]
    if len(first) <= lead_chars:
        return first
    cut = first[:lead_chars]
    sp = cut.rfind(" ")
    return cut[:sp] if sp > lead_chars // 2 else cut


def _canonical_number(s: str) -> str:
    # "2,500" / "2.500.000" -> grouped thousands; "3.5" / "3,5" -> decimal.
    parts = re.split(r"[.,]", s)
    if len(parts) > 1 and all(len(p) == 3 for p in parts[1:]):
        return str(int("".join(parts)))
    if len(parts) == 2:
        return f"{int(parts[0])}.{parts[1]}"
    return str(int(parts[0])) if len(parts) == 1 else "".join(parts)


def extract_numbers(text: str) -> tuple[str, ...]:
    """Counting numbers of a text: years, dates, clock times and ordinals left out.

    Args:
        text: raw text (it is normalised here, so Arabic-Indic digits count).

    Returns:
        Distinct canonical number strings, sorted.
    """
    norm = _DATE_RE.sub(" ", _AR_DIGIT_RE.sub(" ", normalise(text)))
    out: set[str] = set()
    for m in _NUM_RE.finditer(norm):
        raw = m.group(1)
        num = _canonical_number(raw)
        if "." not in num and 1900 <= int(num) <= 2100:
            continue  # a year
        before = _WORD_RE.findall(norm[max(0, m.start() - 20) : m.start()])
        after = _WORD_RE.findall(norm[m.end() : m.end() + 20])
        if (before and before[-1] in _MONTHS) or (after and after[0] in _MONTHS):
            continue  # a day of a month: "14 february", "feb 14", "14 فبراير"
        out.add(num)
    return tuple(sorted(out, key=lambda s: (float(s), s)))


def guard_features(title: str, text: str = "", *, lead_chars: int = LEAD_CHARS) -> GuardFeatures:
    """Extract the guard's numbers and places from a title and the lead of its body.

    Places are read from the title and the lead (:func:`lead_of`: the body's first sentence,
    at most ``lead_chars`` characters); numbers from the title only, or from the lead when
    there is no title. (Measured on ECB+: numbers of the lead -- ages, times, scores of other
    games -- flag 2-3 times as many same-story pairs as headline numbers do.)

    Args:
        title: headline (may be empty).
        text: body (may be empty); only its lead is read.
        lead_chars: longest lead in characters.

    Returns:
        :class:`GuardFeatures` (empty fields when nothing was found).
    """
    title = (title or "").strip()
    lead = lead_of(text or "", lead_chars)
    places = tuple(find_places(f"{title}\n{lead}"))
    regions = tuple(sorted(enclosing(places) - set(places)))
    return GuardFeatures(
        numbers=extract_numbers(title or lead), places=places, regions=regions
    )


def _places_agree(a: GuardFeatures, b: GuardFeatures) -> bool:
    pa, pb = set(a.places), set(b.places)
    return bool(pa & pb or pa & set(b.regions) or pb & set(a.regions))


def _show(keys: tuple[str, ...], limit: int = 3) -> str:
    shown = ", ".join(k.title() for k in keys[:limit])
    return shown + (f" (+{len(keys) - limit})" if len(keys) > limit else "")


def guard_conflict(a: GuardFeatures, b: GuardFeatures) -> str | None:
    """Why two items must not be in the same story, or None when nothing clearly conflicts.

    Symmetric in its arguments up to the order of the reason text.

    Args:
        a, b: features from :func:`guard_features`.

    Returns:
        ``"places differ: Cairo vs Alexandria"``, ``"numbers differ: 21 vs 3"``, or None.
    """
    if a.places and b.places:
        if _places_agree(a, b):
            return None
        return f"places differ: {_show(a.places)} vs {_show(b.places)}"
    if a.numbers and b.numbers and not set(a.numbers) & set(b.numbers):
        return f"numbers differ: {', '.join(a.numbers[:3])} vs {', '.join(b.numbers[:3])}"
    return None
