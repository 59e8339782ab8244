"""``evaluate``: score the engine against a user's labelled data.

Two kinds of gold file (JSON Lines or CSV/TSV, optionally gzip-compressed, read with pyarrow):

* **cluster labels**: one row per article with an id column and a gold cluster column. The
  engine's near-duplicate groups and stories (from a database made by ``run``, or from running
  the engine on an input file into a temporary in-memory database) are scored with
  :func:`~clustering.evaluate.metrics.cluster_scores`, separately.
* **pairs**: rows ``id_a, id_b, label`` (binary) or ``score`` (graded), or text pairs
  ``text_a, text_b`` with a label/score: the engine's near-duplicate decision and Jaccard
  score, and its story decision and embedding cosine where stories exist, are scored with
  :func:`~clustering.evaluate.metrics.pair_scores`.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

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


def read_table(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a JSONL/CSV/TSV file (``.gz`` allowed) as dicts, via pyarrow.

    Raises InputError for a missing or unparsable file.
    """
    import pyarrow.csv as pacsv
    import pyarrow.json as pajson

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    raw = path.read_bytes()
    if path.suffix.lower() == ".gz":
        raw = gzip.decompress(raw)
    try:
        if suffixes and suffixes[-1] in (".jsonl", ".json", ".ndjson"):
            table = pajson.read_json(io.BytesIO(raw))
        elif suffixes and suffixes[-1] in (".csv", ".tsv"):
            delim = "\t" if suffixes[-1] == ".tsv" else ","
            table = pacsv.read_csv(io.BytesIO(raw), parse_options=pacsv.ParseOptions(delimiter=delim),
                                   convert_options=pacsv.ConvertOptions(strings_can_be_null=False))
        else:
            raise InputError(f"{path}: gold file must be .jsonl, .csv or .tsv (optionally .gz)")
    except InputError:
        raise
    except Exception as exc:  # pyarrow raises ArrowInvalid with a long message
        raise InputError(f"{path}: cannot parse ({str(exc).splitlines()[0]})") from exc
    return table.to_pylist()


def _column(rows: list[dict], name: str, path: Path | str) -> None:
    if rows and name not in rows[0]:
        raise InputError(f"{path}: no column {name!r} (columns: {', '.join(rows[0])})")


def evaluate_clusters(store, gold_path: str | Path, *, id_column: str = "id",
                      gold_column: str = "cluster") -> dict[str, ClusterScores]:
    """Score near-duplicate groups and stories against gold cluster labels.

    Returns ``{"near_duplicates": ClusterScores, "stories": ClusterScores}`` (stories only when
    the database has story memberships). Gold ids the engine never saw count as singletons
    (``missing_in_pred``).
    """
    rows = read_table(gold_path)
    if not rows:
        raise InputError(f"{gold_path}: no rows")
    _column(rows, id_column, gold_path)
    _column(rows, gold_column, gold_path)
    gold = {str(r[id_column]): r[gold_column] for r in rows
            if r[id_column] is not None and r[gold_column] is not None}
    dup, story, titles = store.cluster_assignments()
    if not set(gold) & set(dup):
        raise InputError(f"{gold_path}: none of the {len(gold)} gold ids is in the engine's "
                         f"output (wrong --id-column, or another database?)")
    out = {"near_duplicates": cluster_scores(gold, dup, titles)}
    if story:
        out["stories"] = cluster_scores(gold, story, titles)
    return out


def evaluate_pairs(store, gold_path: str | Path, *, positive_at: float | None = None,
                   label_column: str | None = None) -> dict[str, PairScores]:
    """Score the engine's pair decisions and similarities against gold pairs.

    Columns: ``id_a, id_b`` (stored articles) or ``text_a, text_b`` (raw texts, scored directly
    with the near-duplicate rules), and ``label`` (binary) or ``score`` (graded, binarised at
    ``positive_at``). Returns ``{"near_duplicates": PairScores}`` plus ``"stories"`` when the
    pairs are stored articles in a database with stories.
    """
    from clustering.config import Config
    from clustering.explain import explain_dedup

    rows = read_table(gold_path)
    if not rows:
        raise InputError(f"{gold_path}: no rows")
    cols = rows[0].keys()
    label_col = label_column or next(
        (c for c in ("label", "score", "score_0_5", "stance") if c in cols), None)
    if label_col is None:
        raise InputError(f"{gold_path}: needs a 'label' or 'score' column (or --label-column)")
    _column(rows, label_col, gold_path)
    gold = [float(r[label_col]) if not isinstance(r[label_col], str) else
            float(r[label_col].strip().lower() in ("1", "true", "yes", "agree", "duplicate"))
            for r in rows]
    params = (Config.from_dict(store.last_run_params().get("config")).dedup
              if store is not None else Config().dedup)
    text_cols = _pair_columns(rows[0])
    if text_cols is not None:
        ca, cb = text_cols
        exps = [explain_dedup(str(r[ca] or ""), str(r[cb] or ""), params) for r in rows]
        scores = [e.jaccard for e in exps]
        decisions = [e.joined for e in exps]  # the engine's own rule
        return {"near_duplicates": pair_scores(gold, scores, decisions, positive_at=positive_at)}
    _column(rows, "id_a", gold_path)
    _column(rows, "id_b", gold_path)
    if store is None:
        raise InputError("pairs of ids need a database (--db) or an input file (--input)")
    dup, story, _ = store.cluster_assignments()
    texts = {i: Article(id=i, title=t, text=x).content for i, (t, x) in store.all_texts().items()}
    ids = [(str(r["id_a"]), str(r["id_b"])) for r in rows]
    missing = [i for pair in ids for i in pair if i not in texts]
    if missing:
        raise InputError(f"{gold_path}: {len(missing)} id(s) not in the database, e.g. {missing[0]!r}")
    scores = [explain_dedup(texts[a], texts[b], params).jaccard for a, b in ids]
    decisions = [dup.get(a) is not None and dup.get(a) == dup.get(b) for a, b in ids]
    out = {"near_duplicates": pair_scores(gold, scores, decisions, positive_at=positive_at)}
    if story:
        vec = store.unit_vectors()
        cos = [float(np.dot(vec[a], vec[b])) if a in vec and b in vec else 0.0 for a, b in ids]
        same = [story.get(a) is not None and story.get(a) == story.get(b) for a, b in ids]
        out["stories"] = pair_scores(gold, cos, same, positive_at=positive_at)
    return out


#: Column pairs read as ``text_a, text_b`` in pair files (STS uses headline1/2, ANS s1/s2).
TEXT_PAIR_ALIASES = (("text_a", "text_b"), ("headline1", "headline2"), ("s1", "s2"),
                     ("sentence1", "sentence2"))


def _pair_columns(row: dict) -> tuple[str, str] | None:
    for a, b in TEXT_PAIR_ALIASES:
        if a in row and b in row:
            return a, b
    return None


def is_pair_file(path: str | Path) -> bool:
    """True when the gold file's first row has pair columns (id_a/id_b, or text pairs:
    text_a/text_b, headline1/headline2, s1/s2, sentence1/sentence2)."""
    rows = read_table(path)
    return bool(rows) and (("id_a" in rows[0] and "id_b" in rows[0]) or _pair_columns(rows[0]) is not None)


def format_report(results: dict[str, Any]) -> str:
    """Readable tables for every result of :func:`evaluate_clusters` / :func:`evaluate_pairs`."""
    parts = []
    for name, res in results.items():
        title = name.replace("_", " ")
        parts.append(format_cluster_scores(res, title) if isinstance(res, ClusterScores)
                     else format_pair_scores(res, title))
    return "\n\n".join(parts)


__all__: Sequence[str] = ["read_table", "evaluate_clusters", "evaluate_pairs", "is_pair_file",
                          "format_report"]
