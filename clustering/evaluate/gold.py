"""Reading ``evaluate``'s gold files: cluster labels (one row per article) and pair labels.

Both read with :func:`read_table` (pyarrow). Cluster gold resolves its id column with the input
readers' own rules (:func:`clustering.io.readers.field_columns`: ``--map``, then the default
aliases such as ``doc_id`` -> ``id``), so the file given to ``run`` / ``--input`` can be its own
gold file. Pair gold derives the positive class from the label column and says how
(:attr:`GoldPairs.positive`, :attr:`GoldPairs.derived`).
"""

from __future__ import annotations

import gzip
import io
import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clustering.io.errors import InputError
from clustering.io.fields import FieldError, text_field

__all__ = ["GoldClusters", "GoldPairs", "LABEL_COLUMNS", "POSITIVE_WORDS", "TEXT_PAIR_ALIASES",
           "check_gold_ids", "pair_columns", "read_cluster_gold", "read_pair_gold", "read_table"]

#: Label columns tried in pair files, in order, when ``--label-column`` is not given.
LABEL_COLUMNS = ("label", "score", "score_0_5", "stance")
#: Text labels taken as the positive class when ``--positive-label`` is not given.
POSITIVE_WORDS = ("1", "true", "yes", "agree", "duplicate", "same")
#: Column pairs read as texts in pair files (STS uses headline1/2, ANS s1/s2). The first is
#: article text, the others headlines.
TEXT_PAIR_ALIASES = (("text_a", "text_b"), ("headline1", "headline2"), ("s1", "s2"),
                     ("sentence1", "sentence2"))


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


def _need(rows: list[dict], name: str, path: Path | str) -> None:
    if rows and name not in rows[0]:
        raise InputError(f"{path}: no column {name!r} (columns: {', '.join(rows[0])})")


# ------------------------------------------------------------------------------- clusters


@dataclass(frozen=True)
class GoldClusters:
    """Gold cluster labels of one file.

    Attributes:
        path: the file.
        id_column, gold_column: the columns read.
        labels: article id (as the input readers write ids) -> gold cluster label.
        n_rows: rows in the file; rows without an id or a label are not in ``labels``.
    """

    path: str
    id_column: str
    gold_column: str
    labels: Mapping[str, Hashable]
    n_rows: int


def read_cluster_gold(path: str | Path, *, id_column: str | None = None,
                      gold_column: str = "cluster",
                      mapping: Mapping[str, str] | None = None) -> GoldClusters:
    """Read cluster gold: one row per article, an id column and a gold cluster column.

    Args:
        path: the gold file.
        id_column: the id column; None: the column the input readers read ids from (``id``,
            else ``doc_id``, else what ``mapping`` maps to ``id``).
        gold_column: the gold cluster column.
        mapping: ``--map`` renames (input column -> field), as given to the input reader.

    Raises:
        InputError: no rows, a missing column, or no row with both an id and a label.
    """
    from clustering.io.readers import field_columns

    rows = read_table(path)
    if not rows:
        raise InputError(f"{path}: no rows")
    if id_column is None:
        id_column = field_columns(rows[0], mapping, name=str(path)).get("id")
        if id_column is None:
            raise InputError(f"{path}: no id column (looked for id, doc_id and --map ...=id; "
                             f"columns: {', '.join(rows[0])}); give --id-column")
    _need(rows, id_column, path)
    _need(rows, gold_column, path)
    labels: dict[str, Hashable] = {}
    for r in rows:
        try:  # ids as the readers make them: 12.0 -> "12", stripped
            i = text_field(r[id_column], "id")
        except FieldError:
            continue
        lab = r[gold_column]
        if i and lab is not None and not (isinstance(lab, float) and math.isnan(lab)):
            labels[i] = lab if isinstance(lab, Hashable) else str(lab)
    if not labels:
        raise InputError(f"{path}: no row has both an id ({id_column!r}) and a label "
                         f"({gold_column!r})")
    return GoldClusters(str(path), id_column, gold_column, labels, len(rows))


def check_gold_ids(gold: GoldClusters, ids: Iterable[str], where: str) -> int:
    """How many gold ids are among ``ids`` (the engine's articles); call it before the long
    work. Raises InputError when none is, naming both sides' id examples."""
    ids = set(ids)
    found = sum(1 for i in gold.labels if i in ids)
    if found == 0:
        ex_g = next(iter(gold.labels))
        ex_i = next(iter(ids), None)
        raise InputError(
            f"{gold.path}: none of the {len(gold.labels)} gold ids (column {gold.id_column!r}, "
            f"e.g. {ex_g!r}) is an article id of {where} (e.g. {ex_i!r}): wrong --id-column, "
            "--map, or another input?")
    return found


# ------------------------------------------------------------------------------- pairs


def pair_columns(row: Mapping[str, Any]) -> tuple[str, str] | None:
    """The text columns of a pair file's row (:data:`TEXT_PAIR_ALIASES`), or None."""
    for a, b in TEXT_PAIR_ALIASES:
        if a in row and b in row:
            return a, b
    return None


@dataclass(frozen=True)
class GoldPairs:
    """Pair gold with its positive class.

    Attributes:
        rows: the file's rows.
        label_column: the label column read.
        labels: per pair, the graded value (``positive_at`` given) or 0/1.
        positive_at: binarisation threshold for graded labels, else None.
        positive: the positive class in words, e.g. ``"score_0_5 >= 4"``, ``"stance = agree"``.
        derived: how it was chosen (default or option, the other labels).
    """

    rows: list[dict[str, Any]]
    label_column: str
    labels: list[float]
    positive_at: float | None
    positive: str
    derived: str


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def read_pair_gold(path: str | Path, *, label_column: str | None = None,
                   positive_at: float | None = None,
                   positive_label: Sequence[str] | None = None) -> GoldPairs:
    """Read pair gold and derive its positive class.

    * numeric 0/1 labels: positive = label 1 (or ``>= positive_at`` when given);
    * graded numbers (e.g. STS 0-5): positive = ``>= positive_at``, which is then required;
    * text labels (e.g. ANS stance agree / disagree / other): positive = the labels in
      ``positive_label``, by default the one label among :data:`POSITIVE_WORDS`.

    Raises:
        InputError: no rows, no label column, a graded column without ``positive_at``,
            ``positive_label`` naming no label of the file, or text labels with no default.
    """
    rows = read_table(path)
    if not rows:
        raise InputError(f"{path}: no rows")
    cols = rows[0].keys()
    col = label_column or next((c for c in LABEL_COLUMNS if c in cols), None)
    if col is None:
        raise InputError(f"{path}: needs a label column ({', '.join(LABEL_COLUMNS)}) or "
                         "--label-column")
    _need(rows, col, path)
    raw = [r[col] for r in rows]
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in raw):
        bad = next(k for k, v in enumerate(raw) if v is None or v != v)
        raise InputError(f"{path}: row {bad + 1} has no {col!r} label")
    if all(_is_number(v) for v in raw) and not positive_label:
        vals = [float(v) for v in raw]
        binary = set(vals) <= {0.0, 1.0}
        if positive_at is not None:
            how = f"--positive-at {positive_at:g}"
            return GoldPairs(rows, col, vals, float(positive_at), f"{col} >= {positive_at:g}",
                             f"{how}; {col} ranges {min(vals):g}..{max(vals):g}")
        if not binary:
            raise InputError(f"{path}: {col!r} is graded ({min(vals):g}..{max(vals):g}): give "
                             "--positive-at (e.g. 4 for STS 0-5 scores) to say which pairs are "
                             "positive")
        return GoldPairs(rows, col, vals, None, f"{col} = 1", f"binary {col} (0/1)")
    values = [str(v).strip() for v in raw]
    distinct = sorted(set(values))
    if positive_label:
        pos = [p.strip() for p in positive_label]
        unknown = [p for p in pos if p not in distinct]
        if unknown:
            raise InputError(f"{path}: --positive-label {', '.join(unknown)} is not a label of "
                             f"{col!r} (labels: {', '.join(distinct)})")
        how = "--positive-label"
    else:
        pos = [v for v in distinct if v.lower() in POSITIVE_WORDS]
        if len(pos) != 1:
            raise InputError(f"{path}: {col!r} has labels {', '.join(distinct)}: give "
                             "--positive-label to say which are positive")
        how = f"default (the label {pos[0]!r})"
    neg = [v for v in distinct if v not in pos]
    labels = [float(v in pos) for v in values]
    return GoldPairs(rows, col, labels, None, f"{col} = {' or '.join(pos)}",
                     f"{how}; negative: {', '.join(neg) or '(none)'}")
