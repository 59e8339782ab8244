"""The headline edit rule: when two headline-length texts are near-duplicates.

Syndication repeats a headline verbatim or with additions: a teaser prefix ("بالصور..",
"BREAKING:"), a suffix ("| فيديو"), an appended clause (".. وكيم: مهمة مقدسة"). A headline in
which a word was *replaced* is another headline: "... يبدأ جولته بزيارة الأردن" and
"... بزيارة السعودية" share 84% of their character shingles but report different news (the ANS
corpus is full of such contradictions). So two short texts that pass the Jaccard threshold are
joined only when their token difference is one-sided (one extends the other), allowing spelling
variants (difflib ratio >= 0.8 between the differing words; numbers must match exactly).
"""

from __future__ import annotations

from collections.abc import Sequence
from difflib import SequenceMatcher

#: Two differing words at least this similar (difflib ratio) count as spelling variants.
VARIANT_RATIO = 0.8


def _variant(a: str, b: str) -> bool:
    if any(ch.isdigit() for ch in a + b):
        return False
    return SequenceMatcher(None, a, b).ratio() >= VARIANT_RATIO


def headline_substitution(a: Sequence[str], b: Sequence[str]) -> str | None:
    """Why two tokenised headlines are *not* repeats of each other, or None when they are.

    Args:
        a, b: normalised tokens (:func:`clustering.normalise.tokens`) of the two headlines.

    Returns:
        None when the tokens of one are contained in the other's, up to spelling variants;
        otherwise a reason such as ``"word replaced: 'الاردن' vs 'السعوديه'"``.
    """
    only_a = set(a) - set(b)
    only_b = set(b) - set(a)
    if not only_a or not only_b:
        return None
    lone_a = sorted(t for t in only_a if not any(_variant(t, u) for u in only_b))
    lone_b = sorted(u for u in only_b if not any(_variant(t, u) for t in only_a))
    if not lone_a or not lone_b:
        return None
    show = lambda ws: ", ".join(repr(w) for w in ws[:3]) + (" ..." if len(ws) > 3 else "")
    return f"word replaced: {show(lone_a)} vs {show(lone_b)}"
