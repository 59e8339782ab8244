"""The in-memory near-duplicate detector, in the scikit-learn estimator style.

:class:`Deduplicator` runs the same engine functions as a stored run
(:func:`~clustering.dedup.engine.fingerprint_batch`, :func:`~clustering.dedup.engine.find_edges`,
:func:`~clustering.dedup.engine.assign_groups`, the representative rule) with its state held in
the object the way datasketch's ``MinHashLSH`` holds its index: no database, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from clustering.config import DedupParams, ShingleParams
from clustering.dedup.engine import (
    Membership,
    Shingled,
    assign_groups,
    find_edges,
    fingerprint_batch,
    prefetch_candidates,
)
from clustering.dedup.lsh import BandIndex
from clustering.dedup.rules import RepCandidate, choose_representative
from clustering.estimator import ParamsMixin
from clustering.records import Article, SkipReport

__all__ = ["Deduplicator"]


class Deduplicator(ParamsMixin):
    """Near-duplicate groups of articles in memory (MinHash signatures, LSH candidate pairs,
    every candidate verified by exact Jaccard; union-find groups).

    Parameters are stored as given (``get_params`` / ``set_params``); they are checked when
    fitting (:class:`~clustering.config.DedupParams` raises ``ValueError`` on bad values).

    Args:
        threshold: Jaccard threshold for word-shingled texts (bodies).
        char_threshold: Jaccard threshold for character-shingled headline-length texts.
        num_perm: MinHash signature length.
        seed: MinHash seed.
        word_k, char_k, short_tokens: shingle sizes and the headline-length cut-off (tokens).
        minhash: MinHash implementation, "rensa" or "datasketch".
        batch_size: articles fingerprinted per vectorised batch.

    Attributes (after ``fit``/``partial_fit``; all in the order articles were given, over every
    call since the last ``fit``):
        ids_: article ids (skipped records have no entry).
        labels_: (n,) int64 group label per input record, numbered by first appearance; -1 for a
            record that was skipped (see ``skips_``).
        group_ids_: per accepted article, its group id (the id of the group's first member).
        similarities_: (n_accepted,) float64 exact Jaccard with the article it joined through
            (1.0 for exact repeats, NaN for a group's first member).
        joined_via_: per accepted article, the id it joined through, or None.
        rules_: per accepted article, "exact", "jaccard", "containment", "headline" or None.
        representatives_: group id -> representative article id (earliest published; ties:
            longest text, then input order).
        skips_: :class:`~clustering.records.SkipReport` of records not taken.
        n_candidates_, n_rejected_, n_exact_repeats_: LSH candidate pairs checked, rejected by
            the verification, and exact repeats found.

    Example::

        d = Deduplicator(threshold=0.5)
        labels = d.fit_predict([{"id": "a", "title": "..."}, {"id": "b", "title": "..."}])

    Source: MinHash (Broder 1997), LSH banding (Leskovec, Rajaraman & Ullman, *Mining of Massive
    Datasets*, ch. 3) with the bands/rows datasketch chooses for each threshold.
    """

    def __init__(self, *, threshold: float = DedupParams.threshold,
                 char_threshold: float = DedupParams.char_threshold,
                 num_perm: int = DedupParams.num_perm, seed: int = DedupParams.seed,
                 word_k: int = ShingleParams.word_k, char_k: int = ShingleParams.char_k,
                 short_tokens: int = ShingleParams.short_tokens, minhash: str = DedupParams.minhash,
                 batch_size: int = 2_000):
        self.threshold = threshold
        self.char_threshold = char_threshold
        self.num_perm = num_perm
        self.seed = seed
        self.word_k = word_k
        self.char_k = char_k
        self.short_tokens = short_tokens
        self.minhash = minhash
        self.batch_size = batch_size

    _PARAMS = ("threshold", "char_threshold", "num_perm", "seed", "word_k", "char_k",
               "short_tokens", "minhash", "batch_size")

    @classmethod
    def from_params(cls, params: DedupParams, batch_size: int = 2_000) -> Deduplicator:
        """A Deduplicator with the settings of a :class:`~clustering.config.DedupParams`."""
        s = params.shingles
        return cls(threshold=params.threshold, char_threshold=params.char_threshold,
                   num_perm=params.num_perm, seed=params.seed, word_k=s.word_k, char_k=s.char_k,
                   short_tokens=s.short_tokens, minhash=params.minhash, batch_size=batch_size)

    def dedup_params(self) -> DedupParams:
        """The parameters as a checked :class:`~clustering.config.DedupParams` (raises ValueError)."""
        return DedupParams(threshold=self.threshold, char_threshold=self.char_threshold,
                           num_perm=self.num_perm, seed=self.seed,
                           shingles=ShingleParams(self.word_k, self.char_k, self.short_tokens),
                           minhash=self.minhash)

    # ---- fitting ------------------------------------------------------------------------------

    def _reset(self) -> None:
        p = self._params = self.dedup_params()
        self._index = BandIndex({"word": p.threshold, "char": p.char_threshold}, p.num_perm)
        self._first_of_hash: dict[str, str] = {}
        self._known: dict[str, Shingled] = {}
        self._members: dict[str, Membership] = {}
        self._seq: dict[str, int] = {}
        self._articles: dict[str, Article] = {}
        self._record_ids: list[str | None] = []
        self.skips_ = SkipReport()
        self.n_candidates_ = self.n_rejected_ = self.n_exact_repeats_ = 0

    def fit(self, articles: Iterable[Article | Mapping[str, Any]]) -> Deduplicator:
        """Forget what was seen and group ``articles``; returns self."""
        self._reset()
        return self._fit(articles)

    def partial_fit(self, articles: Iterable[Article | Mapping[str, Any]]) -> Deduplicator:
        """Add ``articles`` against everything seen since the last ``fit`` (groups may grow and
        merge); returns self. An id seen before is a counted skip ("duplicate id")."""
        if not hasattr(self, "_params"):
            self._reset()
        return self._fit(articles)

    def fit_predict(self, articles: Iterable[Article | Mapping[str, Any]]) -> np.ndarray:
        """``fit(articles)`` and return ``labels_``: one group label per record, in order."""
        return self.fit(articles).labels_

    def _fit(self, articles: Iterable[Article | Mapping[str, Any]]) -> Deduplicator:
        from clustering.io.readers import read_new_records

        read, ids, _ = read_new_records(list(articles), self._articles, len(self._record_ids))
        new = read.articles
        self.skips_.merge(read.skips)
        self._record_ids.extend(ids)
        self._add(new)
        self._refresh()
        return self

    def _add(self, new: list[Article]) -> None:
        p = self._params
        edges = []
        for lo in range(0, len(new), self.batch_size):
            batch = new[lo:lo + self.batch_size]
            fp = fingerprint_batch(batch, p)
            prefetch_candidates(self._index, fp)
            for a in batch:
                self._seq[a.id] = len(self._seq)
                self._articles[a.id] = a
            rep = find_edges([a.id for a in batch], fp, p, self._index, self._first_of_hash,
                             lambda want: {}, self._known)
            self._index.drain()  # nothing to persist in memory; frees the batch's key memo
            for a, h in zip(batch, fp.content_hash):
                self._first_of_hash.setdefault(h, a.id)
            edges.extend(rep.edges)
            self.n_candidates_ += rep.candidates
            self.n_rejected_ += rep.rejected
            self.n_exact_repeats_ += rep.exact_repeats
        new_ids = [a.id for a in new]
        touched = {e.other_id for e in edges} - set(new_ids)
        touched_groups = {self._members[t].group_id for t in touched}
        stored = {a: m for a, m in self._members.items() if m.group_id in touched_groups}
        self._members.update(assign_groups(new_ids, edges, stored, self._seq))

    def _refresh(self) -> None:
        ids = [i for i in self._record_ids if i is not None]
        self.ids_ = ids
        self.group_ids_ = [self._members[i].group_id for i in ids]
        sims = [self._members[i].similarity for i in ids]
        self.similarities_ = np.array([np.nan if s is None else s for s in sims], dtype=np.float64)
        self.joined_via_ = [self._members[i].joined_via for i in ids]
        self.rules_ = [self._members[i].rule for i in ids]
        number: dict[str, int] = {}
        labels = np.full(len(self._record_ids), -1, dtype=np.int64)
        for k, i in enumerate(self._record_ids):
            if i is not None:
                labels[k] = number.setdefault(self._members[i].group_id, len(number))
        self.labels_ = labels
        by_group: dict[str, list[RepCandidate]] = {}
        for i in ids:
            a = self._articles[i]
            by_group.setdefault(self._members[i].group_id, []).append(
                RepCandidate(i, a.published, len(a.title) + len(a.text), self._seq[i]))
        self.representatives_ = {g: choose_representative(ms) for g, ms in by_group.items()}

    # ---- explanation --------------------------------------------------------------------------

    def explain(self, id_a: str, id_b: str) -> dict[str, Any]:
        """Why two seen articles are or are not near-duplicates: the evidence and verdict of
        :func:`clustering.explain.explain_dedup` plus their groups.

        Raises:
            KeyError: an id was not seen since the last ``fit``.
        """
        from clustering.explain import explain_dedup

        a, b = self._articles[id_a], self._articles[id_b]
        ex = explain_dedup(a.content, b.content, self._params, title_a=a.title, title_b=b.title)
        ex.groups = (self._members[id_a].group_id, self._members[id_b].group_id)
        ex.same_group = ex.groups[0] == ex.groups[1]
        return ex.as_dict()

    def groups(self) -> dict[str, list[str]]:
        """Group id -> member ids in input order (singletons included)."""
        out: dict[str, list[str]] = {}
        for i, g in zip(self.ids_, self.group_ids_):
            out.setdefault(g, []).append(i)
        return out
