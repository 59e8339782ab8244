"""``evaluate``: score the engine against a user's labelled data.

Two kinds of gold file (JSON Lines or CSV/TSV, optionally gzip-compressed; read in
:mod:`clustering.evaluate.gold`):

* **cluster labels**: one row per article with an id column (found as the input readers find
  it: ``id``, ``doc_id``, ``--map``) and a gold cluster column. The engine's near-duplicate
  groups and stories (from a database made by ``run``, or from running the engine on an input
  file into a temporary in-memory database) are scored with
  :func:`~clustering.evaluate.metrics.cluster_scores`, separately.
* **pairs**: rows ``id_a, id_b`` (stored articles) or text pairs (``text_a, text_b``,
  ``headline1, headline2``, ``s1, s2``, ``sentence1, sentence2``) with a label or a graded
  score. Scored twice with :func:`~clustering.evaluate.metrics.pair_scores`: the near-duplicate
  rule (score: shingle Jaccard, decision: the engine's rule) and the story scorer (score:
  P(same story) of the shipped hybrid scorer, decision: P >= its threshold 0.5; for stored
  pairs the decision is the stored story membership).

Every result comes with ``about``: what was read, how the positive class was derived, what was
scored by which scorer, so a printed figure says what it measures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clustering.evaluate.gold import (
    GoldClusters,
    GoldPairs,
    check_gold_ids,
    pair_columns,
    read_cluster_gold,
    read_pair_gold,
    read_table,
)
from clustering.evaluate.metrics import (
    ClusterScores,
    PairScores,
    cluster_scores,
    format_cluster_scores,
    format_pair_scores,
    pair_scores,
)
from clustering.io.errors import InputError
from clustering.records import Article

#: What a cluster evaluation reports.
CLUSTER_METRICS = "B-cubed P/R/F1, pairwise P/R/F1, ARI, AMI"


@dataclass
class Evaluation:
    """Results of one evaluation.

    Attributes:
        about: what was evaluated (gold file, columns, positive class, engine settings,
            counts), JSON-able, in report order.
        results: name (``near_duplicates``, ``stories``) -> scores.
    """

    about: dict[str, Any] = field(default_factory=dict)
    results: dict[str, ClusterScores | PairScores] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """``{"about": ..., "near_duplicates": ..., "stories": ...}``."""
        return {"about": self.about, **{k: v.to_dict() for k, v in self.results.items()}}


def engine_about(store) -> dict[str, Any]:
    """The engine settings of the store's last run: story mode, scorer, embedding model."""
    from clustering.config import Config

    cfg = Config.from_dict((store.last_run_params() or {}).get("config"))
    st = cfg.stories
    scorer = (f"hybrid ({st.scorer_weights or 'shipped scorer_v1.json'})"
              if st.scorer == "hybrid" else st.scorer)
    return {"story_mode": st.mode, "story_scorer": scorer if st.mode != "none" else None,
            "embedding": _model_name(cfg.embed) if st.mode != "none" else None,
            "dedup_threshold": cfg.dedup.threshold}


def _model_name(embed) -> str:
    return f"{embed.model or 'multilingual-e5-small'} ({embed.backend if embed.model is None else 'torch'}, " \
           f"lead {embed.lead_tokens} tokens)"


def evaluate_clusters(store, gold: GoldClusters | str | Path, *, id_column: str | None = None,
                      gold_column: str = "cluster",
                      mapping: dict[str, str] | None = None) -> Evaluation:
    """Score near-duplicate groups and stories against gold cluster labels.

    Returns an :class:`Evaluation` with ``near_duplicates`` and, when the database has story
    memberships, ``stories`` (:class:`ClusterScores`). Gold ids the engine never saw are
    scored as singletons and counted (``about["gold_ids_missing"]``).

    Raises:
        InputError: an unreadable gold file, or none of its ids in the database.
    """
    if not isinstance(gold, GoldClusters):
        gold = read_cluster_gold(gold, id_column=id_column, gold_column=gold_column,
                                 mapping=mapping)
    dup, story, titles = store.cluster_assignments()
    found = check_gold_ids(gold, dup, "the database")
    about = {"gold": gold.path, "kind": "cluster labels", "id_column": gold.id_column,
             "gold_column": gold.gold_column, "metrics": CLUSTER_METRICS,
             "gold_articles": len(gold.labels), "gold_ids_found": found,
             "gold_ids_missing": len(gold.labels) - found,
             "missing_scored_as": "singletons", **engine_about(store)}
    out = Evaluation(about, {"near_duplicates": cluster_scores(gold.labels, dup, titles)})
    if story:
        out.results["stories"] = cluster_scores(gold.labels, story, titles)
    return out


def _items(rows: list[dict], ca: str, cb: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(title, text) per side: headline columns are titles, text_a/text_b article texts."""
    as_title = (ca, cb) != ("text_a", "text_b")

    def item(v: Any) -> tuple[str, str]:
        s = "" if v is None else str(v).strip()
        return (s, "") if as_title else ("", s)
    return [item(r[ca]) for r in rows], [item(r[cb]) for r in rows]


def evaluate_pairs(store, gold: GoldPairs | str | Path, *, positive_at: float | None = None,
                   label_column: str | None = None, positive_label: Sequence[str] | None = None,
                   stories: bool = True, embedder: Any = None,
                   embedder_factory: Callable[[], Any] | None = None) -> Evaluation:
    """Score the engine's near-duplicate rule and story scorer against gold pairs.

    Args:
        store: a :class:`~clustering.store.Store` (needed for ``id_a, id_b`` pairs), or None.
        gold: a :class:`GoldPairs` or a file (read with ``positive_at``, ``label_column``,
            ``positive_label``; see :func:`~clustering.evaluate.gold.read_pair_gold`).
        stories: also score P(same story) with the hybrid scorer (embeds every distinct text).
        embedder, embedder_factory: the embedding model, or a function making it (called only
            when ``stories``); default: the configured model.

    Returns:
        :class:`Evaluation` with ``near_duplicates`` (score Jaccard, decision the rule) and,
        with ``stories``, ``stories`` (score P(same story), decision P >= 0.5, or the stored
        story membership for id pairs in a database with stories).

    Raises:
        InputError: see :func:`~clustering.evaluate.gold.read_pair_gold`; id pairs without a
            database or with ids not in it.
    """
    from clustering.config import Config
    from clustering.evaluate.pairs import story_probabilities
    from clustering.explain import explain_dedup
    from clustering.stories.scorer import default_scorer

    if not isinstance(gold, GoldPairs):
        gold = read_pair_gold(gold, label_column=label_column, positive_at=positive_at,
                              positive_label=positive_label)
    rows = gold.rows
    cfg = (Config.from_dict(store.last_run_params().get("config"))
           if store is not None else Config())
    params = cfg.dedup
    cols = pair_columns(rows[0])
    story_decisions = None
    if cols is not None:
        items_a, items_b = _items(rows, *cols)
        what = f"text pairs ({cols[0]}, {cols[1]})"
    else:
        if "id_a" not in rows[0] or "id_b" not in rows[0]:
            raise InputError("pair file: needs id_a, id_b or text columns")
        if store is None:
            raise InputError("pairs of ids need a database (--db) or an input file (--input)")
        texts = store.all_texts()
        ids = [(str(r["id_a"]), str(r["id_b"])) for r in rows]
        missing = [i for pair in ids for i in pair if i not in texts]
        if missing:
            raise InputError(f"{len(missing)} pair id(s) not in the database, e.g. {missing[0]!r}")
        items_a = [texts[a] for a, _ in ids]
        items_b = [texts[b] for _, b in ids]
        what = "stored article pairs (id_a, id_b)"
        dup, story, _ = store.cluster_assignments()
        if story:
            story_decisions = [story.get(a) is not None and story.get(a) == story.get(b)
                               for a, b in ids]
    content = lambda it: Article(id="x", title=it[0], text=it[1]).content  # noqa: E731
    exps = [explain_dedup(content(a), content(b), params) for a, b in zip(items_a, items_b)]
    if cols is None:
        decisions = [dup.get(a) is not None and dup.get(a) == dup.get(b) for a, b in ids]
    else:
        decisions = [e.joined for e in exps]  # the engine's own rule on the two texts
    about: dict[str, Any] = {
        "kind": what, "pairs": len(rows), "label_column": gold.label_column,
        "positive_class": gold.positive, "positive_derived": gold.derived,
        "near_duplicates": "score = shingle Jaccard; decision = the near-duplicate rule "
                           f"(threshold {params.threshold:g})"}
    out = Evaluation(about, {"near_duplicates": pair_scores(
        gold.labels, [e.jaccard for e in exps], decisions, positive_at=gold.positive_at)})
    if stories:
        scorer = default_scorer()
        if embedder is None:
            embedder = embedder_factory() if embedder_factory else _embedder(cfg.embed)
        p = story_probabilities(items_a, items_b, embedder, scorer)
        dec = story_decisions if story_decisions is not None else list(p >= scorer.threshold)
        n_texts = len(set(items_a) | set(items_b))
        about["stories"] = (
            "score = P(same story), hybrid scorer (shipped scorer_v1.json), embedding "
            f"{_model_name(cfg.embed)}, document frequencies of the file's {n_texts} distinct "
            "texts, no times; decision = "
            + ("the stored story membership" if story_decisions is not None
               else f"P >= {scorer.threshold:g}"))
        out.results["stories"] = pair_scores(gold.labels, p.tolist(), dec,
                                             positive_at=gold.positive_at)
    return out


def _embedder(embed):
    from clustering.embed import Embedder

    return Embedder(embed.model, lead_tokens=embed.lead_tokens, batch_size=embed.batch_size,
                    backend=embed.backend if embed.model is None else "torch")


def is_pair_file(path: str | Path) -> bool:
    """True when the gold file's first row has pair columns (id_a/id_b, or text pairs:
    text_a/text_b, headline1/headline2, s1/s2, sentence1/sentence2)."""
    rows = read_table(path)
    return bool(rows) and (("id_a" in rows[0] and "id_b" in rows[0])
                           or pair_columns(rows[0]) is not None)


def format_report(ev: Evaluation) -> str:
    """The ``about`` lines, then a table per result (:func:`format_cluster_scores` /
    :func:`format_pair_scores`, the latter naming the positive class)."""
    head = [f"{k.replace('_', ' ')}: {v}" for k, v in ev.about.items() if v is not None]
    parts = ["\n".join(head)]
    for name, res in ev.results.items():
        title = name.replace("_", " ")
        parts.append(format_cluster_scores(res, title) if isinstance(res, ClusterScores)
                     else format_pair_scores(res, title, ev.about.get("positive_class")))
    return "\n\n".join(parts)


__all__: Sequence[str] = ["CLUSTER_METRICS", "Evaluation", "engine_about", "evaluate_clusters",
                          "evaluate_pairs", "format_report", "is_pair_file", "read_table"]
