"""Near-duplicate detection over a batch of articles, incremental against what is stored.

Stages, each a pure function of its inputs:

1. :func:`fingerprint_batch` -- normalise each article's title + body, hash the normalised text
   (exact repeats), shingle it (word shingles, or character n-grams for short texts) and compute
   MinHash signatures in one vectorised pass.
2. :func:`find_edges` -- exact repeats by content hash first (cheap), then MinHash LSH candidate
   pairs for the rest, each **verified** by the exact Jaccard similarity of the two shingle sets
   before it becomes an edge, so an unrelated item cannot be chained in through a bad candidate.
3. :func:`assign_groups` -- union-find over the verified edges and the groups already stored;
   each group's id is the id of its earliest-ingested member, so ids stay stable as groups grow.
4. :func:`choose_representative` -- earliest published; ties: longest text, then input order.
"""

from __future__ import annotations

import hashlib
import multiprocessing
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from clustering.config import DedupParams, ShingleParams
from clustering.dedup.boilerplate import learn_boilerplate, strip_boilerplate
from clustering.dedup.lsh import BandIndex, CandidateIndex
from clustering.dedup.minhash import signatures
from clustering.dedup.rules import (
    Decision,
    RepCandidate,
    Shingled,
    choose_representative,
    decide,
    generic_titles,
    headline_label,
    number_contexts,
)
from clustering.dedup.shingles import shingle_batch
from clustering.normalise import normalise, tokens
from clustering.records import Article


@dataclass
class Fingerprints:
    """Fingerprints of a batch, aligned with its articles (index i = article i).

    Attributes:
        content_hash: hex BLAKE2b-128 of the normalised text, per article.
        kinds: "word" or "char" per article.
        shingles: sorted unique uint64 shingle hashes per article.
        signatures: uint32 (n, num_perm) MinHash signatures.
        title_shingles: for word-shingled articles with a title, the character shingles of the
            title alone (empty array otherwise): a headline-only item ("related articles" list
            entry) is matched against these, so it joins the article it links to.
        title_signatures: uint32 (n, num_perm) MinHash signatures of ``title_shingles``.
        tokens: normalised tokens of character-shingled (headline-length) articles, for the
            headline edit rule; number contexts of word-shingled ones, for the numbers rule.
        title_tokens: normalised tokens of the titles that have a title fingerprint.
        generic: per article, why it is a headline-only item that is never joined (a label
            too short to be a headline, or a title the batch shows over many different
            bodies; :func:`~clustering.dedup.rules.headline_label`,
            :func:`~clustering.dedup.rules.generic_titles`), else None; empty: none.
        boilerplate: the batch's outlet boilerplate shingles, dropped from ``shingles``
            (:func:`~clustering.dedup.boilerplate.learn_boilerplate`).
        dropped: per article, how many of its shingles were boilerplate.
    """

    content_hash: list[str]
    kinds: list[str]
    shingles: list[np.ndarray]
    signatures: np.ndarray
    title_shingles: list[np.ndarray]
    title_signatures: np.ndarray
    tokens: list[tuple[str, ...]]
    title_tokens: list[tuple[str, ...]]
    generic: list[str | None] = field(default_factory=list)
    boilerplate: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    dropped: list[int] = field(default_factory=list)

    def has_title_fingerprint(self, i: int) -> bool:
        """True when article i is word-shingled and its title has character shingles."""
        return self.kinds[i] == "word" and len(self.title_shingles[i]) > 0


#: Key prefix of title fingerprints in the "char" LSH index.
TITLE_KEY = "title:"


def content_hash(normalised: str) -> str:
    """Hex BLAKE2b-128 digest of a normalised text: equal for exact repeats."""
    return hashlib.blake2b(normalised.encode("utf-8"), digest_size=16).hexdigest()


def shingle_texts(texts: Sequence[str], params: DedupParams
                  ) -> tuple[list[str], list[str], list[np.ndarray], list[tuple[str, ...]]]:
    """Normalise and shingle raw texts: ``(normalised texts, kinds, shingle sets, tokens)``;
    tokens are kept for character-shingled (headline-length) texts; word-shingled texts keep
    their number contexts (:func:`~clustering.dedup.rules.number_contexts`, the numbers rule)."""
    normed = [normalise(t) for t in texts]
    toks = [tokens(n) for n in normed]
    kinds, sets = shingle_batch(toks, params.shingles)
    kept = [tuple(t) if k == "char" else number_contexts(t) for t, k in zip(toks, kinds)]
    return normed, kinds, sets, kept


def shingle_titles(titles: Sequence[str], params: DedupParams,
                   toks: Sequence[Sequence[str]] | None = None
                   ) -> tuple[list[np.ndarray], list[tuple[str, ...]]]:
    """Character shingles and tokens of titles, whatever their length (headline matching);
    ``toks``: their normalised tokens when the caller has them already."""
    forced = ShingleParams(params.shingles.word_k, params.shingles.char_k, short_tokens=1 << 30)
    if toks is None:
        toks = [tokens(normalise(t)) for t in titles]
    _, sets = shingle_batch(toks, forced)
    return sets, [tuple(t) for t in toks]


def fingerprint_batch(articles: Sequence[Article], params: DedupParams = DedupParams(),
                      with_signatures: bool = True) -> Fingerprints:
    """Fingerprint a batch of articles (title + body).

    Args:
        articles: the batch; each must have some text.
        params: shingle and MinHash settings.
        with_signatures: False skips the MinHash step (then the signature arrays have 0 columns).

    Returns:
        :class:`Fingerprints` aligned with ``articles``. A text with no word characters after
        normalisation gets an empty shingle set; callers treat it as matching nothing but its
        exact repeats.
    """
    normed, kinds, sets, toks = shingle_texts([a.content for a in articles], params)
    hashes = [content_hash(n) for n in normed]
    bp = np.zeros(0, np.uint64)
    if params.boilerplate_min_articles:
        bp = learn_boilerplate([a.source for a in articles], sets, kinds, hashes,
                               params.boilerplate_min_articles)
    before = [len(x) for x in sets]
    sets = [strip_boilerplate(x, bp) if k == "word" else x for x, k in zip(sets, kinds)]
    title_toks = [tokens(normalise(a.title)) if a.title else [] for a in articles]  # once, for both uses
    titled = [i for i, a in enumerate(articles) if kinds[i] == "word" and a.title]
    tsets = [np.zeros(0, np.uint64)] * len(articles)
    ttoks: list[tuple[str, ...]] = [()] * len(articles)
    for i, ts, tt in zip(titled, *shingle_titles([articles[i].title for i in titled], params,
                                                 [title_toks[i] for i in titled])):
        tsets[i], ttoks[i] = ts, tt
    if with_signatures:
        sigs = signatures(sets, params.num_perm, params.seed, params.minhash)
        tsigs = signatures(tsets, params.num_perm, params.seed, params.minhash)
    else:
        sigs = tsigs = np.zeros((len(articles), 0), dtype=np.uint32)
    return Fingerprints(hashes, kinds, sets, sigs, tsets, tsigs, toks, ttoks,
                        _generic(articles, kinds, toks, title_toks, params), bp,
                        [b - len(x) for b, x in zip(before, sets)])


def _generic(articles: Sequence[Article], kinds: Sequence[str], toks: Sequence[tuple[str, ...]],
             title_toks: Sequence[Sequence[str]], params: DedupParams) -> list[str | None]:
    """Per article, why it is a headline-only item never to be joined, else None."""
    titles = [" ".join(t) for t in title_toks]
    # only bodies under a title that some headline-only item of the batch carries can matter
    shown = {" ".join(t) for k, t in zip(kinds, toks) if k == "char"}
    bodies = [content_hash(normalise(a.text)) if t in shown and a.text and a.text.strip() else None
              for a, t in zip(articles, titles)]
    recurring = generic_titles(titles, bodies, params.generic_title_bodies)
    out: list[str | None] = []
    for k, t in zip(kinds, toks):
        why = None
        if k == "char":
            why = headline_label(t, params)
            if why is None and " ".join(t) in recurring:
                why = (f"title recurs over >= {params.generic_title_bodies} different bodies in "
                       "the batch: a generic title, not syndication (generic title rule)")
        out.append(why)
    return out


def fingerprint_batches(batches: Sequence[Sequence[Article]], params: DedupParams,
                        workers: int = 1) -> Iterator[Fingerprints]:
    """:func:`fingerprint_batch` of each batch, in order; with ``workers`` > 1 the batches are
    fingerprinted in that many worker processes (normalising, shingling and MinHash are
    CPU-bound and independent per article), the results still yielded in input order.

    Worker processes are spawned (never forked from a process holding a database connection)
    and cost about a second to start, so use them for inputs of several batches."""
    if workers <= 1 or len(batches) < 2:
        for b in batches:
            yield fingerprint_batch(b, params)
        return
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(batches)), mp_context=ctx) as pool:
        # at most 2 batches per worker in flight: bounds memory on large inputs
        pending: list = []
        it = iter(batches)
        for b in it:
            pending.append(pool.submit(fingerprint_batch, b, params))
            if len(pending) >= 2 * workers:
                break
        while pending:
            done = pending.pop(0).result()
            nxt = next(it, None)
            if nxt is not None:
                pending.append(pool.submit(fingerprint_batch, nxt, params))
            yield done


def prefetch_candidates(index: BandIndex, fp: Fingerprints) -> None:
    """Compute the band keys of a batch's signatures (and title signatures) at once, and look
    up the stored items sharing a band with them, before :func:`find_edges` queries one by one."""
    parts = [(kind, fp.signatures[[i for i, k in enumerate(fp.kinds)
                                   if k == kind and len(fp.shingles[i])]])
             for kind in ("word", "char")]
    parts.append(("char", fp.title_signatures[[i for i in range(len(fp.kinds))
                                                if fp.has_title_fingerprint(i)]]))
    index.prefetch_kinds(parts)


@dataclass(frozen=True)
class Edge:
    """A verified near-duplicate link: ``new_id`` joins the group of ``other_id``.

    ``rule`` is "exact" (same normalised text), "jaccard" (verified MinHash LSH candidate),
    "containment" (a candidate whose smaller text is contained in the larger, see
    :func:`~clustering.dedup.rules.decide`) or "headline" (a headline-only item matching a
    full article's title); ``similarity`` is the
    exact Jaccard of the shingle sets compared (1.0 for exact repeats).
    """

    new_id: str
    other_id: str
    similarity: float
    rule: str


@dataclass
class EdgeReport:
    """What :func:`find_edges` did: the edges and counts for the run summary."""

    edges: list[Edge] = field(default_factory=list)
    exact_repeats: int = 0
    candidates: int = 0
    rejected: int = 0
    fingerprinted: list[int] = field(default_factory=list)  # batch indices that got an LSH entry
    blocked: dict[str, int] = field(default_factory=dict)  # similar pairs a rule kept apart, by rule
    decisions: list[tuple[str, str, Decision]] | None = None  # (new, other, decision); None: not kept


def find_edges(ids: Sequence[str], fp: Fingerprints, params: DedupParams,
               index: BandIndex | CandidateIndex, stored_hashes: Mapping[str, str],
               stored_shingles: Callable[[list[str]], dict[str, Shingled]],
               known: dict[str, Shingled] | None = None, keep_decisions: bool = False) -> EdgeReport:
    """Find the verified near-duplicate edges of a batch against the stored index and itself.

    Rules, in order:

    1. *exact repeat*: same normalised text as a stored or earlier item (content hash).
    2. *Jaccard* / *containment*: an LSH candidate of the same shingle kind whose exact Jaccard
       is at least the kind's threshold, or (full articles) whose containment reaches
       ``params.containment``; two full articles differing in a number in the same context are
       kept apart (numbers rule), all as :func:`~clustering.dedup.rules.decide` says.
    3. *headline*: a headline-only (character-shingled) item whose Jaccard with the *title* of a
       full article reaches ``char_threshold`` (a "related articles" entry joins the article it
       names). Two full articles are never joined by their titles alone.

    A headline-only item that is a label or carries a generic title (``fp.generic``) joins
    nothing (generic title rule). Rules 2 (for headline-length texts) and 3 also apply the
    headline edit rule
    (:func:`clustering.dedup.headlines.headline_substitution`): a headline with a word replaced
    is another headline, not a repeat.

    Args:
        ids: article ids of the batch, aligned with ``fp``.
        fp: the batch's fingerprints.
        params: thresholds.
        index: LSH index already holding the stored signatures (title fingerprints under
            ``TITLE_KEY + id`` in the "char" index); the batch's new signatures are inserted as
            items are processed, so later items find earlier ones.
        stored_hashes: content hash -> id of a stored article with that normalised text.
        stored_shingles: loads ``(shingle set, tokens)`` of stored articles by id; ids prefixed
            with ``TITLE_KEY`` ask for those of the title.
        known: ``(shingle set, tokens)`` of items verified before (e.g. earlier batches of the
            same run), updated in place; saves reloading them.
        keep_decisions: also keep every candidate's :class:`~clustering.dedup.rules.Decision`
            in ``report.decisions`` (measurement; memory grows with the candidates).

    Returns:
        An :class:`EdgeReport`; items are linked to every verified candidate (union-find makes
        the groups).
    """
    report = EdgeReport(decisions=[] if keep_decisions else None)
    first_of_hash: dict[str, str] = dict(stored_hashes)
    local: dict[str, Shingled] = known if known is not None else {}

    def verify(art_id: str, own: Shingled, cands: list[str], threshold: float, kind: str,
               accept_titles: bool, accept_short: bool) -> None:
        keep = [c for c in cands if (c.startswith(TITLE_KEY) and accept_titles)
                or (not c.startswith(TITLE_KEY) and accept_short)]
        report.candidates += len(keep)
        missing = [c for c in keep if c not in local]
        loaded = stored_shingles(missing) if missing else {}
        if len(fp.boilerplate):  # stored texts are shingled afresh: drop this batch's boilerplate
            loaded = {k: (strip_boilerplate(v[0], fp.boilerplate), v[1]) for k, v in loaded.items()}
        for c in keep:
            other = local.get(c) or loaded.get(c)
            via_title = c.startswith(TITLE_KEY)
            if other is None:
                report.rejected += 1
                continue
            d = decide(own, other, threshold, via_title=via_title, kind=kind, params=params)
            if report.decisions is not None:
                report.decisions.append((art_id, c, d))
            if d.blocked_by:
                report.blocked[d.blocked_by] = report.blocked.get(d.blocked_by, 0) + 1
            if not d.joined:
                report.rejected += 1
                continue
            target = c[len(TITLE_KEY):] if via_title else c
            report.edges.append(Edge(art_id, target, d.similarity, d.rule))

    # 1. exact repeats and generic titles, in order; which items get LSH entries
    entries: dict[str, list[tuple[int, str]]] = {"word": [], "char": []}  # kind -> (item, key)
    for i, art_id in enumerate(ids):
        h = fp.content_hash[i]
        if fp.generic and fp.generic[i]:  # a label or generic title: joins nothing, not even its repeats
            report.blocked["generic_title"] = report.blocked.get("generic_title", 0) + 1
            continue
        if h in first_of_hash:
            report.edges.append(Edge(art_id, first_of_hash[h], 1.0, "exact"))
            report.exact_repeats += 1
            continue
        first_of_hash[h] = art_id
        kind, shingles = fp.kinds[i], fp.shingles[i]
        local[art_id] = (shingles, fp.tokens[i])
        if len(shingles):
            entries[kind].append((i, art_id))
            report.fingerprinted.append(i)
        if fp.has_title_fingerprint(i):
            tkey = TITLE_KEY + art_id
            local[tkey] = (fp.title_shingles[i], fp.title_tokens[i])
            entries["char"].append((i, tkey))
    # 2. LSH candidates of every entry among the entries before it (and what is stored), at once
    cands: dict[str, list[str]] = {}
    for kind, ents in entries.items():
        if ents:
            sigs = np.stack([fp.title_signatures[i] if key.startswith(TITLE_KEY) else fp.signatures[i]
                             for i, key in ents])
            keys = [key for _, key in ents]
            cands.update(zip(keys, index.query_insert_many(kind, keys, sigs)))
    # 3. verify, in input order: an item's own candidates, then those of its title
    for i, art_id in enumerate(ids):
        if art_id in cands:
            kind = fp.kinds[i]
            verify(art_id, local[art_id], cands[art_id], params.threshold_for(kind), kind,
                   accept_titles=kind == "char", accept_short=True)
        tkey = TITLE_KEY + art_id
        if tkey in cands:
            verify(art_id, local[tkey], cands[tkey], params.char_threshold, "char",
                   accept_titles=False, accept_short=True)
    return report


class UnionFind:
    """Disjoint sets over hashable keys with path halving; ``find`` of an unseen key adds it."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        """The root of ``x``'s set (adds ``x`` as a singleton when unseen)."""
        parent = self.parent
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        """Join the sets of ``a`` and ``b`` (``a``'s root becomes the root)."""
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


@dataclass(frozen=True)
class Membership:
    """An article's near-duplicate group: the group id, and how it joined.

    ``similarity`` and ``joined_via`` are None for the group's first member.
    """

    group_id: str
    similarity: float | None
    joined_via: str | None
    rule: str | None


def assign_groups(new_ids: Sequence[str], edges: Sequence[Edge],
                  stored: Mapping[str, Membership], seq: Mapping[str, int]) -> dict[str, Membership]:
    """Union the verified edges with the stored groups they touch.

    Args:
        new_ids: ids of the batch's articles.
        edges: verified edges (from :func:`find_edges`).
        stored: stored memberships of every stored article an edge touches.
        seq: ingest sequence number of every article involved (stored and new); a group's id is
            the id of its member with the smallest sequence number.

    Returns:
        New memberships for the batch's articles and for stored articles whose group id changed
        (two stored groups merged through a new article). Stored articles keep their
        ``similarity``/``joined_via``.
    """
    uf = UnionFind()
    by_group: dict[str, list[str]] = {}
    for art_id, m in stored.items():
        by_group.setdefault(m.group_id, []).append(art_id)
    for members in by_group.values():
        for other in members[1:]:
            uf.union(members[0], other)
    for art_id in new_ids:
        uf.find(art_id)
    joined: dict[str, Edge] = {}
    for e in edges:
        uf.union(e.other_id, e.new_id)
        best = joined.get(e.new_id)
        if best is None or e.similarity > best.similarity:
            joined[e.new_id] = e
    components: dict[str, list[str]] = {}
    for x in list(uf.parent):
        components.setdefault(uf.find(x), []).append(x)
    out: dict[str, Membership] = {}
    for members in components.values():
        gid = min(members, key=lambda m: (seq[m], m))
        for m in members:
            if m in stored:
                old = stored[m]
                if old.group_id != gid:
                    out[m] = Membership(gid, old.similarity, old.joined_via, old.rule)
            elif m == gid or m not in joined:
                out[m] = Membership(gid, None, None, None)
            else:
                e = joined[m]
                out[m] = Membership(gid, e.similarity, e.other_id, e.rule)
    return out


__all__ = ["DedupParams", "Edge", "EdgeReport", "Fingerprints", "Membership", "RepCandidate", "Shingled",
           "TITLE_KEY", "UnionFind", "assign_groups", "choose_representative", "content_hash", "find_edges",
           "fingerprint_batch", "fingerprint_batches", "prefetch_candidates", "shingle_texts", "shingle_titles"]
