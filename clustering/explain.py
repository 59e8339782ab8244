"""Why two texts are, or are not, near-duplicates.

:func:`explain_dedup` recomputes the fingerprints of both texts with the run's settings and
reports the exact Jaccard, the MinHash estimate, whether LSH would make them a candidate pair,
the shared shingles as text, and the verdict of the engine's own rule
(:func:`clustering.dedup.rules.decide`). :meth:`clustering.NewsClusterer.explain` adds the
stored groups and stories.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from clustering.config import DedupParams
from clustering.dedup.engine import content_hash
from clustering.dedup.lsh import bands_rows
from clustering.dedup.minhash import estimate_jaccard, signatures
from clustering.dedup.rules import decide, headline_label, number_contexts
from clustering.dedup.shingles import char_hashes, combine_windows, token_hashes
from clustering.normalise import normalise, tokens


def shingle_map(text: str, params: DedupParams, force_char: bool = False
                ) -> tuple[str, dict[int, str], list[str]]:
    """Shingles of one raw text as ``(kind, {hash: shingle text}, tokens)``, hashes identical to
    :func:`clustering.dedup.shingles.shingle_batch` (window order is preserved there);
    ``force_char`` shingles by characters whatever the length (titles)."""
    toks = tokens(normalise(text))
    kind = "char" if force_char else params.shingles.kind_for(len(toks))
    if not toks:
        return kind, {}, toks
    if kind == "word":
        k = params.shingles.word_k
        th, starts = token_hashes([toks])
        sh, _ = combine_windows(th, starts, k)
        texts = [" ".join(toks[i:i + k]) for i in range(max(1, len(toks) - k + 1))]
    else:
        k = params.shingles.char_k
        joined = " ".join(toks)
        ch, starts = char_hashes([joined])
        sh, _ = combine_windows(ch, starts, k)
        texts = [joined[i:i + k] for i in range(max(1, len(joined) - k + 1))]
    return kind, {int(h): t for h, t in zip(sh.tolist(), texts)}, toks


def lsh_collides(sig_a: np.ndarray, sig_b: np.ndarray, bands: int, rows: int) -> bool:
    """True when the two signatures agree on every row of at least one LSH band."""
    eq = (sig_a[: bands * rows] == sig_b[: bands * rows]).reshape(bands, rows)
    return bool(eq.all(axis=1).any())


@dataclass
class DedupExplanation:
    """The near-duplicate verdict for a pair, with the evidence.

    ``headline_rule`` holds the reason of whichever rule kept a similar pair apart (headline
    edit rule or numbers rule, named by ``blocked_by``: "headline_edit" / "numbers");
    ``containment`` is |A ∩ B| / min(|A|, |B|) of the shingle sets, against
    ``containment_threshold``; ``rule`` the rule that joined them ("exact", "jaccard",
    "containment", "headline"); ``boilerplate_dropped`` how many outlet-boilerplate shingles
    were dropped from each side before comparing, ``boilerplate_sample`` some of them as text."""

    kinds: tuple[str, str]
    jaccard: float
    minhash_estimate: float
    lsh_candidate: bool
    bands_rows: tuple[int, int]
    threshold: float
    shared_shingles: list[str]
    n_shingles: tuple[int, int]
    exact_repeat: bool
    verdict: str
    joined: bool = False
    headline_rule: str | None = None
    containment: float = 0.0
    containment_threshold: float = 0.0
    rule: str | None = None
    blocked_by: str | None = None
    boilerplate_dropped: tuple[int, int] = (0, 0)
    boilerplate_sample: list[str] = field(default_factory=list)
    same_group: bool | None = None
    groups: tuple[str | None, str | None] = (None, None)
    stories: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly dict."""
        return dict(self.__dict__)


def explain_dedup(text_a: str, text_b: str, params: DedupParams, max_shared: int = 12, *,
                  title_a: str = "", title_b: str = "",
                  boilerplate: np.ndarray | None = None) -> DedupExplanation:
    """Explain the near-duplicate decision between two raw texts (title + body each).

    When one text is headline-length and the other a full article, the headline is compared
    with the article's title (``title_a`` / ``title_b``), as the engine's headline rule does.
    ``boilerplate`` (sorted uint64 shingle hashes, from
    :func:`~clustering.dedup.boilerplate.learn_boilerplate` over the articles' batch) is
    dropped from word shingles first, as the engine does; the dropped shingles are reported.
    Returns a :class:`DedupExplanation`; ``verdict`` is one sentence naming the rule.
    """
    kind_a, map_a, tok_a = shingle_map(text_a, params)
    kind_b, map_b, tok_b = shingle_map(text_b, params)
    via_title = ""
    if kind_a != kind_b and (title_b if kind_a == "char" else title_a):
        if kind_a == "char":
            kind_b, map_b, tok_b = shingle_map(title_b, params, force_char=True)
            via_title = "b's title"
        else:
            kind_a, map_a, tok_a = shingle_map(title_a, params, force_char=True)
            via_title = "a's title"
    dropped: list[list[str]] = [[], []]
    if boilerplate is not None and len(boilerplate):
        bp = {int(h) for h in boilerplate.tolist()}
        for side, (kind, m) in enumerate(((kind_a, map_a), (kind_b, map_b))):
            if kind == "word":
                dropped[side] = [m.pop(h) for h in [h for h in m if h in bp]]
    set_a = np.unique(np.fromiter(map_a, dtype=np.uint64, count=len(map_a)))
    set_b = np.unique(np.fromiter(map_b, dtype=np.uint64, count=len(map_b)))
    threshold = params.threshold_for(kind_a)
    same_kind = kind_a == kind_b
    short = kind_a == kind_b == "char"
    second = (lambda t: tuple(t)) if short else number_contexts
    decision = decide((set_a, second(tok_a)), (set_b, second(tok_b)), threshold,
                      via_title=bool(via_title), kind=kind_a, params=params) if same_kind else None
    sim = decision.similarity if decision is not None else 0.0
    sigs = signatures([set_a, set_b], params.num_perm, params.seed, params.minhash)
    br = bands_rows(threshold, params.num_perm)
    candidate = same_kind and lsh_collides(sigs[0], sigs[1], *br)
    exact = content_hash(normalise(text_a)) == content_hash(normalise(text_b))
    replaced = decision.reason if decision is not None and not decision.joined \
        and sim >= threshold else None
    shared = sorted(set(map_a) & set(map_b))
    where = f" (headline against {via_title})" if via_title else ""
    label = next((w for k, t in ((kind_a, tok_a), (kind_b, tok_b)) if k == "char"
                  and not via_title for w in [headline_label(t, params)] if w), None)
    if label:
        exact, decision = False, None
        verdict = f"kept apart: {label}"
    elif exact:
        verdict = "exact repeat: same text after normalisation (joined by hash)"
    elif not same_kind:
        verdict = (f"kept apart: one is shingled by {kind_a}, the other by {kind_b} "
                   "(a headline-length text is never a near-duplicate of a full article's body)")
    elif replaced:
        verdict = f"kept apart{where}: {replaced}"
    elif decision.joined and candidate:
        verdict = f"near-duplicates: {decision.reason} ({kind_a} shingles{where}), LSH candidate"
    elif decision.joined:
        verdict = (f"similar enough ({decision.reason}{where}) but not an LSH "
                   f"candidate with {br[0]} bands x {br[1]} rows: an LSH miss (joined only if "
                   "another member links them)")
    elif candidate:
        verdict = f"kept apart: LSH candidate, but verified Jaccard {sim:.3f} < {threshold}{where}"
    else:
        verdict = f"kept apart: Jaccard {sim:.3f} < {threshold} ({kind_a} shingles{where})"
    return DedupExplanation(
        kinds=(kind_a, kind_b), jaccard=round(sim, 4),
        minhash_estimate=round(estimate_jaccard(sigs[0], sigs[1]), 4), lsh_candidate=candidate,
        bands_rows=br, threshold=threshold,
        shared_shingles=[map_a[h] for h in shared[:max_shared]],
        n_shingles=(len(set_a), len(set_b)), exact_repeat=exact, verdict=verdict,
        headline_rule=replaced, joined=exact or bool(decision and decision.joined),
        containment=round(decision.containment, 4) if decision is not None else 0.0,
        containment_threshold=params.containment,
        rule=("exact" if exact else decision.rule if decision is not None else None),
        blocked_by=(decision.blocked_by if decision is not None else
                    "generic_title" if label else None),
        boilerplate_dropped=(len(dropped[0]), len(dropped[1])),
        boilerplate_sample=sorted(set(dropped[0]) | set(dropped[1]))[:max_shared])


def join_path(joined_via: Callable[[str], tuple[str | None, float | None, str | None]],
              id_a: str, id_b: str, max_hops: int = 10_000) -> dict[str, Any]:
    """The path of verified links that put two articles in one near-duplicate group.

    Every member but a group's first keeps the member it joined through (``joined_via``), so
    the members form a tree of verified edges; the path from ``a`` to ``b`` goes up from each to
    their nearest common member. With single-link grouping, two members may share little text
    (A ~ B and B ~ C join A and C): the path shows through whom.

    Args:
        joined_via: article id -> ``(joined_via id or None, similarity or None, rule or None)``.
        id_a, id_b: the two articles.
        max_hops: stop after this many links (a guard against a damaged store).

    Returns:
        ``{"path": [a, ..., b] or None, "links": [{"from", "to", "similarity", "rule"}, ...],
        "text": "a -(jaccard 0.71)-> x <-(containment 0.55)- b"}``; ``path`` is None when the
        two chains end at different first members (their groups were merged through a later
        article that links them: ``links`` then holds both chains).
    """
    def chain(x: str) -> list[tuple[str, float | None, str | None]]:
        out, seen = [], set()
        while x is not None and x not in seen and len(out) < max_hops:
            seen.add(x)
            via, sim, rule = joined_via(x)
            out.append((x, sim, rule))
            x = via
        return out

    ca, cb = chain(id_a), chain(id_b)
    pos_b = {x: i for i, (x, _, _) in enumerate(cb)}
    meet = next((i for i, (x, _, _) in enumerate(ca) if x in pos_b), None)
    fmt = lambda s, r: f"{r} {s:.2f}" if s is not None else str(r)
    if meet is None:
        links = [{"from": x, "to": y[0], "similarity": s, "rule": r}
                 for c in (ca, cb) for (x, s, r), y in zip(c, c[1:])]
        return {"path": None, "links": links,
                "text": (" -> ".join(x for x, _, _ in ca) + " | " + " -> ".join(x for x, _, _ in cb)
                         + " (chains end at different first members: groups merged through a "
                         "later article)")}
    up = ca[:meet + 1]
    down = cb[:pos_b[ca[meet][0]] + 1]
    links = [{"from": x, "to": y[0], "similarity": s, "rule": r} for (x, s, r), y in zip(up, up[1:])]
    links += [{"from": x, "to": y[0], "similarity": s, "rule": r}
              for (x, s, r), y in zip(down, down[1:])]
    text = up[0][0]
    for (_, s, r), y in zip(up, up[1:]):
        text += f" -({fmt(s, r)})-> {y[0]}"
    for (x, s, r) in reversed(down[:-1]):
        text += f" <-({fmt(s, r)})- {x}"
    return {"path": [x for x, _, _ in up] + [x for x, _, _ in reversed(down[:-1])],
            "links": links, "text": text}
