"""Labelled story data for the learned scorer: ECB+ 1-35, uci-headlines, the seed page.

Each loader returns a list of item dicts ``{"id", "title", "text", "time", "gold", "group"}``
(``time`` epoch seconds or NaN; ``group`` the unit of cross-validation: ECB+ topic, uci story)
and :func:`embeddings` caches their E5 embeddings once in ``benchmarks/out/`` (.npy keyed by
model id + lead tokens + a hash of the texts; see :func:`common.embed_cached`).

Run ``python benchmarks/story_data.py`` once to fill the cache (a few minutes on 2 cores).
"""

from __future__ import annotations

import csv
import random
import sys
from datetime import UTC, datetime

import numpy as np
from common import DATA, ROOT, ecbplus_docs, embed_cached

UCI = DATA / "uci-headlines" / "uci_news_aggregator_dev_stories.csv"
SEED = ROOT / "data" / "seed-page" / "similar_articles_page_ar.txt"
#: Seed-page gold (ids as read by ``read_page(..., page_id="P")``), as in tests/test_stories_store.py.
SEED_KURSK = ["P#readalso-1", "P#related-3", "P#related-4", "P#related-5", "P#related-6",
              "P#related-9"]
SEED_NAVAL = ["P#related-1", "P#related-2"]


def ecb_items() -> list[dict]:
    """ECB+ topics 1-35: title = first line, text = the rest; gold = story_id; group = topic."""
    out = []
    for d in ecbplus_docs():
        lines = d["text"].strip().split("\n", 1)
        out.append({"id": d["doc_id"], "title": lines[0].strip(),
                    "text": lines[1].strip() if len(lines) > 1 else "", "time": float("nan"),
                    "gold": str(d["story_id"]), "group": str(d["topic"])})
    return out


def ecb_headline_items() -> list[dict]:
    """ECB+ documents reduced to their first line (a headline-only twin of each article): with
    the articles, they give the headline-vs-article pairs no labelled set has (the seed page's
    "read also" article and its headline list are such pairs). Ids get a ``#h`` suffix."""
    return [dict(d, id=d["id"] + "#h", text="") for d in ecb_items()]


def uci_items(seed: int = 0) -> list[dict]:
    """uci-headlines: rows shuffled (they come in story blocks), day-level dates only (midnight
    UTC of the crawl day), headline only; gold = group = STORY."""
    with open(UCI, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    random.Random(seed).shuffle(rows)
    out = []
    for r in rows:
        day = datetime.fromtimestamp(int(r["TIMESTAMP"]) / 1000, tz=UTC).date()
        t = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
        out.append({"id": r["ID"], "title": r["TITLE"].strip(), "text": "", "time": t,
                    "gold": r["STORY"], "group": r["STORY"]})
    return out


def seed_items() -> list[dict]:
    """The seed page read with :func:`clustering.io.page.read_page` (page article id "P");
    gold: the page article alone, the Kursk/thanks headlines, the naval headlines, the other
    headlines unconstrained (each its own gold label)."""
    from clustering.io.page import read_page

    arts, _ = read_page(SEED, page_id="P")
    out = []
    for a in arts:
        gold = "kursk" if a.id in SEED_KURSK else "naval" if a.id in SEED_NAVAL else a.id
        out.append({"id": a.id, "title": a.title or "", "text": a.text or "",
                    "time": float("nan"), "gold": gold, "group": "seed"})
    return out


def egyar_items() -> list[dict]:
    """The hand-labelled Arabic EgyNews story set (``benchmarks/data/``, 450 near-duplicate
    group representatives of 2013-02-06 and 2013-02-10, labelled by reading): gold = story,
    group = the candidate neighbourhood it was labelled in (stories never cross one)."""
    import gzip
    import json

    from labelled_sets import EGYNEWS_AR_STORIES

    out = []
    with gzip.open(EGYNEWS_AR_STORIES, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            t = datetime.fromisoformat(r["timestamp"].replace(" ", "T")).replace(tzinfo=UTC)
            out.append({"id": r["id"], "title": r["title"] or "", "text": r["body"] or "",
                        "time": t.timestamp(), "gold": r["story"],
                        "group": f"{r['story'][:3]}-{r['neighbourhood']}"})
    return out


def egyar_headline_items() -> list[dict]:
    """The Arabic story set reduced to titles (headline-only twins, ids with a ``#h`` suffix):
    with the articles they give Arabic headline-vs-headline and headline-vs-article pairs of
    real news stories, which no other labelled set has (ANS pairs are paraphrases of claims)."""
    return [dict(d, id=d["id"] + "#h", text="") for d in egyar_items()]


def xl_pairs() -> tuple[list[dict], np.ndarray, np.ndarray, np.ndarray]:
    """The hand-labelled English-Arabic EgyNews pairs (``benchmarks/data/``, labelled by
    reading) as items and pairs: ``(items, ii, jj, y)``, y = 1 for ``same`` (one event), 0 for
    ``near`` (same topic, another event or development: hard negatives) and ``other``.
    Distinct articles are one item each; group = the English article (the unit of CV)."""
    from labelled_pairs import load_crosslingual_pairs

    index: dict[str, int] = {}
    items: list[dict] = []
    ii, jj, y = [], [], []

    def item(r: dict, side: str, group: str) -> int:
        aid = r[f"id_{side}"]
        if aid not in index:
            index[aid] = len(items)
            t = datetime.fromisoformat(r[f"timestamp_{side}"].replace(" ", "T")).replace(tzinfo=UTC)
            items.append({"id": aid, "title": r[f"title_{side}"] or "", "text": r[f"body_{side}"] or "",
                          "time": t.timestamp(), "gold": aid, "group": group})
        return index[aid]

    for r in load_crosslingual_pairs():
        a = item(r, "a", r["id_a"])
        b = item(r, "b", r["id_a"])
        ii.append(a)
        jj.append(b)
        y.append(int(r["label"] == "same"))
    return items, np.array(ii), np.array(jj), np.array(y)


def ans_pairs() -> tuple[list[dict], np.ndarray, np.ndarray, np.ndarray]:
    """ANS Arabic headline pairs (train + dev) as items and pairs: ``(items, ii, jj, y)``, y = 1
    for ``agree`` (a paraphrase: same story), 0 for ``disagree`` (the claim with a fact changed:
    a different event told alike, a hard negative); ``other`` is left out. Distinct sentences
    are one item each."""
    from common import ans_pairs as _ans

    index: dict[str, int] = {}
    ii, jj, y = [], [], []
    for stance, s1, s2 in _ans():
        if stance not in ("agree", "disagree"):
            continue
        a = index.setdefault(s1.strip(), len(index))
        b = index.setdefault(s2.strip(), len(index))
        if a != b:
            ii.append(a)
            jj.append(b)
            y.append(int(stance == "agree"))
    items = [{"id": f"ans-{k}", "title": s, "text": "", "time": float("nan"), "gold": str(k),
              "group": "ans"} for s, k in index.items()]
    return items, np.array(ii), np.array(jj), np.array(y)


def embeddings(name: str, items: list[dict]) -> np.ndarray:
    """(n, 384) float32 L2-normalised E5 embeddings of title + lead, cached."""
    return embed_cached(name, [it["title"] for it in items], [it["text"] for it in items])


def load(name: str) -> tuple[list[dict], np.ndarray]:
    """``(items, embeddings)`` for ``"ecb"``, ``"ecbh"``, ``"uci"``, ``"seed"``, ``"egyar"``, ``"egyarh"``,
    ``"ans"`` or ``"xl"`` (the last two: the items of labelled pairs)."""
    if name == "ans":
        items = ans_pairs()[0]
    elif name == "xl":
        items = xl_pairs()[0]
    else:
        items = {"ecb": ecb_items, "ecbh": ecb_headline_items, "uci": uci_items,
                 "seed": seed_items, "egyar": egyar_items, "egyarh": egyar_headline_items}[name]()
    return items, embeddings(name, items)


if __name__ == "__main__":
    for nm in sys.argv[1:] or ["seed", "ecb", "uci"]:
        its, x = load(nm)
        print(nm, len(its), x.shape, flush=True)
