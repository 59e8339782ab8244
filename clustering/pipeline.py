"""The ``run`` job: read -> normalise -> fingerprint -> dedup -> (embed -> cluster) -> store.

:func:`run` reads input files, keeps only articles the database does not have yet, finds their
exact repeats and near-duplicates against everything stored, and writes articles, signatures and
group memberships in one transaction. Story clustering (embeddings of group representatives,
online or batch) plugs in through ``story_step`` so this module stays about the flow, not the
algorithms.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from clustering.dedup.engine import (TITLE_KEY, DedupParams, EdgeReport, Fingerprints,
                                     assign_groups, content_hash, find_edges, fingerprint_batch,
                                     shingle_texts, shingle_titles)
from clustering.dedup.lsh import CandidateIndex
from clustering.io.readers import ReadResult, read_articles
from clustering.normalise import normalise
from clustering.records import Article, SkipReport
from clustering.store import Store

#: Articles fingerprinted per vectorised batch (bounds memory on big inputs).
FINGERPRINT_BATCH = 2_000


def fingerprint_config(p: DedupParams) -> str:
    """A key naming the settings a stored signature depends on; signatures made with other
    settings are not comparable and are recomputed."""
    s = p.shingles
    return f"mh-a32-p{p.num_perm}-s{p.seed}-w{s.word_k}-c{s.char_k}-t{s.short_tokens}"


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
    exact_repeats: int = 0
    near_duplicates: int = 0
    lsh_candidates: int = 0
    lsh_rejected: int = 0
    groups: int = 0
    articles_in_groups: int = 0
    largest_groups: list[dict[str, Any]] = field(default_factory=list)
    stories: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly dict of every field."""
        return dict(self.__dict__)


class Progress:
    """A minimal stage/progress reporter interface; the CLI passes a rich-backed one."""

    def stage(self, name: str, total: int | None = None) -> None:  # pragma: no cover - UI
        """Start a stage of ``total`` steps."""

    def advance(self, n: int = 1) -> None:  # pragma: no cover - UI
        """Advance the current stage by ``n`` steps."""


StoryStep = Callable[[Store, int, list[Article], dict[str, str], Progress], dict[str, Any]]


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
        "lang": pa.array([a.lang for a in arts], pa.string()),
        "listed_on": pa.array([a.listed_on for a in arts], pa.string()),
        "input_order": pa.array([a.order for a in arts], pa.int64()),
        "content_hash": list(hashes),
    })


def _signature_rows(ids: Sequence[str], fp: Fingerprints, which: Sequence[int], config: str) -> pa.Table:
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


def split_new(store: Store, arts: list[Article], skips: SkipReport) -> tuple[list[Article], int]:
    """Drop articles already stored: same id and same normalised text is a silent no-op
    (counted as already stored); same id with other text is a counted skip."""
    stored = store.stored_hashes_of([a.id for a in arts])
    if not stored:
        return arts, 0
    new: list[Article] = []
    same = 0
    for a in arts:
        h = stored.get(a.id)
        if h is None:
            new.append(a)
        elif h == content_hash(normalise(a.content)):
            same += 1
        else:
            skips.add("id already stored with different text", a.id)
    return new, same


def dedup_into_store(store: Store, run_id: int, new: list[Article], params: DedupParams,
                     progress: Progress) -> tuple[EdgeReport, dict[str, str]]:
    """Fingerprint ``new`` articles, find their near-duplicates among themselves and everything
    stored, and write articles, signatures and memberships (call inside a transaction).

    Returns the edge report and article id -> group id for the new articles.
    """
    config = fingerprint_config(params)
    index = CandidateIndex({"word": params.threshold, "char": params.char_threshold},
                           params.num_perm, params.seed)
    progress.stage("loading stored signatures")
    ids, kinds, sigs = store.load_signatures(config, params.num_perm)
    index.insert_many(ids, kinds, sigs)
    stale = store.unsigned_representatives(config)
    if stale:  # settings changed since these were stored: sign them again, once
        arts = [Article(id=i, title=t or "", text=x or "") for i, t, x in stale]
        sfp = fingerprint_batch(arts, params)
        rows = _signature_rows([a.id for a in arts], sfp, range(len(arts)), config)
        index.insert_many(rows.column("article_id").to_pylist(), rows.column("kind").to_pylist(),
                          _sig_matrix(rows, params.num_perm))
        store.insert_arrow("signatures", rows)

    def stored_shingles(want: list[str]) -> dict[str, tuple[np.ndarray, tuple[str, ...]]]:
        texts = store.texts_of([w[len(TITLE_KEY):] if w.startswith(TITLE_KEY) else w for w in want])
        out: dict[str, tuple[np.ndarray, tuple[str, ...]]] = {}
        plain = [w for w in want if not w.startswith(TITLE_KEY) and w in texts]
        _, _, sets, toks = shingle_texts([Article(id=w, title=texts[w][0], text=texts[w][1]).content
                                          for w in plain], params)
        out.update(zip(plain, zip(sets, toks)))
        titles = [w for w in want if w.startswith(TITLE_KEY) and w[len(TITLE_KEY):] in texts]
        tsets, ttoks = shingle_titles([texts[w[len(TITLE_KEY):]][0] for w in titles], params)
        out.update(zip(titles, zip(tsets, ttoks)))
        return out

    known: dict[str, tuple[np.ndarray, tuple[str, ...]]] = {}
    seq0 = store.next_seq()
    report = EdgeReport()
    progress.stage("fingerprinting and near-duplicate search", total=len(new))
    for lo in range(0, len(new), FINGERPRINT_BATCH):
        batch = new[lo:lo + FINGERPRINT_BATCH]
        fp: Fingerprints = fingerprint_batch(batch, params)
        bids = [a.id for a in batch]
        stored_hashes = store.first_article_by_hash(fp.content_hash)
        rep = find_edges(bids, fp, params, index, stored_hashes, stored_shingles, known)
        # Articles go in first so that later batches find this one's hashes and texts.
        store.insert_articles(_article_rows(batch, range(seq0 + lo, seq0 + lo + len(batch)),
                                            fp.content_hash, run_id))
        store.insert_arrow("signatures", _signature_rows(bids, fp, rep.fingerprinted, config))
        report.edges.extend(rep.edges)
        report.exact_repeats += rep.exact_repeats
        report.candidates += rep.candidates
        report.rejected += rep.rejected
        progress.advance(len(batch))

    progress.stage("grouping")
    new_ids = [a.id for a in new]
    new_set = set(new_ids)
    touched = {e.other_id for e in report.edges if e.other_id not in new_set}
    stored_members = store.group_members_touching(touched) if touched else {}
    seq = store.seq_of(list(stored_members) + new_ids)
    members = assign_groups(new_ids, report.edges, stored_members, seq)
    old_groups = {stored_members[a].group_id for a in members if a in stored_members}
    store.upsert_memberships(members, run_id)
    store.refresh_groups({m.group_id for m in members.values()} | old_groups, run_id)
    return report, {a: members[a].group_id for a in new_ids}


def group_overview(store: Store, top: int = 5) -> tuple[int, int, list[dict[str, Any]]]:
    """(number of groups with 2+ members, articles in them, the ``top`` largest groups)."""
    n, arts = store.con.execute(
        "SELECT count(*), coalesce(sum(size), 0) FROM dup_groups WHERE size > 1").fetchall()[0]
    rows = store.con.execute(
        "SELECT g.group_id, g.size, g.representative_id, a.title, a.source FROM dup_groups g "
        "JOIN articles a ON a.id = g.representative_id WHERE g.size > 1 "
        "ORDER BY g.size DESC, g.group_id LIMIT ?", [top]).fetchall()
    largest = [{"group_id": r[0], "size": r[1], "representative_id": r[2],
                "title": r[3], "source": r[4]} for r in rows]
    return int(n), int(arts), largest


def run(inputs: Sequence[str | Path], store: Store, *, mapping: dict[str, str] | None = None,
        params: DedupParams = DedupParams(), story_step: StoryStep | None = None,
        story_params: dict[str, Any] | None = None, progress: Progress | None = None,
        command: str = "run") -> RunSummary:
    """Ingest input files into ``store``: dedup, optionally cluster into stories, record the run.

    Args:
        inputs: article files (see :func:`clustering.io.readers.read_articles`).
        store: an open, writable :class:`~clustering.store.Store`.
        mapping: column renames for the readers.
        params: near-duplicate settings.
        story_step: called inside the transaction with the new articles and their group ids;
            returns a summary dict (None: no story clustering).
        story_params: recorded with the run.
        progress: stage reporter.
        command: recorded in the run log.

    Returns:
        The :class:`RunSummary`. Re-running the same input adds no article, group or story rows.

    Raises:
        InputError: an input file is missing or unreadable as a whole (nothing is written).
        StoreError: the database cannot be written.
    """
    t0 = time.perf_counter()
    started = datetime.now(timezone.utc)
    progress = progress or Progress()
    progress.stage("reading input")
    read: ReadResult = read_articles(inputs, mapping=mapping)
    run_id = store.next_run_id()
    summary = RunSummary(run_id=run_id, read=len(read.articles) + read.skips.total)
    with store.transaction():
        new, summary.already_stored = split_new(store, read.articles, read.skips)
        summary.new_articles = len(new)
        if new:
            report, groups = dedup_into_store(store, run_id, new, params, progress)
            summary.exact_repeats = report.exact_repeats
            summary.near_duplicates = sum(1 for e in report.edges if e.rule == "jaccard")
            summary.lsh_candidates = report.candidates
            summary.lsh_rejected = report.rejected
            if story_step is not None:
                summary.stories = story_step(store, run_id, new, groups, progress)
        summary.skipped = read.skips.as_dict()
        summary.skip_examples = dict(read.skips.examples)
        summary.notes = list(read.notes)
        summary.groups, summary.articles_in_groups, summary.largest_groups = group_overview(store)
        summary.seconds = round(time.perf_counter() - t0, 3)
        params_log = {"dedup": params.as_dict(), "stories": story_params or {},
                      "fingerprint_config": fingerprint_config(params), "mapping": mapping or {}}
        store.record_run(run_id, started, command, [str(p) for p in inputs], params_log,
                         summary.as_dict())
    return summary


def recluster(store: Store, step, *, since: datetime | None = None, until: datetime | None = None,
              story_params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Batch re-cluster the stored stories published in [since, until] (open bounds allowed) in
    one transaction, recorded as a run ("recluster"). ``step`` is a batch-mode
    :class:`clustering.story_step.StoryStep`. Returns the story summary."""
    started = datetime.now(timezone.utc)
    run_id = store.next_run_id()
    with store.transaction():
        summary = step.recluster(store, run_id, since, until)
        window = [since.isoformat() if since else None, until.isoformat() if until else None]
        store.record_run(run_id, started, "recluster", [], {"stories": story_params or {},
                                                           "window": window}, summary)
    return summary
