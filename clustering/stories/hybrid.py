"""Story clustering with the learned scorer, batch and online, sharing one probability.

* :func:`prepare`: the per-item inputs (terms, guard features) from titles and texts.
* :func:`probability_matrix` / :func:`cluster_hybrid_batch`: P(same story) of all pairs of a
  batch, then agglomerative clustering (average linkage) over ``1 - p``, cut by
  :func:`cut_linkage`: clusters merge while the average probability between them is at least
  the linkage threshold (:func:`link_threshold`: ``StoryParams.link_article`` for full
  articles, ``link_headline`` for headline-only items, in between for a mix).
* :class:`HybridStories` / :func:`assign_hybrid_online`: single pass, each item scored against
  the active stories (mean embedding, sparse centroids of title, text and entities,
  representative guard features, last time, headline and Arabic fractions; the few best then
  rescored as the mean probability against up to ``max_members`` kept members, the
  average-linkage score of batch mode), the best probability >= the pair threshold (0.5)
  joins, otherwise a new story (Miranda et al. 2018, EMNLP, "Multilingual Clustering of
  Streaming News"); an item that bridges two stories merges them when their members' average
  probability reaches the pair threshold.
* :func:`assign_hybrid_minibatch`: the engine's online mode: each chunk of items is clustered
  by :func:`cluster_hybrid_batch` first, then each cluster is matched to the active stories
  (joining at the linkage threshold); chunks of one item are :func:`assign_hybrid_online`.

Order: batch mode does not depend on input order (the distance matrix is permuted with the
items; ties between equal distances are the only exception and are measured not to occur on
real data, see ``tests/test_stories_hybrid.py``). Online mode is deterministic for a given
order, but order matters, as in any single-pass clusterer: an item joins the best story that
exists *when it arrives*, stories merge later only through a bridging item and never split,
and document frequencies (hence idf weights) grow as items arrive.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from clustering.config import StoryParams

from .features import PairBatch, compose
from .guard import GuardFeatures, guard_features
from .scorer import StoryScorer, default_scorer
from .sparse import DocumentFrequencies, ItemTerms, SparseCentroid, item_terms, tfidf

__all__ = [
    "HybridAssignment",
    "HybridStories",
    "assign_hybrid_minibatch",
    "assign_hybrid_online",
    "cluster_hybrid_batch",
    "cut_linkage",
    "link_threshold",
    "prepare",
    "probability_matrix",
    "split_incoherent",
]

_BLOCK = 256
#: Members of a mini-batch cluster (evenly spread) scored against a story's kept members.
CLUSTER_SAMPLE = 16
SECONDS_PER_DAY = 86_400.0
#: (full articles, headline-only) linkage thresholds of the engine's defaults.
LINK = (StoryParams.link_article, StoryParams.link_headline)
#: (full articles, headline-only) bars of the story-story merges of online mode.
MERGE_BAR = (StoryParams.merge_article, StoryParams.merge_headline)


def link_threshold(headline_fraction, link: tuple[float, float] = LINK):
    """The linkage score at which two groups of items join: ``link[0]`` for full articles,
    ``link[1]`` for headline-only items, linear in between by the fraction (0-1, clipped) of
    headline-only items among both groups. A float for a float, an array for an array."""
    art, head = link
    return art + (head - art) * np.clip(headline_fraction, 0.0, 1.0)


def cut_linkage(P: np.ndarray, headline_only: np.ndarray, link: tuple[float, float] = LINK,
                method: str = "average") -> np.ndarray:
    """Agglomerative clustering over ``1 - P``, each merge held to its own threshold.

    The dendrogram (SciPy's ``linkage``: average linkage is UPGMA) is read from the root down:
    a node whose merge distance is at most ``1 - link_threshold(h)``, with ``h`` the fraction
    of headline-only items under it, is one cluster; otherwise its two children are read the
    same way. With ``link[0] == link[1]`` this is the usual cut at one distance threshold
    (scikit-learn's ``AgglomerativeClustering(distance_threshold=...)``), since these
    linkages never merge below an earlier merge.

    Args:
        P: (n, n) symmetric P(same story) (the diagonal is ignored).
        headline_only: (n,) bool or 0/1.
        link: (full-article, headline-only) thresholds, each in (0, 1].
        method: "average", "complete" or "single".

    Returns:
        (n,) int64 labels (arbitrary numbering).
    """
    from scipy.cluster.hierarchy import linkage as _linkage
    from scipy.spatial.distance import squareform

    n = P.shape[0]
    if n < 2:
        return np.zeros(n, dtype=np.int64)
    dist = 1.0 - np.asarray(P, dtype=np.float64)
    np.fill_diagonal(dist, 0.0)
    Z = _linkage(squareform(np.clip(dist, 0.0, None), checks=False), method=method)
    kids = Z[:, :2].astype(np.int64)
    heads = np.zeros(2 * n - 1)
    heads[:n] = np.asarray(headline_only, dtype=np.float64)
    for i in range(n - 1):
        heads[n + i] = heads[kids[i, 0]] + heads[kids[i, 1]]
    ok = Z[:, 2] <= 1.0 - link_threshold(heads[n:] / Z[:, 3], link) + 1e-12
    label = np.full(2 * n - 1, -1, dtype=np.int64)
    nxt = 0
    for i in range(n - 2, -1, -1):  # parents come after their children in Z
        node = n + i
        if label[node] < 0 and ok[i]:
            label[node] = nxt
            nxt += 1
        if label[node] >= 0:
            label[kids[i]] = label[node]
    for leaf in np.flatnonzero(label[:n] < 0):
        label[leaf] = nxt
        nxt += 1
    return label[:n]


def prepare(titles: Sequence[str], texts: Sequence[str]) -> tuple[list[ItemTerms],
                                                                   list[GuardFeatures]]:
    """Terms (:func:`~clustering.stories.sparse.item_terms`) and guard features
    (:func:`~clustering.stories.guard.guard_features`) of n items."""
    if len(titles) != len(texts):
        raise ValueError(f"{len(titles)} titles but {len(texts)} texts")
    return ([item_terms(t, x) for t, x in zip(titles, texts)],
            [guard_features(t, x) for t, x in zip(titles, texts)])


def probability_matrix(batch: PairBatch, scorer: StoryScorer | None = None) -> np.ndarray:
    """(n, n) float64 P(same story) of all pairs, diagonal 1.0, symmetric."""
    scorer = scorer or default_scorer()
    n = batch.n
    p = np.empty((n, n), dtype=np.float64)
    for a in range(0, n, _BLOCK):
        b = min(n, a + _BLOCK)
        p[a:b] = scorer.proba(batch.block(a, b))
    p = 0.5 * (p + p.T)  # exact symmetry (float sums of a sparse product may differ in the ulp)
    np.fill_diagonal(p, 1.0)
    return p


def _first_seen_order(labels: np.ndarray) -> np.ndarray:
    _, first, inv = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(first.size, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    return rank[inv.reshape(-1)]


def split_incoherent(P: np.ndarray, labels: np.ndarray, headline_only: np.ndarray,
                     ratio: float, min_size: int) -> np.ndarray:
    """Cut clusters that hold two coherent groups scoring much lower across than inside.

    Two events of one kind (two boxers' title fights, two players' DUI arrests) give pairs
    that all look likely in absolute terms (P 0.6-0.8 across, 0.9+ inside each event), so
    average linkage at 0.5 joins them; relative to each event's own cohesion they stand apart.
    For each cluster of at least ``2 * min_size`` items, at most half of them headline-only,
    the top split of its average-linkage dendrogram over ``1 - P`` gives halves A and B; when
    both have ``min_size`` items and ``mean P(A, B) < ratio * min(cohesion(A), cohesion(B))``
    (cohesion: mean P over a half's distinct pairs), the cluster is cut and both halves are
    checked again. Headline clusters are left alone: headlines of one story scatter in
    wording and sub-groups of them are the rule, not a second event.

    Args:
        P: (n, n) symmetric P(same story).
        labels: (n,) cluster labels (ints).
        headline_only: (n,) bool or 0/1.
        ratio: in (0, 1); 0 returns ``labels`` unchanged.
        min_size: members each half needs (>= 1).

    Returns:
        (n,) int64 labels; a cut-off half gets a new label above the current maximum.

    Source: the split test is this project's (tuned by grouped CV, benchmarks/RESULTS.md); the
    dendrogram is SciPy's average linkage (UPGMA).
    """
    from scipy.cluster.hierarchy import linkage as _linkage
    from scipy.cluster.hierarchy import to_tree
    from scipy.spatial.distance import squareform

    out = np.asarray(labels, dtype=np.int64).copy()
    if ratio <= 0.0 or out.size < 2 * min_size:
        return out
    head = np.asarray(headline_only, dtype=bool)
    nxt = int(out.max()) + 1
    todo = [np.flatnonzero(out == c) for c in np.unique(out)]

    def cohesion(sub: np.ndarray) -> float:
        k = sub.shape[0]
        return float((sub.sum() - np.trace(sub)) / (k * (k - 1)))

    while todo:
        ix = todo.pop()
        if ix.size < 2 * min_size or head[ix].mean() > 0.5:
            continue
        sub = P[np.ix_(ix, ix)]
        dist = 1.0 - sub
        np.fill_diagonal(dist, 0.0)
        root = to_tree(_linkage(squareform(dist, checks=False), method="average"))
        a = np.array(root.get_left().pre_order())
        b = np.array(root.get_right().pre_order())
        if a.size < min_size or b.size < min_size:
            continue
        cross = float(sub[np.ix_(a, b)].mean())
        if cross < ratio * min(cohesion(sub[np.ix_(a, a)]), cohesion(sub[np.ix_(b, b)])):
            out[ix[b]] = nxt
            nxt += 1
            todo += [ix[a], ix[b]]
    return out


def cluster_hybrid_batch(batch: PairBatch, scorer: StoryScorer | None = None, *,
                         threshold: float | None = None, link: tuple[float, float] = LINK,
                         linkage: str = "average", max_items: int = 20_000,
                         split_ratio: float = 0.0,
                         split_min: int = StoryParams.split_min) -> np.ndarray:
    """Cluster a batch into stories: agglomerative over ``1 - P(same story)`` cut by
    :func:`cut_linkage`, then :func:`split_incoherent` when ``split_ratio`` > 0 (the engine
    passes ``StoryParams.split_ratio`` and ``split_min``).

    Args:
        batch: the items (:class:`~clustering.stories.features.PairBatch`).
        scorer: default: the shipped :func:`~clustering.stories.scorer.default_scorer`.
        threshold: one linkage threshold for every merge (overrides ``link``).
        link: (full-article, headline-only) linkage thresholds (:func:`link_threshold`);
            default ``StoryParams.link_article`` / ``link_headline``.
        linkage: ``"average"`` (default), ``"complete"`` or ``"single"``.
        max_items: refuse larger batches (O(n^2) memory: 8 n^2 bytes per matrix).
        split_ratio, split_min: see :func:`split_incoherent`; ``split_ratio`` 0 (default
            here) keeps the agglomerative clusters as they are; ``split_min`` defaults to
            ``StoryParams.split_min``.

    Returns:
        (n,) int64 labels numbered in order of each cluster's first item.

    Raises:
        ValueError: if n > ``max_items``.
    """
    scorer = scorer or default_scorer()
    if threshold is not None:
        link = (float(threshold), float(threshold))
    n = batch.n
    if n > max_items:
        raise ValueError(f"cluster_hybrid_batch got {n} items (limit {max_items}); cluster "
                         "time windows or use assign_hybrid_online()")
    if n <= 1:
        return np.zeros(n, dtype=np.int64)
    P = probability_matrix(batch, scorer)
    labels = cut_linkage(P, batch.head, link, linkage)
    if split_ratio > 0.0:
        labels = split_incoherent(P, labels, batch.head, split_ratio, split_min)
    return _first_seen_order(labels)


# ------------------------------------------------------------------------------- online


@dataclass(frozen=True)
class HybridAssignment:
    """Where :func:`assign_hybrid_online` put one item.

    Attributes:
        story_id: the story joined or created.
        probability: P(same story) of the joined story; for a new story the best candidate's
            (below threshold), NaN when there was no candidate.
        created: True when the item started a new story.
        reason: one line for ``explain``.
        merged: stories merged into ``story_id`` at this item (it bridged them), oldest first;
            their earlier items now belong to ``story_id`` (see :meth:`HybridStories.resolve`).
    """

    story_id: str
    probability: float
    created: bool
    reason: str
    merged: tuple[str, ...] = ()


def _guard_flags(a: GuardFeatures, b: GuardFeatures) -> tuple[float, float, float]:
    """(place conflict, number conflict, place agreement) of an item's and a member's or
    story's guard features, as 0/1 floats (numbers count only where places say nothing)."""
    both_p = bool(a.places) and bool(b.places)
    agree = both_p and bool(set(a.places) & (set(b.places) | set(b.regions))
                            or set(b.places) & set(a.regions))
    number = not both_p and bool(a.numbers) and bool(b.numbers) and not set(a.numbers) & set(b.numbers)
    return float(both_p and not agree), float(number), float(agree)


def pack_vector(x) -> str:
    """A float32 vector as base64 of its little-endian bytes (exact; 2,048 characters for 384
    dimensions against ~7,500 as JSON numbers)."""
    return base64.b64encode(np.asarray(x, dtype="<f4").tobytes()).decode("ascii")


def unpack_vector(v) -> np.ndarray:
    """Inverse of :func:`pack_vector`; also takes a list of numbers (states stored before
    vectors were packed). Returns a writable float32 array (d,).

    Raises:
        ValueError: a string that is not base64 of whole float32 values.
    """
    if isinstance(v, str):
        raw = base64.b64decode(v, validate=True)
        if len(raw) % 4:
            raise ValueError(f"packed vector of {len(raw)} bytes is not float32 values")
        return np.frombuffer(raw, dtype="<f4").astype(np.float32)
    return np.asarray(v, dtype=np.float32)


def member_record(x, t, vecs, guard: GuardFeatures | None, terms: ItemTerms) -> tuple:
    """One kept member as :class:`HybridStories` holds it: (embedding, (title, text, entity)
    TF-IDF vectors, guard features, headline-only, arabic, time)."""
    return (np.asarray(x, dtype=np.float32).copy(), tuple(vecs), guard or GuardFeatures(),
            float(terms.headline_only), float(terms.arabic), t)


def members_probability(ma: Sequence[tuple], mb: Sequence[tuple], scorer: StoryScorer) -> float:
    """Mean P(same story) over all pairs of two lists of :func:`member_record` tuples (the
    average-linkage score of two clusters)."""
    from .sparse import dot

    ii, jj = np.divmod(np.arange(len(ma) * len(mb)), len(mb))
    emb = (np.stack([m[0] for m in ma]) @ np.stack([m[0] for m in mb]).T).ravel()
    sims = [np.array([dot(ma[i][1][f], mb[j][1][f]) for i, j in zip(ii, jj)]) for f in range(3)]
    flags = np.array([_guard_flags(ma[i][2], mb[j][2]) for i, j in zip(ii, jj)]).reshape(-1, 3)
    fa = np.array([[ma[i][3], ma[i][4], ma[i][5]] for i in ii]).reshape(-1, 3)
    fb = np.array([[mb[j][3], mb[j][4], mb[j][5]] for j in jj]).reshape(-1, 3)
    gap = np.abs(fa[:, 2] - fb[:, 2]) / SECONDS_PER_DAY
    X = compose(emb, sims[0], sims[1], sims[2], flags[:, 0], flags[:, 1], flags[:, 2],
                fa[:, 0], fb[:, 0], fa[:, 1], fb[:, 1], gap)
    return float(np.mean(scorer.proba(X)))


class HybridStories:
    """State of the active stories for :func:`assign_hybrid_online` (mutable, in insertion
    order, which is also the tie-break).

    Per story: embedding sum (float32, d), member count, last time (epoch s, NaN = none),
    up to ``max_members`` members kept whole (the first and the most recent: embedding, sparse
    vectors, guard features, flags, time),
    sparse centroids of title / text / entity TF-IDF vectors (:class:`SparseCentroid`, at most
    ``top_k`` terms each), the guard features of its representative (first member with any
    numbers or places), the number of headline-only and of Arabic members. :meth:`to_dict` /
    :meth:`from_dict` give JSON-able rows for storage.

    Args:
        dim: embedding dimension.
        top_k: terms kept per sparse centroid.
        max_members: members kept per story for :meth:`member_probability`.
    """

    def __init__(self, dim: int, top_k: int = 64, max_members: int = 8) -> None:
        self.dim = int(dim)
        self.top_k = int(top_k)
        self.max_members = int(max_members)
        #: per story, up to ``max_members`` members (the first, then the most recent) as
        #: (embedding, (title, text, entity) vectors, guard, headline-only, arabic, time)
        self.members: list[list[tuple]] = []
        self.ids: list[str] = []
        self._pos: dict[str, int] = {}
        # embedding sums in a buffer that doubles when full: a vstack per new story copied
        # every row each time (quadratic: ~15 ms per story at 38k stories)
        self._sums = np.zeros((16, self.dim), dtype=np.float32)
        self.sizes: list[int] = []
        self.last: list[float] = []
        self.cent: list[tuple[SparseCentroid, SparseCentroid, SparseCentroid]] = []
        self.guards: list[GuardFeatures] = []
        self.n_head: list[int] = []
        self.n_ar: list[int] = []
        #: False for a story merged into another (its row stays, never a candidate again)
        self.alive: list[bool] = []
        #: merged story id -> the story it was merged into
        self.merged_into: dict[str, str] = {}

    @property
    def sums(self) -> np.ndarray:
        """(stories, d) float32 embedding sums, one row per story (a view: writable)."""
        return self._sums[:len(self.ids)]

    def _grow(self) -> None:
        if len(self.ids) > self._sums.shape[0]:
            bigger = np.zeros((2 * len(self.ids), self.dim), dtype=np.float32)
            bigger[:self._sums.shape[0]] = self._sums
            self._sums = bigger

    def __contains__(self, sid: object) -> bool:
        """True when ``sid`` is (or was, before a merge) a story of this state."""
        return sid in self._pos

    def is_candidate(self, sid: str) -> bool:
        """True when ``sid`` is a story of this state that new items may still join (not
        retired, not merged away)."""
        row = self._pos.get(sid)
        return row is not None and bool(self.alive[row]) and sid not in self.merged_into

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, sid: str, x, t, vecs, guard, terms: ItemTerms) -> None:
        """Start story ``sid`` with one member."""
        if sid in self._pos:
            raise ValueError(f"story id {sid!r} already exists")
        self._pos[sid] = len(self.ids)
        self.ids.append(sid)
        self._grow()
        self.sums[-1] = 0.0
        self.sizes.append(0)
        self.last.append(float("nan"))
        self.cent.append(tuple(SparseCentroid(self.top_k) for _ in range(3)))
        self.guards.append(GuardFeatures())
        self.n_head.append(0)
        self.n_ar.append(0)
        self.members.append([])
        self.alive.append(True)
        self.join(len(self.ids) - 1, x, t, vecs, guard, terms)

    def join(self, row: int, x, t, vecs, guard, terms: ItemTerms) -> None:
        """Add one member to the story in ``row``."""
        self.sums[row] += np.asarray(x, dtype=np.float32)
        self.sizes[row] += 1
        if not math.isnan(t):
            self.last[row] = t if math.isnan(self.last[row]) else max(self.last[row], t)
        for c, v in zip(self.cent[row], vecs):
            c.add(v)
        if self.guards[row].empty and guard is not None and not guard.empty:
            self.guards[row] = guard
        self.n_head[row] += int(terms.headline_only)
        self.n_ar[row] += int(terms.arabic)
        m = self.members[row]
        m.append(member_record(x, t, vecs, guard, terms))
        if len(m) > self.max_members:
            del m[1]  # keep the first member and the most recent ones

    def to_dict(self, row: int) -> dict:
        """One story as a JSON-able dict. Vectors (the embedding sum and each kept member's
        embedding) are :func:`pack_vector` strings: exact float32, ~4x smaller than JSON
        numbers and faster to read back."""
        return {"id": self.ids[row], "sum": pack_vector(self.sums[row]), "size": self.sizes[row],
                "last_seen": self.last[row],
                "title": self.cent[row][0].to_dict(), "text": self.cent[row][1].to_dict(),
                "entities": self.cent[row][2].to_dict(), "guard": self.guards[row].to_dict(),
                "n_headline": self.n_head[row], "n_arabic": self.n_ar[row],
                "members": [{"emb": pack_vector(e), "title": v[0], "text": v[1], "entities": v[2],
                             "guard": g.to_dict(), "headline_only": h, "arabic": a, "time": tt}
                            for e, v, g, h, a, tt in self.members[row]]}

    def to_json(self, row: int) -> str:
        """:meth:`to_dict` as the JSON text the store keeps (non-ASCII terms as UTF-8, not
        ``\\u`` escapes: Arabic terms take a third of the bytes)."""
        return json.dumps(self.to_dict(row), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dicts(cls, rows: Sequence[dict], dim: int, top_k: int = 64) -> HybridStories:
        """Inverse of :meth:`to_dict` over a list of stories."""
        st = cls(dim, top_k)
        st._sums = np.zeros((max(16, len(rows)), st.dim), dtype=np.float32)
        for k, r in enumerate(rows):
            st._pos[r["id"]] = len(st.ids)
            st.ids.append(r["id"])
            st._sums[k] = unpack_vector(r["sum"])
            st.sizes.append(int(r["size"]))
            st.last.append(float(r["last_seen"]))
            st.cent.append(tuple(SparseCentroid.from_dict(r[k])
                                 for k in ("title", "text", "entities")))
            st.guards.append(GuardFeatures.from_dict(r["guard"]))
            st.n_head.append(int(r["n_headline"]))
            st.n_ar.append(int(r["n_arabic"]))
            st.alive.append(True)
            st.members.append([(unpack_vector(m["emb"]),
                                (m["title"], m["text"], m["entities"]),
                                GuardFeatures.from_dict(m["guard"]), float(m["headline_only"]),
                                float(m["arabic"]), float(m["time"]))
                               for m in r.get("members", [])])
        return st

    def resolve(self, sid: str) -> str:
        """The story that ``sid`` now is (itself, or the story it was merged into, transitively)."""
        while sid in self.merged_into:
            sid = self.merged_into[sid]
        return sid

    def story_probability(self, a: int, b: int, scorer: StoryScorer) -> float:
        """Mean P(same story) over all pairs of kept members of stories ``a`` and ``b``: the
        average-linkage score between two clusters in :func:`cluster_hybrid_batch` (exact for
        stories of at most ``max_members`` members)."""
        return members_probability(self.members[a], self.members[b], scorer)

    def join_threshold(self, row: int, n_head: float, n: int,
                       link: tuple[float, float] = LINK) -> float:
        """Linkage threshold (:func:`link_threshold`) for story ``row`` and ``n`` more items of
        which ``n_head`` are headline-only."""
        return link_threshold((self.n_head[row] + n_head) / max(1, self.sizes[row] + n), link)

    def retire(self, sid: str) -> None:
        """Story ``sid`` is no longer active (went quiet): never a candidate again."""
        row = self._pos.get(sid)
        if row is not None:
            self.alive[row] = False

    def absorb(self, keep: int, gone: int) -> None:
        """Merge story ``gone`` into story ``keep``: sums, sizes, centroids and counts add up;
        the kept members are ``keep``'s first one and the most recent of both."""
        self.sums[keep] += self.sums[gone]
        self.sizes[keep] += self.sizes[gone]
        lk, lg = self.last[keep], self.last[gone]
        self.last[keep] = lg if math.isnan(lk) else lk if math.isnan(lg) else max(lk, lg)
        for c, o in zip(self.cent[keep], self.cent[gone]):
            c.merge(o)
        if self.guards[keep].empty:
            self.guards[keep] = self.guards[gone]
        self.n_head[keep] += self.n_head[gone]
        self.n_ar[keep] += self.n_ar[gone]
        first, rest = self.members[keep][0], self.members[keep][1:] + self.members[gone]
        rest.sort(key=lambda m: -math.inf if math.isnan(m[5]) else m[5])
        self.members[keep] = [first] + rest[-(self.max_members - 1):]
        self.alive[gone] = False
        self.sizes[gone] = 0
        self.merged_into[self.ids[gone]] = self.ids[keep]

    def member_probability(self, rows: np.ndarray, x, t, vecs, guard: GuardFeatures,
                           terms: ItemTerms, scorer: StoryScorer) -> np.ndarray:
        """Mean P(same story) of one item against the kept members of each story in ``rows``:
        the average-linkage score of :func:`cluster_hybrid_batch`, so one threshold means the
        same in both modes (exact for stories of at most ``max_members`` members)."""
        item = [member_record(x, t, vecs, guard, terms)]
        return np.array([members_probability(item, self.members[r], scorer) for r in rows])

    def features(self, rows: np.ndarray, x, t, vecs, guard: GuardFeatures,
                 terms: ItemTerms) -> np.ndarray:
        """Features (len(rows), F) of one item against the stories in ``rows``."""
        size = np.array([self.sizes[r] for r in rows], dtype=np.float64)
        emb = (self.sums[rows] @ np.asarray(x, dtype=np.float32)) / size
        sims = [[self.cent[r][k].mean_dot(vecs[k]) for r in rows] for k in range(3)]
        pc, nc, pa = [], [], []
        for r in rows:
            c, n, a = _guard_flags(guard, self.guards[r])
            pc.append(c)
            nc.append(n)
            pa.append(a)
        last = np.array([self.last[r] for r in rows])
        gap = np.abs(t - last) / SECONDS_PER_DAY
        head = np.array([self.n_head[r] for r in rows]) / size
        ar = np.array([self.n_ar[r] for r in rows]) / size
        return compose(emb, sims[0], sims[1], sims[2], np.array(pc), np.array(nc), np.array(pa),
                       float(terms.headline_only), head, float(terms.arabic), ar, gap)


def _checked_inputs(emb, terms, guards, times) -> tuple[np.ndarray, np.ndarray]:
    """(float32 embeddings, float64 times with NaN for None) of an online round; ValueError
    unless emb, terms, guards and times have one entry per item."""
    emb = np.asarray(emb, dtype=np.float32)
    n = emb.shape[0]
    t_all = np.full(n, np.nan) if times is None else np.asarray(times, dtype=np.float64)
    if len(terms) != n or len(guards) != n or t_all.shape != (n,):
        raise ValueError("emb, terms, guards and times must have the same length")
    return emb, t_all


def assign_hybrid_online(
    stories: HybridStories,
    emb: np.ndarray,
    terms: Sequence[ItemTerms],
    guards: Sequence[GuardFeatures | None],
    times,
    df: DocumentFrequencies,
    new_story_id: Callable[[], str],
    scorer: StoryScorer | None = None,
    *,
    active_days: float = 7.0,
    max_candidates: int = 50,
    update_df: bool = True,
    by_members: bool = True,
    member_candidates: int = 5,
    merge: bool = True,
    merge_floor: float = 0.3,
    merge_bar: tuple[float, float] = MERGE_BAR,
) -> list[HybridAssignment]:
    """Assign items one by one to the active stories (best P >= threshold) or new stories.

    For each item (in the given order): its TF-IDF vectors are built with the current document
    frequencies (then, with ``update_df``, the item is counted in ``df``); candidates are the
    stories last seen within ``active_days`` of it (all, when either time is unknown), the
    ``max_candidates`` best by mean embedding cosine; the scorer gives each a probability and
    the best at or above ``scorer.threshold`` takes the item (ties: the older story). (One
    item's mean P against a story is held to the pair threshold, not to the lower linkage
    thresholds of :func:`cluster_hybrid_batch`: joining items one by one at the lower
    thresholds chains stories together; measured in ``benchmarks/RESULTS.md``.)

    With ``by_members`` (default) a story's probability is the mean P(same story) of the item
    against the story's kept members (:meth:`HybridStories.member_probability`, the
    average-linkage score of batch mode), computed for the ``member_candidates`` stories that
    score best on their average features; otherwise P of the item against the story's average
    features (mean embedding, sparse centroids), which scores lower (see benchmarks/RESULTS.md).

    With ``merge`` (default, needs ``by_members``), an item that joins a story also bridges: each
    other rescored story with P >= ``merge_floor`` for the item is merged with the joined one
    when the average-linkage score between the two stories' kept members
    (:meth:`HybridStories.story_probability`) is at or above the merge bar (``merge_bar``:
    (full articles, headline-only), in between by the headline-only fraction of both stories,
    as :func:`link_threshold`), as batch mode's average linkage would merge them. The older
    story keeps its id; the assignment lists the stories merged away (single pass otherwise:
    nothing is ever split).

    Args:
        stories: state, updated in place.
        emb: (n, d) L2-normalised embeddings.
        terms, guards: per item (see :func:`prepare`).
        times: (n,) epoch seconds (NaN = unknown) or None.
        df: document frequencies, updated in place when ``update_df``.
        new_story_id: called for each new story.
        scorer: default: the shipped scorer.

    Returns:
        One :class:`HybridAssignment` per item, in input order.
    """
    scorer = scorer or default_scorer()
    emb, t_all = _checked_inputs(emb, terms, guards, times)
    n = emb.shape[0]
    out: list[HybridAssignment] = []
    for j in range(n):
        x, t, it = emb[j], float(t_all[j]), terms[j]
        g = guards[j] or GuardFeatures()
        vecs = (tfidf(it.title, df), tfidf(it.text, df), tfidf(it.entities, df))
        if update_df:
            df.update([it])
        k = len(stories)
        best_row, best_p = -1, float("nan")
        if k:
            last = np.array(stories.last)
            ok = np.isnan(last) | math.isnan(t) | (np.abs(t - last) <= active_days * SECONDS_PER_DAY)
            ok &= np.array(stories.alive, dtype=bool)
            rows = np.flatnonzero(ok)
            if rows.size:
                sizes = np.array([stories.sizes[r] for r in rows], dtype=np.float64)
                cos = (stories.sums[rows] @ x) / sizes
                if rows.size > max_candidates:
                    top = np.lexsort((rows, -cos))[:max_candidates]
                    rows = np.sort(rows[top])
                p = scorer.proba(stories.features(rows, x, t, vecs, g, it))
                if by_members:
                    # rescore the few best stories by their members (average linkage)
                    top = np.lexsort((rows, -p))[:member_candidates]
                    p = np.full(rows.size, -1.0)
                    p[top] = stories.member_probability(rows[top], x, t, vecs, g, it, scorer)
                o = int(np.lexsort((rows, -p))[0])
                best_row, best_p = int(rows[o]), float(p[o])
        thr = scorer.threshold
        if best_row >= 0 and best_p >= thr:
            stories.join(best_row, x, t, vecs, g, it)
            why = f"P(same story) {best_p:.3f} >= {thr:.3f}"
            merged: list[str] = []
            if merge and by_members:
                best_row, merged, notes = _merge_bridged(stories, best_row, rows, p, scorer,
                                                         merge_floor, merge_bar)
                why += notes
            sid = stories.ids[best_row]
            out.append(HybridAssignment(sid, best_p, False, f"joined {sid}: {why}", tuple(merged)))
            continue
        sid = new_story_id()
        stories.add(sid, x, t, vecs, g, it)
        why = ("new story: no active story" if best_row < 0 else
               f"new story: best {stories.ids[best_row]} P(same story) {best_p:.3f} < {thr:.3f}")
        out.append(HybridAssignment(sid, best_p, True, why))
    return out


def assign_hybrid_minibatch(
    stories: HybridStories,
    emb: np.ndarray,
    terms: Sequence[ItemTerms],
    guards: Sequence[GuardFeatures | None],
    times,
    df: DocumentFrequencies,
    new_story_id: Callable[[], str],
    scorer: StoryScorer | None = None,
    *,
    chunk: int = 1000,
    active_days: float = 7.0,
    max_candidates: int = 50,
    member_candidates: int = 5,
    merge: bool = True,
    merge_floor: float = 0.3,
    merge_bar: tuple[float, float] = MERGE_BAR,
    split_ratio: float = 0.0,
    split_min: int = StoryParams.split_min,
    link: tuple[float, float] = LINK,
) -> list[HybridAssignment]:
    """Online assignment in mini-batches: cluster each ``chunk`` of items among themselves, then
    match each cluster to the active stories.

    The items (in the given order, which should be arrival order) are cut into consecutive
    chunks of ``chunk`` items. A chunk of one item goes through :func:`assign_hybrid_online`
    unchanged (a feed posting item by item gets exactly that). A larger chunk is first counted
    in ``df`` and clustered by :func:`cluster_hybrid_batch` (average linkage over
    ``1 - P(same story)``, as batch mode); each of its clusters (in order of first item) then
    joins the active story with the best average-linkage probability between the cluster's
    members (up to ``stories.max_members`` of them) and the story's kept members, among the
    ``member_candidates`` stories nearest by mean embedding, if that probability is at or above
    the linkage threshold (:func:`link_threshold` of the headline-only fraction of both);
    otherwise the cluster starts a new story. With ``merge`` the joined story is
    then merged with each other candidate at P >= ``merge_floor`` whose story-story
    probability (:meth:`HybridStories.story_probability`) reaches the merge bar, as in
    :func:`assign_hybrid_online`.

    So a whole file ingested at once is clustered as batch mode clusters it (one chunk per
    ``chunk`` items), without batch mode's O(n^2) cost over the whole input.

    Args:
        stories, emb, terms, guards, times, df, new_story_id, scorer: as
            :func:`assign_hybrid_online`.
        chunk: items per mini-batch (>= 1); memory and time per chunk grow as chunk^2
            (8 chunk^2 bytes per probability matrix).
        split_ratio, split_min, link: passed to :func:`cluster_hybrid_batch` for each chunk
            (``link`` also decides a cluster's join to a story; a chunk of one item is
            :func:`assign_hybrid_online`, held to the pair threshold).
        merge_floor, merge_bar: the bridging merges, as :func:`assign_hybrid_online`.

    Returns:
        One :class:`HybridAssignment` per item, in input order.

    Raises:
        ValueError: on length mismatches or ``chunk < 1``.
    """
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    scorer = scorer or default_scorer()
    emb, t_all = _checked_inputs(emb, terms, guards, times)
    n = emb.shape[0]
    out: list[HybridAssignment | None] = [None] * n
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        if hi - lo == 1:
            out[lo] = assign_hybrid_online(
                stories, emb[lo:hi], terms[lo:hi], guards[lo:hi], t_all[lo:hi], df, new_story_id,
                scorer, active_days=active_days, max_candidates=max_candidates,
                member_candidates=member_candidates, merge=merge, merge_floor=merge_floor,
                merge_bar=merge_bar)[0]
            continue
        cterms, cguards = list(terms[lo:hi]), [g or GuardFeatures() for g in guards[lo:hi]]
        df.update(cterms)
        labels = cluster_hybrid_batch(PairBatch(emb[lo:hi], cterms, cguards, t_all[lo:hi], df),
                                      scorer, link=link, split_ratio=split_ratio,
                                      split_min=split_min)
        vecs = [(tfidf(it.title, df), tfidf(it.text, df), tfidf(it.entities, df)) for it in cterms]
        before = len(stories)  # batch clustering already kept this chunk's clusters apart
        for lab in range(int(labels.max()) + 1):  # labels are numbered in first-seen order
            idx = [int(k) for k in np.flatnonzero(labels == lab)]
            recs = [member_record(emb[lo + k], float(t_all[lo + k]), vecs[k], cguards[k], cterms[k])
                    for k in idx]
            sample = recs if len(recs) <= CLUSTER_SAMPLE else \
                [recs[int(k)] for k in np.linspace(0, len(recs) - 1, CLUSTER_SAMPLE)]
            best_row, best_p, rows, p = _best_story_for_cluster(
                stories, emb[[lo + k for k in idx]], t_all[[lo + k for k in idx]], sample, scorer,
                active_days, member_candidates, before)
            merged: list[str] = []
            n_head = float(sum(cterms[k].headline_only for k in idx))
            thr = stories.join_threshold(best_row, n_head, len(idx), link) if best_row >= 0 \
                else link_threshold(n_head / len(idx), link)
            if best_row >= 0 and best_p >= thr:
                for k in idx:
                    j = lo + k
                    stories.join(best_row, emb[j], float(t_all[j]), vecs[k], cguards[k], cterms[k])
                why = f"P(same story) {best_p:.3f} >= {thr:.3f}"
                if merge:
                    best_row, merged, notes = _merge_bridged(stories, best_row, rows, p, scorer,
                                                             merge_floor, merge_bar)
                    why += notes
                sid, created = stories.ids[best_row], False
                reason = f"joined {sid} with a mini-batch cluster of {len(idx)}: {why}"
            else:
                sid, created = new_story_id(), True
                k0 = idx[0]
                stories.add(sid, emb[lo + k0], float(t_all[lo + k0]), vecs[k0], cguards[k0], cterms[k0])
                row = len(stories) - 1
                for k in idx[1:]:
                    j = lo + k
                    stories.join(row, emb[j], float(t_all[j]), vecs[k], cguards[k], cterms[k])
                reason = (f"new story with a mini-batch cluster of {len(idx)}" if best_row < 0 else
                          f"new story with a mini-batch cluster of {len(idx)}: best "
                          f"{stories.ids[best_row]} P(same story) {best_p:.3f} < {thr:.3f}")
            mate = (f"joined {sid}: in a mini-batch cluster of {len(idx)} (average-linkage "
                    f"P(same story) at or above the linkage threshold)")
            for m, k in enumerate(idx):
                out[lo + k] = HybridAssignment(sid, best_p, created and m == 0,
                                               reason if m == 0 or not created else mate,
                                               tuple(merged) if m == 0 else ())
    return out  # type: ignore[return-value]


def _merge_bridged(stories: HybridStories, joined: int, rows: np.ndarray, p: np.ndarray,
                   scorer: StoryScorer, floor: float,
                   bar: tuple[float, float]) -> tuple[int, list[str], str]:
    """Merge the story ``joined`` with each candidate of ``rows`` whose probability ``p`` for
    the joining item (or cluster) is at least ``floor``, when the two stories' members average
    P(same story) >= the merge bar (``bar``: (full articles, headline-only), by the
    headline-only fraction of both, as :func:`link_threshold`; merges of stored stories cannot
    be undone: held to a stricter bar than the linkage thresholds); the older story (lower row)
    keeps its id. Returns (the surviving row, the ids merged away, a note for the reason)."""
    keep, merged, notes = joined, [], ""
    for r in sorted(int(r) for r, q in zip(rows, p) if q >= floor and r != joined):
        q = stories.story_probability(keep, r, scorer)
        if q >= stories.join_threshold(keep, stories.n_head[r], stories.sizes[r], bar):
            a, b = min(keep, r), max(keep, r)
            merged.append(stories.ids[b])
            stories.absorb(a, b)
            keep = a
            notes += f"; merged {stories.ids[b]} (stories' P {q:.3f})"
    return keep, merged, notes


def _best_story_for_cluster(stories: HybridStories, cemb: np.ndarray, ctimes: np.ndarray,
                            sample: list[tuple], scorer: StoryScorer, active_days: float,
                            member_candidates: int, rows_before: int
                            ) -> tuple[int, float, np.ndarray, np.ndarray]:
    """(best row or -1, its probability (NaN when none), candidate rows, their probabilities)
    of a mini-batch cluster against the active stories of the first ``rows_before`` rows (those
    that existed before its mini-batch): the ``member_candidates`` nearest by mean embedding,
    scored by :func:`members_probability` of the cluster's ``sample``."""
    none = (-1, float("nan"), np.zeros(0, np.int64), np.zeros(0))
    if not rows_before:
        return none
    last = np.array(stories.last[:rows_before])
    ok = np.array(stories.alive[:rows_before], dtype=bool)
    finite = ctimes[np.isfinite(ctimes)]
    if finite.size:
        lo_t, hi_t = finite.min(), finite.max()
        near = (last >= lo_t - active_days * SECONDS_PER_DAY) & (last <= hi_t + active_days * SECONDS_PER_DAY)
        ok &= np.isnan(last) | near
    rows = np.flatnonzero(ok)
    if not rows.size:
        return none
    sizes = np.array([stories.sizes[r] for r in rows], dtype=np.float64)
    cos = (stories.sums[rows] @ cemb.mean(axis=0)) / sizes
    rows = rows[np.lexsort((rows, -cos))[:member_candidates]]
    p = np.array([members_probability(sample, stories.members[r], scorer) for r in rows])
    o = int(np.lexsort((rows, -p))[0])
    return int(rows[o]), float(p[o]), rows, p
