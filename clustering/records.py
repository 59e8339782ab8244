"""The article record that flows through the pipeline, and the skip report that goes with it.

Every stage (read -> normalise -> fingerprint -> dedup -> embed -> cluster -> store) takes and
returns plain lists of :class:`Article` (or columns of the same fields as an Arrow table), so the
same code runs in one process and inside a distributed engine's map function.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

#: The fields an input file may carry; ``id`` is required, the rest optional.
ARTICLE_FIELDS = ("id", "title", "text", "published", "source", "url", "lang")


@dataclass(frozen=True, slots=True)
class Article:
    """One news item as read from input: original text kept exactly as given.

    Attributes:
        id: unique, non-empty identifier (string; numbers are converted).
        title: headline, may be empty.
        text: body, may be empty (a headline-only item such as a "related" list entry).
        published: timezone-aware UTC datetime, or None when the input gives no time.
        source: outlet name, or None.
        url: link, or None.
        lang: language code as given by the input, or None.
        listed_on: for items read from a news page's "similar articles" list, the id of the page
            article that listed them; None otherwise.
        order: position in the input (0-based, across all files of one read); used as the last
            tie-break when choosing a representative.
    """

    id: str
    title: str = ""
    text: str = ""
    published: datetime | None = None
    source: str | None = None
    url: str | None = None
    lang: str | None = None
    listed_on: str | None = None
    order: int = 0

    @property
    def content(self) -> str:
        """Title and body joined by a newline: the text that is fingerprinted."""
        if self.title and self.text:
            return f"{self.title}\n{self.text}"
        return self.title or self.text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (``published`` as ISO 8601 string)."""
        d = asdict(self)
        d["published"] = self.published.isoformat() if self.published else None
        return d


@dataclass
class SkipReport:
    """Counted, reported skips: why records were not taken, with a few examples each.

    ``reasons`` maps a short reason ("empty text", "duplicate id", "unparsable JSON", ...) to a
    count; ``examples`` keeps up to ``max_examples`` locations ("file.jsonl:17") per reason.
    """

    reasons: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    max_examples: int = 3

    def add(self, reason: str, where: str = "") -> None:
        """Count one skipped record under ``reason``; ``where`` is a location for the summary."""
        self.reasons[reason] += 1
        ex = self.examples.setdefault(reason, [])
        if where and len(ex) < self.max_examples:
            ex.append(where)

    def merge(self, other: SkipReport) -> None:
        """Add another report's counts and examples into this one."""
        for reason, n in other.reasons.items():
            self.reasons[reason] += n
            ex = self.examples.setdefault(reason, [])
            for w in other.examples.get(reason, []):
                if len(ex) < self.max_examples:
                    ex.append(w)

    @property
    def total(self) -> int:
        """Number of records skipped, all reasons together."""
        return sum(self.reasons.values())

    def as_dict(self) -> dict[str, int]:
        """Reason -> count, largest first."""
        return dict(self.reasons.most_common())
