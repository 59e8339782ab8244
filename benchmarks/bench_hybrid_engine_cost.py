"""Extra cost of the hybrid story scorer inside the engine, apart from embedding.

Reruns the story step of a finished run twice on its stored units and embeddings (no model
needed): once with the cosine scorer, once with the hybrid scorer (item terms, document
frequencies, assignment, story states written to the store), each into a fresh in-memory copy
of the run's articles and near-duplicate groups. Prints seconds per step and per unit.

    python benchmarks/bench_hybrid_engine_cost.py /tmp/demo_cosine.duckdb [online|batch]
"""

from __future__ import annotations

import sys
import time

import numpy as np

from clustering.config import EmbedParams, StoryParams
from clustering.pipeline import Progress
from clustering.store import Store
from clustering.story_step import StoryStep


class _Stored:
    """An embedder stand-in that only carries the model id (every vector is in the store)."""

    def __init__(self, model_id: str):
        self.model_id = model_id

    def encode_articles(self, titles, texts):  # pragma: no cover - never called
        raise RuntimeError("all embeddings should be stored")


def main(path: str, mode: str = "online") -> None:
    with Store(path, read_only=True) as src:
        arts = src.con.sql("SELECT * FROM articles ORDER BY seq").to_arrow_table()
        tables = {t: src.con.sql(f"SELECT * FROM {t}").to_arrow_table()
                  for t in ("dup_members", "dup_groups", "embeddings")}
        model_id = src.con.execute("SELECT any_value(model_id) FROM embeddings").fetchone()[0]
    groups = {r["article_id"]: r["group_id"] for r in tables["dup_members"].to_pylist()}
    n_units = tables["embeddings"].num_rows
    for scorer in ("cosine", "hybrid"):
        with Store(":memory:") as st:
            for name, t in (("articles", arts), *tables.items()):
                st._insert_arrow(name, t)
            step = StoryStep(StoryParams(mode=mode, scorer=scorer), EmbedParams(), _Stored(model_id))
            t0 = time.perf_counter()
            with st.transaction():
                out = step(st, 1, _articles(st), groups, Progress())
            dt = time.perf_counter() - t0
        print(f"{mode} {scorer}: {dt:.1f} s for {n_units} units ({1000 * dt / n_units:.1f} ms/unit); "
              f"{out}")


def _articles(st: Store):
    from clustering.records import Article

    rows = st.con.execute("SELECT id, title, text, published FROM articles ORDER BY seq").fetchall()
    return [Article(id=r[0], title=r[1] or "", text=r[2] or "", published=r[3]) for r in rows]


if __name__ == "__main__":
    np.seterr(all="ignore")
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/demo_cosine.duckdb",
         sys.argv[2] if len(sys.argv) > 2 else "online")
