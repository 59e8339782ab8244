"""The whole engine over a store: :class:`NewsClusterer`.

A run reads (:mod:`clustering.io`) -> normalises and fingerprints -> finds near-duplicates
against everything stored (:mod:`clustering.dedup`) -> embeds group representatives and clusters
them into stories (:mod:`clustering.story_step`) -> stores it all (:mod:`clustering.store`), in
one transaction. The CLI and the service are thin layers over this class.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from clustering.config import Config, DedupParams, RunParams
from clustering.dedup.engine import (
    TITLE_KEY,
    EdgeReport,
    Fingerprints,
    Shingled,
    assign_groups,
    content_hash,
    find_edges,
    fingerprint_batch,
    fingerprint_batches,
    prefetch_candidates,
    shingle_texts,
    shingle_titles,
)
from clustering.dedup.lsh import BandIndex
from clustering.dedup.rules import choose_representative
from clustering.io.fields import printable
from clustering.io.readers import ReadResult, read_articles, read_records
from clustering.io.urls import canonical_url
from clustering.normalise import normalise
from clustering.records import Article, SkipReport
from clustering.store import Store, StoreError

__all__ = ["NewsClusterer", "Progress", "RunSummary"]


@dataclass
class RunSummary:
    """What a run did, for the terminal summary and the ``runs`` table."""

    run_id: int
    read: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    skip_examples: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    already_stored: int = 0
    new_articles: int = 0
    updated_text: int = 0
    updated_metadata: int = 0
    matched_by_url: int = 0
    exact_repeats: int = 0
    near_duplicates: int = 0
    lsh_candidates: int = 0
    lsh_rejected: int = 0
    groups: int = 0
    articles_in_groups: int = 0
    largest_groups: list[dict[str, Any]] = field(default_factory=list)
    stories: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly dict of every field."""
        return dict(self.__dict__)


class StageTimer:
    """Seconds spent per stage of a run, accumulated: ``with timer("verify"): ...``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._name = ""
        self._t0 = 0.0

    def __call__(self, name: str) -> StageTimer:
        self._name = name
        return self

    def __enter__(self) -> StageTimer:
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds[self._name] = self.seconds.get(self._name, 0.0) + time.perf_counter() - self._t0

    def rounded(self) -> dict[str, float]:
        """Stage -> seconds, rounded to milliseconds."""
        return {k: round(v, 3) for k, v in self.seconds.items()}


class Progress:
    """A minimal stage/progress reporter interface; the CLI passes a rich-backed one."""

    def stage(self, name: str, total: int | None = None) -> None:  # pragma: no cover - UI
        """Start a stage of ``total`` steps."""

    def advance(self, n: int = 1) -> None:  # pragma: no cover - UI
        """Advance the current stage by ``n`` steps."""


#: The story hook a run calls inside its transaction: (store, run id, new articles,
#: article id -> group id, progress) -> summary dict; after article updates also the keyword
#: ``left``: the story ids that lost a member to an update (see :class:`~clustering.story_step.StoryStep`).
StoryHook = Callable[[Store, int, list[Article], dict[str, str], Progress], dict[str, Any]]


def _article_rows(arts: Sequence[Article], seqs: Sequence[int], hashes: Sequence[str],
                  run_id: int) -> pa.Table:
    return pa.table({
        "id": [a.id for a in arts],
        "seq": pa.array(seqs, pa.int64()),
        "run_id": pa.array([run_id] * len(arts), pa.int64()),
        "title": [a.title for a in arts],
        "text": [a.text for a in arts],
        "published": pa.array([a.published for a in arts], pa.timestamp("us", tz="UTC")),
        "source": pa.array([a.source for a in arts], pa.string()),
        "url": pa.array([a.url for a in arts], pa.string()),
        "canonical_url": pa.array([canonical_url(a.url) for a in arts], pa.string()),
        "lang": pa.array([a.lang for a in arts], pa.string()),
        "listed_on": pa.array([a.listed_on for a in arts], pa.string()),
        "input_order": pa.array([a.order for a in arts], pa.int64()),
        "content_hash": list(hashes),
    })


def _signature_rows(ids: Sequence[str], fp: Fingerprints, which: Iterable[int], config: str) -> pa.Table:
    """Signature rows for the batch items ``which``: their own signature, plus the title
    signature (kind "title") of those that have one."""
    keys: list[str] = []
    kinds: list[str] = []
    blobs: list[bytes] = []
    for i in which:
        keys.append(ids[i])
        kinds.append(fp.kinds[i])
        blobs.append(fp.signatures[i].astype("<u4").tobytes())
        if fp.has_title_fingerprint(i):
            keys.append(ids[i])
            kinds.append("title")
            blobs.append(fp.title_signatures[i].astype("<u4").tobytes())
    return pa.table({
        "article_id": pa.array(keys, pa.string()),
        "config": pa.array([config] * len(keys), pa.string()),
        "kind": pa.array(kinds, pa.string()),
        "sig": pa.array(blobs, pa.binary()),
    })


def _sig_matrix(rows: pa.Table, num_perm: int) -> np.ndarray:
    blobs = rows.column("sig").to_pylist()
    return np.frombuffer(b"".join(blobs), dtype="<u4").reshape(len(blobs), num_perm).astype(np.uint32)


def plan_batch(store: Store, arts: list[Article], skips: SkipReport):
    """Which of ``arts`` are new, unchanged, or updates of stored articles (by id, or by
    canonical URL under a new id): see :func:`clustering.updates.plan_updates`."""
    from clustering.updates import plan_updates, version_key

    facts = store.current_facts([a.id for a in arts])
    urls = {canonical_url(a.url) for a in arts if a.id not in facts and a.listed_on is None} - {None}
    url_ids = store.ids_by_canonical_url(urls) if urls else {}
    if url_ids:
        facts.update(store.current_facts(set(url_ids.values())))
    superseded = {version_key(*r) for r in store.superseded_versions(facts)} if facts else set()
    return plan_updates(arts, facts, url_ids, superseded,
                        lambda a: content_hash(normalise(a.content)), skips)


def dedup_into_store(store: Store, run_id: int, new: list[Article], params: DedupParams,
                     progress: Progress, run: RunParams, timer: StageTimer | None = None,
                     updated: Collection[str] = ()) -> tuple[EdgeReport, dict[str, str]]:
    """Fingerprint ``new`` articles, find their near-duplicates among themselves and everything
    stored, and write articles, signatures, memberships and groups (call inside a transaction).
    ``updated``: the ids of ``new`` that were stored before (text updates).

    Returns the edge report and article id -> group id for the new articles.
    """
    timer = timer or StageTimer()
    config, band_config = params.fingerprint_key(), params.band_key()
    thresholds = {"word": params.threshold, "char": params.char_threshold}
    index = BandIndex(thresholds, params.num_perm,
                      stored=lambda keys: store.band_matches(band_config, keys))
    last = store.last_run_params()
    if last.get("fingerprint_config") != config or last.get("band_config") != band_config:
        # settings changed since the last run (or a store made before band keys were kept):
        # sign what has no signature with these settings, and rebuild the band keys, once
        progress.stage("indexing stored signatures")
        stale = store.unsigned_representatives(config)
        if stale:
            arts = [Article(id=i, title=t or "", text=x or "") for i, t, x in stale]
            store.insert_signatures(_signature_rows([a.id for a in arts], fingerprint_batch(arts, params),
                                                    range(len(arts)), config))
        ids, kinds, sigs = store.load_signatures(config, params.num_perm)
        everything = BandIndex(thresholds, params.num_perm)
        everything.insert_many(ids, kinds, sigs)
        store.replace_bands(band_config, *everything.drain())

    def stored_shingles(want: list[str]) -> dict[str, Shingled]:
        texts = store.texts_of([w[len(TITLE_KEY):] if w.startswith(TITLE_KEY) else w for w in want])
        out: dict[str, Shingled] = {}
        plain = [w for w in want if not w.startswith(TITLE_KEY) and w in texts]
        _, _, sets, toks = shingle_texts([Article(id=w, title=texts[w][0], text=texts[w][1]).content
                                          for w in plain], params)
        out.update(zip(plain, zip(sets, toks)))
        titles = [w for w in want if w.startswith(TITLE_KEY) and w[len(TITLE_KEY):] in texts]
        tsets, ttoks = shingle_titles([texts[w[len(TITLE_KEY):]][0] for w in titles], params)
        out.update(zip(titles, zip(tsets, ttoks)))
        return out

    known: dict[str, Shingled] = {}
    seq0 = store.next_seq()
    report = EdgeReport()
    progress.stage("fingerprinting and near-duplicate search", total=len(new))
    size = run.fingerprint_batch
    batches = [new[lo:lo + size] for lo in range(0, len(new), size)]
    fps = fingerprint_batches(batches, params, run.workers_for(len(new)))
    for k, batch in enumerate(batches):
        lo = k * size
        with timer("fingerprint (normalise, shingle, MinHash)"):
            fp = next(fps)
        bids = [a.id for a in batch]
        with timer("LSH lookup (stored hashes and band keys)"):
            stored_hashes = store.first_article_by_hash(fp.content_hash)
            prefetch_candidates(index, fp)  # one store lookup per batch: earlier runs' band keys
        with timer("LSH query and Jaccard verification"):
            rep = find_edges(bids, fp, params, index, stored_hashes, stored_shingles, known)
        with timer("store writes"):
            # Articles go in first so that later batches find this one's hashes and texts.
            store.insert_articles(_article_rows(batch, range(seq0 + lo, seq0 + lo + len(batch)),
                                                fp.content_hash, run_id))
            store.insert_signatures(_signature_rows(bids, fp, rep.fingerprinted, config))
        index.end_batch()
        report.edges.extend(rep.edges)
        report.exact_repeats += rep.exact_repeats
        report.candidates += rep.candidates
        report.rejected += rep.rejected
        progress.advance(len(batch))
    with timer("store writes"):
        # once, at the end: the batches of this run find each other in the index's memory, so
        # the per-batch store lookups only scan what earlier runs stored
        store.insert_bands(band_config, *index.drain())

    progress.stage("grouping")
    with timer("group (union-find, representatives)"):
        return _group(store, run_id, new, report, updated)


def _members_known(changed: set[str], stored_members: Mapping[str, Any], fresh: set[str]) -> bool:
    """Whether every member of the ``changed`` groups is among ``stored_members`` (all members
    of the groups the new articles touch) and the new articles: each changed group is a touched
    one, or named after a fresh article (no stored row can carry that name)."""
    return changed <= {m.group_id for m in stored_members.values()} | fresh


def _group(store: Store, run_id: int, new: list[Article], report: EdgeReport,
           updated: Collection[str] = ()) -> tuple[EdgeReport, dict[str, str]]:
    """Connected components of the new articles' edges with the stored groups they touch;
    memberships and groups written. ``updated``: ids of ``new`` that were stored before (text
    updates); the others are fresh, with no stored row."""
    new_ids = [a.id for a in new]
    new_set = set(new_ids)
    fresh = new_set.difference(updated)
    touched = {e.other_id for e in report.edges if e.other_id not in new_set}
    stored_members = store.group_members_touching(touched) if touched else {}
    facts = store.representative_facts(list(stored_members) + new_ids)
    members = assign_groups(new_ids, report.edges, stored_members,
                            {a: f.order for a, f in facts.items()})
    old_groups = {stored_members[a].group_id for a in members if a in stored_members}
    store.upsert_memberships(members, run_id, absent=fresh)
    changed = {m.group_id for m in members.values()} | old_groups
    # Every stored member of the touched groups is in stored_members, and a group named after
    # a fresh article has no other stored member, so the changed groups' members are known
    # here; any other group id (an update's) is read back from the store.
    if _members_known(changed, stored_members, fresh):
        candidates: dict[str, list] = {}
        for a in dict.fromkeys([*stored_members, *new_ids]):
            m = members.get(a) or stored_members[a]
            if m.group_id in changed:
                candidates.setdefault(m.group_id, []).append(facts[a])
    else:
        candidates = store.group_candidates(changed)
    store.replace_groups(changed, [(gid, choose_representative(ms), len(ms))
                                   for gid, ms in sorted(candidates.items())], run_id)
    return report, {a: members[a].group_id for a in new_ids}


class NewsClusterer:
    """The whole engine over one DuckDB store: near-duplicates, stories, history.

    Args:
        db: a database file path, ``":memory:"`` (nothing kept after ``close``), or an open
            :class:`~clustering.store.Store`.
        config: every setting (:class:`~clustering.config.Config`); recorded with each run.
        read_only: open the file for reading only (``ingest`` and ``recluster`` then raise
            StoreError).
        embedder: an :class:`~clustering.embed.Embedder` to share (built lazily otherwise).

    Raises:
        StoreError: the database is locked by another writer, unusable, or missing (read-only).

    Example::

        with NewsClusterer("news.duckdb") as nc:
            summary = nc.ingest(["feed.jsonl"])
            for story in nc.stories(limit=10):
                print(story["size"], story["headline"])
    """

    def __init__(self, db: str | Path | Store = ":memory:", config: Config | None = None, *,
                 read_only: bool = False, embedder: Any = None):
        self.config = config or Config()
        self.store = db if isinstance(db, Store) else Store(
            db, read_only=read_only, publish_every_s=self.config.run.snapshot_every_s,
            publish_share=self.config.run.snapshot_share)
        self._owns_store = not isinstance(db, Store)
        self.story_step: StoryHook | None = None
        if self.config.stories.mode != "none":
            from clustering.story_step import StoryStep

            self.story_step = StoryStep(self.config.stories, self.config.embed, embedder)

    def close(self) -> None:
        """Close the store (when this object opened it)."""
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> NewsClusterer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _forget_story_caches(self) -> None:
        forget = getattr(self.story_step, "forget", None)
        if callable(forget):
            forget()

    @contextmanager
    def _forget_story_caches_on_failure(self) -> Iterator[None]:
        """A run that fails (rolled back) makes the story step forget what it keeps between
        runs (:meth:`clustering.story_step.StoryStep.forget`): the next run may reuse the
        failed run's id, and the kept state would then look valid."""
        try:
            yield
        except BaseException:
            self._forget_story_caches()
            raise

    def _writable(self) -> None:
        if self.store.read_only:
            raise StoreError(f"{self.store.path}: opened read-only")

    def run_params(self, mapping: Mapping[str, str] | None = None) -> dict[str, Any]:
        """What a run records as its parameters: the config, the LSH bands/rows it implies, the
        fingerprint key and the column mapping."""
        d = self.config.dedup
        return {"config": self.config.to_dict(),
                "lsh_bands_rows": {k: list(v) for k, v in d.lsh_bands_rows().items()},
                "fingerprint_config": d.fingerprint_key(), "band_config": d.band_key(),
                "mapping": dict(mapping or {})}

    # ---- writing -----------------------------------------------------------------------------

    def ingest(self, items: Sequence[str | Path] | Sequence[Article | Mapping[str, Any]], *,
               mapping: Mapping[str, str] | None = None, progress: Progress | None = None,
               command: str = "run", overview: bool = True) -> RunSummary:
        """Ingest article files, or in-memory articles (:class:`~clustering.records.Article` or
        dicts with the documented fields), into the store: dedup against everything stored,
        cluster stories (unless ``config.stories.mode`` is "none"), record the run.

        Args:
            items: file paths (see :func:`clustering.io.readers.read_articles`), or articles.
            mapping: column renames for the readers (input name -> field name).
            progress: stage reporter.
            command: recorded in the run log.
            overview: fill the summary's store-wide group counts and largest groups (a scan of
                every group: a feed service ingesting item by item turns it off).

        Returns:
            The :class:`RunSummary`. Re-running the same input adds no article, group or story row.

        Raises:
            InputError: an input file is missing or unreadable as a whole (nothing is written).
            StoreError: the database cannot be written.
        """
        self._writable()
        t0 = time.perf_counter()
        started = datetime.now(timezone.utc)
        progress = progress or Progress()
        progress.stage("reading input")
        timer = StageTimer()
        items = list(items)
        with timer("read"):
            if items and all(isinstance(x, (str, Path)) for x in items):
                inputs = [printable(str(p)) for p in items]  # a file name may hold any bytes
                read: ReadResult = read_articles(items, mapping=mapping)
            else:
                inputs = []
                read, _ = read_records(items, mapping=mapping)
        store = self.store
        with self._forget_story_caches_on_failure(), store.transaction():
            # read inside the transaction: outside it the lookup is a transaction of its own
            run_id = store.next_run_id()
            summary = RunSummary(run_id=run_id, read=len(read.articles) + read.skips.total)
            from clustering.updates import apply_updates, finish_updates

            plan = plan_batch(store, read.articles, read.skips)
            left = apply_updates(store, plan, run_id, started)
            new, summary.already_stored = plan.new, plan.unchanged
            summary.new_articles = len(new) - len(plan.text_updates)
            summary.updated_text = len(plan.text_updates)
            summary.updated_metadata = len(plan.metadata_updates)
            summary.matched_by_url = plan.by_url
            if new:
                report, groups = dedup_into_store(store, run_id, new, self.config.dedup, progress,
                                                  self.config.run, timer, set(plan.text_updates))
                summary.exact_repeats = report.exact_repeats
                summary.near_duplicates = sum(1 for e in report.edges if e.rule == "jaccard")
                summary.lsh_candidates = report.candidates
                summary.lsh_rejected = report.rejected
                finish_updates(store, plan)
            if self.story_step is not None and (new or left):
                with timer("stories (embed, assign, store)"):
                    # ``left`` only when an update took articles out of stories: a story hook
                    # keeps the five-argument form (StoryHook)
                    summary.stories = self.story_step(store, run_id, new, groups if new else {},
                                                      progress, **({"left": left} if left else {}))
            summary.skipped = read.skips.as_dict()
            summary.skip_examples = dict(read.skips.examples)
            summary.notes = list(read.notes)
            if overview:
                summary.groups, summary.articles_in_groups, summary.largest_groups = store.group_overview()
            summary.seconds = round(time.perf_counter() - t0, 3)
            summary.timings = timer.rounded()
            store.record_run(run_id, started, command, inputs, self.run_params(mapping),
                             summary.as_dict())
        return summary

    def recluster(self, since: datetime | None = None, until: datetime | None = None
                  ) -> dict[str, Any]:
        """Batch re-cluster the stored stories published in [since, until] (open bounds allowed)
        in one transaction, recorded as a run ("recluster"); story ids stay stable, moves,
        merges and splits are recorded. Returns the story summary.

        Raises:
            ValueError: ``since`` is after ``until``, or the window is too large for batch
                clustering. StoreError: read-only, or no embedded article is stored.
        """
        from clustering.story_step import StoryStep

        self._writable()
        if since is not None and until is not None and since > until:
            raise ValueError(f"empty window: since {since.isoformat()} is after until {until.isoformat()}")
        if not self.store.count_embeddings():
            raise StoreError(f"{self.store.path}: no embedded articles; run `news-cluster run` "
                             "with stories first")
        cfg = self.config.replace(stories={"mode": "batch"})
        step = StoryStep(cfg.stories, cfg.embed, getattr(self.story_step, "embedder", None))
        started = datetime.now(timezone.utc)
        run_id = self.store.next_run_id()
        self._forget_story_caches()  # members move: a held writer reloads its stories
        with self.store.transaction():
            summary = step.recluster(self.store, run_id, since, until)
            window = [since.isoformat() if since else None, until.isoformat() if until else None]
            self.store.record_run(run_id, started, "recluster", [],
                                  {**self.run_params(), "window": window}, summary)
        return summary

    # ---- reading -----------------------------------------------------------------------------

    def stored_config(self) -> Config:
        """The config of the newest run in the store (this object's config if none, or if the
        run was made by a version that did not record one)."""
        params = self.store.last_run_params()
        try:
            return Config.from_dict(params["config"]) if "config" in params else self.config
        except ValueError:
            return self.config

    def _batch_boilerplate(self, ids: Sequence[str], cfg: Config) -> np.ndarray:
        """The outlet boilerplate the engine learned over the fingerprint batches of ``ids``
        (re-learned from the stored batch mates; see :mod:`clustering.dedup.boilerplate`)."""
        from clustering.dedup.boilerplate import learn_boilerplate
        from clustering.dedup.engine import content_hash

        if not cfg.dedup.boilerplate_min_articles:
            return np.zeros(0, np.uint64)
        found = [np.zeros(0, np.uint64)]
        for art_id in dict.fromkeys(ids):
            rows = self.store.batch_mates(art_id, cfg.run.fingerprint_batch)
            normed, kinds, sets, _ = shingle_texts(
                [Article(id=i, title=t, text=x).content for i, t, x, _ in rows], cfg.dedup)
            hashes = [content_hash(n) for n in normed]
            found.append(learn_boilerplate([r[3] for r in rows], sets, kinds, hashes,
                                           cfg.dedup.boilerplate_min_articles))
        return np.unique(np.concatenate(found))

    def explain(self, id_a: str, id_b: str) -> dict[str, Any]:
        """Why two stored articles are or are not near-duplicates (the engine's own rule, with
        the settings of the last run: Jaccard, MinHash estimate, LSH candidacy, shared shingles,
        verdict), their groups, and (when stories were clustered) why they are or are not in
        one story. Raises StoreError when an id is not stored."""
        from clustering.explain import explain_dedup
        from clustering.story_step import explain_story

        fa, fb = self.store.article_facts(id_a), self.store.article_facts(id_b)
        cfg = self.stored_config()
        content = lambda f: Article(id=f["id"], title=f["title"], text=f["text"]).content
        ex = explain_dedup(content(fa), content(fb), cfg.dedup, title_a=fa["title"],
                           title_b=fb["title"], boilerplate=self._batch_boilerplate(
                               (id_a, id_b), cfg))
        ex.groups = (fa["dup_group"], fb["dup_group"])
        ex.same_group = fa["dup_group"] is not None and fa["dup_group"] == fb["dup_group"]
        out: dict[str, Any] = {
            key: {k: f[k] for k in ("id", "title", "source", "published", "dup_group",
                                    "joined_via", "similarity", "rule")}
            for key, f in (("a", fa), ("b", fb))}
        nd = ex.as_dict()
        nd.pop("stories", None)
        if ex.same_group and not (ex.joined or ex.exact_repeat):
            nd["verdict"] += "; they share a group through other members (transitive link)"
        elif ex.same_group:
            nd["verdict"] += "; same near-duplicate group"
        if ex.same_group:  # the verified links that joined them (single-link grouping)
            from clustering.explain import join_path

            def via(x: str):
                f = self.store.article_facts(x)
                return f["joined_via"], f["similarity"], f["rule"]
            nd["join_path"] = join_path(via, id_a, id_b)
        out["near_duplicate"] = nd
        story = explain_story(self.store, id_a, id_b, cfg.stories)
        if story:
            out["story"] = story
        return out

    def export(self, fmt: str = "jsonl", out: str | Path | None = None, *, full: bool = False) -> int:
        """Write one row per article (see :meth:`clustering.store.Store.export`); returns the
        number of rows. ``full`` adds title, source, url, published, lang, rule and the story
        label."""
        return self.store.export(fmt, Path(out) if out is not None else None, full=full)

    def feed(self, out: str | Path | None = None) -> int:
        """Write the feed with each near-duplicate group once (JSON Lines); returns the rows."""
        return self.store.write_feed(Path(out) if out is not None else None)

    def groups(self, *, min_size: int = 2, limit: int = 20) -> list[dict[str, Any]]:
        """Near-duplicate groups, largest first, with their members."""
        return self.store.list_groups(min_size=min_size, limit=limit)

    def stories(self, *, since: datetime | None = None, until: datetime | None = None,
                source: str | None = None, limit: int = 50, min_size: int = 1) -> list[dict[str, Any]]:
        """Stories overlapping [since, until], largest first (see
        :meth:`clustering.store.Store.list_stories`).

        Raises:
            ValueError: ``since`` after ``until``. StoreError: ``source`` is not a stored source.
        """
        if since is not None and until is not None and since > until:
            raise ValueError(f"empty window: since {since.isoformat()} is after until {until.isoformat()}")
        if source is not None and not self.store.has_source(source):
            raise StoreError(f"no article from source {source!r} is stored in {self.store.path}")
        return self.store.list_stories(since=since, until=until, source=source, limit=limit,
                                       min_size=min_size)

    def history(self, article_id: str) -> list[dict[str, Any]]:
        """Every stored version of one article, oldest first; the last is current (see
        :mod:`clustering.updates`). Empty when the id is not stored."""
        return self.store.article_history(article_id)

    def timeline(self, story_id: str) -> dict[str, Any]:
        """A story's articles in time order and its events. Raises StoreError when unknown."""
        return self.store.story_timeline(story_id)
