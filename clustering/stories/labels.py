"""Story labels: the words that set each story apart, by class-based TF-IDF.

c-TF-IDF (Grootendorst 2022, "BERTopic: Neural topic modeling with a class-based TF-IDF
procedure", arXiv:2203.05794) treats all texts of one story as a single document (a class) and
weighs each term by its frequency in the class against its frequency over all classes::

    W(t, c) = tf(t, c) / sum_t' tf(t', c)  *  log(1 + A / f(t))

with tf(t, c) the count of term t in class c, f(t) its count over all classes, and A the
average number of terms per class (as in BERTopic's ``ClassTfidfTransformer``).

Terms are :func:`clustering.normalise.tokens` of normalised text, without stop words
(:func:`stop_words`), number-only tokens and one-letter tokens.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

from clustering.normalise import normalise, tokens

__all__ = ["ctfidf_labels", "stop_words", "label_tokens"]

STOPWORDS_AR_PATH = Path(__file__).with_name("stopwords_ar.txt")

#: English newsroom words not in the general lists (weekdays are; "said" is).
_EN_NEWS_STOP = (
    "says told reported according news report reports breaking update updated photos video "
    "watch read also today yesterday tomorrow week weeks month months year years people"
).split()

_PROCLITICS = ("وب", "ول", "وك", "فب", "فل", "و", "ف", "ب", "ل", "ك")


@functools.lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    """Normalised Arabic and English stop words.

    Sources: ``stopwordsiso`` ("ar" and "en"; the stopwords-iso collection, MIT),
    scikit-learn's ``ENGLISH_STOP_WORDS``, the bundled ``stopwords_ar.txt`` (Arabic newsroom
    words; its header gives its source) and a few English newsroom words. Every entry is
    passed through :func:`normalise` and :func:`tokens`, so it matches normalised text; entries
    of several tokens are skipped.
    """
    import stopwordsiso
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    raw: list[str] = []
    raw += stopwordsiso.stopwords("ar")
    raw += stopwordsiso.stopwords("en")
    raw += ENGLISH_STOP_WORDS
    raw += _EN_NEWS_STOP
    for line in STOPWORDS_AR_PATH.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            raw.append(line)
    out: set[str] = set()
    for w in raw:
        toks = tokens(normalise(w))
        if len(toks) == 1:
            out.add(toks[0])
    return frozenset(out)


def _is_stop(tok: str, stops: frozenset[str]) -> bool:
    return tok in stops or any(tok.startswith(p) and len(tok) - len(p) >= 2 and tok[len(p):] in stops
                               for p in _PROCLITICS)


def label_tokens(text: str, stops: frozenset[str] | None = None) -> list[str]:
    """The label terms of one text: normalised tokens less stop words, numbers, 1-letter words.

    Args:
        text: raw text.
        stops: stop words (normalised); default :func:`stop_words`.

    Returns:
        Terms in text order (with repeats).
    """
    stops = stop_words() if stops is None else stops
    return _filter(tokens(normalise(text)), stops, {})


@functools.lru_cache(maxsize=20_000)
def _default_terms(text: str) -> tuple[str, ...]:
    # the label terms of one text with the default stop words, cached: a story's label is
    # recomputed against the same few hundred contrast titles on every call of a feed
    return tuple(label_tokens(text))


def _filter(toks: list[str], stops: frozenset[str], memo: dict[str, bool]) -> list[str]:
    out = []
    for t in toks:
        keep = memo.get(t)
        if keep is None:
            keep = memo[t] = len(t) > 1 and not t.isdigit() and not _is_stop(t, stops)
        if keep:
            out.append(t)
    return out


def ctfidf_labels(
    texts_by_story: Mapping[str, Iterable[str]],
    top_k: int = 5,
    *,
    stop: Iterable[str] | None = None,
) -> dict[str, list[str]]:
    """Top c-TF-IDF terms of each story against all the stories given.

    Args:
        texts_by_story: story id -> its texts (titles and/or bodies, raw). The more stories,
            the better the contrast; with one story the weights reduce to term frequency.
        top_k: terms per story (>= 1).
        stop: extra stop words (raw; normalised here), added to :func:`stop_words`.

    Returns:
        story id -> up to ``top_k`` normalised terms, best first (ties: alphabetical);
        an empty list for a story whose texts have no terms.

    Raises:
        ValueError: if ``top_k`` < 1.
    """
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    stops = stop_words()
    if stop is not None:
        extra = {t for w in stop for t in tokens(normalise(w))}
        stops = stops | frozenset(extra)
    counts: dict[str, Counter] = {}
    memo: dict[str, bool] = {}
    for sid, texts in texts_by_story.items():
        c: Counter = Counter()
        for text in texts:
            c.update(_default_terms(text or "") if stop is None else
                     _filter(tokens(normalise(text or "")), stops, memo))
        counts[sid] = c
    totals = {sid: sum(c.values()) for sid, c in counts.items()}
    nonempty = [s for s in counts if totals[s] > 0]
    if not nonempty:
        return {sid: [] for sid in counts}
    freq: Counter = Counter()
    for c in counts.values():
        freq.update(c)
    # BERTopic: avg_nr_samples = int(X.sum(axis=1).mean()) over all classes.
    avg = int(sum(totals.values()) / len(counts)) or 1
    out: dict[str, list[str]] = {}
    for sid, c in counts.items():
        total = totals[sid]
        if total == 0:
            out[sid] = []
            continue
        scored = [(tf / total * math.log(1.0 + avg / freq[t]), t) for t, tf in c.items()]
        scored.sort(key=lambda x: (-x[0], x[1]))
        out[sid] = [t for _, t in scored[:top_k]]
    return out
