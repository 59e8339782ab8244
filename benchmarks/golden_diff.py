"""Which articles of the bundled day changed near-duplicate group against an older golden export.

    git show REV:tests/golden/egy_day_seed_export.jsonl.gz > /tmp/old.gz
    PYTHONPATH=. python benchmarks/golden_diff.py /tmp/old.gz > benchmarks/out/golden_diff.txt

Run from the repository root. Writes the new export to benchmarks/out/golden_new.jsonl, prints
the sha256 of the groups listing (as tests/test_api.py computes it), and for each article whose
co-members changed, its rule and the engine's explain verdict against the members it gained or
lost.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
from pathlib import Path

from clustering import Config, NewsClusterer

DATA = Path(__file__).resolve().parent.parent / "data"
INPUTS = [DATA / "egynews" / "egynews2013_2013-02-01.jsonl.gz",
          DATA / "seed-page" / "similar_articles_page_ar.txt"]
CONFIG = Config().replace(stories={"mode": "none"}, dedup={"minhash": "datasketch"})


def comembers(rows: dict[str, dict]) -> dict[str, frozenset]:
    groups: dict[str, set] = {}
    for k, r in rows.items():
        groups.setdefault(r["dup_group"], set()).add(k)
    return {k: frozenset(groups[r["dup_group"]]) for k, r in rows.items()}


def main(old_golden: str) -> None:
    out = Path("benchmarks/out/golden_new.jsonl")
    db = Path("benchmarks/out/golden.duckdb")
    db.unlink(missing_ok=True)
    with NewsClusterer(db, CONFIG) as nc:
        nc.ingest(INPUTS)
        nc.export("jsonl", out)
        rows = json.loads(json.dumps(nc.groups(min_size=1, limit=100000), default=str))
        shape = [{**{k: v for k, v in g.items() if k != "members"},
                  "members": [{k: m[k] for k in ("id", "source", "similarity", "rule")}
                              for m in g["members"]]} for g in rows]
        canon = json.dumps(shape, sort_keys=True, ensure_ascii=False, default=str)
        print("groups sha256", hashlib.sha256(canon.encode()).hexdigest())
        with gzip.open(old_golden, "rt", encoding="utf-8") as fh:
            before = {r["id"]: r for r in map(json.loads, fh)}
        now = {r["id"]: r for r in map(json.loads, out.open(encoding="utf-8"))}
        cb, cn = comembers(before), comembers(now)
        changed = sorted(k for k in now if cb[k] != cn[k])
        print("changed co-members:", len(changed), "rows differing:",
              sum(now[k] != before.get(k) for k in now))
        seen: set = set()
        for k in changed:
            f = nc.store.article_facts(k)
            gained, lost = sorted(cn[k] - cb[k]), sorted(cb[k] - cn[k])
            print(f"{k} rule={f['rule']} sim={f['similarity']} via={f['joined_via']} "
                  f"+{len(gained)} -{len(lost)} | {f['title'][:60]}")
            for o in (gained + lost)[:2]:
                if (o, k) in seen:
                    continue
                seen.add((k, o))
                verdict = nc.explain(k, o)["near_duplicate"]["verdict"]
                print("     vs", o[:8], "joined" if o in gained else "left", verdict[:200])


if __name__ == "__main__":
    main(sys.argv[1])
