"""The near-duplicate rules: when a candidate pair is joined, and which member represents a group.

One decision function, :func:`decide`, is used by the engine (:func:`~clustering.dedup.engine.find_edges`
verifies every LSH candidate pair with it), by ``explain`` and by ``evaluate``, so the three can
never disagree. The representative choice, :func:`choose_representative`, is the other rule: the
store only keeps what it is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from clustering.dedup.headlines import headline_substitution
from clustering.dedup.shingles import jaccard

__all__ = ["Decision", "RepCandidate", "Shingled", "choose_representative", "decide",
           "representative_key"]

#: What verification needs of an item: its shingle set (sorted unique uint64) and, when it is
#: headline-length (character-shingled), its normalised tokens; () otherwise.
Shingled = tuple[np.ndarray, tuple[str, ...]]


@dataclass(frozen=True)
class Decision:
    """The verdict on one candidate pair.

    Attributes:
        joined: True when the pair is a near-duplicate.
        similarity: exact Jaccard similarity of the two shingle sets, in [0, 1].
        rule: "jaccard" or "headline" (a headline-only item matched against a full article's
            title) when joined; None otherwise.
        reason: one line saying why ("Jaccard 0.731 >= 0.6", "word replaced: ... (headline
            edit rule)").
    """

    joined: bool
    similarity: float
    rule: str | None
    reason: str


def decide(own: Shingled, other: Shingled, threshold: float, *, via_title: bool = False) -> Decision:
    """Whether a candidate pair is a near-duplicate.

    Rules: the exact Jaccard of the shingle sets must reach ``threshold``; and when both sides
    are headline-length (both carry tokens), the headline edit rule
    (:func:`~clustering.dedup.headlines.headline_substitution`) must not find a replaced word:
    a headline with a word replaced is another headline, not a repeat.

    Args:
        own, other: :data:`Shingled` of the two items.
        threshold: the Jaccard threshold of their shingle kind.
        via_title: True when ``other`` is a full article's title fingerprint (the headline
            rule of :func:`~clustering.dedup.engine.find_edges`); names the rule "headline".

    Returns:
        A :class:`Decision`.
    """
    sim = jaccard(own[0], other[0])
    if sim < threshold:
        return Decision(False, sim, None, f"Jaccard {sim:.3f} < {threshold}")
    replaced = headline_substitution(own[1], other[1]) if own[1] and other[1] else None
    if replaced:
        return Decision(False, sim, None,
                        f"Jaccard {sim:.3f} >= {threshold} but {replaced} (headline edit rule)")
    return Decision(True, sim, "headline" if via_title else "jaccard",
                    f"Jaccard {sim:.3f} >= {threshold}")


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
