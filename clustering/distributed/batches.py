"""Pure functions over Arrow tables: the stages of a distributed near-duplicate run.

Each function takes a ``pyarrow.Table`` (a Ray Data batch, or a whole shard after a shuffle)
and returns one; none does I/O. They call the engine's own functions
(:func:`~clustering.dedup.engine.fingerprint_batch`, :func:`~clustering.dedup.lsh.bands_rows`,
:func:`~clustering.dedup.rules.decide`, :func:`~clustering.dedup.rules.choose_representative`)
so a distributed run applies the same rules as :func:`~clustering.dedup.engine.find_edges`:

- *exact repeat*: an article whose normalised text hash was seen earlier (smaller ingest
  ``seq``) joins that earlier article and takes no LSH entry;
- *Jaccard* / *containment*: two entries of the same LSH index ("word" or "char") sharing
  one band, verified by ``decide`` with that kind's threshold and rules (containment and
  numbers rules for full articles, the headline edit rule for headline-length texts);
- *generic titles*: a label or generic title (found per fingerprint batch) joins nothing;
- *headline*: a full article's title fingerprint ("title:" + id, in the "char" index) against a
  headline-only item; two titles are never compared.

The later entry (larger ``seq``) of a candidate pair plays the part of the item being added in
:func:`find_edges` (``own``), the earlier one that of the indexed candidate, so ``decide`` sees
its arguments in the same order as in a local run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from clustering.config import DedupParams
from clustering.dedup.boilerplate import strip_boilerplate
from clustering.dedup.engine import TITLE_KEY, fingerprint_batch
from clustering.dedup.lsh import band_keys, bands_rows
from clustering.dedup.rules import RepCandidate, choose_representative, decide
from clustering.records import Article

__all__ = ["ARTICLE_FIELDS", "band_rows", "bucket_pairs", "choose_group_representatives",
           "fingerprint_batch_of", "fingerprint_table", "hash_leaders", "lsh_band_rows", "shard_of",
           "shingled_rows", "star_step", "verify_pairs"]

#: Article columns carried through a run (as in :func:`clustering.io.readers.articles_to_arrow`).
ARTICLE_FIELDS = ("id", "title", "text", "published", "source", "url", "lang", "listed_on", "order")

_U64 = pa.list_(pa.uint64())
_STR_LIST = pa.list_(pa.string())


def shard_of(keys: pa.Array | list, shards: int) -> np.ndarray:
    """A stable shard number in ``[0, shards)`` per key (string or bytes), from BLAKE2b: the
    grouping key of a shuffle, so that each reduce call sees whole groups and groups them
    vectorised inside (one Python call per shard, not per LSH bucket)."""
    vals = keys.to_pylist() if hasattr(keys, "to_pylist") else list(keys)
    out = np.empty(len(vals), np.int64)
    for i, k in enumerate(vals):
        b = k if isinstance(k, bytes) else str(k).encode("utf-8")
        out[i] = int.from_bytes(hashlib.blake2b(b, digest_size=8).digest(), "little") % shards
    return out


def fingerprint_table(batch: pa.Table, params: DedupParams) -> pa.Table:
    """Fingerprint one fingerprint batch of articles (columns :data:`ARTICLE_FIELDS` plus
    ``seq``; rows are put in ``seq`` order first) with the engine's
    :func:`~clustering.dedup.engine.fingerprint_batch`, so outlet boilerplate and generic
    titles are learned over the batch exactly as in a local run -- which needs the caller to
    pass the local engine's batches (``RunParams.fingerprint_batch`` articles in input order).

    Adds: ``content_hash`` (hex BLAKE2b-128 of the normalised text), ``kind`` ("word"/"char"),
    ``shingles`` (list<uint64>, boilerplate dropped), ``tokens`` (list<string>: tokens of
    headline-length texts, number contexts of full articles), ``sig`` (binary, ``num_perm``
    little-endian uint32), ``title_shingles``, ``title_tokens``, ``title_sig`` (empty when the
    article has no title fingerprint), ``text_length`` (characters of title + body, for the
    representative rule), ``generic`` (true: a label or generic title that joins nothing) and
    ``boilerplate`` (the batch's boilerplate shingles on the batch's first row, empty on the
    others).
    """
    batch = batch.sort_by([("seq", "ascending")])
    arts = [Article(**{f: r[f] for f in ARTICLE_FIELDS}) for r in batch.select(list(ARTICLE_FIELDS)).to_pylist()]
    fp = fingerprint_batch(arts, params)
    n = len(arts)
    has_title = [fp.has_title_fingerprint(i) for i in range(n)]
    sig = [fp.signatures[i].astype("<u4").tobytes() for i in range(n)]
    tsig = [fp.title_signatures[i].astype("<u4").tobytes() if has_title[i] else b"" for i in range(n)]
    generic = [bool(fp.generic and fp.generic[i]) for i in range(n)]
    bp = fp.boilerplate.tolist()
    cols = {
        "content_hash": pa.array(fp.content_hash, pa.string()),
        "kind": pa.array(fp.kinds, pa.string()),
        "shingles": pa.array([s.tolist() for s in fp.shingles], _U64),
        "tokens": pa.array([list(t) for t in fp.tokens], _STR_LIST),
        "sig": pa.array(sig, pa.binary()),
        "title_shingles": pa.array([s.tolist() if h else [] for s, h in zip(fp.title_shingles, has_title)], _U64),
        "title_tokens": pa.array([list(t) if h else [] for t, h in zip(fp.title_tokens, has_title)], _STR_LIST),
        "title_sig": pa.array(tsig, pa.binary()),
        "text_length": pa.array([len(a.title) + len(a.text) for a in arts], pa.int64()),
        "generic": pa.array(generic, pa.bool_()),
        "boilerplate": pa.array([bp] + [[]] * (n - 1) if n else [], _U64),
    }
    for name, col in cols.items():
        batch = batch.append_column(name, col)
    return batch


def fingerprint_batch_of(seq: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """The fingerprint batch number of each ``seq``: ``bounds`` holds the first ``seq`` of
    each batch, ascending (batch k is ``bounds[k] <= seq < bounds[k + 1]``)."""
    return np.searchsorted(bounds, seq, side="right") - 1


def hash_leaders(shard: pa.Table) -> pa.Table:
    """Exact repeats within a shard of ``(content_hash, id, seq, stored)`` rows grouped by
    content hash: per hash, the row of smallest ``seq`` leads. Returns, for every new
    (``stored`` false) row, ``id, seq, leader_id, leader_seq`` (leader = itself for leaders)."""
    t = shard.sort_by([("content_hash", "ascending"), ("seq", "ascending")])
    h = t.column("content_hash").to_numpy(zero_copy_only=False)
    ids = t.column("id").to_numpy(zero_copy_only=False)
    seqs = t.column("seq").to_numpy()
    first = np.r_[True, h[1:] != h[:-1]] if len(h) else np.zeros(0, bool)
    lead_pos = np.maximum.accumulate(np.where(first, np.arange(len(h)), 0)) if len(h) else np.zeros(0, np.int64)
    keep = ~t.column("stored").to_numpy(zero_copy_only=False).astype(bool)
    return pa.table({"id": pa.array(ids[keep], pa.string()), "seq": pa.array(seqs[keep], pa.int64()),
                     "leader_id": pa.array(ids[lead_pos][keep], pa.string()),
                     "leader_seq": pa.array(seqs[lead_pos][keep], pa.int64())})


def band_rows(batch: pa.Table, params: DedupParams, shards: int) -> pa.Table:
    """LSH band keys of signature rows ``node, seq, kind, sig, stored`` (kind "word", "char" or
    "title"; a title goes into the "char" index, as in :class:`~clustering.dedup.lsh.CandidateIndex`).

    Returns one row per (entry, band): ``key`` (binary: index letter, band number, the band's
    raw uint32 rows -- equal keys are exactly datasketch's equal band hashes), ``shard``,
    ``node`` (article id, or "title:" + id), ``seq``, ``stored``, ``is_title``.
    """
    br = {"word": bands_rows(params.threshold, params.num_perm),
          "char": bands_rows(params.char_threshold, params.num_perm)}
    keys: list[bytes] = []
    nodes: list[str] = []
    seqs: list[int] = []
    stored: list[bool] = []
    titles: list[bool] = []
    for r in batch.select(["node", "seq", "kind", "sig", "stored"]).to_pylist():
        kind = r["kind"]
        index = "char" if kind == "title" else kind
        b, rows = br[index]
        sig = r["sig"]
        node = TITLE_KEY + r["node"] if kind == "title" else r["node"]
        for j in range(b):
            keys.append(index[0].encode() + j.to_bytes(2, "little") + sig[4 * j * rows:4 * (j + 1) * rows])
            nodes.append(node)
            seqs.append(r["seq"])
            stored.append(r["stored"])
            titles.append(kind == "title")
    karr = pa.array(keys, pa.binary())
    return pa.table({"key": karr, "shard": pa.array(shard_of(keys, shards), pa.int64()),
                     "node": pa.array(nodes, pa.string()), "seq": pa.array(seqs, pa.int64()),
                     "stored": pa.array(stored, pa.bool_()), "is_title": pa.array(titles, pa.bool_())})


def bucket_pairs(shard: pa.Table, shards: int) -> pa.Table:
    """Candidate pairs of one shard of band rows (all rows of each LSH bucket are in the same
    shard): every two entries of a bucket, except two stored entries (compared in an earlier
    run) and two title fingerprints (never compared). Pairs are ordered by ``seq``: ``a`` the
    earlier entry, ``b`` the later one, and de-duplicated within the shard.

    Returns ``a, a_seq, a_title, a_stored, b, b_seq, b_title, index, pair_shard``
    (``index`` "word"/"char"; ``pair_shard`` the shard of the pair, for the de-duplicating
    shuffle).
    """
    t = shard.sort_by([("key", "ascending"), ("seq", "ascending")])
    keys = t.column("key").to_pylist()
    n = len(keys)
    out: dict[str, list] = {c: [] for c in ("a", "a_seq", "a_title", "a_stored", "b", "b_seq", "b_title",
                                            "index")}
    if n:
        nodes = t.column("node").to_pylist()
        seqs = t.column("seq").to_pylist()
        stored = t.column("stored").to_pylist()
        titles = t.column("is_title").to_pylist()
        seen: set[tuple[str, str]] = set()
        lo = 0
        while lo < n:
            hi = lo + 1
            while hi < n and keys[hi] == keys[lo]:
                hi += 1
            if hi - lo > 1:
                index = "word" if keys[lo][:1] == b"w" else "char"
                for i in range(lo, hi):
                    for j in range(i + 1, hi):
                        if (stored[i] and stored[j]) or (titles[i] and titles[j]) or nodes[i] == nodes[j]:
                            continue
                        a, b = (i, j) if (seqs[i], nodes[i]) < (seqs[j], nodes[j]) else (j, i)
                        if (nodes[a], nodes[b]) in seen:
                            continue
                        seen.add((nodes[a], nodes[b]))
                        for c, v in (("a", nodes[a]), ("a_seq", seqs[a]), ("a_title", titles[a]),
                                     ("a_stored", stored[a]), ("b", nodes[b]), ("b_seq", seqs[b]),
                                     ("b_title", titles[b]), ("index", index)):
                            out[c].append(v)
            lo = hi
    pair_keys = [f"{a}\x00{b}" for a, b in zip(out["a"], out["b"])]
    return pa.table({
        "a": pa.array(out["a"], pa.string()), "a_seq": pa.array(out["a_seq"], pa.int64()),
        "a_title": pa.array(out["a_title"], pa.bool_()), "a_stored": pa.array(out["a_stored"], pa.bool_()),
        "b": pa.array(out["b"], pa.string()), "b_seq": pa.array(out["b_seq"], pa.int64()),
        "b_title": pa.array(out["b_title"], pa.bool_()), "index": pa.array(out["index"], pa.string()),
        "pair_shard": pa.array(shard_of(pair_keys, shards), pa.int64()),
    })


def unique_pairs(shard: pa.Table) -> pa.Table:
    """The distinct ``(a, b)`` pairs of one pair shard (a pair found in several bands once)."""
    if shard.num_rows == 0:
        return shard
    t = shard.sort_by([("a", "ascending"), ("b", "ascending")])
    a = t.column("a").to_numpy(zero_copy_only=False)
    b = t.column("b").to_numpy(zero_copy_only=False)
    keep = np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1])]
    return t.filter(pa.array(keep))


def shingled_rows(batch: pa.Table) -> pa.Table:
    """What verification needs of each fingerprinted entry of a fingerprint batch: rows
    ``node, shingles, tokens`` for an article's own shingles (when non-empty) and, for a
    full article with a title fingerprint, ``"title:" + id`` with the title's shingles.
    Generic items (a label or generic title) have none: they join nothing."""
    ids = batch.column("id").to_pylist()
    sh = batch.column("shingles")
    tk = batch.column("tokens")
    tsh = batch.column("title_shingles")
    ttk = batch.column("title_tokens")
    lens = pa.compute.list_value_length(sh).to_numpy(zero_copy_only=False)
    tlens = pa.compute.list_value_length(tsh).to_numpy(zero_copy_only=False)
    ok = ~batch.column("generic").to_numpy(zero_copy_only=False).astype(bool)  # generic: joins nothing
    own = np.flatnonzero((lens > 0) & ok)
    tit = np.flatnonzero((tlens > 0) & ok)
    nodes = [ids[i] for i in own] + [TITLE_KEY + ids[i] for i in tit]
    return pa.table({
        "node": pa.array(nodes, pa.string()),
        "shingles": pa.concat_arrays([sh.take(pa.array(own)).combine_chunks().cast(_U64),
                                      tsh.take(pa.array(tit)).combine_chunks().cast(_U64)]),
        "tokens": pa.concat_arrays([tk.take(pa.array(own)).combine_chunks().cast(_STR_LIST),
                                    ttk.take(pa.array(tit)).combine_chunks().cast(_STR_LIST)]),
    })


def verify_pairs(batch: pa.Table, params: DedupParams, bounds: np.ndarray | None = None,
                 boilerplate: Sequence[np.ndarray] = ()) -> pa.Table:
    """Verify candidate pairs joined with both sides' shingles (columns of
    :func:`bucket_pairs` plus ``a_shingles, a_tokens, b_shingles, b_tokens``) with
    :func:`~clustering.dedup.rules.decide` (``kind`` the pair's index, ``params``): ``b`` (the
    later entry) is ``own``, ``a`` the candidate; the threshold is that kind's.

    A stored candidate's shingles were made afresh from its text, so, as
    :func:`~clustering.dedup.engine.find_edges` does, the boilerplate of ``b``'s fingerprint
    batch (``boilerplate[k]``, batch ``k`` found from ``b_seq`` and ``bounds``, see
    :func:`fingerprint_batch_of`) is dropped from them first.

    Returns the verified edges: ``new_id, new_seq, other_id, other_seq, other_stored,
    similarity, rule`` (ids without the "title:" prefix).
    """
    out: dict[str, list] = {c: [] for c in ("new_id", "new_seq", "other_id", "other_seq", "other_stored",
                                            "similarity", "rule")}
    cols = ["a", "a_seq", "a_title", "a_stored", "b", "b_seq", "index", "a_shingles", "a_tokens",
            "b_shingles", "b_tokens"]
    for r in batch.select(cols).to_pylist():
        kind = r["index"]
        own = (np.asarray(r["b_shingles"], np.uint64), tuple(r["b_tokens"]))
        a_sh = np.asarray(r["a_shingles"], np.uint64)
        if r["a_stored"] and bounds is not None and len(boilerplate):
            bp = boilerplate[int(fingerprint_batch_of(np.asarray([r["b_seq"]]), bounds)[0])]
            if len(bp):
                a_sh = strip_boilerplate(a_sh, bp)
        other = (a_sh, tuple(r["a_tokens"]))
        d = decide(own, other, params.threshold_for(kind), via_title=r["a_title"], kind=kind, params=params)
        if not d.joined:
            continue
        strip = lambda k: k[len(TITLE_KEY):] if k.startswith(TITLE_KEY) else k
        for c, v in (("new_id", strip(r["b"])), ("new_seq", r["b_seq"]), ("other_id", strip(r["a"])),
                     ("other_seq", r["a_seq"]), ("other_stored", r["a_stored"]),
                     ("similarity", d.similarity), ("rule", d.rule)):
            out[c].append(v)
    return pa.table({"new_id": pa.array(out["new_id"], pa.string()),
                     "new_seq": pa.array(out["new_seq"], pa.int64()),
                     "other_id": pa.array(out["other_id"], pa.string()),
                     "other_seq": pa.array(out["other_seq"], pa.int64()),
                     "other_stored": pa.array(out["other_stored"], pa.bool_()),
                     "similarity": pa.array(out["similarity"], pa.float64()),
                     "rule": pa.array(out["rule"], pa.string())})


def star_step(shard: pa.Table, large: bool) -> pa.Table:
    """One large-star or small-star step (Kiveris et al., "Connected Components in MapReduce
    and Beyond", SoCC 2014) on one shard of directed edge rows ``src, dst`` (int64 node
    numbers) grouped by ``src``.

    Large-star takes both directions of every edge: each node ``u`` links every larger
    neighbour to ``m(u)``, the smallest of ``u`` and its neighbours. Small-star takes edges as
    (larger, smaller): each ``u`` links itself and its smaller neighbours to the smallest of
    them. Returns the new undirected edges ``src, dst`` (``src > dst``) and ``changed``
    (1 where an edge was rewired); iterating both until nothing changes leaves one star per
    connected component, centred on its smallest node.
    """
    if shard.num_rows == 0:
        return pa.table({"src": pa.array([], pa.int64()), "dst": pa.array([], pa.int64()),
                         "changed": pa.array([], pa.int64())})
    t = shard.sort_by([("src", "ascending"), ("dst", "ascending")])
    src = t.column("src").to_numpy()
    dst = t.column("dst").to_numpy()
    keep = np.r_[True, (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])]
    src, dst = src[keep], dst[keep]
    starts = np.flatnonzero(np.r_[True, src[1:] != src[:-1]])
    counts = np.diff(np.r_[starts, len(src)])
    group_min = np.minimum.reduceat(dst, starts)  # sorted by dst within a group: the first
    u = src[starts]
    m = np.minimum(group_min, u)
    m_row = np.repeat(m, counts)
    if large:
        sel = dst > src
        out_src, out_dst = dst[sel], m_row[sel]
        changed = (m_row[sel] != src[sel]).astype(np.int64)
    else:
        # edges arrive as (larger, smaller): every dst < src, so m = the group's smallest dst
        sel = dst != m_row
        out_src = np.r_[dst[sel], u]
        out_dst = np.r_[m_row[sel], m]
        changed = np.r_[np.ones(int(sel.sum()), np.int64), np.zeros(len(u), np.int64)]
        own = out_src != out_dst
        out_src, out_dst, changed = out_src[own], out_dst[own], changed[own]
    return pa.table({"src": pa.array(out_src, pa.int64()), "dst": pa.array(out_dst, pa.int64()),
                     "changed": pa.array(changed, pa.int64())})


def choose_group_representatives(shard: pa.Table) -> pa.Table:
    """Representatives of the groups in one shard of member rows ``group_id, id, published,
    text_length, seq`` (all members of a group in the shard), by
    :func:`~clustering.dedup.rules.choose_representative`. Returns ``group_id,
    representative_id, size``."""
    by_group: dict[str, list[RepCandidate]] = {}
    for r in shard.select(["group_id", "id", "published", "text_length", "seq"]).to_pylist():
        by_group.setdefault(r["group_id"], []).append(
            RepCandidate(r["id"], r["published"], r["text_length"], r["seq"]))
    gids = sorted(by_group)
    return pa.table({"group_id": pa.array(gids, pa.string()),
                     "representative_id": pa.array([choose_representative(by_group[g]) for g in gids], pa.string()),
                     "size": pa.array([len(by_group[g]) for g in gids], pa.int64())})


def lsh_band_rows(batch: pa.Table, params: DedupParams, config: str) -> pa.Table:
    """``lsh_bands`` rows (``config, key, item``) of signature rows ``node, kind, sig`` (kind
    "word", "char" or "title"), keyed as the local engine keys them
    (:func:`~clustering.dedup.lsh.band_keys`; a title in the "char" index as ``"title:" + id``),
    so a later local run finds the entries of a Ray run among the stored band keys."""
    nodes = batch.column("node").to_pylist()
    kinds = batch.column("kind").to_pylist()
    sigs = batch.column("sig").to_pylist()
    keys: list[np.ndarray] = []
    items: list[str] = []
    for kind in ("word", "char", "title"):
        rows = [i for i, k in enumerate(kinds) if k == kind]
        if not rows:
            continue
        index = "char" if kind == "title" else kind
        b, r = bands_rows(params.threshold_for(index), params.num_perm)
        mat = np.stack([np.frombuffer(sigs[i], "<u4") for i in rows])
        keys.append(band_keys(mat, b, r, index).reshape(-1))
        names = [TITLE_KEY + nodes[i] if kind == "title" else nodes[i] for i in rows]
        items.extend(n for n in names for _ in range(b))
    flat = np.concatenate(keys) if keys else np.zeros(0, np.int64)
    return pa.table({"config": pa.array([config] * len(items), pa.string()),
                     "key": pa.array(flat, pa.int64()), "item": pa.array(items, pa.string())})


def url_columns(batch: pa.Table) -> pa.Table:
    """Adds ``canonical_url`` (:func:`~clustering.io.urls.canonical_url` of ``url``, as a local
    run stores it) and ``url_key`` (the same for a full article, null for a headline of a page's
    list: only full articles are matched by URL, :mod:`clustering.updates`) to article rows."""
    from clustering.io.urls import canonical_url

    curls = [canonical_url(u) for u in batch.column("url").to_pylist()]
    listed = batch.column("listed_on").to_pylist()
    keys = [c if lo is None else None for c, lo in zip(curls, listed)]
    return (batch.append_column("canonical_url", pa.array(curls, pa.string()))
            .append_column("url_key", pa.array(keys, pa.string())))


def same_version(batch: pa.Table) -> pa.Table:
    """Adds ``same_version`` to article rows joined with the stored current facts
    (``stored_hash`` ...; :meth:`~clustering.store.bulk.BulkExchange.export_current_facts`):
    true when the record is exactly the stored current version (same content hash, published,
    source, canonical URL and lang; :func:`clustering.updates.version_key`), so it is unchanged
    without planning; false for other records (unseen, or possible updates)."""
    from clustering.dedup.engine import content_hash
    from clustering.normalise import normalise
    from clustering.updates import version_key

    out = []
    for r in batch.select(["id", "title", "text", "published", "source", "canonical_url", "lang",
                           "stored_hash", "stored_published", "stored_source", "stored_curl",
                           "stored_lang"]).to_pylist():
        if r["stored_hash"] is None:
            out.append(False)
            continue
        h = content_hash(normalise(Article(id=r["id"], title=r["title"] or "", text=r["text"] or "").content))
        out.append(version_key(r["id"], h, r["published"], r["source"], r["canonical_url"], r["lang"])
                   == version_key(r["id"], r["stored_hash"], r["stored_published"], r["stored_source"],
                                  r["stored_curl"], r["stored_lang"]))
    return batch.append_column("same_version", pa.array(out, pa.bool_()))
