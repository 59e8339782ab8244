"""Near-duplicate detection on real data: the seed page, the EgyNews day slice, and the MinHash
machinery against datasketch."""

from __future__ import annotations

import numpy as np
import pytest
from datasketch import MinHash

from clustering.dedup.engine import DedupParams, UnionFind, fingerprint_batch
from clustering.dedup.exact import all_pairs_jaccard
from clustering.dedup.lsh import bands_rows, candidate_probability
from clustering.dedup.minhash import fold32, signatures
from clustering.dedup.rules import decide
from clustering.dedup.shingles import ShingleParams, jaccard, shingle_batch, token_hashes
from clustering.normalise import normalise, tokens
from clustering.store import Store

from .conftest import EGY_DAY, SEED_PAGE, ingest, scalar


def groups_by_id(store: Store) -> dict[str, str]:
    return dict(store.con.execute("SELECT article_id, group_id FROM dup_members").fetchall())


# ---- MinHash machinery ---------------------------------------------------------------------

def test_signatures_equal_datasketch_update_value_for_value():
    texts = ["زعيم كوريا الشمالية يوجه بسرعة التسليح النووي لقواته البحرية",
             "At least 2 killed in blast in front of US embassy in Ankara", "a"]
    kinds, sets = shingle_batch([tokens(normalise(t)) for t in texts], ShingleParams())
    ours = signatures(sets, num_perm=64, seed=7)
    for row, s in zip(ours, sets):
        m = MinHash(num_perm=64, seed=7, hashfunc=lambda x: x)
        m.update_batch([int(v) for v in fold32(s)])
        assert np.array_equal(row, m.hashvalues)


def test_signature_of_a_huge_document_is_chunked_and_exact():
    rng = np.random.default_rng(0)
    big = np.unique(rng.integers(0, 2**63, size=50_000, dtype=np.uint64))
    small = big[:10]
    sig = signatures([small, big, small], num_perm=32)
    m = MinHash(num_perm=32, seed=1, hashfunc=lambda x: x)
    m.update_batch([int(v) for v in fold32(big)])
    assert np.array_equal(sig[1], m.hashvalues)
    assert np.array_equal(sig[0], sig[2])


def test_token_hashes_depend_on_text_only_and_split_documents():
    h1, s1 = token_hashes([["a", "bb"], ["a"]])
    h2, s2 = token_hashes([["a"], ["zz", "a", "bb"]])
    assert list(s1) == [0, 2, 3] and list(s2) == [0, 1, 4]
    assert h1[0] == h2[0] == h1[2] == h2[2]        # "a" hashes the same everywhere
    assert h1[1] == h2[3] and h1[0] != h1[1]      # "bb" too, and differs from "a"


def test_digits_are_different_shingles():
    _, (a, b) = shingle_batch([tokens(normalise("2 killed in Cairo blast")),
                               tokens(normalise("21 killed in Cairo blast"))])
    assert jaccard(a, b) < 1.0


def test_bands_rows_fit_the_signature_and_favour_recall():
    b, r = bands_rows(0.5, 128)
    assert b * r <= 128
    assert candidate_probability(0.5, b, r) > 0.5      # at the threshold: more likely found
    assert candidate_probability(0.2, b, r) < 0.25     # far below: rarely a candidate


def test_union_find_joins_transitively():
    uf = UnionFind()
    uf.union("a", "b")
    uf.union("c", "b")
    assert uf.find("a") == uf.find("c") != uf.find("d")


# ---- the seed page -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def seed_groups():
    """Group of every item of the seed page, ids shortened to P, P#readalso-1, P#related-k."""
    with Store(":memory:") as store:
        ingest(store, [SEED_PAGE])
        rows = store.con.execute("SELECT a.id, a.title, m.group_id FROM articles a "
                                 "JOIN dup_members m ON m.article_id = a.id").fetchall()
    short = lambda s: s.replace(SEED_PAGE.stem, "P")
    return {short(r[0]): (r[1], short(r[2])) for r in rows}


def test_seed_page_verbatim_repeat_joins_the_read_also_article(seed_groups):
    # related #4 repeats the read-also headline verbatim; the read-also item has a body.
    assert seed_groups["P#related-4"][1] == seed_groups["P#readalso-1"][1]


def test_seed_page_headline_with_appended_words_is_a_near_duplicate(seed_groups):
    # #6 = #5 + " .. وكيم: مهمة مقدسة"
    assert seed_groups["P#related-5"][1] == seed_groups["P#related-6"][1]


def test_seed_page_paraphrases_stay_apart(seed_groups):
    groups = {}
    for art_id, (_, gid) in seed_groups.items():
        groups.setdefault(gid, set()).add(art_id)
    multi = sorted(sorted(g) for g in groups.values() if len(g) > 1)
    assert multi == [["P#readalso-1", "P#related-4"], ["P#related-5", "P#related-6"]]


def test_teaser_prefix_and_suffix_repeats_join(write_jsonl):
    base = "زعيم كوريا الشمالية يأمر بتعزيز القدرات النووية البحرية"
    p = write_jsonl([
        {"id": "clean", "title": base},
        {"id": "prefixed", "title": "بالصور.. " + base},
        {"id": "urgent", "title": "عاجل: " + base},
        {"id": "suffixed", "title": base + " | فيديو"},
        {"id": "english", "title": "BREAKING: At least 2 killed in blast in Ankara"},
        {"id": "english-plain", "title": "At least 2 killed in blast in Ankara"},
        {"id": "other", "title": "زعيم كوريا الشمالية يوجه بسرعة التسليح النووي لقواته البحرية"},
    ])
    with Store(":memory:") as store:
        ingest(store, [p])
        g = groups_by_id(store)
    assert g["clean"] == g["prefixed"] == g["urgent"] == g["suffixed"]
    assert g["english"] == g["english-plain"]
    assert g["other"] != g["clean"]


# ---- the EgyNews day slice -----------------------------------------------------------------

@pytest.fixture(scope="module")
def egy_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("egy") / "egy.duckdb"
    with Store(path) as store:
        summary = ingest(store, [EGY_DAY])
    return path, summary


def test_egynews_groups_agree_with_brute_force_jaccard(egy_store, egy_day_articles):
    path, summary = egy_store
    params = DedupParams()
    with Store(path, read_only=True) as store:
        engine = groups_by_id(store)
    arts = [a for a in egy_day_articles if a.id in engine]
    fp = fingerprint_batch(arts, params, with_signatures=False)
    uf = UnionFind()
    first: dict[str, str] = {}
    for a, h in zip(arts, fp.content_hash):
        uf.union(first.setdefault(h, a.id), a.id)
    pairs = []
    for kind in ("word", "char"):
        idx = [i for i, k in enumerate(fp.kinds) if k == kind]
        # word pairs: every pair the rules join (Jaccard or containment, numbers rule), found
        # by brute force from a low Jaccard floor, each put to the engine's own decide()
        floor = 0.1 if kind == "word" else params.threshold_for(kind)
        for i, j, _ in all_pairs_jaccard([fp.shingles[i] for i in idx], floor):
            a, b = idx[i], idx[j]
            if kind == "char" or decide((fp.shingles[a], fp.tokens[a]), (fp.shingles[b], fp.tokens[b]),
                                        params.threshold, kind="word", params=params).joined:
                pairs.append((arts[a].id, arts[b].id))
    # headline rule: headline-only items against full articles' titles
    short = [i for i, k in enumerate(fp.kinds) if k == "char"]
    titled = [i for i in range(len(arts)) if fp.has_title_fingerprint(i)]
    sets = [fp.shingles[i] for i in short] + [fp.title_shingles[i] for i in titled]
    owner = short + titled
    for i, j, _ in all_pairs_jaccard(sets, params.char_threshold):
        if i < len(short) <= j:
            pairs.append((arts[owner[i]].id, arts[owner[j]].id))
    for a, b in pairs:
        uf.union(a, b)
    # LSH recall against brute force: share of brute-force pairs the engine put in one group.
    found = sum(engine[a] == engine[b] for a, b in pairs)
    recall = found / len(pairs)
    assert len(pairs) > 300
    assert recall >= 0.97, f"LSH recall {recall:.3f} on {len(pairs)} brute-force pairs"
    # Precision: every pair the engine grouped is connected in the brute-force graph too.
    by_group: dict[str, list[str]] = {}
    for art_id, gid in engine.items():
        by_group.setdefault(gid, []).append(art_id)
    bad = [g for g in by_group.values() if len({uf.find(m) for m in g}) > 1]
    assert not bad


def test_egynews_summary_counts_real_syndication(egy_store):
    _, s = egy_store
    assert s.skipped == {"empty text": 17}
    assert s.new_articles == 3080
    assert s.exact_repeats > 300 and s.near_duplicates > 200
    # wire copies cross outlets: the largest group spans several sources
    with Store(egy_store[0], read_only=True) as store:
        n_sources = scalar(store,
            "SELECT max(c) FROM (SELECT count(DISTINCT a.source) c FROM dup_members m "
            "JOIN articles a ON a.id = m.article_id GROUP BY m.group_id)")
    assert n_sources >= 4


def test_egynews_rerun_is_a_no_op(egy_store, tmp_path):
    path, _ = egy_store
    with Store(path) as store:
        before = store.counts()
        tables = {t: store.con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
                  for t in ("articles", "dup_members", "dup_groups", "signatures")}
        s = ingest(store, [EGY_DAY])
        after = store.counts()
        assert s.new_articles == 0 and s.already_stored == 3080
        assert {k: v for k, v in after.items() if k != "runs"} == \
               {k: v for k, v in before.items() if k != "runs"}
        for t, rows in tables.items():
            assert store.con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() == rows


def test_incremental_run_matches_one_shot_run(tmp_path, egy_day_articles, write_jsonl):
    """Ingesting the day in two halves gives the same groups as ingesting it at once."""
    recs = [{"id": a.id, "title": a.title, "text": a.text, "source": a.source,
             "published": a.published.isoformat()} for a in egy_day_articles[:1200]]
    whole = write_jsonl(recs, "whole.jsonl")
    first, second = write_jsonl(recs[:600], "a.jsonl"), write_jsonl(recs[600:], "b.jsonl")
    with Store(":memory:") as s1:
        ingest(s1, [whole])
        g1 = groups_by_id(s1)
    with Store(tmp_path / "inc.duckdb") as s2:
        ingest(s2, [first])
        ingest(s2, [second])
        g2 = groups_by_id(s2)
    assert g1 == g2


# ---- the headline edit rule ----------------------------------------------------------------

def test_headline_with_a_replaced_word_is_not_a_repeat(write_jsonl):
    # ANS contradiction: same headline, one place replaced (char Jaccard 0.84)
    a = "الأمير وليام يبدأ جولته في الشرق الأوسط بزيارة الأردن"
    b = "الأمير وليام يبدأ جولته في الشرق الأوسط بزيارة السعودية"
    c = "100 ألف برميل يخسرهم الإنتاج الليبي يوميا بعد هجوم إرهابي"
    d = "20 ألف برميل يخسرهم الإنتاج الليبي يوميا بعد هجوم إرهابي"
    p = write_jsonl([{"id": "a", "title": a}, {"id": "b", "title": b}, {"id": "c", "title": c},
                     {"id": "d", "title": d}, {"id": "a2", "title": a + " .. والملك يستقبله"}])
    with Store(":memory:") as store:
        ingest(store, [p])
        g = groups_by_id(store)
    assert g["a"] != g["b"] and g["c"] != g["d"]
    assert g["a"] == g["a2"]          # an appended clause is still a repeat


def test_headline_substitution_allows_spelling_variants_only():
    from clustering.dedup.headlines import headline_substitution

    t = lambda s: tokens(normalise(s))
    assert headline_substitution(t("بوتين يشكر كوريا"), t("بوتين يشكر كوريا .. وكيم: مهمة")) is None
    assert headline_substitution(t("بيرلسكوني يتهم ميركل"), t("بيرلسكونى يتهم ميركل")) is None
    assert headline_substitution(t("gunman kills 6 in shooting"), t("gunman kills 7 in shooting"))
    assert "replaced" in headline_substitution(t("خسائر كبيرة لجنرال إلكتريك"),
                                               t("مكاسب كبيرة لجنرال إلكتريك"))


def test_band_index_finds_the_same_candidates_as_datasketch_minhashlsh(egy_day_articles):
    """The engine's band-key index against datasketch's MinHashLSH (the reference) with the same
    bands/rows, on real signatures: identical candidate lists for every query."""
    from clustering.dedup.lsh import BandIndex, CandidateIndex

    arts = egy_day_articles[:1500]
    fp = fingerprint_batch(arts, DedupParams(minhash="datasketch"))
    thresholds = {"word": 0.5, "char": 0.6}
    ref, ours = CandidateIndex(thresholds, 128, 1), BandIndex(thresholds, 128)
    queried = hits = 0
    for i, a in enumerate(arts):
        if not len(fp.shingles[i]):
            continue
        kind, sig = fp.kinds[i], fp.signatures[i]
        expected = ref.query(kind, sig)
        assert ours.query(kind, sig) == expected, a.id
        queried += 1
        hits += bool(expected)
        ref.insert(a.id, kind, sig)
        ours.insert(a.id, kind, sig)
    assert queried > 1000 and hits > 50


def test_band_index_batch_query_matches_datasketch_one_by_one(egy_day_articles):
    """``query_insert_many`` (a batch's candidates by sorting its band keys, plus what earlier
    calls inserted) gives what datasketch's MinHashLSH gives queried and filled one item at a
    time, on real signatures split over several calls of uneven size."""
    from clustering.dedup.lsh import BandIndex, CandidateIndex

    arts = egy_day_articles[:1500]
    fp = fingerprint_batch(arts, DedupParams(minhash="datasketch"))
    thresholds = {"word": 0.5, "char": 0.6}
    ref, ours = CandidateIndex(thresholds, 128, 1), BandIndex(thresholds, 128)
    hits = 0
    for lo, hi in [(0, 1), (1, 400), (400, 401), (401, 1500)]:
        for kind in ("word", "char"):
            rows = [i for i in range(lo, hi) if fp.kinds[i] == kind and len(fp.shingles[i])]
            ids = [arts[i].id for i in rows]
            expected = []
            for i in rows:
                expected.append(ref.query(kind, fp.signatures[i]))
                ref.insert(arts[i].id, kind, fp.signatures[i])
            got = ours.query_insert_many(kind, ids, fp.signatures[rows])
            assert got == expected
            hits += sum(1 for e in expected if e)
    assert hits > 50


def test_earlier_pairs_is_every_pair_sharing_a_band_once():
    """The sort-based pair expansion against a brute-force double loop, with runs split over
    expansion chunks (a tiny chunk size) and rows repeating keys in several bands."""
    import clustering.dedup.lsh as lsh

    rng = np.random.default_rng(7)
    keys = rng.integers(0, 6, size=(40, 5)) + np.arange(5) * 100  # few values per band: many runs
    expected = sorted((b, a) for b in range(40) for a in range(b)
                      if (keys[a] == keys[b]).any())
    for chunk in (1 << 22, 7):
        old, lsh.PAIR_CHUNK = lsh.PAIR_CHUNK, chunk
        try:
            later, earlier = lsh.earlier_pairs(keys.astype(np.int64))
        finally:
            lsh.PAIR_CHUNK = old
        assert list(zip(later.tolist(), earlier.tolist())) == expected
