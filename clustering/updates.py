"""Article updates: an incoming record that is a new version of a stored article.

Real feeds send an article again when it is edited. An incoming record is the same article as a
stored one when it has the stored id, or (a full article, not a headline of a page's list) when
its canonical URL (:func:`clustering.io.urls.canonical_url`) is the stored article's under a new
id. Then, compared with the stored current version:

- same normalised text (content hash) and same published / source / canonical URL / lang:
  unchanged, nothing is written (so re-running an input changes nothing);
- the same text and metadata as a version it already superseded: an old version sent again,
  unchanged (re-running an older input does not revert the article);
- same text, other metadata: a *metadata update*: the old row is archived in
  ``article_versions``, the row updated, its group's representative re-chosen and its story's
  times refreshed;
- other text: a *text update*: the old version is archived, the article leaves its
  near-duplicate group (the group keeps its other members; if the article was the group's
  founder, the earliest remaining member names the group from now on) and its story (the open
  membership is closed, as for a move), and the new version is fingerprinted, grouped and
  assigned to a story like a new article (its embedding is recomputed).

Within one input, the last of several records of one article (same id, or same canonical URL)
counts and the others are counted skips (:data:`SUPERSEDED_IN_INPUT`); an unseen article keeps
the id of its first record. The newest arrival is current.

:func:`plan_updates` decides (pure); :func:`apply_updates` writes through
:class:`~clustering.store.Store` inside the run's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

import pyarrow as pa

from clustering.dedup.engine import Membership
from clustering.dedup.rules import choose_representative
from clustering.io.urls import canonical_url
from clustering.records import Article, SkipReport
from clustering.store import Store, as_utc

__all__ = ["UpdatePlan", "apply_updates", "plan_updates"]

#: Skip reason of a record replaced by a later version of the same article in the same input.
SUPERSEDED_IN_INPUT = "older version of an article updated later in the same input"


@dataclass
class UpdatePlan:
    """What a batch of incoming records does to the stored articles.

    Attributes:
        new: records to fingerprint and store as new articles: unseen ones, then the new
            versions of text updates (with the stored id).
        unchanged: records identical to the stored current version (or to a superseded one).
        text_updates: stored id -> (what changed, id it arrived under or None, old version).
        metadata_updates: the new versions (stored id) whose text is unchanged, with
            (what changed, id it arrived under or None).
        by_url: records matched to a stored article by canonical URL under a new id.
    """

    new: list[Article] = field(default_factory=list)
    unchanged: int = 0
    text_updates: dict[str, tuple[str, str | None, int]] = field(default_factory=dict)
    metadata_updates: list[tuple[Article, str, str | None]] = field(default_factory=list)
    by_url: int = 0


def version_key(article_id: str, content_hash: str, published, source, curl, lang) -> tuple:
    """What identifies one version of an article: id, content hash and the metadata compared."""
    return (article_id, content_hash, as_utc(published), source or None, curl, lang or None)


def _metadata_changes(a: Article, facts: tuple) -> list[str]:
    _, published, source, curl, lang = facts[:5]
    out = []
    if as_utc(a.published) != as_utc(published):
        out.append("published")
    if (a.source or None) != (source or None):
        out.append("source")
    if canonical_url(a.url) != curl:
        out.append("url")
    if (a.lang or None) != (lang or None):
        out.append("lang")
    return out


def plan_updates(arts: list[Article], facts: Mapping[str, tuple], url_ids: Mapping[str, str],
                 superseded: set[tuple], hash_of: Callable[[Article], str],
                 skips: SkipReport) -> UpdatePlan:
    """Decide, for each incoming record, whether it is new, unchanged or an update.

    Args:
        arts: incoming records in input order (ids unique, as the readers guarantee).
        facts: stored id -> :data:`clustering.store.versions.FactsRow` of the ids in ``arts``
            and of the ids ``url_ids`` names.
        url_ids: canonical URL -> stored full-article id.
        superseded: :func:`version_key` of every archived version of those ids.
        hash_of: the content hash of a record's normalised text.
        skips: gets one :data:`SUPERSEDED_IN_INPUT` skip per record replaced by a later record
            of the same article in this input.

    Returns:
        The :class:`UpdatePlan`; when several records of ``arts`` are versions of one stored
        article, the last one counts.
    """
    decided: dict[str, tuple[str, Article, str, str | None]] = {}  # stored id -> decision
    plan = UpdatePlan()
    batch_urls: dict[str, int] = {}  # canonical url -> index in plan.new of its unseen article
    for a in arts:
        curl = canonical_url(a.url) if a.listed_on is None else None
        target = a.id if a.id in facts else None
        if target is None and curl:
            target = url_ids.get(curl)
        if target is None or target not in facts:
            if curl and curl in batch_urls:  # a later version, in this input, of an unseen article
                j = batch_urls[curl]
                skips.add(SUPERSEDED_IN_INPUT, plan.new[j].id)
                plan.new[j] = replace(a, id=plan.new[j].id)
                plan.by_url += 1
                continue
            if curl:
                batch_urls[curl] = len(plan.new)
            plan.new.append(a)
            continue
        received = None if target == a.id else a.id
        if received is not None:
            a = replace(a, id=target)
        h = hash_of(a)
        f = facts[target]
        meta = _metadata_changes(a, f)
        if version_key(target, h, a.published, a.source, canonical_url(a.url), a.lang) in superseded:
            kind, change = "unchanged", ""
        elif h == f[0]:
            kind, change = ("metadata", ", ".join(meta)) if meta else ("unchanged", "")
        else:
            kind, change = "text", ", ".join(["text", *meta])
        if target in decided:
            skips.add(SUPERSEDED_IN_INPUT, decided[target][3] or target)
        decided[target] = (kind, a, change, received)
    for target, (kind, a, change, received) in decided.items():
        plan.by_url += received is not None
        if kind == "unchanged":
            plan.unchanged += 1
        elif kind == "metadata":
            plan.metadata_updates.append((a, change, received))
        else:
            plan.text_updates[target] = (change, received, int(facts[target][5]))
            plan.new.append(a)
    return plan


def _regroup(store: Store, gids: set[str], run_id: int) -> None:
    """Rewrite the ``dup_groups`` rows of ``gids`` from their stored members."""
    candidates = store.group_candidates(gids)
    store.replace_groups(gids, [(g, choose_representative(ms), len(ms))
                                for g, ms in sorted(candidates.items())], run_id)


def apply_updates(store: Store, plan: UpdatePlan, run_id: int, now: datetime) -> set[str]:
    """Write the updates of ``plan`` (inside the run's transaction) before its ``new`` records
    are ingested: archive old versions, update metadata rows, take text-updated articles out of
    their groups and stories and forget their fingerprints.

    Returns:
        The story ids that lost a member or whose member's metadata changed (their rows must be
        refreshed by the story step).
    """
    left: set[str] = set()
    if plan.metadata_updates:
        arts = [a for a, _, _ in plan.metadata_updates]
        ids = [a.id for a in arts]
        store.archive_versions({a.id: (c, r) for a, c, r in plan.metadata_updates}, run_id)
        store.update_metadata(pa.table({
            "id": ids,
            "published": pa.array([a.published for a in arts], pa.timestamp("us", tz="UTC")),
            "source": pa.array([a.source for a in arts], pa.string()),
            "url": pa.array([a.url for a in arts], pa.string()),
            "canonical_url": pa.array([canonical_url(a.url) for a in arts], pa.string()),
            "lang": pa.array([a.lang for a in arts], pa.string())}), run_id)
        _regroup(store, {m.group_id for i, m in store.group_members_touching(ids).items()
                         if i in set(ids)}, run_id)
        left |= set(store.open_stories_of(ids).values())
    if plan.text_updates:
        ids = set(plan.text_updates)
        store.archive_versions({i: (c, r) for i, (c, r, _) in plan.text_updates.items()}, run_id)
        members = store.group_members_touching(ids)
        by_group: dict[str, list[str]] = {}
        for aid, m in members.items():
            by_group.setdefault(m.group_id, []).append(aid)
        remaining = {g: [a for a in ms if a not in ids] for g, ms in by_group.items()}
        seq = store.seq_of([a for ms in remaining.values() for a in ms])
        relabel: dict[str, Membership] = {}
        keep: set[str] = set()
        for gid, rest in remaining.items():
            if not rest:
                keep.add(gid)  # the group goes with its only member(s); its row is rewritten below
                continue
            founder = gid if gid not in ids else min(rest, key=lambda a: (seq[a], a))
            keep |= {gid, founder}
            if founder != gid:  # the group was named after the updated article
                relabel.update({a: replace(members[a], group_id=founder) for a in rest})
        left |= set(store.open_stories_of(ids).values())
        store.close_memberships(ids, now, run_id)
        store.forget_fingerprints(ids)
        store.upsert_memberships(relabel, run_id)
        _regroup(store, keep, run_id)
    return left


def finish_updates(store: Store, plan: UpdatePlan) -> None:
    """After the new versions are stored: give them their version numbers (old + 1)."""
    store.set_versions({i: v + 1 for i, (_, _, v) in plan.text_updates.items()})
