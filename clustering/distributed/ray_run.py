"""A run (:meth:`clustering.NewsClusterer.ingest`) executed as a Ray Data pipeline.

Stages (every one a Ray Data operation over Arrow batches, calling the pure functions of
:mod:`clustering.distributed.batches`):

1. read: one Ray task per input file, with the engine's readers (same validation and skips);
   then article versions and canonical URLs (:func:`_updates_stage`): records that may be
   updates of stored articles are planned and applied on the driver by the local code
   (:mod:`clustering.updates`), and the new versions rejoin the pipeline;
2. fingerprint: ``map_groups`` over the local engine's fingerprint batches
   (``RunParams.fingerprint_batch`` new articles in input order) -- normalise, shingle, learn
   and drop outlet boilerplate, mark generic titles, MinHash signatures
   (:func:`~clustering.dedup.engine.fingerprint_batch`); other batches would learn other
   boilerplate, so the same batches are what makes the groups equal;
3. exact repeats: shuffle on the content hash (stored hash leaders included);
4. LSH banding: ``map_batches`` to band keys, then a shuffle on the band key; every bucket of
   two or more entries gives candidate pairs, de-duplicated by a shuffle on the pair;
5. verification: both sides' shingle sets joined onto each pair (hash joins), then
   :func:`~clustering.dedup.rules.decide` (``kind``, ``params``) in ``map_batches``; band keys
   are also written to ``lsh_bands`` as a local run writes them;
6. connected components: alternating large-star / small-star shuffles over the edge dataset
   until nothing changes (Kiveris et al. 2014; NeMo Curator's fuzzy dedup does the same), so no
   edge list is ever collected on the driver; a group's id is its member of smallest ``seq``;
7. representatives: shuffle on the group id, :func:`~clustering.dedup.rules.choose_representative`;
8. embeddings of new groups' representatives on an actor pool (one
   :class:`~clustering.embed.Embedder` per actor, built as the story step builds its own:
   :func:`clustering.story_step.embedder_for`), when stories are on; the story step itself
   (:class:`clustering.story_step.StoryStep`, the local code) then runs on the driver over the
   group representatives and finds their vectors stored.

Results are written by the workers as Parquet shards and appended to the same DuckDB tables by
the store (:class:`~clustering.store.bulk.BulkExchange`); stored history is read back the same
way, so a Ray run into an existing store checks new articles against the stored signatures.
What the driver holds: per-file counts, the records that may be updates (and their plan), the
ids of stored articles an edge touches (and their groups), and -- only when stories are on --
the new articles' group ids for the story step, which runs on the driver as in a local run.
Everything is written in one store transaction (updates included), as a local run. For a
database file that transaction lives in the store's own short-lived writer process
(:mod:`clustering.store.writer`): every store call of the run goes there, the driver's own
connection is closed meanwhile, so DuckDB's memory -- the run's rows until commit, the ART
indexes a commit and the reader snapshot's copy hold whole -- grows in that process, not in the
driver (benchmarks/RESULTS.md, "Ray Data engine"). An in-memory store stays in the driver.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from clustering.config import DedupParams
from clustering.dedup.engine import TITLE_KEY, Membership, shingle_texts, shingle_titles
from clustering.distributed import batches as B
from clustering.records import Article, SkipReport
from clustering.store.bulk import art_memory_mb
from clustering.store.writer import writer_process
from clustering.updates import finish_updates

__all__ = ["RayOptions", "connect", "ingest_ray"]


class RayOptions:
    """Where and how a Ray run executes.

    Args:
        address: an existing cluster's address (``"ray://host:10001"``, ``"auto"``); None starts
            a local cluster (or reuses the one this process already started).
        num_cpus: CPUs of a local cluster (None: all of the machine's).
        object_store_memory: bytes of a local cluster's object store (None: Ray's default).
        shards: partitions of each shuffle (None: from the input size).
        embed_actors: actors of the embedding pool (each holds one model).
        workdir: folder for the run's Parquet shards (None: a temporary folder, removed after).
        writer_process: a database file is written by the store's own short-lived process
            (:func:`clustering.store.writer.writer_process`), so the driver's memory does not
            grow with the store; False keeps DuckDB in the driver (an in-memory store always
            stays there).
    """

    def __init__(self, address: str | None = None, *, num_cpus: int | None = None,
                 object_store_memory: int | None = None, shards: int | None = None,
                 embed_actors: int = 1, workdir: str | Path | None = None, writer_process: bool = True):
        self.address = address
        self.num_cpus = num_cpus
        self.object_store_memory = object_store_memory
        self.shards = shards
        self.embed_actors = embed_actors
        self.workdir = workdir
        self.writer_process = writer_process


def connect(options: RayOptions) -> None:
    """Join ``options.address``, or start a local cluster, unless Ray is already initialised.

    Raises:
        ImportError: Ray is not installed (``pip install -e ".[ray]"``).
    """
    import ray

    if ray.is_initialized():
        configure_data_context()
        return
    import clustering

    if options.address:
        # a remote cluster may not have this package installed: ship it with the job
        ray.init(address=options.address, runtime_env={"py_modules": [clustering]},
                 log_to_driver=False)
    else:
        ray.init(num_cpus=options.num_cpus, object_store_memory=options.object_store_memory,
                 include_dashboard=False, log_to_driver=False)
    configure_data_context()


def configure_data_context() -> None:
    """Ray Data settings of a run: the task-based sort shuffle (the default hash shuffle starts
    aggregator actors for each shuffle, seconds apiece on a small cluster) and no progress bars."""
    import logging

    import ray.data as rd
    from ray.data.context import ShuffleStrategy

    logging.getLogger("ray.data").setLevel(logging.WARNING)
    ctx = rd.DataContext.get_current()
    ctx.shuffle_strategy = ShuffleStrategy.SORT_SHUFFLE_PULL_BASED
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False


# ---- remote pieces ------------------------------------------------------------------------------

def _read_one(file_idx: int, path: str, mapping: Mapping[str, str] | None
              ) -> tuple[pa.Table, SkipReport, list[str]]:
    from clustering.io.readers import articles_to_arrow, read_articles

    read = read_articles([path], mapping=mapping)
    t = articles_to_arrow(read.articles)
    t = t.append_column("file_idx", pa.array([file_idx] * t.num_rows, pa.int64()))
    return t, read.skips, list(read.notes)


def _with_order(batch: pa.Table, offsets: list[int], seq0: int) -> pa.Table:
    off = np.asarray(offsets, np.int64)[batch.column("file_idx").to_numpy()]
    order = batch.column("order").to_numpy() + off
    batch = batch.set_column(batch.schema.get_field_index("order"), "order", pa.array(order, pa.int64()))
    return batch.append_column("seq", pa.array(order + seq0, pa.int64()))


def _add_shard(batch: pa.Table, column: str, shards: int, name: str = "shard") -> pa.Table:
    col = batch.column(column)
    if pa.types.is_integer(col.type):
        vals = col.to_numpy() % shards
    else:
        vals = B.shard_of(col, shards)
    return batch.append_column(name, pa.array(vals, pa.int64()))


def _content_hashes(batch: pa.Table) -> pa.Table:
    """Adds ``content_hash`` (:func:`~clustering.dedup.engine.content_hash` of the normalised
    title + body) to article rows."""
    from clustering.dedup.engine import content_hash
    from clustering.normalise import normalise

    hashes = [content_hash(normalise(Article(id=r["id"], title=r["title"] or "", text=r["text"] or "").content))
              for r in batch.select(["id", "title", "text"]).to_pylist()]
    return batch.append_column("content_hash", pa.array(hashes, pa.string()))


def _signature_entries(batch: pa.Table) -> pa.Table:
    """Signature rows ``node, seq, kind, sig, stored`` of fingerprinted articles (own and title)."""
    lens = pc.list_value_length(batch.column("shingles")).to_numpy(zero_copy_only=False)
    own = batch.filter(pa.array(lens > 0))
    tl = pc.list_value_length(own.column("title_shingles")).to_numpy(zero_copy_only=False)
    tit = own.filter(pa.array(tl > 0))
    parts = [pa.table({"node": own.column("id"), "seq": own.column("seq"), "kind": own.column("kind"),
                       "sig": own.column("sig")}),
             pa.table({"node": tit.column("id"), "seq": tit.column("seq"),
                       "kind": pa.array(["title"] * tit.num_rows, pa.string()), "sig": tit.column("title_sig")})]
    t = pa.concat_tables([p.cast(parts[0].schema) for p in parts])
    return t.append_column("stored", pa.array(np.zeros(t.num_rows, bool)))


def _best_edges(shard: pa.Table) -> pa.Table:
    """Per ``new_id``, the edge it joined through: highest similarity, then earliest other."""
    if shard.num_rows == 0:
        return shard.drop_columns(["shard"])
    t = shard.sort_by([("new_id", "ascending"), ("similarity", "descending"), ("other_seq", "ascending")])
    ids = t.column("new_id").to_numpy(zero_copy_only=False)
    keep = np.r_[True, ids[1:] != ids[:-1]]
    return t.filter(pa.array(keep)).drop_columns(["shard"])


def _memberships(batch: pa.Table, run_id: int) -> pa.Table:
    """``dup_members`` rows of new articles joined with their root and best edge."""
    ids = batch.column("id").to_pylist()
    roots = batch.column("root_id").to_pylist()
    via = batch.column("other_id").to_pylist()
    sims = batch.column("similarity").to_pylist()
    rules = batch.column("rule").to_pylist()
    gid, sim, joined, rule = [], [], [], []
    for i, r, v, s, ru in zip(ids, roots, via, sims, rules):
        g = r or i
        gid.append(g)
        first = g == i or v is None
        sim.append(None if first else s)
        joined.append(None if first else v)
        rule.append(None if first else ru)
    return pa.table({"article_id": pa.array(ids, pa.string()), "group_id": pa.array(gid, pa.string()),
                     "similarity": pa.array(sim, pa.float64()), "joined_via": pa.array(joined, pa.string()),
                     "rule": pa.array(rule, pa.string()),
                     "run_id": pa.array([run_id] * len(ids), pa.int64()),
                     "published": batch.column("published"), "text_length": batch.column("text_length"),
                     "seq": batch.column("seq"), "root_seq": batch.column("root_seq")})


class _EmbedActor:
    """Holds one :class:`~clustering.embed.Embedder`; embeds batches of representatives."""

    def __init__(self, embed, run_id: int):
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from clustering.story_step import embedder_for

        # the story step's own builder: same backend, so the same model_id and vectors as a
        # local run (an embedder built otherwise gave torch vectors the step did not use)
        self.embedder = embedder_for(embed)
        self.run_id = run_id

    def __call__(self, batch: pa.Table) -> pa.Table:
        # one call per chunk of the local story step's (embed.chunk representatives in ingest
        # order): the int8 model's vectors depend on the batch, so the same chunks give the
        # same vectors as a local run
        batch = batch.sort_by("seq")
        titles = [t or "" for t in batch.column("title").to_pylist()]
        texts = [t or "" for t in batch.column("text").to_pylist()]
        vecs = np.asarray(self.embedder.encode_articles(titles, texts), np.float32)
        n = batch.num_rows
        return pa.table({"article_id": batch.column("representative_id"),
                         "model_id": pa.array([self.embedder.model_id] * n, pa.string()),
                         "vector": pa.array(list(vecs), pa.list_(pa.float32())),
                         "run_id": pa.array([self.run_id] * n, pa.int64())})


# ---- the run ------------------------------------------------------------------------------------

def _connected_components(edges, shards: int, max_rounds: int = 64):
    """Labels ``src, root`` (node -> smallest node of its component) of the nodes of an edge
    dataset ``src, dst`` (int64), by alternating large-star and small-star shuffles.

    Raises RuntimeError when it does not converge in ``max_rounds`` (it needs O(log^2 n)).
    """
    import ray.data as rd

    e = edges.select_columns(["src", "dst"])
    for _ in range(max_rounds):
        both = e.union(e.map_batches(lambda t: pa.table({"src": t.column("dst"), "dst": t.column("src")}),
                                     batch_format="pyarrow"))
        large = (both.map_batches(_add_shard, fn_kwargs={"column": "src", "shards": shards}, batch_format="pyarrow")
                 .groupby("shard", num_partitions=shards)
                 .map_groups(B.star_step, fn_kwargs={"large": True}, batch_format="pyarrow")
                 .materialize())
        small = (large.select_columns(["src", "dst"])
                 .map_batches(_add_shard, fn_kwargs={"column": "src", "shards": shards}, batch_format="pyarrow")
                 .groupby("shard", num_partitions=shards)
                 .map_groups(B.star_step, fn_kwargs={"large": False}, batch_format="pyarrow")
                 .materialize())
        changed = (large.sum("changed") or 0) + (small.sum("changed") or 0)
        e = small.select_columns(["src", "dst"])
        if changed == 0:
            return (e.groupby("src", num_partitions=shards)
                    .aggregate(rd.aggregate.Min("dst", alias_name="root")).materialize())
    raise RuntimeError(f"connected components did not converge in {max_rounds} rounds")


def _stored_shingled(store, ids: list[str], params: DedupParams) -> pa.Table:
    """``node, shingles, tokens`` of stored entries (ids, "title:" + id for titles), from their
    stored texts (signatures are stored, shingle sets are not)."""
    texts = store.texts_of([w[len(TITLE_KEY):] if w.startswith(TITLE_KEY) else w for w in ids])
    plain = [w for w in ids if not w.startswith(TITLE_KEY) and w in texts]
    titles = [w for w in ids if w.startswith(TITLE_KEY) and w[len(TITLE_KEY):] in texts]
    _, _, sets, toks = shingle_texts([Article(id=w, title=texts[w][0], text=texts[w][1]).content
                                      for w in plain], params)
    tsets, ttoks = shingle_titles([texts[w[len(TITLE_KEY):]][0] for w in titles], params)
    return pa.table({"node": pa.array(plain + titles, pa.string()),
                     "shingles": pa.array([s.tolist() for s in list(sets) + list(tsets)], pa.list_(pa.uint64())),
                     "tokens": pa.array([list(t) for t in list(toks) + list(ttoks)], pa.list_(pa.string()))})


def _pack(batch: pa.Table, key: str, shards: int, side: int) -> pa.Table:
    """One row per shard present in the batch: the shard's rows as one Arrow IPC blob (so two
    datasets of different schemas can meet in one shuffle)."""
    import pyarrow.ipc as ipc

    shard = _add_shard(batch.select([key]), key, shards).column("shard").to_numpy()
    out_shard, blobs = [], []
    for sh in np.unique(shard):
        sub = batch.filter(pa.array(shard == sh))
        sink = pa.BufferOutputStream()
        with ipc.new_stream(sink, sub.schema) as w:
            w.write_table(sub)
        out_shard.append(int(sh))
        blobs.append(sink.getvalue().to_pybytes())
    return pa.table({"shard": pa.array(out_shard, pa.int64()), "side": pa.array([side] * len(blobs), pa.int8()),
                     "blob": pa.array(blobs, pa.large_binary())})


def _local_join(group: pa.Table, key: str, how: str, left_schema: pa.Schema, right_schema: pa.Schema
                ) -> pa.Table:
    """Join the left and right rows of one shard; right keys are unique (every join here is a
    lookup), so this is ``index_in`` + ``take``."""
    import pyarrow.ipc as ipc

    parts: dict[int, list[pa.Table]] = {0: [], 1: []}
    for side, blob in zip(group.column("side").to_pylist(), group.column("blob").to_pylist()):
        parts[side].append(ipc.open_stream(pa.py_buffer(blob)).read_all())
    left = pa.concat_tables(parts[0]) if parts[0] else left_schema.empty_table()
    right = pa.concat_tables(parts[1]) if parts[1] else right_schema.empty_table()
    idx = pc.index_in(left.column(key), value_set=right.column(key).combine_chunks())
    if how == "inner":
        keep = pc.is_valid(idx)
        left, idx = left.filter(keep), idx.filter(keep)
    picked = right.drop_columns([key]).take(idx)
    for name in picked.column_names:
        left = left.append_column(name, picked.column(name))
    return left


def _join(left, right, key: str, how: str, shards: int):
    """``left`` joined with ``right`` on column ``key`` (unique in ``right``): ``how`` "inner" or
    "left". A reduce-side join over one sort shuffle: both sides are packed per shard, grouped by
    shard and joined locally (Ray's own ``Dataset.join`` starts hash-shuffle actors each time)."""
    left, right = left.materialize(), right.materialize()
    ls, rs = left.schema().base_schema, right.schema().base_schema
    packed = left.map_batches(_pack, fn_kwargs={"key": key, "shards": shards, "side": 0}, batch_format="pyarrow")
    packed = packed.union(right.map_batches(_pack, fn_kwargs={"key": key, "shards": shards, "side": 1},
                                            batch_format="pyarrow"))
    return packed.groupby("shard", num_partitions=shards).map_groups(_local_join, fn_kwargs={
        "key": key, "how": how, "left_schema": ls, "right_schema": rs}, batch_format="pyarrow")


def _where(ds, mask):
    """Rows of ``ds`` where ``mask(batch)`` (a boolean Arrow array) is true."""
    return ds.map_batches(lambda t: t.filter(mask(t)), batch_format="pyarrow")


def _rename(ds, mapping: dict[str, str]):
    return ds.map_batches(lambda t: t.rename_columns([mapping.get(c, c) for c in t.column_names]),
                          batch_format="pyarrow")


def _parquet_files(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*.parquet"))


def ingest_ray(nc, inputs: Sequence[str | Path], *, mapping: Mapping[str, str] | None = None,
               options: RayOptions | None = None, progress=None, command: str = "run"):
    """Ingest article files into ``nc``'s store as a Ray Data pipeline (see the module doc):
    the same groups, memberships, representatives and run record as
    :meth:`clustering.NewsClusterer.ingest`.

    Args:
        nc: the :class:`~clustering.NewsClusterer` (store and config).
        inputs: article files (any format the readers take; one Ray task per file).
        mapping: column renames for the readers.
        options: where Ray runs (:class:`RayOptions`; default: a local cluster).
        progress: stage reporter (:class:`~clustering.pipeline.Progress`).
        command: recorded in the run log.

    Returns:
        The :class:`~clustering.pipeline.RunSummary`; its ``notes`` say the run used Ray.
        ``articles.seq`` follows input order but may skip numbers (dropped records).

    Raises:
        ImportError: Ray is not installed.
        InputError: an input file is missing or unreadable (nothing is written).
        StoreError: the store cannot be written.
    """
    import ray
    import ray.data as rd

    from clustering.pipeline import Progress, RunSummary

    nc._writable()
    options = options or RayOptions()
    progress = progress or Progress()
    params = nc.config.dedup
    config_key = params.fingerprint_key()
    t0 = time.perf_counter()
    started = datetime.now(timezone.utc)
    connect(options)
    paths = [str(p) for p in inputs]
    tmp = tempfile.TemporaryDirectory(prefix="ray-run-", dir=options.workdir)
    work = Path(tmp.name)
    try:
        # a database file is written by the store's own process (every store call below runs
        # there): its ART indexes, commit and snapshot copy grow with the store, not the driver.
        # DuckDB is capped there too, so the run's rows spill to disk (RunParams)
        with nc._forget_story_caches_on_failure(), \
                writer_process(nc.store, options.writer_process) as store, \
                store.memory_limited(nc.config.run.bulk_memory_mb), store.transaction():
            run_id = store.next_run_id()
            # 1. read, one task per file
            progress.stage("reading input (Ray tasks)")
            read_task = ray.remote(_read_one).options(num_returns=3)
            refs = [read_task.remote(i, p, dict(mapping) if mapping else None) for i, p in enumerate(paths)]
            tables = [r[0] for r in refs]
            skips = SkipReport()
            notes: list[str] = []
            for s, n in zip(ray.get([r[1] for r in refs]), ray.get([r[2] for r in refs])):
                skips.merge(s)
                notes.extend(n)
            counts = ray.get([ray.remote(lambda t: t.num_rows).remote(t) for t in tables])
            offsets = list(np.r_[0, np.cumsum(counts)[:-1]]) if counts else []
            seq0 = store.next_seq()
            total = int(sum(counts))
            shards = options.shards or max(4, total // 20_000 + 4)  # ~20k articles per shard
            arts = (rd.from_arrow_refs(tables)
                    .map_batches(_with_order, fn_kwargs={"offsets": [int(o) for o in offsets], "seq0": seq0},
                                 batch_format="pyarrow"))
            # a repeated id across files: the first occurrence is kept, as in read_articles
            dup = arts.groupby("id", num_partitions=shards).aggregate(rd.aggregate.Count(alias_name="n"),
                                               rd.aggregate.Min("order", alias_name="first"))
            dup_rows = _where(dup, lambda t: pc.greater(t.column("n"), 1)).take_all()
            if dup_rows:
                first = {r["id"]: r["first"] for r in dup_rows}
                for r in dup_rows:
                    for _ in range(r["n"] - 1):
                        skips.add("duplicate id", r["id"])
                arts = arts.filter(lambda row: row["id"] not in first or row["order"] == first[row["id"]])

            summary = RunSummary(run_id=run_id, read=total + skips.total)
            stored_n = store.counts()["articles"]
            # article versions and canonical URLs, as a local run: records that may be updates
            # are planned on the driver (clustering.updates) and the new versions rejoin the
            # pipeline; unchanged records are dropped, the rest is new
            arts, plan, left, unchanged = _updates_stage(store, arts, run_id, started, seq0, skips, shards,
                                                         work, stored_n)
            summary.already_stored = unchanged + plan.unchanged
            summary.updated_text = len(plan.text_updates)
            summary.updated_metadata = len(plan.metadata_updates)
            summary.matched_by_url = plan.by_url
            stored_n = store.counts()["articles"]  # text updates took their old rows out
            arts = arts.materialize()

            # 2. fingerprint, in the local engine's fingerprint batches: RunParams.fingerprint_batch
            # new articles in input order. Outlet boilerplate and generic titles are learned per
            # batch (fingerprint_batch), so other batches would give other shingle sets and groups.
            progress.stage("fingerprinting (map_groups over fingerprint batches)")
            seqs = np.sort(np.concatenate([b["seq"] for b in arts.select_columns(["seq"]).iter_batches(
                batch_format="numpy", batch_size=1 << 20)] or [np.zeros(0, np.int64)]))
            bounds = seqs[::nc.config.run.fingerprint_batch].astype(np.int64)
            fp = (arts.map_batches(lambda t: t.append_column("fp_batch", pa.array(
                      B.fingerprint_batch_of(t.column("seq").to_numpy(), bounds), pa.int64())), batch_format="pyarrow")
                  .groupby("fp_batch", num_partitions=max(1, min(shards, len(bounds))))
                  .map_groups(B.fingerprint_table, fn_kwargs={"params": params}, batch_format="pyarrow"))
            fp = fp.materialize()
            summary.new_articles = fp.count() - summary.updated_text
            boilerplate: list[np.ndarray] = [np.zeros(0, np.uint64)] * len(bounds)
            for r in _where(fp, lambda t: pc.greater(pc.list_value_length(t.column("boilerplate")), 0)
                            ).select_columns(["fp_batch", "boilerplate"]).take_all():
                boilerplate[r["fp_batch"]] = np.asarray(r["boilerplate"], np.uint64)
            if fp.count() == 0:
                if nc.story_step is not None and left:  # metadata updates changed stories
                    summary.stories = nc.story_step(store, run_id, [], {}, progress, left=left)
                return _finish(nc, store, summary, skips, notes, started, t0, paths, mapping, command, "ray",
                               in_transaction=True)

            # 3. exact repeats (stored hash leaders take part)
            progress.stage("exact repeats (shuffle on content hash)")
            # generic items (labels, generic titles) join nothing, not even their exact repeats
            nodes = _where(fp, lambda t: pc.invert(t.column("generic"))).select_columns(
                ["content_hash", "id", "seq"]).map_batches(
                lambda t: t.append_column("stored", pa.array(np.zeros(t.num_rows, bool))), batch_format="pyarrow")
            stored_sigs = None
            if stored_n:
                store.export_hash_leaders(work / "stored_hashes.parquet")
                old = rd.read_parquet(str(work / "stored_hashes.parquet")).map_batches(
                    lambda t: t.append_column("stored", pa.array(np.ones(t.num_rows, bool))), batch_format="pyarrow")
                nodes = nodes.union(old)
                if store.export_signatures(config_key, work / "stored_sigs.parquet"):
                    stored_sigs = _rename(rd.read_parquet(str(work / "stored_sigs.parquet")),
                                          {"article_id": "node"}).map_batches(
                        lambda t: t.append_column("stored", pa.array(np.ones(t.num_rows, bool))),
                        batch_format="pyarrow")
            leaders = (nodes.map_batches(_add_shard, fn_kwargs={"column": "content_hash", "shards": shards},
                                         batch_format="pyarrow")
                       .groupby("shard", num_partitions=shards)
                     .map_groups(B.hash_leaders, batch_format="pyarrow").materialize())
            repeats = _where(leaders, lambda t: pc.not_equal(t.column("leader_id"), t.column("id")))
            exact = repeats.map_batches(lambda t: pa.table({
                "new_id": t.column("id"), "new_seq": t.column("seq"), "other_id": t.column("leader_id"),
                "other_seq": t.column("leader_seq"),
                "other_stored": pc.less(t.column("leader_seq"), pa.scalar(seq0, pa.int64())),
                "similarity": pa.array(np.ones(t.num_rows)), "rule": pa.array(["exact"] * t.num_rows, pa.string())}),
                batch_format="pyarrow").materialize()
            lead_ids = _where(leaders, lambda t: pc.equal(t.column("leader_id"), t.column("id"))).select_columns(["id"])

            # 4. LSH banding: shuffle on band keys, candidate pairs per bucket, de-duplicated
            progress.stage("LSH banding (shuffle on band keys)")
            entries = fp.map_batches(_signature_entries, batch_format="pyarrow")
            entries = _join(_rename(entries, {"node": "id"}), lead_ids, "id", "inner", shards)
            entries = _rename(entries, {"id": "node"}).materialize()
            sig_rows = entries.map_batches(lambda t: pa.table({
                "article_id": t.column("node"), "config": pa.array([config_key] * t.num_rows, pa.string()),
                "kind": t.column("kind"), "sig": t.column("sig")}), batch_format="pyarrow")
            sig_rows.write_parquet(str(work / "signatures"))
            # band keys as the local engine keeps them, so a later local run finds these entries
            entries.map_batches(B.lsh_band_rows, fn_kwargs={"params": params, "config": params.band_key()},
                                batch_format="pyarrow").write_parquet(str(work / "bands"))
            band_in = entries if stored_sigs is None else entries.union(stored_sigs.select_columns(
                ["node", "seq", "kind", "sig", "stored"]))
            pairs = (band_in.map_batches(B.band_rows, fn_kwargs={"params": params, "shards": shards},
                                         batch_format="pyarrow")
                     .groupby("shard", num_partitions=shards)
                     .map_groups(B.bucket_pairs, fn_kwargs={"shards": shards}, batch_format="pyarrow")
                     .groupby("pair_shard", num_partitions=shards).map_groups(B.unique_pairs, batch_format="pyarrow")
                     .drop_columns(["pair_shard"]).materialize())
            summary.lsh_candidates = pairs.count()

            # 5. verification: both sides' shingles joined onto each pair, then decide()
            progress.stage("verifying candidate pairs (map_batches)")
            shingled = fp.map_batches(B.shingled_rows, batch_format="pyarrow")
            if stored_sigs is not None and summary.lsh_candidates:
                touched = sorted(_where(pairs, lambda t: t.column("a_stored")).unique("a"))
                if touched:
                    shingled = shingled.union(rd.from_arrow(_stored_shingled(store, touched, params)))
            shingled = shingled.materialize()
            edges = exact
            if summary.lsh_candidates:
                with_a = _join(pairs, _rename(shingled, {"node": "a", "shingles": "a_shingles", "tokens": "a_tokens"}),
                               "a", "inner", shards)
                with_b = _join(with_a, _rename(shingled, {"node": "b", "shingles": "b_shingles", "tokens": "b_tokens"}),
                               "b", "inner", shards)
                verified = with_b.map_batches(B.verify_pairs, fn_kwargs={
                    "params": params, "bounds": bounds, "boilerplate": boilerplate},
                                              batch_format="pyarrow").materialize()
                edges = exact.union(verified).materialize()
            n_edges = edges.count()
            summary.exact_repeats = exact.count()
            jaccard_edges = _where(edges, lambda t: pc.equal(t.column("rule"), "jaccard")).count() if n_edges else 0
            summary.near_duplicates = jaccard_edges
            summary.lsh_rejected = summary.lsh_candidates - (n_edges - summary.exact_repeats)

            # 6. connected components in Ray; stored articles stand for their stored group
            progress.stage("connected components (large-star / small-star)")
            stored_members: dict[str, Membership] = {}
            stored_root_id: dict[int, str] = {}
            if n_edges and stored_n:
                touched_ids = _where(edges, lambda t: t.column("other_stored")).unique("other_id")
                if touched_ids:
                    stored_members = store.group_members_touching(touched_ids)
                    gseq = store.seq_of({m.group_id for m in stored_members.values()})
                    to_root = {a: gseq[m.group_id] for a, m in stored_members.items()}
                    stored_root_id = {s: g for g, s in gseq.items()}
                    edges = edges.map_batches(lambda t: t.set_column(
                        t.schema.get_field_index("other_seq"), "other_seq",
                        pa.array([to_root.get(o, s) for o, s in zip(t.column("other_id").to_pylist(),
                                                                    t.column("other_seq").to_pylist())], pa.int64())),
                        batch_format="pyarrow").materialize()
            id_of = fp.select_columns(["id", "seq"])
            if n_edges:
                graph = edges.map_batches(
                    lambda t: pa.table({"src": t.column("new_seq"), "dst": t.column("other_seq")}),
                    batch_format="pyarrow")
                labels = _connected_components(graph, shards)
                if stored_root_id:
                    sid = rd.from_arrow(pa.table({"id": pa.array(list(stored_root_id.values()), pa.string()),
                                                  "seq": pa.array(list(stored_root_id), pa.int64())}))
                    id_of_all = id_of.union(sid)
                else:
                    id_of_all = id_of
                labels = _join(_rename(labels, {"src": "seq", "root": "root_seq"}),
                               _rename(id_of_all, {"id": "root_id", "seq": "root_seq"}), "root_seq", "inner",
                               shards).materialize()
                stored_labels = (_where(labels, lambda t: pc.less(t.column("seq"), seq0)).take_all()
                                 if stored_root_id else [])
                best = (edges.select_columns(["new_id", "other_id", "other_seq", "similarity", "rule"])
                        .map_batches(_add_shard, fn_kwargs={"column": "new_id", "shards": shards},
                                     batch_format="pyarrow")
                        .groupby("shard", num_partitions=shards)
                     .map_groups(_best_edges, batch_format="pyarrow"))
                best = _rename(best.drop_columns(["other_seq"]), {"new_id": "id"})
                base = fp.select_columns(["id", "seq", "published", "text_length"])
                joined = _join(_join(base, labels.select_columns(["seq", "root_seq", "root_id"]), "seq", "left",
                                     shards), best, "id", "left", shards)
            else:
                joined = fp.select_columns(["id", "seq", "published", "text_length"]).map_batches(
                    lambda t: t.append_column("root_seq", pa.nulls(t.num_rows, pa.int64()))
                    .append_column("root_id", pa.nulls(t.num_rows, pa.string()))
                    .append_column("other_id", pa.nulls(t.num_rows, pa.string()))
                    .append_column("similarity", pa.nulls(t.num_rows, pa.float64()))
                    .append_column("rule", pa.nulls(t.num_rows, pa.string())), batch_format="pyarrow")
            members = joined.map_batches(_memberships, fn_kwargs={"run_id": run_id},
                                         batch_format="pyarrow").materialize()

            # 7. representatives of wholly new groups (root seq >= seq0); groups with stored members
            # are finished on the driver through the store, as in a local run
            progress.stage("representatives (shuffle on group id)")
            new_groups = (_where(members, lambda t: pc.fill_null(pc.greater_equal(t.column("root_seq"), seq0), True))
                          .map_batches(lambda t: t.rename_columns(["id" if c == "article_id" else c
                                                                   for c in t.column_names]), batch_format="pyarrow")
                          .map_batches(_add_shard, fn_kwargs={"column": "group_id", "shards": shards},
                                       batch_format="pyarrow")
                          .groupby("shard", num_partitions=shards)
                     .map_groups(B.choose_group_representatives, batch_format="pyarrow")
                          .map_batches(lambda t: t.append_column("run_id", pa.array([run_id] * t.num_rows, pa.int64())),
                                       batch_format="pyarrow").materialize())
            members.select_columns(["article_id", "group_id", "similarity", "joined_via", "rule", "run_id"]
                                   ).write_parquet(str(work / "members"))
            new_groups.write_parquet(str(work / "groups"))
            arts_out = fp.map_batches(lambda t: pa.table({
                "id": t.column("id"), "seq": t.column("seq"),
                "run_id": pa.array([run_id] * t.num_rows, pa.int64()), "title": t.column("title"),
                "text": t.column("text"), "published": t.column("published"), "source": t.column("source"),
                "url": t.column("url"), "canonical_url": t.column("canonical_url"), "lang": t.column("lang"),
                "listed_on": t.column("listed_on"),
                "input_order": t.column("order"), "content_hash": t.column("content_hash")}), batch_format="pyarrow")
            arts_out.write_parquet(str(work / "articles"))

            # 8. embeddings of the new groups' representatives on an actor pool
            embed_dir = None
            if _actors_embed_for(nc) and new_groups.count():
                progress.stage("embedding representatives (actor pool)")
                e = nc.config.embed
                reps = _join(new_groups.select_columns(["representative_id"]),
                             _rename(fp.select_columns(["id", "title", "text", "seq"]), {"id": "representative_id"}),
                             "representative_id", "inner", shards).materialize()
                rseq = np.sort(np.concatenate([b["seq"] for b in reps.select_columns(["seq"]).iter_batches(
                    batch_format="numpy", batch_size=1 << 20)]))
                chunks = rseq[::e.chunk].astype(np.int64)
                vecs = (reps.map_batches(lambda t: t.append_column("chunk", pa.array(
                            B.fingerprint_batch_of(t.column("seq").to_numpy(), chunks), pa.int64())),
                            batch_format="pyarrow")
                        .groupby("chunk", num_partitions=max(1, min(shards, len(chunks))))
                        .map_groups(_EmbedActor, fn_constructor_kwargs={"embed": e, "run_id": run_id},
                                    batch_format="pyarrow", compute=rd.ActorPoolStrategy(size=options.embed_actors)))
                embed_dir = work / "embeddings"
                vecs.write_parquet(str(embed_dir))

            # write: everything in one transaction, as a local run
            progress.stage("writing the store")
            shards_of = {"articles": _parquet_files(work / "articles"),
                         "signatures": _parquet_files(work / "signatures"),
                         "lsh_bands": _parquet_files(work / "bands"), "dup_members": _parquet_files(work / "members"),
                         "dup_groups": _parquet_files(work / "groups"),
                         "embeddings": _parquet_files(embed_dir) if embed_dir is not None else []}
            # ART indexes do not spill: the loads index the new rows, the commit holds whole each
            # index it appends to and the snapshot copy builds them all again, so the cap grows
            # by them (a fixed cap fails the commit once the store outgrows it)
            store.raise_memory_limit(nc.config.run.bulk_memory_mb + art_memory_mb(
                {t: store.parquet_rows(p) for t, p in shards_of.items()}))
            store.load_parquet("articles", shards_of["articles"])
            finish_updates(store, plan)  # the new versions' numbers (old + 1)
            for table in ("signatures", "lsh_bands", "dup_members", "dup_groups", "embeddings"):
                store.load_parquet(table, shards_of[table])
            if stored_members:
                # the component roots are no node's label (star centres), so take them from members
                kept_roots = _where(members, lambda t: pc.fill_null(pc.less(t.column("root_seq"), seq0), False)
                                    ).unique("group_id")
                _finish_stored_groups(store, stored_labels, stored_members, stored_root_id, run_id, kept_roots)
            if nc.story_step is not None:
                new_lite, groups = [], {}
                for b in members.select_columns(["article_id", "group_id", "published"]).iter_batches(
                        batch_format="pyarrow", batch_size=65_536):
                    for i, g, p in zip(b.column("article_id").to_pylist(), b.column("group_id").to_pylist(),
                                       b.column("published").to_pylist()):
                        groups[i] = g
                        new_lite.append(Article(id=i, published=p))
                summary.stories = nc.story_step(store, run_id, new_lite, groups, progress,
                                                **({"left": left} if left else {}))
            store.raise_memory_limit(nc.config.run.bulk_memory_mb + 2 * store.index_memory_mb())  # commit, copy
            return _finish(nc, store, summary, skips, notes, started, t0, paths, mapping, command, "ray",
                           in_transaction=True)
    finally:
        tmp.cleanup()


def _updates_stage(store, arts, run_id: int, now: datetime, seq0: int, skips: SkipReport, shards: int,
                   work: Path, stored_n: int):
    """Article versions and canonical URLs in a Ray run (inside the run's transaction).

    Records that may be versions of one article -- the id is stored but the record is not
    exactly the stored current version, the canonical URL of a full article is stored, or
    several records of the input share one -- are collected on the driver (their number, not
    the input's) and planned and applied by the local code
    (:func:`clustering.pipeline.plan_batch`, :func:`clustering.updates.apply_updates`). The
    plan's new records rejoin the pipeline in the local engine's order: an unseen article at
    its first record's place, new versions of text updates after everything else.

    Returns:
        (articles to fingerprint, the :class:`~clustering.updates.UpdatePlan`, story ids left
        by updates, records dropped as exactly the stored current version).
    """
    import ray.data as rd

    from clustering.io.readers import articles_from_arrow, articles_to_arrow
    from clustering.pipeline import plan_batch
    from clustering.updates import UpdatePlan, apply_updates

    arts = arts.map_batches(B.url_columns, batch_format="pyarrow").materialize()
    schema = arts.schema().base_schema
    has_url = _where(arts, lambda t: pc.is_valid(t.column("url_key"))).count() > 0
    unchanged = 0
    flags = []  # masks of the rows that go to the planner
    if stored_n:
        store.export_current_facts(work / "stored_facts.parquet")
        arts = _join(arts, rd.read_parquet(str(work / "stored_facts.parquet")), "id", "left", shards)
        arts = arts.map_batches(B.same_version, batch_format="pyarrow").materialize()
        unchanged = _where(arts, lambda t: t.column("same_version")).count()
        arts = _where(arts, lambda t: pc.invert(t.column("same_version"))).materialize()
        flags.append(lambda t: pc.is_valid(t.column("stored_hash")))
    if has_url and stored_n and store.export_full_article_urls(work / "stored_urls.parquet"):
        urls = rd.read_parquet(str(work / "stored_urls.parquet")).map_batches(
            lambda t: t.append_column("url_stored", pa.array(np.ones(t.num_rows, bool))), batch_format="pyarrow")
        arts = _join(arts, urls, "url_key", "left", shards).materialize()
        flags.append(lambda t: pc.fill_null(t.column("url_stored"), False))
    if has_url:
        keyed = _where(arts, lambda t: pc.is_valid(t.column("url_key")))
        counts = keyed.groupby("url_key", num_partitions=shards).count()
        shared_keys = [r["url_key"] for r in _where(counts, lambda t: pc.greater(t.column("count()"), 1)).take_all()]
        if shared_keys:
            shared = pa.array(shared_keys, pa.string())
            flags.append(lambda t: pc.fill_null(pc.is_in(t.column("url_key"), value_set=shared), False))

    def involved(t: pa.Table) -> pa.Array:
        mask = pa.array(np.zeros(t.num_rows, bool))
        for f in flags:
            mask = pc.or_(mask, f(t))
        return mask

    if not flags:
        return arts.select_columns(schema.names), UpdatePlan(), set(), unchanged
    picked = _where(arts, involved).select_columns(schema.names).take_all()
    rest = _where(arts, lambda t: pc.invert(involved(t))).select_columns(schema.names)
    if not picked:
        return rest, UpdatePlan(), set(), unchanged
    picked.sort(key=lambda r: r["order"])
    order_of = {r["id"]: r["order"] for r in picked}
    records = articles_from_arrow(pa.Table.from_pylist(picked).select(
        ["id", "title", "text", "published", "source", "url", "lang", "listed_on", "order"]))
    plan = plan_batch(store, records, skips)
    left = apply_updates(store, plan, run_id, now)
    if not plan.new:
        return rest, plan, left, unchanged
    last = int(max(r["order"] for r in picked))
    tail = iter(range(last + 1, last + 1 + len(plan.text_updates)))
    # an unseen article keeps its first record's id and place; new versions come last
    orders = [next(tail) if a.id in plan.text_updates else order_of[a.id] for a in plan.new]
    t = articles_to_arrow(plan.new)
    t = t.set_column(t.schema.get_field_index("order"), "order", pa.array(orders, pa.int64()))
    t = t.append_column("file_idx", pa.array(np.zeros(t.num_rows, np.int64)))
    t = t.append_column("seq", pa.array(np.asarray(orders, np.int64) + seq0, pa.int64()))
    t = B.url_columns(t)
    return rest.union(rd.from_arrow(t.select(schema.names).cast(schema))), plan, left, unchanged


def _actors_embed_for(nc) -> bool:
    """Whether the actor pool should embed the new groups' representatives: stories are on and
    the story step uses the embeddings of ``nc.config.embed`` (a step given another embedder
    embeds on the driver, as in a local run, since actor vectors would not be its model's)."""
    from clustering.story_step import embedder_for

    step = nc.story_step
    if step is None:
        return False
    want = getattr(step, "model_id", None)
    return want is not None and want == embedder_for(nc.config.embed).model_id


def _finish_stored_groups(store, stored_labels: list[dict[str, Any]], stored_members: dict[str, Membership],
                          stored_root_id: dict[int, str], run_id: int, roots: Sequence[str] = ()) -> None:
    """Groups that hold stored articles (call after the new memberships are loaded): stored
    members of a stored group merged into an older one take the older id (keeping their
    similarity and joined_via); the touched groups' representatives are chosen from the store,
    as in a local run.

    ``stored_labels``: rows ``seq, root_seq, root_id`` of the stored group roots an edge reached
    that are not their component's root; ``roots``: the stored group ids new members joined.
    """
    from clustering.dedup.rules import choose_representative

    root_of_group = {stored_root_id[r["seq"]]: r["root_id"] for r in stored_labels}
    changed_members = {a: Membership(root_of_group[m.group_id], m.similarity, m.joined_via, m.rule)
                       for a, m in stored_members.items()
                       if root_of_group.get(m.group_id, m.group_id) != m.group_id}
    if changed_members:
        store.upsert_memberships(changed_members, run_id)
    changed = set(root_of_group) | set(root_of_group.values()) | set(roots)
    candidates = store.group_candidates(changed)
    store.replace_groups(changed, [(gid, choose_representative(ms), len(ms))
                                   for gid, ms in sorted(candidates.items())], run_id)


def _finish(nc, store, summary, skips: SkipReport, notes: list[str], started, t0, paths, mapping, command,
            engine: str, in_transaction: bool = False):
    summary.skipped = skips.as_dict()
    summary.skip_examples = dict(skips.examples)
    summary.notes = list(notes) + [f"engine: {engine}"]
    summary.groups, summary.articles_in_groups, summary.largest_groups = store.group_overview()
    summary.seconds = round(time.perf_counter() - t0, 3)
    params = nc.run_params(mapping)
    params["engine"] = engine

    def record() -> None:
        store.record_run(summary.run_id, started, command, paths, params, summary.as_dict())

    if in_transaction:
        record()
    else:
        with store.transaction():
            record()
    return summary


def run_args(address: str | None) -> dict[str, Any]:
    """Options for :func:`ingest_ray` from the CLI's ``--ray-address``."""
    return {"options": RayOptions(address)}
