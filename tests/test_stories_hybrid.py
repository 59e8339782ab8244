"""The learned hybrid story scorer: sparse parts, the shipped weights, batch and online
clustering with the real model on the seed page and real headlines."""

from __future__ import annotations

import csv
import itertools
import json
import math

import numpy as np
import pytest

from clustering.config import StoryParams
from clustering.evaluate.metrics import bcubed
from clustering.stories.features import FEATURE_NAMES, PairBatch
from clustering.stories.hybrid import (
    HybridStories,
    assign_hybrid_minibatch,
    assign_hybrid_online,
    cluster_hybrid_batch,
    cut_linkage,
    link_threshold,
    pack_vector,
    prepare,
    probability_matrix,
    split_incoherent,
    unpack_vector,
)
from clustering.stories.scorer import DEFAULT_WEIGHTS, StoryScorer, default_scorer
from clustering.stories.sparse import (
    DocumentFrequencies,
    SparseCentroid,
    cosine,
    item_terms,
    tfidf,
)

from .conftest import SEED_PAGE, shared

# Seed-page gold (ids as read_page gives them with page_id="P"), as in test_stories_store.py.
KURSK = ["P#readalso-1", "P#related-3", "P#related-4", "P#related-5", "P#related-6", "P#related-9"]
NAVAL = ["P#related-1", "P#related-2"]


# ----------------------------------------------------------------------------- sparse parts


def test_document_frequencies_incremental_equals_one_pass_and_round_trips():
    docs = [item_terms(t) for t in ("Fed holds rates in March", "Fed's Plosser sees high bar",
                                    "Apple sells record iPhones", "زعيم كوريا الشمالية")]
    one = DocumentFrequencies().update(docs)
    inc = DocumentFrequencies().update(docs[:2]).update(docs[2:])
    assert one.to_dict() == inc.to_dict()
    assert one.n_docs == 4
    assert one.df["fed"] == 2 and one.idf("fed") < one.idf("apple") < one.idf("never-seen")
    back = DocumentFrequencies.from_dict(json.loads(json.dumps(one.to_dict())))
    assert back.idf("fed") == one.idf("fed")
    terms, counts = one.columns()
    assert dict(zip(terms, counts)) == one.df


def test_entities_read_capitalised_words_places_and_numbers_in_both_scripts():
    en = item_terms("Earthquake of magnitude 6 kills 21 in Cairo", "Rescuers from Egypt said.")
    assert {"@p:cairo", "@n:21", "@earthquake"} <= set(en.entities)
    assert not en.headline_only and not en.arabic
    ar = item_terms("مقتل 21 في انفجار بالقاهرة")
    assert "@p:cairo" in ar.entities and "@n:21" in ar.entities
    assert ar.headline_only and ar.arabic


def test_sparse_centroid_mean_dot_is_the_average_cosine_and_stays_bounded():
    df = DocumentFrequencies()
    texts = ["Fed holds rates steady", "Fed keeps rates on hold", "rates held by the Fed",
             "Apple sells iPhones"]
    terms = [item_terms(t) for t in texts]
    df.update(terms)
    vecs = [tfidf(t.text, df) for t in terms]
    c = SparseCentroid(top_k=1000)
    for v in vecs[:3]:
        c.add(v)
    expect = sum(cosine(vecs[3], v) for v in vecs[:3]) / 3
    assert math.isclose(c.mean_dot(vecs[3]), expect, abs_tol=1e-12)
    expect = sum(cosine(vecs[0], v) for v in vecs[:3]) / 3
    assert math.isclose(c.mean_dot(vecs[0]), expect, abs_tol=1e-12)
    small = SparseCentroid(top_k=2)
    for v in vecs:
        small.add(v)
    assert len(small.weights) == 2 and small.size == 4
    assert SparseCentroid.from_dict(small.to_dict()).weights == small.weights


# ----------------------------------------------------------------------------- the scorer


def test_shipped_weights_load_and_match_the_features():
    sc = StoryScorer.load(DEFAULT_WEIGHTS)
    assert sc.features == FEATURE_NAMES and sc.threshold == 0.5
    assert StoryScorer.from_dict(json.loads(json.dumps(sc.to_dict()))) == sc
    bad = sc.to_dict() | {"features": list(FEATURE_NAMES[:-1]), "coef": list(sc.coef[:-1])}
    with pytest.raises(ValueError, match="refit"):
        StoryScorer.from_dict(bad)
    # more similar in every similarity -> more probable
    lo = np.zeros(len(FEATURE_NAMES))
    hi = lo.copy()
    for k, f in enumerate(FEATURE_NAMES):
        if f in ("emb", "text", "ent", "emb_x_text", "ent_x_text"):
            lo[k] = {"emb": 0.75}.get(f, 0.0)
            hi[k] = 0.95 if f == "emb" else 0.6
    lo[FEATURE_NAMES.index("emb_x_text")] = 0.0
    hi[FEATURE_NAMES.index("emb_x_text")] = 0.95 * 0.6
    assert sc.proba(lo) < 0.5 < sc.proba(hi)


# ----------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def embedder():
    from clustering.embed import Embedder, EmbeddingModelError

    try:
        e = Embedder()
        _ = e.dim
    except EmbeddingModelError as exc:  # pragma: no cover - model not installed
        pytest.skip(f"embedding model not available: {exc}")
    return e


@pytest.fixture(scope="module")
def seed(embedder):
    from clustering.io.page import read_page

    arts, _ = read_page(SEED_PAGE, page_id="P")
    titles = [a.title or "" for a in arts]
    texts = [a.text or "" for a in arts]
    emb = embedder.encode_articles(titles, texts)
    terms, guards = prepare(titles, texts)
    return [a.id for a in arts], emb, terms, guards


def _assert_seed_gold(story: dict[str, object]) -> None:
    """What the seed page's gold asks and the shipped scorer achieves: the page article alone,
    the two naval headlines one story apart from every Kursk item, the "read also" article with
    its own verbatim headline. (Not yet: the six Kursk / thanks items as one story -- they
    come out as several; see benchmarks/RESULTS.md.)"""
    kursk = {story[k] for k in KURSK}
    naval = {story[k] for k in NAVAL}
    assert len(naval) == 1 and not naval & kursk, story
    assert story["P"] not in kursk | naval, story
    assert story["P#readalso-1"] == story["P#related-4"], story


def test_seed_page_article_is_its_own_story_batch(seed):
    ids, emb, terms, guards = seed
    b = PairBatch(emb, terms, guards, None, DocumentFrequencies().update(terms))
    labels = cluster_hybrid_batch(b)
    _assert_seed_gold(dict(zip(ids, labels.tolist())))


def test_seed_page_article_is_its_own_story_online(seed):
    ids, emb, terms, guards = seed
    st = HybridStories(emb.shape[1])
    counter = itertools.count()
    asg = assign_hybrid_online(st, emb, terms, guards, None, DocumentFrequencies(),
                               lambda: f"s{next(counter)}")
    _assert_seed_gold({i: a.story_id for i, a in zip(ids, asg)})
    assert asg[0].created and "new story" in asg[0].reason
    # deterministic for a given order
    st2 = HybridStories(emb.shape[1])
    counter = itertools.count()
    again = assign_hybrid_online(st2, emb, terms, guards, None, DocumentFrequencies(),
                                 lambda: f"s{next(counter)}")
    assert [a.story_id for a in again] == [a.story_id for a in asg]


@pytest.fixture(scope="module")
def uci(embedder):
    """300 uci-headlines rows of 8 stories (rows shuffled, headline only, day-level times)."""
    path = shared("uci-headlines/uci_news_aggregator_dev_stories.csv")
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    stories = sorted({r["STORY"] for r in rows})[:8]
    rows = [r for r in rows if r["STORY"] in stories]
    rng = np.random.default_rng(0)
    rows = [rows[k] for k in rng.permutation(len(rows))[:300]]
    titles = [r["TITLE"] for r in rows]
    day = 86_400.0
    times = np.array([(int(r["TIMESTAMP"]) / 1000 // day) * day for r in rows])
    emb = embedder.encode_articles(titles, [""] * len(titles))
    terms, guards = prepare(titles, [""] * len(titles))
    return [r["STORY"] for r in rows], emb, terms, guards, times


def test_batch_stories_do_not_depend_on_input_order_and_beat_chance(uci):
    gold, emb, terms, guards, times = uci
    df = DocumentFrequencies().update(terms)
    a = cluster_hybrid_batch(PairBatch(emb, terms, guards, times, df))
    perm = np.random.default_rng(3).permutation(len(gold))
    b = np.empty_like(a)
    b[perm] = cluster_hybrid_batch(PairBatch(emb[perm], [terms[i] for i in perm],
                                             [guards[i] for i in perm], times[perm], df))
    assert bcubed(list(a), list(b)).f1 == 1.0
    assert bcubed(gold, list(a)).f1 > 0.85
    p = probability_matrix(PairBatch(emb, terms, guards, times, df))
    assert np.allclose(p, p.T) and np.all((p > 0) & (p <= 1))


def test_cut_with_one_threshold_is_scikit_learns_cut_and_kinds_join_at_their_own(uci):
    from sklearn.cluster import AgglomerativeClustering

    gold, emb, terms, guards, times = uci
    P = probability_matrix(PairBatch(emb, terms, guards, times, DocumentFrequencies().update(terms)))
    for t in (0.4, 0.5, 0.6):
        ref = AgglomerativeClustering(n_clusters=None, metric="precomputed", linkage="average",
                                      distance_threshold=1.0 - t).fit_predict(1.0 - P)
        for head in (np.zeros(len(gold)), np.ones(len(gold))):
            assert bcubed(list(ref), list(cut_linkage(P, head, (t, t)))).f1 == 1.0
    # per kind: the same headlines, read as full articles, join at the lower article threshold
    as_heads = cut_linkage(P, np.ones(len(gold)), (0.4, 0.5))
    as_articles = cut_linkage(P, np.zeros(len(gold)), (0.4, 0.5))
    assert len(set(as_articles)) < len(set(as_heads))
    # two pairs at mean P 0.42: the articles join (0.4), the headlines do not (0.45), and a
    # mixed pair sits in between (0.425)
    two = np.array([[1.0, 0.42], [0.42, 1.0]])
    assert len(set(cut_linkage(two, np.array([0, 0]), (0.4, 0.45)))) == 1
    assert len(set(cut_linkage(two, np.array([1, 1]), (0.4, 0.45)))) == 2
    assert link_threshold(0.5, (0.4, 0.45)) == pytest.approx(0.425)
    assert len(set(cut_linkage(two, np.array([1, 0]), (0.4, 0.45)))) == 2
    with pytest.raises(ValueError, match="link_article"):
        StoryParams(link_article=0.0)


def _online_labels(uci, **kw):
    gold, emb, terms, guards, times = uci
    st = HybridStories(emb.shape[1])
    counter = itertools.count()
    asg = assign_hybrid_minibatch(st, emb, terms, guards, times, DocumentFrequencies(),
                                  lambda: f"s{next(counter)}", **kw)
    return st, asg, [st.resolve(a.story_id) for a in asg]


def test_minibatch_of_the_whole_input_is_batch_mode(uci):
    gold, emb, terms, guards, times = uci
    batch = cluster_hybrid_batch(PairBatch(emb, terms, guards, times,
                                           DocumentFrequencies().update(terms)))
    _, asg, labels = _online_labels(uci, chunk=len(gold))
    assert bcubed(list(batch), labels).f1 == 1.0
    assert sum(a.created for a in asg) == len(set(labels))
    # in smaller mini-batches the clusters are matched to the stories of earlier chunks
    _, asg100, lab100 = _online_labels(uci, chunk=100)
    assert any("joined" in a.reason and "mini-batch" in a.reason for a in asg100[100:])
    assert bcubed(gold, lab100).f1 > 0.85


ECB_TOPICS = ("1", "7", "9", "12", "14", "24", "35")  # 7 of ECB+'s topics, two events each


def test_split_cuts_two_events_of_one_kind_apart_on_ecb_articles(embedder):
    import gzip

    with gzip.open(shared("ecbplus/ecbplus_topics_1-35.jsonl.gz"), "rt", encoding="utf-8") as f:
        docs = [d for d in map(json.loads, f) if str(d["topic"]) in ECB_TOPICS]
    heads = [d["text"].strip().split("\n", 1) for d in docs]
    titles, texts = [h[0] for h in heads], [h[1] if len(h) > 1 else "" for h in heads]
    terms, guards = prepare(titles, texts)
    b = PairBatch(embedder.encode_articles(titles, texts), terms, guards, None,
                  DocumentFrequencies().update(terms))
    gold = [str(d["story_id"]) for d in docs]
    plain = bcubed(gold, cluster_hybrid_batch(b).tolist())
    sp = StoryParams()
    cut = bcubed(gold, cluster_hybrid_batch(b, split_ratio=sp.split_ratio,
                                            split_min=sp.split_min).tolist())
    # average linkage at P >= 0.5 joins some topics' two events; the split parts them
    assert plain.precision < 0.85 and cut.precision > plain.precision + 0.1, (plain, cut)
    assert cut.f1 > plain.f1 + 0.03, (plain, cut)


def test_split_leaves_headline_clusters_and_coherent_clusters_alone(uci):
    gold, emb, terms, guards, times = uci
    b = PairBatch(emb, terms, guards, times, DocumentFrequencies().update(terms))
    P = probability_matrix(b)
    labels = cluster_hybrid_batch(b)
    assert (split_incoherent(P, labels, b.head, 0.8, 4) == labels).all()  # all headlines
    # the same clusters, taken as full articles, may be cut, but a cut only refines them:
    # every new cluster lies inside one old one
    cut = split_incoherent(P, labels, np.zeros(len(gold)), 0.8, 4)
    assert all(len(set(labels[cut == c])) == 1 for c in np.unique(cut))
    assert (split_incoherent(P, labels, np.zeros(len(gold)), 0.0, 4) == labels).all()
    two = np.array([0] * 4 + [1] * 4)
    block = np.where(two[:, None] == two[None, :], 0.95, 0.6)
    assert list(split_incoherent(block, np.zeros(8, int), np.zeros(8), 0.8, 4)) == list(two)
    assert list(split_incoherent(block, np.zeros(8, int), np.zeros(8), 0.6, 4)) == [0] * 8
    assert list(split_incoherent(block, np.zeros(8, int), np.zeros(8), 0.8, 5)) == [0] * 8
    with pytest.raises(ValueError, match="split_ratio"):
        StoryParams(split_ratio=1.0)
    with pytest.raises(ValueError, match="split_min"):
        StoryParams(split_min=1)


def test_online_merges_stories_that_an_item_bridges_and_only_then(uci):
    gold, emb, terms, guards, times = uci
    st, asg, merged_labels = _online_labels(uci, chunk=1)
    gone = [s for a in asg for s in a.merged]
    assert gone, "no item bridged two stories of 300 headlines"
    assert all(not st.alive[st.ids.index(s)] and st.resolve(s) != s for s in gone)
    assert set(merged_labels).isdisjoint(gone)
    _, plain, plain_labels = _online_labels(uci, chunk=1, merge=False)
    assert not any(a.merged for a in plain)
    # merging is what average linkage would do: recall up, and B-cubed F1 not down
    after, before = bcubed(gold, merged_labels), bcubed(gold, plain_labels)
    assert after.recall > before.recall and after.f1 >= before.f1 - 0.005


def test_packed_vectors_are_exact_and_checked():
    x = np.random.default_rng(0).standard_normal(384).astype(np.float32)
    x[:3] = [np.float32(1e-38), -0.0, np.float32(3.4e38)]
    back = unpack_vector(pack_vector(x))
    assert back.dtype == np.float32 and back.tobytes() == x.tobytes() and back.flags.writeable
    assert len(pack_vector(x)) == 2048
    assert unpack_vector(x.tolist()).tobytes() == x.tobytes()  # states stored as numbers
    with pytest.raises(ValueError):
        unpack_vector("not base64!")
    with pytest.raises(ValueError):
        unpack_vector(pack_vector(x)[:-4] + "AA==")  # 2 bytes short of a whole float32


def test_state_round_trips_through_dicts(seed):
    _, emb, terms, guards = seed
    st = HybridStories(emb.shape[1], top_k=16)
    counter = itertools.count()
    df = DocumentFrequencies()
    assign_hybrid_online(st, emb[:6], terms[:6], guards[:6], None, df,
                         lambda: f"s{next(counter)}")
    back = HybridStories.from_dicts(json.loads(json.dumps([st.to_dict(r) for r in range(len(st))])),
                                    emb.shape[1], top_k=16)
    rest_a = assign_hybrid_online(st, emb[6:], terms[6:], guards[6:], None,
                                  DocumentFrequencies.from_dict(df.to_dict()),
                                  lambda: f"t{next(counter)}")
    counter = itertools.count(100)
    rest_b = assign_hybrid_online(back, emb[6:], terms[6:], guards[6:], None,
                                  DocumentFrequencies.from_dict(df.to_dict()),
                                  lambda: f"t{next(counter)}")
    assert [(a.created, a.story_id if not a.created else None) for a in rest_a] == \
        [(b.created, b.story_id if not b.created else None) for b in rest_b]
    assert all(len(c.weights) <= 16 for cs in st.cent for c in cs)
    assert default_scorer() is default_scorer()


def test_fit_scorer_on_own_labels_gives_a_usable_json_scorer(uci, tmp_path):
    from clustering.stories.scorer import fit_scorer

    gold, emb, terms, guards, times = uci
    df = DocumentFrequencies().update(terms)
    half = len(gold) // 2
    train = PairBatch(emb[:half], terms[:half], guards[:half], times[:half], df)
    sc = fit_scorer(train, gold[:half], meta={"trained_on": "uci test half"})
    path = tmp_path / "mine.json"
    sc.save(path)
    mine = StoryScorer.load(path)
    assert mine == sc and mine.meta["trained_on"] == "uci test half"
    test = PairBatch(emb[half:], terms[half:], guards[half:], times[half:], df)
    assert bcubed(gold[half:], list(cluster_hybrid_batch(test, mine))).f1 > 0.8
    with pytest.raises(ValueError, match="both"):
        fit_scorer(train, ["one"] * half)
