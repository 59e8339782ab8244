"""Outputs read from the store: the deduplicated feed and the per-article export.

Both are written by DuckDB itself (``COPY ... TO``), so exports of large archives stream without
passing every row through Python.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import duckdb

from clustering.store import Store, StoreError

FEED_SQL = """
SELECT a.id, a.title, a.text, a.published, a.source, a.url, a.lang, a.listed_on,
       g.size - 1 AS duplicate_count,
       coalesce(list(m.article_id ORDER BY d.seq) FILTER (WHERE m.article_id <> a.id), [])
           AS duplicate_ids
FROM dup_groups g
JOIN articles a ON a.id = g.representative_id
JOIN dup_members m ON m.group_id = g.group_id
JOIN articles d ON d.id = m.article_id
GROUP BY ALL
ORDER BY min(d.seq)
"""

EXPORT_SQL = """
SELECT a.id, m.group_id AS dup_group, g.representative_id, m.similarity,
       {story} AS story_id
FROM articles a
JOIN dup_members m ON m.article_id = a.id
JOIN dup_groups g ON g.group_id = m.group_id
{story_join}
ORDER BY a.seq
"""


def _copy(store: Store, sql: str, fmt: str, out: Path | None) -> int:
    n = int(store.scalar(f"SELECT count(*) FROM ({sql})"))
    options = {"jsonl": "FORMAT json", "csv": "FORMAT csv, HEADER true",
               "parquet": "FORMAT parquet"}[fmt]
    if out is None and fmt != "parquet":
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"export.{fmt}"
            store.con.execute(f"COPY ({sql}) TO '{path}' ({options})")
            sys.stdout.write(path.read_text(encoding="utf-8"))
        return n
    target = out or Path("export.parquet")
    if target.is_dir():
        raise StoreError(f"{target}: is a directory; give a file name")
    if not target.parent.exists():
        raise StoreError(f"{target.parent}: no such directory")
    path_sql = str(target).replace("'", "''")
    try:
        store.con.execute(f"COPY ({sql}) TO '{path_sql}' ({options})")
    except duckdb.IOException as exc:
        raise StoreError(f"{target}: cannot write ({str(exc).splitlines()[0]})") from exc
    return n


def write_feed(store: Store, out: Path) -> int:
    """Write the feed with each item once (JSON Lines): one row per near-duplicate group, the
    representative's fields plus ``duplicate_count`` and ``duplicate_ids``, in the order the
    group's first member arrived. Returns the number of rows."""
    return _copy(store, FEED_SQL, "jsonl", out)


def export_rows(store: Store, fmt: str, out: Path | None) -> int:
    """Export one row per article (``id, dup_group, representative_id, similarity,
    story_id``) as ``jsonl``, ``csv`` or ``parquet``; ``out`` None writes jsonl/csv to stdout.
    ``story_id`` is the article's open story membership, or that of its group's representative
    (only representatives are clustered), or null. Returns the number of rows."""
    story = "coalesce(sm.story_id, sr.story_id)"
    join = ("LEFT JOIN story_members sm ON sm.article_id = a.id AND sm.valid_to IS NULL "
            "LEFT JOIN story_members sr ON sr.article_id = g.representative_id AND sr.valid_to IS NULL")
    return _copy(store, EXPORT_SQL.format(story=story, story_join=join), fmt, out)
