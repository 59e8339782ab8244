"""Sparse text representations of story items: terms, incremental document frequencies, TF-IDF.

The learned story scorer (:mod:`.scorer`) compares items by the cosine of TF-IDF vectors of
their titles, their texts and their salient entities, beside the embedding cosine; dense and
sparse representations together beat either alone (Staykovski et al. 2019, "Dense vs. Sparse
Representations for News Stream Clustering"; Miranda et al. 2018, EMNLP, "Multilingual
Clustering of Streaming News", who keep TF-IDF centroids of title, body and entities).

* :func:`item_terms`: the terms of one item (:class:`ItemTerms`: title, text, entity counts).
* :class:`DocumentFrequencies`: document frequencies updated incrementally as items arrive, so
  online scores need no refit; ``to_dict`` / ``from_dict`` for storage.
* :func:`tfidf` / :func:`cosine`: sublinear-tf, smoothed-idf, L2-normalised vectors as dicts
  (the weighting of scikit-learn's ``TfidfVectorizer(sublinear_tf=True)``).
* :class:`SparseCentroid`: the sum of members' L2-normalised vectors kept to its top-k terms,
  so ``dot(item, centroid) / size`` is (up to truncation) the average cosine to the members.

Entities are read from the title and the body's opening: English capitalised words that are not stop words,
places of the gazetteer (:mod:`.places`, Arabic and English, as shared English keys) and
counting numbers (:func:`.guard.extract_numbers`). They go into one vector whose terms carry a
prefix (``"@"``), so one :class:`DocumentFrequencies` serves all three fields.

All functions are pure; :class:`DocumentFrequencies` and :class:`SparseCentroid` are small
mutable objects updated in place.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from clustering.normalise import normalise, tokens

from .guard import extract_numbers, lead_of
from .labels import _filter, stop_words
from .places import find_places

__all__ = [
    "BODY_TOKENS",
    "ENTITY_CHARS",
    "PLACE_CHARS",
    "DocumentFrequencies",
    "ItemTerms",
    "SparseCentroid",
    "cosine",
    "dot",
    "has_arabic",
    "item_terms",
    "tfidf",
]

#: Tokens of the text (title + body) read into the text vector: enough for the lead paragraphs,
#: bounded so long articles cost the same as short ones.
BODY_TOKENS = 400
#: Characters of the body read for entities (title + the body's start). Entities of the whole
#: opening (names, places, figures recur there) separate same-kind events better than the
#: first sentence alone; measured in ``benchmarks/RESULTS.md``.
ENTITY_CHARS = 3000
#: Characters of the body searched for gazetteer places (the gazetteer lookup is the costly
#: part of :func:`item_terms`: about 12 ms for 3,000 characters, against 72 ms to embed an
#: article; English place names are also caught as capitalised words further on).
PLACE_CHARS = 600
#: Prefix of entity terms inside the shared vocabulary.
ENTITY_PREFIX = "@"

_CAP_RE = re.compile(r"\b[A-Z][A-Za-z'\-]+\b")
_ARABIC_RE = re.compile(r"[\u0600-\u06ff]")
# The Arabic article with its proclitics, and the conjunction wa-: "والقوات" -> "قوات" (light
# stemming, so that definite / conjoined forms of one word share a term; after the "light10"
# prefixes of Larkey et al. 2002). Single-letter fa-/bi-/li- are left alone: they are also the
# first letters of names ("بوتين", "فلاديمير", "لبنان").
_AR_PREFIXES = ("وال", "فال", "بال", "كال", "لل", "ال", "و")


def has_arabic(text: str) -> bool:
    """True when ``text`` contains Arabic letters (the script feature of the scorer)."""
    return bool(_ARABIC_RE.search(text or ""))


def _stem(t: str) -> str:
    if not _ARABIC_RE.match(t):
        return t
    for p in _AR_PREFIXES:
        if t.startswith(p) and len(t) - len(p) >= 3:
            t = t[len(p):]
            break
    if t.endswith("ة") and len(t) >= 4:
        t = t[:-1]
    return t


@dataclass(frozen=True)
class ItemTerms:
    """The sparse view of one item.

    Attributes:
        title: term counts of the title (or, when there is none, of the body's lead).
        text: term counts of title + body (first :data:`BODY_TOKENS` tokens).
        entities: entity term counts (prefixed ``"@"``): capitalised English words, place keys
            (``"@p:cairo"``), numbers (``"@n:21"``), from the title and the body's first
            :data:`ENTITY_CHARS` characters (places: :data:`PLACE_CHARS`).
        headline_only: True when the item has no body.
        arabic: True when title or body contains Arabic letters.
    """

    title: Mapping[str, int] = field(default_factory=dict)
    text: Mapping[str, int] = field(default_factory=dict)
    entities: Mapping[str, int] = field(default_factory=dict)
    headline_only: bool = True
    arabic: bool = False

    def doc_terms(self) -> set[str]:
        """Distinct terms of all fields (what one document adds to document frequencies)."""
        return set(self.text) | set(self.title) | set(self.entities)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (for storage)."""
        return {"title": dict(self.title), "text": dict(self.text),
                "entities": dict(self.entities), "headline_only": self.headline_only,
                "arabic": self.arabic}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ItemTerms:
        """Inverse of :meth:`to_dict`."""
        return cls(dict(d.get("title") or {}), dict(d.get("text") or {}),
                   dict(d.get("entities") or {}), bool(d.get("headline_only", True)),
                   bool(d.get("arabic", False)))


def _terms(text: str, stops: frozenset[str], limit: int | None = None) -> Counter:
    toks = tokens(normalise(text))
    if limit is not None:
        toks = toks[:limit]
    return Counter(_stem(t) for t in _filter(toks, stops, {}))


def item_terms(title: str, text: str = "") -> ItemTerms:
    """The terms of one item (title, text, entities; see :class:`ItemTerms`).

    Args:
        title: headline (may be empty).
        text: body (may be empty: a headline-only item).

    Returns:
        :class:`ItemTerms`. Cost: about 0.1-0.5 ms for a headline, a few ms for a long article
        (normalisation and the gazetteer dominate).
    """
    title = (title or "").strip()
    text = (text or "").strip()
    stops = stop_words()
    head = title or lead_of(text)
    t_title = _terms(head, stops)
    t_text = _terms(f"{title}\n{text}", stops, BODY_TOKENS)
    ent: Counter = Counter()
    span = f"{title}\n{text[:ENTITY_CHARS]}"
    for w in _CAP_RE.findall(span):
        lw = w.lower()
        if lw not in stops and len(lw) > 1:
            ent[ENTITY_PREFIX + lw] += 1
    for p in find_places(f"{title}\n{text[:PLACE_CHARS]}"):
        ent[f"{ENTITY_PREFIX}p:{p}"] += 1
    for n in extract_numbers(span):
        ent[f"{ENTITY_PREFIX}n:{n}"] += 1
    return ItemTerms(dict(t_title), dict(t_text), dict(ent), not text,
                     has_arabic(title) or has_arabic(text))


class DocumentFrequencies:
    """Document frequencies of terms, updated incrementally (no refit when items arrive).

    ``idf(t) = ln((1 + N) / (1 + df(t))) + 1`` (smoothed idf, as scikit-learn's
    ``TfidfTransformer(smooth_idf=True)``); an unseen term gets the largest idf,
    ``ln(1 + N) + 1``.

    Args:
        n_docs: documents counted so far.
        df: term -> number of documents containing it.
    """

    def __init__(self, n_docs: int = 0, df: Mapping[str, int] | None = None) -> None:
        if n_docs < 0:
            raise ValueError(f"n_docs must be >= 0, got {n_docs}")
        self.n_docs = int(n_docs)
        self.df: dict[str, int] = dict(df or {})

    def update(self, docs: Iterable[ItemTerms | Iterable[str]]) -> DocumentFrequencies:
        """Count documents: each an :class:`ItemTerms` or an iterable of terms (each distinct
        term counts once per document). Returns self."""
        df = self.df
        for d in docs:
            terms = d.doc_terms() if isinstance(d, ItemTerms) else set(d)
            for t in terms:
                df[t] = df.get(t, 0) + 1
            self.n_docs += 1
        return self

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency of one term (>= 1)."""
        return math.log((1.0 + self.n_docs) / (1.0 + self.df.get(term, 0))) + 1.0

    def to_dict(self) -> dict[str, Any]:
        """``{"n_docs": N, "df": {term: count}}`` (JSON-able)."""
        return {"n_docs": self.n_docs, "df": dict(self.df)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DocumentFrequencies:
        """Inverse of :meth:`to_dict`."""
        return cls(int(d.get("n_docs", 0)), d.get("df") or {})

    def columns(self) -> tuple[list[str], list[int]]:
        """``(terms, counts)`` sorted by term, for a two-column table; ``n_docs`` apart."""
        terms = sorted(self.df)
        return terms, [self.df[t] for t in terms]


def tfidf(counts: Mapping[str, int], df: DocumentFrequencies) -> dict[str, float]:
    """L2-normalised TF-IDF vector ``(1 + ln tf) * idf``; empty counts give an empty dict."""
    v = {t: (1.0 + math.log(c)) * df.idf(t) for t, c in counts.items() if c > 0}
    norm = math.sqrt(sum(w * w for w in v.values()))
    if norm == 0.0:
        return {}
    return {t: w / norm for t, w in v.items()}


def dot(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Dot product of two sparse vectors (dicts)."""
    if len(a) > len(b):
        a, b = b, a
    return float(sum(w * b[t] for t, w in a.items() if t in b))


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Cosine of two sparse vectors (0.0 when either is empty)."""
    na = math.sqrt(sum(w * w for w in a.values()))
    nb = math.sqrt(sum(w * w for w in b.values()))
    if na == 0.0 or nb == 0.0:
        return 0.0
    return dot(a, b) / (na * nb)


class SparseCentroid:
    """Sum of a story's members' L2-normalised sparse vectors, bounded to ``top_k`` terms.

    ``mean_dot(x) = dot(x, sum) / size`` is the average cosine between ``x`` and the members
    (exact until the sum is truncated; truncation drops the smallest weights, which carry the
    least of any dot product).

    Args:
        top_k: terms kept (the largest weights; ties by term).
        weights: initial sum (term -> weight).
        size: members summed so far.
    """

    def __init__(self, top_k: int = 64, weights: Mapping[str, float] | None = None,
                 size: int = 0) -> None:
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        self.top_k = int(top_k)
        self.weights: dict[str, float] = dict(weights or {})
        self.size = int(size)

    def add(self, vec: Mapping[str, float]) -> None:
        """Add one member's vector (then truncate to ``top_k`` terms)."""
        w = self.weights
        for t, x in vec.items():
            w[t] = w.get(t, 0.0) + x
        self.size += 1
        if len(w) > self.top_k:
            keep = sorted(w.items(), key=lambda kv: (-kv[1], kv[0]))[: self.top_k]
            self.weights = dict(keep)

    def merge(self, other: SparseCentroid) -> None:
        """Add another centroid's members (a story merged into this one), then truncate."""
        w = self.weights
        for t, x in other.weights.items():
            w[t] = w.get(t, 0.0) + x
        self.size += other.size
        if len(w) > self.top_k:
            self.weights = dict(sorted(w.items(), key=lambda kv: (-kv[1], kv[0]))[: self.top_k])

    def mean_dot(self, vec: Mapping[str, float]) -> float:
        """Average cosine of ``vec`` (L2-normalised) to the members; 0.0 for an empty story."""
        return dot(vec, self.weights) / self.size if self.size else 0.0

    def to_dict(self) -> dict[str, Any]:
        """``{"top_k", "size", "weights"}`` (JSON-able)."""
        return {"top_k": self.top_k, "size": self.size, "weights": dict(self.weights)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SparseCentroid:
        """Inverse of :meth:`to_dict`."""
        return cls(int(d.get("top_k", 64)), d.get("weights") or {}, int(d.get("size", 0)))
