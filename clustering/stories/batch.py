"""Batch story clustering over a window of items, and reconciliation with stored story ids.

:func:`cluster_batch` runs scikit-learn's ``AgglomerativeClustering`` (hierarchical
agglomerative clustering; Pedregosa et al. 2011, JMLR, "Scikit-learn: Machine Learning in
Python") on a precomputed distance ``1 - story_score(cos, |t_i - t_j|)``, so online and batch
mode share one scoring function and one threshold. Pairs the guard rejects get the maximum
distance (2.0).

Memory is O(n^2): the dense float64 distance matrix (8 n^2 bytes) plus scikit-learn's condensed
copy and triangle indices, about 25 n^2 bytes at peak. Measured on 2 cores (384-d, average
linkage): n = 5,000: 0.7 GB, 8 s; n = 10,000: 2.5 GB, 18 s; so about 10 GB and 1-2 minutes at
n = 20,000. Above
:data:`MAX_BATCH_ITEMS` items :func:`cluster_batch` raises ``ValueError``: cluster per time
window (e.g. a day or a week of items, overlapping) and link windows with :func:`reconcile`, or
use :func:`~clustering.stories.online.assign_online`, which is linear in the number of items.

:func:`reconcile` maps the clusters of a new batch run onto the story ids already stored, so
ids stay stable across runs, and reports merges, splits and new stories as events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .guard import GuardFeatures, guard_conflict
from .scoring import StoryParams, story_score

__all__ = [
    "MAX_BATCH_ITEMS",
    "MAX_DISTANCE",
    "StoryEvent",
    "cluster_batch",
    "distance_matrix",
    "reconcile",
]

#: Largest batch :func:`cluster_batch` accepts (O(n^2) memory; see the module docstring).
MAX_BATCH_ITEMS = 20_000
#: Distance given to pairs the guard rejects (cosine distance ranges over [0, 2]).
MAX_DISTANCE = 2.0
#: Rows of the distance matrix computed per block.
_CHUNK = 2048


def distance_matrix(
    emb: np.ndarray,
    times: Sequence[float] | np.ndarray | None,
    features: Sequence[GuardFeatures] | None,
    params: StoryParams,
) -> tuple[np.ndarray, list[tuple[int, int, str]]]:
    """Dense story distances ``1 - story_score(cos_ij, |t_i - t_j|)``, guard conflicts at 2.0.

    The guard is evaluated only for pairs whose score exceeds ``params.threshold`` (the pairs
    that would otherwise link; the others are already apart) and is at least
    ``params.guard_min_score`` (items otherwise alike), which keeps it to O(links).

    Args:
        emb: (n, d) L2-normalised embeddings.
        times: (n,) epoch seconds (NaN = unknown) or None.
        features: n :class:`GuardFeatures`, or None for no guard.
        params: :class:`StoryParams`.

    Returns:
        ``(D, vetoes)``: D is (n, n) float64 in [0, 2] with a zero diagonal; vetoes lists
        ``(i, j, reason)`` for each pair (i < j) the guard separated.

    Raises:
        ValueError: on shape mismatches.
    """
    emb = np.asarray(emb, dtype=np.float32)
    if emb.ndim != 2:
        raise ValueError(f"emb must be 2-D (n, d), got shape {emb.shape}")
    n = emb.shape[0]
    t = None
    if times is not None:
        t = np.asarray(times, dtype=np.float64)
        if t.shape != (n,):
            raise ValueError(f"times must have shape ({n},), got {t.shape}")
        if np.all(np.isnan(t)):
            t = None
    if features is not None and len(features) != n:
        raise ValueError(f"features must have {n} entries, got {len(features)}")

    D = np.empty((n, n), dtype=np.float64)
    links: list[tuple[np.ndarray, np.ndarray]] = []
    for a in range(0, n, _CHUNK):
        b = min(n, a + _CHUNK)
        cos = emb[a:b] @ emb.T
        gap = None if t is None else t[a:b, None] - t[None, :]
        s = story_score(cos, gap, params)
        if features is not None:
            ii, jj = np.nonzero((s > params.threshold) & (s >= params.guard_min_score))
            keep = jj > ii + a
            links.append((ii[keep] + a, jj[keep]))
        np.subtract(1.0, s, out=D[a:b])
    np.clip(D, 0.0, MAX_DISTANCE, out=D)
    np.fill_diagonal(D, 0.0)

    vetoes: list[tuple[int, int, str]] = []
    if features is not None and links:
        memo: dict[tuple[GuardFeatures, GuardFeatures], str | None] = {}
        for ii, jj in links:
            for i, j in zip(ii.tolist(), jj.tolist()):
                fi, fj = features[i], features[j]
                if fi is None or fj is None or fi.empty or fj.empty:
                    continue
                key = (fi, fj)
                if key not in memo:
                    memo[key] = guard_conflict(fi, fj)
                why = memo[key]
                if why is not None:
                    D[i, j] = D[j, i] = MAX_DISTANCE
                    vetoes.append((i, j, why))
    return D, vetoes


def _first_seen_order(labels: np.ndarray) -> np.ndarray:
    """Relabel so that cluster 0 holds item 0, the next new cluster gets 1, and so on."""
    _, first, inv = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(first.size, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    return rank[inv.reshape(-1)]


def cluster_batch(
    emb: np.ndarray,
    times: Sequence[float] | np.ndarray | None,
    features: Sequence[GuardFeatures] | None,
    params: StoryParams,
    *,
    max_items: int = MAX_BATCH_ITEMS,
) -> np.ndarray:
    """Cluster a batch of items into stories (agglomerative, precomputed story distances).

    ``sklearn.cluster.AgglomerativeClustering(metric="precomputed", linkage=params.linkage,
    distance_threshold=1 - params.threshold, n_clusters=None)`` over :func:`distance_matrix`:
    clusters keep merging while their linkage distance is below ``1 - threshold``, i.e. while
    their (average / minimum / maximum) pairwise score is above ``threshold``.

    Args:
        emb: (n, d) L2-normalised embeddings.
        times: (n,) epoch seconds (NaN = unknown), or None.
        features: n :class:`GuardFeatures` for the guard, or None to disable it.
        params: :class:`StoryParams`.
        max_items: refuse larger batches (memory is O(n^2): about 10 GB at 20,000).

    Returns:
        (n,) int64 labels 0..k-1, numbered in order of each cluster's first item
        (deterministic for a given input).

    Raises:
        ValueError: if n > ``max_items`` (cluster time windows instead, or use
            :func:`~clustering.stories.online.assign_online`), or on shape mismatches.
    """
    from sklearn.cluster import AgglomerativeClustering

    emb = np.asarray(emb, dtype=np.float32)
    n = emb.shape[0] if emb.ndim == 2 else -1
    if n > max_items:
        raise ValueError(
            f"cluster_batch got {n} items but holds an n x n distance matrix in memory "
            f"(limit {max_items}); cluster overlapping time windows of at most {max_items} "
            "items and link them with reconcile(), or use assign_online()"
        )
    D, _ = distance_matrix(emb, times, features, params)
    if n <= 1:
        return np.zeros(n, dtype=np.int64)
    model = AgglomerativeClustering(
        n_clusters=None,
        metric="precomputed",
        linkage=params.linkage,
        distance_threshold=1.0 - params.threshold,
    )
    labels = model.fit_predict(D)
    return _first_seen_order(np.asarray(labels))


# --------------------------------------------------------------------------- reconcile


@dataclass(frozen=True)
class StoryEvent:
    """A change of story identity found by :func:`reconcile`.

    Attributes:
        story_id: the story the event is about.
        kind: ``"created"`` (a new story with no previous members), ``"merged_into"`` (this
            old story's members now belong to ``other_story_id``), or ``"split_from"`` (this
            new story was split off ``other_story_id``).
        other_story_id: the other story, None for ``"created"``.
        detail: a human-readable sentence with the counts.
    """

    story_id: str
    kind: str
    other_story_id: str | None
    detail: str


def reconcile(
    previous: Mapping[str, str],
    labels: Mapping[str, int],
    new_story_id: Callable[[], str],
) -> tuple[dict[int, str], list[StoryEvent]]:
    """Give the clusters of a new batch run stable story ids.

    Only items present in ``labels`` count; an old story's *size* below is the number of its
    members present in ``labels``.

    1. Each old story's *part* in each new cluster is counted; its main part is the largest
       (ties: larger cluster, then smaller label).
    2. An old story whose main part holds more than half of its members *claims* that
       cluster. A cluster claimed by several old stories goes to the largest (ties: smaller
       story id); the others get ``merged_into`` events.
    3. An old story with no majority anywhere (spread over several clusters) keeps its id on
       its largest part that no story owns yet (same ties; stories taken largest first, then
       by id); if every part is owned, it is ``merged_into`` the owner of its main part.
    4. Clusters still without an id get ``new_story_id()`` (in label order): ``split_from``
       the old story with most members in them (ties: larger story, then smaller id), or
       ``created`` when they hold no previous member.

    So: nothing changed -> same ids, no events; a story that grew keeps its id; two stories
    joined -> the larger keeps its id, the other is ``merged_into`` it; a story split -> the
    majority part keeps the id, the others are new stories ``split_from`` it.

    Args:
        previous: item id -> stored story id (items of earlier runs; may include items not in
            this batch, which are ignored).
        labels: item id -> cluster label of this run (e.g. from :func:`cluster_batch`).
        new_story_id: called once per cluster that needs a new id, in label order.

    Returns:
        ``(ids, events)``: cluster label -> story id for every label, and the events
        (merges in old-story order, then splits / creations in label order).
    """
    members: dict[int, list[str]] = defaultdict(list)
    for item, lab in labels.items():
        members[int(lab)].append(item)
    cluster_size = {lab: len(v) for lab, v in members.items()}
    # part[s][lab] = members of old story s in cluster lab
    part: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    olds_in: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for item, lab in labels.items():
        s = previous.get(item)
        if s is not None:
            part[s][int(lab)] += 1
            olds_in[int(lab)][s] += 1
    size = {s: sum(p.values()) for s, p in part.items()}
    main = {
        s: min(p, key=lambda lab: (-p[lab], -cluster_size[lab], lab)) for s, p in part.items()
    }
    story_order = sorted(part, key=lambda s: (-size[s], s))

    owner: dict[int, str] = {}
    # step 2: majority claims, largest story first
    for s in story_order:
        lab = main[s]
        if 2 * part[s][lab] > size[s] and lab not in owner:
            owner[lab] = s
    # step 3: a story with no majority anywhere keeps its id on its largest part that nobody
    # owns yet (stories taken largest first)
    kept = set(owner.values())
    for s in story_order:
        if s in kept or 2 * part[s][main[s]] > size[s]:
            continue
        for lab in sorted(part[s], key=lambda lab: (-part[s][lab], -cluster_size[lab], lab)):
            if lab not in owner:
                owner[lab] = s
                kept.add(s)
                break

    events: list[StoryEvent] = []
    for s in story_order:
        if s in kept:
            continue
        lab = main[s]
        into = owner[lab]
        events.append(
            StoryEvent(
                s,
                "merged_into",
                into,
                f"{part[s][lab]} of {size[s]} members of {s} are now in {into} "
                f"({cluster_size[lab]} items)",
            )
        )

    ids: dict[int, str] = {}
    for lab in sorted(members):
        if lab in owner:
            ids[lab] = owner[lab]
            continue
        sid = new_story_id()
        ids[lab] = sid
        olds = olds_in.get(lab)
        if olds:
            src = min(olds, key=lambda s: (-olds[s], -size[s], s))
            events.append(
                StoryEvent(
                    sid,
                    "split_from",
                    src,
                    f"{olds[src]} of {size[src]} members of {src} split off into {sid} "
                    f"({cluster_size[lab]} items)",
                )
            )
        else:
            events.append(
                StoryEvent(sid, "created", None, f"new story {sid} ({cluster_size[lab]} items)")
            )
    return ids, events
