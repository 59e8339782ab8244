"""The learned story scorer: P(same story) from the similarity features of :mod:`.features`.

A logistic regression (scikit-learn ``LogisticRegression``; Pedregosa et al. 2011) over
:data:`~clustering.stories.features.FEATURE_NAMES`, as Miranda et al. (2018, EMNLP,
"Multilingual Clustering of Streaming News") weight TF-IDF and time similarities with a model
trained on labelled stories. Its output is a probability, so one threshold (0.5) means the
same for headlines and articles, online and batch.

The fitted weights ship as a small versioned JSON file beside this module
(:data:`DEFAULT_WEIGHTS`, written by ``benchmarks/train_scorer.py``); no pickle. Standardisation
is folded into the weights, so scoring is ``sigmoid(X @ coef + intercept)``.

:func:`fit_scorer` refits on a user's own labels (items with gold story labels), e.g. for a
``news-cluster train`` command: it samples item pairs (:func:`training_pairs`), computes
their features (:class:`~clustering.stories.features.PairBatch`) and fits.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .features import FEATURE_NAMES, PairBatch

__all__ = [
    "DEFAULT_WEIGHTS",
    "FORMAT_VERSION",
    "StoryScorer",
    "default_scorer",
    "fit_features",
    "fit_scorer",
    "training_pairs",
]

#: The shipped weights (JSON).
DEFAULT_WEIGHTS = Path(__file__).with_name("scorer_v1.json")
#: Version of the JSON layout read by :meth:`StoryScorer.load`.
FORMAT_VERSION = 1


@dataclass(frozen=True)
class StoryScorer:
    """A fitted logistic model over the story features.

    Attributes:
        coef: (F,) weights, one per name in ``features``.
        intercept: bias (logit units).
        features: feature names, must equal :data:`FEATURE_NAMES` to score.
        threshold: probability at or above which an item joins a story (0.5).
        meta: provenance (training data, counts, date), free-form JSON.
    """

    coef: tuple[float, ...]
    intercept: float
    features: tuple[str, ...] = FEATURE_NAMES
    threshold: float = 0.5
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if tuple(self.features) != FEATURE_NAMES:
            raise ValueError(
                f"scorer features {list(self.features)} do not match this version's "
                f"{list(FEATURE_NAMES)}; refit it (benchmarks/train_scorer.py or fit_scorer)")
        if len(self.coef) != len(FEATURE_NAMES):
            raise ValueError(f"coef has {len(self.coef)} entries, expected {len(FEATURE_NAMES)}")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold}")

    def logit(self, X: np.ndarray) -> np.ndarray:
        """``X @ coef + intercept`` for features X of shape S + (F,): shape S."""
        return np.asarray(X, dtype=np.float64) @ np.asarray(self.coef) + self.intercept

    def proba(self, X: np.ndarray) -> np.ndarray:
        """P(same story) for features X of shape S + (F,): float64 of shape S, in (0, 1)."""
        z = np.clip(self.logit(X), -40.0, 40.0)
        return 1.0 / (1.0 + np.exp(-z))

    def to_dict(self) -> dict[str, Any]:
        """The JSON layout (``format_version``, ``features``, ``coef``, ``intercept``, ...)."""
        return {"format_version": FORMAT_VERSION, "model": "logistic",
                "features": list(self.features), "coef": [float(c) for c in self.coef],
                "intercept": float(self.intercept), "threshold": self.threshold,
                "meta": dict(self.meta)}

    def save(self, path: str | Path) -> None:
        """Write :meth:`to_dict` as JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StoryScorer:
        """Inverse of :meth:`to_dict`.

        Raises:
            ValueError: unknown format version or model, or features of another version.
        """
        if d.get("format_version") != FORMAT_VERSION or d.get("model") != "logistic":
            raise ValueError(f"unsupported scorer file: format_version={d.get('format_version')}"
                             f", model={d.get('model')}")
        return cls(tuple(float(c) for c in d["coef"]), float(d["intercept"]),
                   tuple(d["features"]), float(d.get("threshold", 0.5)), dict(d.get("meta", {})))

    @classmethod
    def load(cls, path: str | Path = DEFAULT_WEIGHTS) -> StoryScorer:
        """Read a scorer JSON file (default: the shipped weights)."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


_DEFAULT: StoryScorer | None = None


def default_scorer() -> StoryScorer:
    """The shipped scorer (:data:`DEFAULT_WEIGHTS`), loaded once per process."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = StoryScorer.load()
    return _DEFAULT


def training_pairs(labels: Sequence[Hashable], emb: np.ndarray, *,
                   groups: Sequence[Hashable] | None = None, max_pos: int = 20_000,
                   hard_per_item: int = 5, random_per_item: int = 5,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Item pairs to train on: positives, hard negatives and random negatives.

    * positives: pairs with the same label (a random ``max_pos`` of them when there are more);
    * hard negatives: every different-label pair inside one group (e.g. an ECB+ topic, whose
      two stories are events of the same kind), and for each item its ``hard_per_item``
      most similar different-label items by embedding cosine;
    * random negatives: ``random_per_item`` different-label items per item.

    Args:
        labels: (n,) gold story labels.
        emb: (n, d) L2-normalised embeddings (for the hard negatives).
        groups: (n,) group labels, or None.
        max_pos, hard_per_item, random_per_item: sample sizes.
        seed: random seed (the sample is deterministic for a given seed).

    Returns:
        ``(ii, jj, y)``: int64 index arrays with ii < jj, distinct pairs, and y in {0, 1}.
    """
    rng = np.random.default_rng(seed)
    lab = np.unique(np.asarray([str(x) for x in labels]), return_inverse=True)[1]
    n = lab.size
    emb = np.asarray(emb, dtype=np.float32)
    pairs: set[tuple[int, int]] = set()
    pos: list[tuple[int, int]] = []
    for c in np.unique(lab):
        m = np.flatnonzero(lab == c)
        a, b = np.triu_indices(m.size, 1)
        pos += list(zip(m[a].tolist(), m[b].tolist()))
    if len(pos) > max_pos:
        pos = [pos[k] for k in sorted(rng.choice(len(pos), max_pos, replace=False))]
    pairs.update(pos)
    if groups is not None:
        g = np.unique(np.asarray([str(x) for x in groups]), return_inverse=True)[1]
        for c in np.unique(g):
            m = np.flatnonzero(g == c)
            a, b = np.triu_indices(m.size, 1)
            keep = lab[m[a]] != lab[m[b]]
            pairs.update(zip(m[a][keep].tolist(), m[b][keep].tolist()))
    for s in range(0, n, 1024):
        sims = emb[s:s + 1024] @ emb.T
        for r in range(sims.shape[0]):
            i = s + r
            row = np.where(lab == lab[i], -np.inf, sims[r])
            k = min(hard_per_item, n - 1)
            if k > 0:
                for j in np.argpartition(-row, k - 1)[:k].tolist():
                    if np.isfinite(row[j]):
                        pairs.add((min(i, j), max(i, j)))
    if random_per_item > 0 and n > 1:
        ii = np.repeat(np.arange(n), random_per_item)
        jj = rng.integers(0, n, ii.size)
        for i, j in zip(ii.tolist(), jj.tolist()):
            if lab[i] != lab[j]:
                pairs.add((min(i, j), max(i, j)))
    arr = np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
    y = (lab[arr[:, 0]] == lab[arr[:, 1]]).astype(np.int64)
    return arr[:, 0], arr[:, 1], y


def fit_features(X: np.ndarray, y: np.ndarray, *, C: float = 1.0,
                 sample_weight: np.ndarray | None = None,
                 meta: Mapping[str, Any] | None = None) -> StoryScorer:
    """Fit the logistic model on a feature matrix (m, F) and labels (m,) in {0, 1}.

    Features are standardised for the fit (L2 penalty ``C`` acts on standardised weights) and
    the scaling is folded back into ``coef`` / ``intercept``.

    Raises:
        ValueError: when y holds a single class or shapes disagree.
    """
    from sklearn.linear_model import LogisticRegression

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != len(FEATURE_NAMES) or X.shape[0] != y.shape[0]:
        raise ValueError(f"X must be (m, {len(FEATURE_NAMES)}) with m = len(y), got {X.shape}")
    if np.unique(y).size < 2:
        raise ValueError("need both same-story and different-story pairs to fit")
    mu = X.mean(axis=0)
    sd = X.std(axis=0)
    sd[sd == 0] = 1.0
    lr = LogisticRegression(C=C, max_iter=2000)
    lr.fit((X - mu) / sd, y, sample_weight=sample_weight)
    coef = lr.coef_[0] / sd
    intercept = float(lr.intercept_[0] - np.sum(lr.coef_[0] * mu / sd))
    return StoryScorer(tuple(float(c) for c in coef), intercept, meta=dict(meta or {}))


def fit_scorer(batches: Sequence[tuple[PairBatch, Sequence[Hashable]]] | PairBatch,
               labels: Sequence[Hashable] | None = None, *,
               groups: Sequence[Sequence[Hashable] | None] | None = None, C: float = 1.0,
               seed: int = 0, meta: Mapping[str, Any] | None = None) -> StoryScorer:
    """Fit a scorer on items with gold story labels.

    Args:
        batches: a :class:`~clustering.stories.features.PairBatch` (with ``labels``), or a
            list of ``(batch, labels)`` (several labelled sets; each set weighs the same in the
            fit, whatever its number of pairs).
        labels: (n,) gold labels when ``batches`` is a single batch.
        groups: per set, group labels for hard negatives (see :func:`training_pairs`) or None.
        C: inverse L2 penalty.
        seed: pair-sampling seed.
        meta: provenance stored with the weights.

    Returns:
        A :class:`StoryScorer`.
    """
    if isinstance(batches, PairBatch):
        if labels is None:
            raise ValueError("labels are required with a single batch")
        batches = [(batches, labels)]
    groups = list(groups) if groups is not None else [None] * len(batches)
    Xs, ys, ws = [], [], []
    for (b, lab), grp in zip(batches, groups):
        ii, jj, y = training_pairs(lab, b.emb, groups=grp, seed=seed)
        Xs.append(b.pairs(ii, jj))
        ys.append(y)
        ws.append(np.full(y.size, 1.0 / y.size))
    w = np.concatenate(ws)
    return fit_features(np.concatenate(Xs), np.concatenate(ys), C=C,
                        sample_weight=w * w.size / w.sum(), meta=meta)
