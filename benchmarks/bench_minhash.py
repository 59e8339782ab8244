"""MinHash speed and accuracy: ours (vectorised) vs datasketch's per-document loop vs rensa.

Inputs are EgyNews articles, normalised and tokenised once by :mod:`clustering.normalise`
(the common step, timed separately and excluded from every method). Each method then goes from
token lists to 128-permutation signatures, with the same shingle definition:

* headlines (titles): character 4-grams over the tokens joined by single spaces;
* bodies (title + body): word 3-shingles.

Methods (all single-threaded, timed on the same documents in the same run):

* ``ours``: :func:`clustering.dedup.shingles.shingle_batch` + :func:`clustering.dedup.minhash.signatures`.
* ``datasketch loop``: per document ``m = MinHash(num_perm=128, seed=1)`` and
  ``m.update(sh.encode())`` for each shingle string (the plain documented usage).
* ``datasketch update_batch``: the same with one ``m.update_batch(list)`` per document.
* ``rensa RMinHash loop``: per document ``RMinHash(128, 1).update(shingle strings)``.
* ``rensa digest_matrix (strings)``: ``RMinHash.digest_matrix_from_token_sets`` over all documents.
* ``rensa digest_matrix (our hashes)``: our ``shingle_batch`` hashes fed to
  ``RMinHash.digest_matrix_from_flat_token_hashes`` (identical shingle sets; shingling included).

Baselines build their shingle strings from the token lists inside the timed region, as ours
builds its hashed shingles. Accuracy: mean absolute error of each method's Jaccard estimate
against the exact Jaccard of the shingle sets on a few thousand pairs (near-duplicate pairs
found by brute force plus random pairs).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from common import Timer, best_of, egynews_rows, main_for, section, table

NUM_PERM = 128
SEED = 1


def shingle_strings(toks: list[str], kind: str, word_k: int = 3, char_k: int = 4) -> list[str]:
    """Shingles of one token list as strings, with the window rule of ``combine_windows``: a
    document shorter than k gives one shingle of all it has."""
    if kind == "word":
        return [" ".join(toks[i:i + word_k]) for i in range(max(1, len(toks) - word_k + 1))]
    s = " ".join(toks)
    return [s[i:i + char_k] for i in range(max(1, len(s) - char_k + 1))]


def _ours(token_lists, params):
    from clustering.dedup.minhash import signatures
    from clustering.dedup.shingles import shingle_batch

    _, sets = shingle_batch(token_lists, params)
    return signatures(sets, NUM_PERM, SEED)


def _shingle_only(token_lists, params):
    from clustering.dedup.shingles import shingle_batch

    return shingle_batch(token_lists, params)


def _datasketch_loop(token_lists, kind):
    from datasketch import MinHash

    out = []
    for toks in token_lists:
        m = MinHash(num_perm=NUM_PERM, seed=SEED)
        for sh in shingle_strings(toks, kind):
            m.update(sh.encode("utf-8"))
        out.append(m)
    return out


def _datasketch_batch(token_lists, kind):
    from datasketch import MinHash

    out = []
    for toks in token_lists:
        m = MinHash(num_perm=NUM_PERM, seed=SEED)
        m.update_batch([sh.encode("utf-8") for sh in shingle_strings(toks, kind)])
        out.append(m)
    return out


def _rensa_loop(token_lists, kind):
    from rensa import RMinHash

    out = []
    for toks in token_lists:
        m = RMinHash(NUM_PERM, SEED)
        m.update(shingle_strings(toks, kind))
        out.append(m)
    return out


def _rensa_matrix(token_lists, kind):
    from rensa import RMinHash

    return RMinHash.digest_matrix_from_token_sets(
        [shingle_strings(t, kind) for t in token_lists], NUM_PERM, SEED)


def _rensa_our_hashes(token_lists, params):
    from rensa import RMinHash

    from clustering.dedup.shingles import shingle_batch

    _, sets = shingle_batch(token_lists, params)
    lens = np.fromiter((len(s) for s in sets), dtype=np.uint64, count=len(sets))
    offsets = np.zeros(len(sets) + 1, dtype=np.uint64)
    np.cumsum(lens, out=offsets[1:])
    return RMinHash.digest_matrix_from_flat_token_hashes(np.concatenate(sets), offsets, NUM_PERM, SEED)


def _pairs(sets: list[np.ndarray], n_pairs: int, rng: np.random.Generator) -> np.ndarray:
    """About half near-duplicate-ish pairs (exact Jaccard >= 0.2 by brute force), the rest random."""
    from clustering.dedup.exact import all_pairs_jaccard

    near = np.array([(i, j) for i, j, _ in all_pairs_jaccard(sets, 0.2)], dtype=np.int64).reshape(-1, 2)
    if len(near) > n_pairs // 2:
        near = near[rng.choice(len(near), n_pairs // 2, replace=False)]
    k = n_pairs - len(near)
    rnd = rng.integers(0, len(sets), size=(k, 2))
    rnd = rnd[rnd[:, 0] != rnd[:, 1]]
    return np.concatenate([near, rnd])


def _accuracy(sets, pairs, ours_sigs, ds, rs_sigs) -> dict:
    from clustering.dedup.shingles import jaccard

    exact = np.array([jaccard(sets[i], sets[j]) for i, j in pairs])
    est = {
        "ours": np.array([np.mean(ours_sigs[i] == ours_sigs[j]) for i, j in pairs]),
        "datasketch": np.array([ds[i].jaccard(ds[j]) for i, j in pairs]),
        "rensa": np.array([np.mean(rs_sigs[i] == rs_sigs[j]) for i, j in pairs]),
    }
    sim = exact >= 0.3
    out = {"n_pairs": len(pairs), "n_pairs_j>=0.3": int(sim.sum()),
           "theory_sd_mean": float(np.mean(np.sqrt(exact * (1 - exact) / NUM_PERM)))}
    for k, v in est.items():
        out[f"mae_{k}"] = float(np.mean(np.abs(v - exact)))
        out[f"mae_{k}_j>=0.3"] = float(np.mean(np.abs(v - exact)[sim])) if sim.any() else None
    return out


def run(quick: bool, plots_dir: Path | None = None) -> dict:
    """MinHash signatures/second (ours, datasketch, rensa) on EgyNews headlines and bodies, and
    the mean absolute error of each method's Jaccard estimate vs exact Jaccard."""
    from clustering.dedup.shingles import ShingleParams
    from clustering.normalise import normalise, tokens

    res = section("MinHash signatures: speed and accuracy")
    rng = np.random.default_rng(0)
    # The first articles in time order: a contiguous slice keeps the syndicated copies together,
    # so the accuracy pairs include many near-duplicates.
    n_head, n_body = (2_000, 600) if quick else (20_000, 5_000)
    docs = [r for r in egynews_rows() if r.get("title") and r.get("body")][:max(n_head, n_body)]
    with Timer() as t_norm:
        heads = [tokens(normalise(r["title"])) for r in docs[:n_head]]
        bodies = [tokens(normalise(r["title"] + "\n" + r["body"])) for r in docs[:n_body]]
    bodies = [b for b in bodies if len(b) >= 16]  # word-shingled in the engine too
    cases = {
        "headlines (char 4-grams)": (heads, "char", ShingleParams(short_tokens=1 << 30)),
        "bodies (word 3-shingles)": (bodies, "word", ShingleParams(short_tokens=0)),
    }
    rep_fast, rep_slow = (2, 1) if quick else (3, 1)
    speed_rows, acc_rows = [], []
    for name, (tl, kind, params) in cases.items():
        n = len(tl)
        n_sh = sum(len(shingle_strings(t, kind)) for t in tl)
        methods = {
            "ours (shingle_batch + signatures)": (lambda tl=tl, params=params: _ours(tl, params), rep_fast),
            "  of which ours: shingle_batch only": (lambda tl=tl, params=params: _shingle_only(tl, params), rep_fast),
            "datasketch loop (update per shingle)": (lambda tl=tl, kind=kind: _datasketch_loop(tl, kind), rep_slow),
            "datasketch update_batch": (lambda tl=tl, kind=kind: _datasketch_batch(tl, kind), rep_slow),
            "rensa RMinHash loop": (lambda tl=tl, kind=kind: _rensa_loop(tl, kind), rep_fast),
            "rensa digest_matrix (strings)": (lambda tl=tl, kind=kind: _rensa_matrix(tl, kind), rep_fast),
            "rensa digest_matrix (our hashes)": (lambda tl=tl, params=params: _rensa_our_hashes(tl, params), rep_fast),
        }
        times, outs = {}, {}
        for m, (fn, rep) in methods.items():
            times[m], outs[m] = best_of(fn, rep)
        ours_t = times["ours (shingle_batch + signatures)"]
        for m, s in times.items():
            speed_rows.append([name, m, n, s, n / s, s / ours_t])
        key = "headlines" if kind == "char" else "bodies"
        ds_t = times["datasketch loop (update per shingle)"]
        rensa_best = min(v for k, v in times.items() if k.startswith("rensa"))
        res["summary"][f"{key}: ours signatures/s"] = n / ours_t
        res["summary"][f"{key}: speed-up of ours over datasketch loop (x, target >= 10)"] = ds_t / ours_t
        res["summary"][f"{key}: speed-up of ours over datasketch update_batch (x)"] = (
            times["datasketch update_batch"] / ours_t)
        res["summary"][f"{key}: speed-up of ours over fastest rensa (x, < 1 = rensa faster)"] = (
            rensa_best / ours_t)
        res["summary"][f"{key}: mean shingles per doc"] = n_sh / n

        # accuracy on the same documents
        from clustering.dedup.shingles import shingle_batch

        _, sets = shingle_batch(tl, params)
        pairs = _pairs(sets, 1_000 if quick else 4_000, rng)
        ours_sigs = outs["ours (shingle_batch + signatures)"]
        rs = np.array(outs["rensa digest_matrix (strings)"].to_rows(), dtype=np.uint32)
        acc = _accuracy(sets, pairs, ours_sigs, outs["datasketch loop (update per shingle)"], rs)
        acc_rows.append([name, acc["n_pairs"], acc["n_pairs_j>=0.3"], acc["mae_ours"],
                         acc["mae_datasketch"], acc["mae_rensa"], acc["mae_ours_j>=0.3"],
                         acc["mae_datasketch_j>=0.3"], acc["mae_rensa_j>=0.3"], acc["theory_sd_mean"]])
        res["summary"][f"{key}: MAE ours / datasketch / rensa"] = (
            f"{acc['mae_ours']:.4f} / {acc['mae_datasketch']:.4f} / {acc['mae_rensa']:.4f}")

    res["tables"].append(table(
        f"Signatures/second, {NUM_PERM} permutations, one process (normalise + tokenise excluded: "
        f"{t_norm.s:.2f} s for all {n_head:,} headlines + {n_body:,} bodies, common to all methods)",
        ["texts", "method", "docs", "seconds", "signatures/s", "time / time of ours"], speed_rows))
    res["tables"].append(table(
        "Jaccard estimate vs exact Jaccard of the same shingle sets: mean absolute error",
        ["texts", "pairs", "pairs J>=0.3", "MAE ours", "MAE datasketch", "MAE rensa",
         "MAE ours (J>=0.3)", "MAE datasketch (J>=0.3)", "MAE rensa (J>=0.3)",
         "binomial sd sqrt(J(1-J)/128), mean"], acc_rows))
    res["notes"].append(
        "Fastest of several runs for ours and rensa, one run for datasketch; ratios are side by side "
        "in the same process. rensa's digest_matrix results stay in rensa's own matrix object (no "
        "conversion to numpy is timed; ours returns a numpy array). 'rensa digest_matrix (our hashes)' hashes nothing itself: it gets our "
        "64-bit shingle hashes, so it isolates the signature step. rensa's estimates are from its "
        "digest_matrix (strings) output.")
    return res


if __name__ == "__main__":
    sys.exit(main_for(run))
