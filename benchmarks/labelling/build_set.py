"""Step 4 of building benchmarks/data/egynews_ar_stories: labels file -> the shipped set.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/labelling/build_set.py --dir /tmp/label-ar

Reads the annotator's labels (benchmarks/labelling/labels.txt: one line per story of 2+ units,
unit indices separated by spaces, optional ``| doubt``; ``doubt ID | note`` for a singleton;
``#`` comments). Lines that share a unit are one story. Every other unit of a neighbourhood is a
singleton. Writes benchmarks/data/egynews_ar_stories.jsonl.gz, rows in time order.
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "data" / "egynews_ar_stories.jsonl.gz"


def parse(path: Path) -> tuple[list[list[int]], dict[int, str]]:
    """(story groups as lists of unit indices, unit index -> doubt note)."""
    groups, doubts = [], {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        ids, _, note = line.partition("|")
        note = note.strip()
        if ids.startswith("doubt"):
            doubts[int(ids.split()[1])] = note
            continue
        g = [int(x) for x in ids.split()]
        groups.append(g)
        if note:
            for x in g:
                doubts.setdefault(x, note)
    return groups, doubts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="/tmp/label-ar")
    ap.add_argument("--labels", default=str(HERE / "labels.txt"))
    a = ap.parse_args()
    d = Path(a.dir)
    U = [json.loads(x) for x in (d / "units.jsonl").read_text(encoding="utf-8").splitlines()]
    hood = {int(k): v for k, v in json.loads((d / "hoods.json").read_text())["hood"].items()}
    groups, doubts = parse(Path(a.labels))
    parent = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for g in groups:
        for x in g:
            if x not in hood:
                raise SystemExit(f"unit {x} is in no neighbourhood")
            parent[find(x)] = find(g[0])
    for x in hood:
        find(x)
    order = sorted(hood, key=lambda x: (U[x]["timestamp"], x))
    names, counters = {}, Counter()
    rows = []
    for x in order:
        r = find(x)
        if r not in names:
            day = U[x]["day"][8:10]
            counters[day] += 1
            names[r] = f"d{day}-s{counters[day]:03d}"
        u = U[x]
        rows.append({"id": u["id"], "source": u["source"], "category": u["category"],
                     "timestamp": u["timestamp"], "title": u["title"], "body": u["body"],
                     "story": names[r], "neighbourhood": f"n{hood[x]:02d}",
                     "dup_group_size": u["dup_group_size"], "doubt": doubts.get(x, ""),
                     "unit": x})
    OUT.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps({k: v for k, v in r.items() if k != "unit"}, ensure_ascii=False)
                   + "\n" for r in rows)
    # mtime=0: the same labels give the same bytes
    with open(OUT, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
        f.write(text.encode("utf-8"))
    sizes = Counter(Counter(r["story"] for r in rows).values())
    print(len(rows), "units,", len(set(r["story"] for r in rows)), "stories;",
          sum(v for k, v in sizes.items() if k >= 2), "of 2+; sizes", sorted(sizes.items()),
          "; doubts", sum(1 for r in rows if r["doubt"]))
    (d / "story_of_unit.json").write_text(json.dumps({str(r["unit"]): r["story"] for r in rows}))


if __name__ == "__main__":
    main()
