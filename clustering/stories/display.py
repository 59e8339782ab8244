"""Story label terms in display form: the original spelling of a normalised term.

c-TF-IDF labels (:func:`~clustering.stories.labels.ctfidf_labels`) are terms of normalised
text (:func:`clustering.normalise.normalise`: lower case, Arabic letter variants folded, e.g.
"الصوفية" -> "الصوفيه"); shown to a reader they should read as the titles do.
:func:`display_terms` maps each term back to the raw word of the story's own titles that
normalises to it, the most frequent such spelling (ties: the first seen).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

from clustering.normalise import normalise, tokens

__all__ = ["display_terms"]

# Raw words: letters, digits and Arabic marks (harakat, tatweel); anything else (spaces, ":",
# hyphens, quotes) separates words, as the tokenizer splits there too.
_WORD = re.compile(r"[\w\u0610-\u061a\u064b-\u065f\u0670\u0640]+")
# Punctuation stripped from both ends of a raw word (ASCII, Arabic and typographic quotes).
_EDGE = "".join(chr(c) for c in range(33, 127) if not chr(c).isalnum()) + "«»،؛؟“”‘’…–—"


def display_terms(terms: Sequence[str], titles: Iterable[str]) -> list[str]:
    """``terms`` (normalised label terms) in the spelling of ``titles``.

    Args:
        terms: normalised terms, e.g. from ``ctfidf_labels``.
        titles: the story's raw titles (or other texts) the terms came from.

    Returns:
        One string per term, in order: the most frequent raw word (edge punctuation stripped)
        whose normalisation is exactly that term; the term itself when no raw word is.
    """
    want = set(terms)
    if not want:
        return []
    forms: dict[str, Counter] = {}
    first: dict[tuple[str, str], int] = {}
    k = 0
    for title in titles:
        for raw in _WORD.findall(title or ""):
            word = raw.strip(_EDGE)
            if not word:
                continue
            toks = tokens(normalise(word))
            if len(toks) == 1 and toks[0] in want:
                forms.setdefault(toks[0], Counter())[word] += 1
                first.setdefault((toks[0], word), k)
                k += 1
    out = []
    for t in terms:
        c = forms.get(t)
        out.append(min(c, key=lambda w: (-c[w], first[(t, w)])) if c else t)
    return out
