"""Step 1 of building benchmarks/data/egynews_ar_stories: Arabic units of two EgyNews days.

    PYTHONPATH=$PWD HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python \
        benchmarks/labelling/prepare_units.py --out /tmp/label-ar

Takes the Arabic-script articles of 2013-02-06 and 2013-02-10 from the shared EgyNews file,
folds exact and near-duplicate copies per day with :class:`clustering.Deduplicator` (defaults)
and keeps each group's representative (one unit) with its group size. Embeds the units with
the engine's Embedder (onnx-int8). Writes units.jsonl and emb.npy under --out.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np

from clustering import Deduplicator

SRC = Path(__file__).resolve().parents[3] / "shared/data/egynews2013/egynews2013_2013-02-01_to_02-14.jsonl.gz"
DAYS = ("2013-02-06", "2013-02-10")
_AR = re.compile(r"[\u0600-\u06FF]")
_LATIN = re.compile(r"[A-Za-z]")


def is_arabic(text: str) -> bool:
    """True when Arabic letters outnumber Latin letters in ``text``."""
    return len(_AR.findall(text)) > len(_LATIN.findall(text))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", default=str(SRC))
    ap.add_argument("--out", default="/tmp/label-ar")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = {d: [] for d in DAYS}
    with gzip.open(a.src, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            d = r["timestamp"][:10]
            if d in rows and is_arabic(r["title"] + " " + r["body"][:300]):
                rows[d].append(r)
    units = []
    for d in DAYS:
        recs = [{"id": r["id"], "title": r["title"], "text": r["body"],
                 "published": r["timestamp"].replace(" ", "T") + "Z", "source": r["source"]}
                for r in rows[d]]
        dd = Deduplicator()
        labels = dd.fit_predict(recs)
        sizes = Counter(int(x) for x in labels if x >= 0)
        by_id = {r["id"]: r for r in rows[d]}
        gid_of = dict(zip(dd.ids_, dd.group_ids_))
        gsize = Counter(gid_of.values())
        for gid, rep in dd.representatives_.items():
            r = by_id[rep]
            units.append({**r, "day": d, "dup_group_size": gsize[gid]})
        print(d, len(rows[d]), "articles ->", len(dd.representatives_), "units;",
              "skips", dd.skips_.as_dict(), "largest groups", sorted(sizes.values())[-5:])
    from clustering.embed import Embedder
    emb = Embedder(backend="onnx-int8").encode_articles([u["title"] for u in units],
                                                        [u["body"] for u in units])
    np.save(out / "emb.npy", emb)
    with open(out / "units.jsonl", "w", encoding="utf-8") as f:
        for u in units:
            f.write(json.dumps(u, ensure_ascii=False) + "\n")
    print(len(units), "units", emb.shape)


if __name__ == "__main__":
    main()
