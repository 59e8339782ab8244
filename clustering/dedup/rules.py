"""The near-duplicate rules: when a candidate pair is joined, and which member represents a group.

One decision function, :func:`decide`, is used by the engine (:func:`~clustering.dedup.engine.find_edges`
verifies every LSH candidate pair with it), by ``explain`` and by ``evaluate``, so the three can
never disagree. The representative choice, :func:`choose_representative`, is the other rule: the
store only keeps what it is given.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import compress
from operator import not_

import numpy as np

from clustering.config import DedupParams
from clustering.dedup.headlines import headline_substitution

__all__ = ["Decision", "RepCandidate", "Shingled", "choose_representative", "containment", "decide",
           "DATE_WORDS", "generic_titles", "headline_label", "number_change", "number_contexts", "representative_key"]

#: What verification needs of an item: its shingle set (sorted unique uint64) and, when it is
#: headline-length (character-shingled), its normalised tokens; for a full (word-shingled)
#: article, its number contexts (:func:`number_contexts`), () when it has no numbers.
Shingled = tuple[np.ndarray, tuple[str, ...]]

#: Separator inside a number context ("prev<US>number<US>next"); never inside a token.
_US = "\x1f"


#: Words next to which a number is a date or a clock time, not a count: month and weekday names
#: (Egyptian, Levantine and English, normalised as :func:`clustering.normalise.tokens` writes
#: them), "hour", "am/pm". A syndicated copy often differs from the wire only there.
DATE_WORDS = frozenset((
    "يناير فبراير مارس ابريل مايو يونيو يوليو اغسطس سبتمبر اكتوبر نوفمبر ديسمبر كانون شباط اذار "
    "نيسان ايار حزيران تموز اب ايلول تشرين السبت الاحد الاثنين الثلاثاء الاربعاء الخميس الجمعه "
    "الساعه صباحا مساء ص م هجريه ميلاديه january february march april may june july august "
    "september october november december jan feb mar apr jun jul aug sep sept oct nov dec monday "
    "tuesday wednesday thursday friday saturday sunday am pm gmt utc").split())

_DIGITS = re.compile(r"\d+")


def _is_number(t: str) -> bool:
    # most tokens are words: str.isalpha (no character of it is a digit) answers in C
    return not t.isalpha() and any(ch.isdigit() for ch in t)


def number_contexts(toks: Sequence[str]) -> tuple[str, ...]:
    """The numbers of a tokenised text with the word before and after each.

    A number is its digit runs ("مبلغ50" and "50" are both 50, "1434هجريه" is 1434). Numbers
    that are parts of a date or clock time are left out: those next to another number
    ("12:30", "13-02-2013" are several tokens) or to a :data:`DATE_WORDS` word ("12 فبراير").

    Args:
        toks: normalised tokens (:func:`clustering.normalise.tokens`; Arabic-Indic digits are
            already ASCII there, so "٢١" and "21" agree).

    Returns:
        Sorted unique ``"prev\x1fnumber\x1fnext"`` strings ("" at the text's ends); () when
        the text has no counted numbers.
    """
    out = set()
    n = len(toks)
    for i in compress(range(n), map(not_, map(str.isalpha, toks))):  # words skipped in C
        t = toks[i]
        if not _is_number(t):
            continue
        prev, nxt = (toks[i - 1] if i else ""), (toks[i + 1] if i + 1 < n else "")
        if _is_number(prev) or _is_number(nxt) or prev in DATE_WORDS or nxt in DATE_WORDS:
            continue
        out.add(_US.join((prev, ".".join(_DIGITS.findall(t)), nxt)))
    return tuple(sorted(out))


def number_change(a: Sequence[str], b: Sequence[str]) -> str | None:
    """Why two full articles are *not* near-duplicates by their numbers, or None.

    A number *changed* when one text has ``prev N next`` and the other ``prev M next`` with
    N != M and neither text has the other's number in that context: "at least 2 killed" vs
    "at least 21 killed". A number one text adds or drops elsewhere (a date line, a time stamp
    on its own line, an appended paragraph) is not a change: its context differs too.

    Args:
        a, b: :func:`number_contexts` of the two texts.

    Returns:
        None, or a reason such as ``"number changed: '2' vs '21' in 'at _ killed'"``.
    """
    if not a or not b:
        return None
    only_a = set(a) - set(b)
    only_b = set(b) - set(a)
    if not only_a or not only_b:
        return None
    by_ctx: dict[tuple[str, str], list[str]] = {}
    for c in only_b:
        p, num, nx = c.split(_US)
        by_ctx.setdefault((p, nx), []).append(num)
    for c in sorted(only_a):
        p, num, nx = c.split(_US)
        if not p and not nx:
            continue
        others = by_ctx.get((p, nx))
        if others:
            return f"number changed: {num!r} vs {sorted(others)[0]!r} in {(p + ' _ ' + nx).strip()!r}"
    return None


def containment(a: np.ndarray, b: np.ndarray) -> float:
    """Containment |A ∩ B| / min(|A|, |B|) of two sorted unique uint64 shingle sets, in [0, 1]
    (Broder 1997: the share of the smaller document found in the larger); 0.0 if one is empty."""
    if len(a) == 0 or len(b) == 0:
        return 0.0
    return len(np.intersect1d(a, b, assume_unique=True)) / min(len(a), len(b))


def headline_label(toks: Sequence[str], params: DedupParams) -> str | None:
    """Why a headline-only item is a *label*, never joined to anything, or None.

    A title-only item of fewer than ``params.min_headline_tokens`` tokens ("كاريكاتير", a
    cartoon; "Video") names a kind of item, not its news: two outlets' cartoons are two items.
    """
    if len(toks) < params.min_headline_tokens:
        return (f"headline-only item of {len(toks)} token(s) < {params.min_headline_tokens}: "
                "a label, not a headline (generic title rule)")
    return None


def generic_titles(titles: Sequence[str], body_hashes: Sequence[str | None],
                   min_bodies: int) -> set[str]:
    """Normalised titles that recur over at least ``min_bodies`` different bodies.

    A title printed over many different texts (a column name, "صور اليوم", "Letters") is
    boilerplate, not syndication: a headline-only item carrying it says nothing about which
    article it is.

    Args:
        titles: normalised titles, one per article ("" for none).
        body_hashes: content hash of each article's body, None when it has no body.
        min_bodies: distinct bodies that make a title generic (>= 2).

    Returns:
        The set of generic normalised titles.
    """
    seen: dict[str, set[str]] = {}
    for t, h in zip(titles, body_hashes):
        if t and h is not None:
            seen.setdefault(t, set()).add(h)
    return {t for t, hs in seen.items() if len(hs) >= min_bodies}


@dataclass(frozen=True)
class Decision:
    """The verdict on one candidate pair.

    Attributes:
        joined: True when the pair is a near-duplicate.
        similarity: exact Jaccard similarity of the two shingle sets, in [0, 1].
        rule: "jaccard", "containment" (the smaller text wholly enough inside the larger) or
            "headline" (a headline-only item matched against a full article's title) when
            joined; None otherwise.
        reason: one line saying why ("Jaccard 0.731 >= 0.5", "word replaced: ... (headline
            edit rule)", "number changed: ... (numbers rule)").
        containment: |A ∩ B| / min(|A|, |B|) of the shingle sets, in [0, 1].
        blocked_by: the rule that kept a pair apart although it was similar enough
            ("headline_edit", "numbers"), else None.
    """

    joined: bool
    similarity: float
    rule: str | None
    reason: str
    containment: float = 0.0
    blocked_by: str | None = None


def decide(own: Shingled, other: Shingled, threshold: float, *, via_title: bool = False,
           kind: str | None = None, params: DedupParams | None = None) -> Decision:
    """Whether a candidate pair is a near-duplicate.

    Rules, in order:

    1. *similar*: the exact Jaccard of the shingle sets reaches ``threshold``; or, for two
       full (word-shingled) articles with ``params``, the containment
       |A ∩ B| / min(|A|, |B|) reaches ``params.containment`` and the smaller set has at least
       ``params.containment_min_shingles`` shingles and the Jaccard is at least
       ``params.containment_min_jaccard`` (a wire story reprinted with paragraphs
       appended). Otherwise kept apart.
    2. *headline edit rule* (both headline-length):
       :func:`~clustering.dedup.headlines.headline_substitution` must not find a replaced word.
    3. *numbers rule* (two full articles, ``params.body_numbers``): :func:`number_change`
       must not find a number changed in the same context.

    Args:
        own, other: :data:`Shingled` of the two items (the second element is tokens for
            headline-length items, number contexts for full articles).
        threshold: the Jaccard threshold of their shingle kind.
        via_title: True when ``other`` is a full article's title fingerprint (the headline
            rule of :func:`~clustering.dedup.engine.find_edges`); names the rule "headline".
        kind: "word" or "char", the shingle kind of the pair; None (older callers): "char"
            when both sides carry tokens, else "word" with no second-element rules.
        params: the settings of the containment and numbers rules; None applies neither.

    Returns:
        A :class:`Decision`.
    """
    a, b = own[0], other[0]
    inter = len(np.intersect1d(a, b, assume_unique=True)) if len(a) and len(b) else 0
    sim = inter / (len(a) + len(b) - inter) if len(a) or len(b) else 0.0
    cont = inter / min(len(a), len(b)) if len(a) and len(b) else 0.0
    word = kind == "word"
    rule = "headline" if via_title else "jaccard"
    if sim >= threshold:
        why = f"Jaccard {sim:.3f} >= {threshold}"
    elif (word and params is not None and cont >= params.containment
          and sim >= params.containment_min_jaccard
          and min(len(own[0]), len(other[0])) >= params.containment_min_shingles):
        rule = "containment"
        why = (f"Jaccard {sim:.3f} < {threshold} but containment {cont:.3f} >= "
               f"{params.containment}")
    else:
        return Decision(False, sim, None, f"Jaccard {sim:.3f} < {threshold}", cont)
    short = kind == "char" or (kind is None and bool(own[1]) and bool(other[1]))
    if short and own[1] and other[1]:
        replaced = headline_substitution(own[1], other[1])
        if replaced:
            return Decision(False, sim, None, f"{why} but {replaced} (headline edit rule)", cont,
                            "headline_edit")
    if word and params is not None and params.body_numbers:
        changed = number_change(own[1], other[1])
        if changed:
            return Decision(False, sim, None, f"{why} but {changed} (numbers rule)", cont, "numbers")
    return Decision(True, sim, rule, why, cont)


@dataclass(frozen=True)
class RepCandidate:
    """What the representative choice looks at for one group member.

    Attributes:
        id: article id.
        published: timezone-aware publication time, or None.
        text_length: characters of title + body.
        order: ingest order (smaller = earlier).
    """

    id: str
    published: datetime | None
    text_length: int
    order: int


def representative_key(c: RepCandidate) -> tuple:
    """Sort key: earliest published first (unknown times last), then longest text, then input
    order, then id."""
    ts = c.published.timestamp() if c.published else float("inf")
    return (ts, -c.text_length, c.order, c.id)


def choose_representative(members: Sequence[RepCandidate]) -> str:
    """The id of a group's representative: earliest published; ties: longest text, then input
    order. Raises ValueError for an empty group."""
    if not members:
        raise ValueError("a group needs at least one member")
    return min(members, key=representative_key).id
