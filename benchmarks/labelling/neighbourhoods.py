"""Step 2 of building benchmarks/data/egynews_ar_stories: seeds and their neighbourhoods.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/labelling/neighbourhoods.py --dir /tmp/label-ar

Seeds: per day, units drawn at random (numpy seed 13) from topic buckets found by category and
title keywords (politics, security, economy, world, sport, local), round-robin over outlets,
plus a few "lonely" seeds whose 3rd-nearest neighbour is far (stories of 1-2 units).
Neighbourhood of a seed: the seed, its top K_EMB embedding-cosine neighbours and the top K_TFIDF
TF-IDF-cosine neighbours not already in, all of the same day. Overlapping neighbourhoods are
merged (union-find). Candidate finders only: the labels come from reading.
Writes hoods.json (unit index -> neighbourhood id) and read_<hood>.txt files to read.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

K_EMB, K_TFIDF = 6, 3
PER_DAY = {"politics": 4, "security": 4, "economy": 3, "world": 4, "sport": 3, "local": 3}
N_LONELY = 3
_KW = {
    "sport": r"الأهلي|الاهلي|الزمالك|مباراة|الدوري|المنتخب|كرة|لاعب|بطولة",
    "economy": r"البورصة|الجنيه|الدولار|اقتصاد|صندوق النقد|استثمار|البنك المركزي|قرض|الموازنة|أسعار",
    "local": r"محافظ |محافظة|مياه|الكهرباء|مجلس مدينة|قرية|المرور|السولار|البنزين",
}


def bucket(u: dict) -> str | None:
    """Topic bucket of a unit from its title keywords, then its outlet category."""
    for k, pat in _KW.items():
        if re.search(pat, u["title"]):
            return k
    c = u["category"]
    if c in ("world", "mideast"):
        return "world"
    if c in ("accidents", "cases", "investigations"):
        return "security"
    if c == "politics":
        return "politics"
    return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default="/tmp/label-ar")
    a = ap.parse_args()
    d = Path(a.dir)
    U = [json.loads(x) for x in (d / "units.jsonl").read_text(encoding="utf-8").splitlines()]
    E = np.load(d / "emb.npy")
    from sklearn.feature_extraction.text import TfidfVectorizer
    rng = np.random.default_rng(13)
    parent = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    seeds, members = [], {}
    for day in ("2013-02-06", "2013-02-10"):
        idx = np.array([i for i, u in enumerate(U) if u["day"] == day])
        X = TfidfVectorizer(sublinear_tf=True, min_df=1).fit_transform(
            [U[i]["title"] + "\n" + U[i]["body"][:1500] for i in idx])
        S_e = E[idx] @ E[idx].T
        S_t = (X @ X.T).toarray()
        np.fill_diagonal(S_e, -1)
        np.fill_diagonal(S_t, -1)
        third = np.sort(S_e, axis=1)[:, -3]
        order = rng.permutation(len(idx))
        chosen, used_src = [], []
        for b, n in PER_DAY.items():
            got = 0
            for j in order:
                u = U[idx[j]]
                if got == n:
                    break
                if bucket(u) != b or j in chosen or len(u["body"]) < 150:
                    continue
                if used_src.count(u["source"]) >= 2:  # spread over outlets
                    continue
                chosen.append(j)
                used_src.append(u["source"])
                got += 1
        lonely = [j for j in order if third[j] < np.quantile(third, 0.2) and j not in chosen
                  and len(U[idx[j]]["body"]) >= 150][:N_LONELY]
        chosen += lonely
        for j in chosen:
            nb = list(np.argsort(-S_e[j])[:K_EMB])
            nb += [k for k in np.argsort(-S_t[j])[:K_EMB + K_TFIDF] if k not in nb][:K_TFIDF]
            g = [int(idx[j])] + [int(idx[k]) for k in nb]
            seeds.append(int(idx[j]))
            members[int(idx[j])] = g
            for x in g[1:]:
                parent[find(x)] = find(g[0])
    roots = {}
    hood = {}
    for s in seeds:
        for x in members[s]:
            r = find(x)
            roots.setdefault(r, len(roots))
            hood[x] = roots[r]
    print(len(seeds), "seeds,", len(hood), "units,", len(roots), "merged neighbourhoods")
    (d / "hoods.json").write_text(json.dumps({"seeds": seeds,
                                              "hood": {str(k): v for k, v in hood.items()}}))
    for h in range(len(roots)):
        xs = sorted((x for x in hood if hood[x] == h), key=lambda x: U[x]["timestamp"])
        with open(d / f"read_{h:02d}.txt", "w", encoding="utf-8") as f:
            for x in xs:
                u = U[x]
                body = re.sub(r"\s+", " ", u["body"])[:400]
                f.write(f"[{x}] {'SEED ' if x in seeds else ''}{u['source']} {u['timestamp']} "
                        f"{u['category']} dup={u['dup_group_size']}\nT: {u['title']}\nB: {body}\n\n")


if __name__ == "__main__":
    main()
