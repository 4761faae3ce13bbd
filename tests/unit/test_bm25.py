"""Bm25Index scores equal rank-bm25's for all three variants, however the corpus was added.

The reference is rank-bm25 (the definitions the index promises to reproduce, quirks included).
bm25s is a second, independent implementation; its definitions agree with rank-bm25 only in part:
  * bm25s "bm25+" = rank-bm25 BM25Plus (idf log((N+1)/df), delta added for absent terms too):
    compared on top-10 ids.
  * bm25s "robertson" uses Okapi's idf but clamps negative idf to 0 where rank-bm25 floors it at
    epsilon × mean idf, and leaves out the constant (k1 + 1) factor: rankings agree only for
    queries whose terms are all in fewer than half of the documents, so only those are compared.
  * bm25s "bm25l" does not multiply the term score by tf again and gives absent terms a non-zero
    score, unlike rank-bm25's BM25L: not comparable, so BM25L is checked against rank-bm25 only.
"""

from __future__ import annotations

import numpy as np
import pytest
import rank_bm25

from index.bm25 import Bm25Index, Bm25Params

N_DOCS = 300
VOCAB = [f"w{i}" for i in range(150)]
HALF = "halfterm"  # in exactly N_DOCS / 2 documents: Okapi idf is exactly 0
COMMON = "commonterm"  # in more than half: Okapi idf negative, floored at epsilon × mean idf
LATE = [f"late{i}" for i in range(10)]  # only in the second batch of the incremental tests

PARAMS = [
    Bm25Params(variant="okapi", k1=1.5, b=0.75, epsilon=0.25),
    Bm25Params(variant="okapi", k1=1.2, b=0.6, epsilon=0.5),
    Bm25Params(variant="bm25l", k1=1.5, b=0.75, delta=0.5),
    Bm25Params(variant="bm25l", k1=1.2, b=0.75, delta=1.0),
    Bm25Params(variant="bm25plus", k1=1.5, b=0.75, delta=1.0),
    Bm25Params(variant="bm25plus", k1=1.2, b=0.75, delta=0.7),
]


def _id(p: Bm25Params) -> str:
    return f"{p.variant}-k{p.k1}-b{p.b}"


def make_corpus(seed: int = 7) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, len(VOCAB) + 1)  # Zipf-like: some frequent terms, a long tail
    weights /= weights.sum()
    docs = []
    for _ in range(N_DOCS):
        length = int(rng.integers(3, 40))
        docs.append(list(rng.choice(VOCAB, size=length, p=weights)))
    for i in rng.choice(N_DOCS, size=N_DOCS // 2, replace=False):
        docs[i].insert(int(rng.integers(0, len(docs[i]) + 1)), HALF)
    for i in rng.choice(N_DOCS, size=int(N_DOCS * 0.7), replace=False):
        docs[i].extend([COMMON] * int(rng.integers(1, 3)))
    for i in range(N_DOCS // 2, N_DOCS, 7):  # terms the first half of the corpus never saw
        docs[i].append(LATE[i % len(LATE)])
    docs[5] = []  # an empty document
    return docs


CORPUS = make_corpus()


def make_queries(seed: int = 11, n: int = 20) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    queries = [list(rng.choice(VOCAB, size=int(rng.integers(1, 6)))) for _ in range(n)]
    return queries + [
        ["w1", "w1", "w7"],  # repeated term counts twice
        ["w3", "w3", "w3"],
        ["zzz-unknown", "w4"],  # unknown terms add nothing
        ["zzz-unknown"],
        [HALF],
        [HALF, "w9"],
        [COMMON, "w12"],
        [LATE[0], "w2"],
        [],
    ]


QUERIES = make_queries()


def reference(params: Bm25Params, corpus):
    if params.variant == "okapi":
        return rank_bm25.BM25Okapi(corpus, k1=params.k1, b=params.b, epsilon=params.epsilon)
    if params.variant == "bm25l":
        return rank_bm25.BM25L(corpus, k1=params.k1, b=params.b, delta=params.delta)
    return rank_bm25.BM25Plus(corpus, k1=params.k1, b=params.b, delta=params.delta)


def built(params: Bm25Params, batches) -> Bm25Index:
    index = Bm25Index(params)
    for batch in batches:
        index.add(batch)
    return index


def assert_same_scores(index: Bm25Index, ref, queries=QUERIES):
    for query in queries:
        ours = index.scores(query)
        expected = ref.get_scores(query)
        assert ours.shape == expected.shape
        assert np.allclose(ours, expected, rtol=1e-9, atol=1e-12), query


def test_corpus_has_the_edge_cases():
    df = lambda term: sum(term in d for d in CORPUS)  # noqa: E731
    assert df(HALF) == N_DOCS // 2
    assert df(COMMON) > N_DOCS // 2
    assert all(df(t) > 0 for t in LATE) and not any(t in d for d in CORPUS[: N_DOCS // 2] for t in LATE)
    okapi = reference(PARAMS[0], CORPUS)
    assert okapi.idf[HALF] == 0.0
    assert okapi.idf[COMMON] == pytest.approx(0.25 * okapi.average_idf)


@pytest.mark.parametrize("params", PARAMS, ids=_id)
def test_scores_equal_rank_bm25(params):
    assert_same_scores(built(params, [CORPUS]), reference(params, CORPUS))


@pytest.mark.parametrize("params", PARAMS, ids=_id)
def test_scores_equal_rank_bm25_when_added_in_two_batches(params):
    ref = reference(params, CORPUS)
    cut = N_DOCS // 2 + 20
    # pending additions folded in one go
    assert_same_scores(built(params, [CORPUS[:cut], CORPUS[cut:]]), ref)
    # first batch compacted (and queried) before the second, which brings new terms
    index = built(params, [CORPUS[:cut]])
    assert_same_scores(index, reference(params, CORPUS[:cut]), QUERIES[:5])
    index.add(CORPUS[cut:])
    assert index.size == N_DOCS
    index.compact()
    assert_same_scores(index, ref)


@pytest.mark.parametrize("params", PARAMS[::2], ids=_id)
def test_matches_mark_exactly_documents_holding_a_query_term(params):
    index = built(params, [CORPUS[:100], CORPUS[100:]])
    for query in QUERIES:
        _, matched = index.scores_and_matches(query)
        expected = np.array([any(t in doc for t in query) for doc in CORPUS])
        assert (matched == expected).all(), query


def test_compacting_many_additions_gives_the_postings_scipy_gives():
    """Each addition's postings are placed in their terms' next free slots (no sort of them all):
    the segment is exactly the CSC matrix of the counts, each term's documents ascending."""
    from collections import Counter

    from scipy import sparse

    index = Bm25Index(Bm25Params())
    for start in range(0, len(CORPUS), 37):  # many uneven additions, new terms arriving late
        index.add(CORPUS[start:start + 37])
    index.compact()
    rows, cols, vals = [], [], []
    for doc, tokens in enumerate(CORPUS):
        for term, count in Counter(tokens).items():
            rows.append(doc)
            cols.append(index.vocab[term])
            vals.append(count)
    expected = sparse.coo_matrix((vals, (rows, cols)), shape=index._base.shape).tocsc()
    expected.sort_indices()
    np.testing.assert_array_equal(index._base.indptr, expected.indptr)
    np.testing.assert_array_equal(index._base.indices, expected.indices)
    np.testing.assert_array_equal(index._base.data, expected.data)


@pytest.mark.parametrize("params", PARAMS[::2], ids=_id)
def test_arrays_round_trip(params, tmp_path):
    index = built(params, [CORPUS[:120], CORPUS[120:]])
    np.savez(tmp_path / "bm25.npz", **index.arrays())
    with np.load(tmp_path / "bm25.npz") as arrays:
        loaded = Bm25Index.from_arrays(params, index.vocab_list(), arrays)
    assert loaded.size == index.size
    for query in QUERIES:
        assert np.allclose(loaded.scores(query), index.scores(query), rtol=1e-12, atol=0), query
    # a loaded index keeps growing like the original
    extra = [["w1", "w2", "brandnew"], ["brandnew", "w3"]]
    loaded.add(extra)
    assert_same_scores(loaded, reference(params, CORPUS + extra), QUERIES + [["brandnew", "w1"]])


def test_empty_index_scores_nothing():
    index = Bm25Index(Bm25Params())
    scores, matched = index.scores_and_matches(["w1"])
    assert scores.shape == (0,) and matched.shape == (0,)


# -- bm25s, an independent implementation -----------------------------------------------------


def top10(scores: np.ndarray) -> list[int]:
    """Ten best documents, ties broken by document order (scores rounded past float noise)."""
    rounded = np.round(scores, 9)
    return list(np.lexsort((np.arange(len(scores)), -rounded))[:10])


def bm25s_scores(retriever, query):
    if not query:
        return np.zeros(N_DOCS)
    return np.asarray(retriever.get_scores(list(query)), dtype=np.float64)


@pytest.fixture(scope="module")
def bm25s():
    return pytest.importorskip("bm25s")


def test_top10_equal_bm25s_bm25plus(bm25s):
    params = Bm25Params(variant="bm25plus", k1=1.5, b=0.75, delta=1.0)
    ours = built(params, [CORPUS[:140], CORPUS[140:]])
    other = bm25s.BM25(method="bm25+", k1=params.k1, b=params.b, delta=params.delta, dtype="float64")
    other.index(CORPUS, show_progress=False)
    for query in make_queries(seed=23, n=20):
        assert top10(ours.scores(query)) == top10(bm25s_scores(other, query)), query


def test_top10_equal_bm25s_robertson_for_terms_in_less_than_half(bm25s):
    params = Bm25Params(variant="okapi", k1=1.5, b=0.75)
    ours = built(params, [CORPUS])
    other = bm25s.BM25(method="robertson", k1=params.k1, b=params.b, dtype="float64")
    other.index(CORPUS, show_progress=False)
    df = {t: sum(t in d for d in CORPUS) for t in VOCAB}
    rng = np.random.default_rng(29)
    rare = [t for t in VOCAB if df[t] < N_DOCS / 2]
    queries = [list(rng.choice(rare, size=int(rng.integers(1, 5)))) for _ in range(20)]
    for query in queries:
        assert top10(ours.scores(query)) == top10(bm25s_scores(other, query)), query


# -- top k: pruned scoring finds what full scoring ranks first ---------------------------------

def _full_top(index: Bm25Index, query: list[str], k: int, allowed=None) -> tuple[np.ndarray, np.ndarray]:
    scores, matched = index.scores_and_matches(query)
    keep = matched if allowed is None else matched & allowed
    docs = np.flatnonzero(keep)
    order = np.lexsort((docs, -scores[docs]))[:k]
    return docs[order], scores[docs[order]]


def _same_top(got, expected) -> None:
    """Same scores rank by rank (to float rounding), and the same documents wherever a score is
    not tied with a neighbour outside the cut."""
    (got_docs, got_scores), (want_docs, want_scores) = got, expected
    assert len(got_docs) == len(want_docs)
    if not len(want_docs):
        return
    np.testing.assert_allclose(got_scores, want_scores, rtol=1e-9, atol=1e-12)
    untied = ~np.isclose(want_scores, want_scores.min(), rtol=1e-9, atol=1e-12)
    assert set(got_docs[untied]) == set(want_docs[untied])


@pytest.mark.parametrize("params", PARAMS, ids=_id)
@pytest.mark.parametrize("k", [1, 5, 40, 1000])
def test_top_k_equals_full_scoring(params, k):
    index = Bm25Index(params)
    index.add(CORPUS[:150])
    index.add(CORPUS[150:])  # two compactions: the postings of both segments are read
    for query in QUERIES:
        _same_top(index.top(query, k), _full_top(index, query, k))


@pytest.mark.parametrize("params", PARAMS, ids=_id)
@pytest.mark.parametrize("k", [3, 40])
def test_top_k_of_long_questions_of_common_words_equals_full_scoring(params, k):
    """A long question of frequent words finds most of the corpus: the same top k."""
    index = Bm25Index(params)
    index.add(CORPUS)
    rng = np.random.default_rng(5)
    frequent = VOCAB[:30] + [COMMON, HALF]
    for _ in range(25):
        query = list(rng.choice(frequent, size=int(rng.integers(8, 20))))
        _same_top(index.top(query, k), _full_top(index, query, k))
        allowed = rng.random(len(CORPUS)) < 0.4
        _same_top(index.top(query, k, allowed), _full_top(index, query, k, allowed))


@pytest.mark.parametrize("params", PARAMS, ids=_id)
@pytest.mark.parametrize("block", [1, 7, 64])
def test_documents_scored_block_by_block_give_the_same_top_k(params, block, monkeypatch):
    """The kernel scores a cache-sized block of documents at a time, each term's postings read on
    from where the last block left them; the top k (a heap across blocks) is full scoring's
    whatever the block size, a block of one document included."""
    import index.bm25 as bm25_module

    monkeypatch.setattr(bm25_module, "BLOCK", block)
    index = Bm25Index(params)
    index.add(CORPUS)
    rng = np.random.default_rng(8)
    frequent = VOCAB[:30] + [COMMON, HALF]
    for _ in range(15):
        query = list(rng.choice(frequent, size=int(rng.integers(6, 16)))) + list(rng.choice(VOCAB[30:], size=2))
        _same_top(index.top(query, 5), _full_top(index, query, 5))
        allowed = rng.random(len(CORPUS)) < 0.5
        _same_top(index.top(query, 5, allowed), _full_top(index, query, 5, allowed))


@pytest.mark.parametrize("params", PARAMS, ids=_id)
@pytest.mark.parametrize("share", [0.3, 0.02])  # 0.02: few enough documents to look up, not scan
def test_top_k_within_allowed_documents(params, share):
    index = Bm25Index(params)
    index.add(CORPUS)
    allowed = np.random.default_rng(3).random(len(CORPUS)) < share
    for query in QUERIES:
        docs, _ = index.top(query, 10, allowed)
        assert allowed[docs].all()
        _same_top((docs, _), _full_top(index, query, 10, allowed))


def test_queries_running_at_once_each_get_their_own_top_k():
    """Questions share the index (SearchIndex.reading), so each running `top` needs its own
    accumulator: four threads asking every query at once get what one thread gets."""
    import threading

    index = Bm25Index(Bm25Params())
    index.add(CORPUS)
    alone = [index.top(query, 10) for query in QUERIES]
    start = threading.Barrier(4, timeout=10)
    failures = []

    def ask_all(offset: int) -> None:
        start.wait()
        for round_ in range(5):
            for i in range(len(QUERIES)):
                j = (i + offset + round_) % len(QUERIES)
                docs, scores = index.top(QUERIES[j], 10)
                if not (np.array_equal(docs, alone[j][0]) and np.array_equal(scores, alone[j][1])):
                    failures.append(j)

    threads = [threading.Thread(target=ask_all, args=(t * 5,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert failures == []
    assert 1 <= len(index._scratch_blocks) <= 4  # one block's scratch per query at once, kept for the next


@pytest.mark.parametrize("params", PARAMS, ids=_id)
def test_top_k_scores_are_rank_bm25_scores(params):
    index = Bm25Index(params)
    index.add(CORPUS)
    ref = reference(params, CORPUS)
    for query in QUERIES:
        docs, scores = index.top(query, 10)
        np.testing.assert_allclose(scores, ref.get_scores(query)[docs], rtol=1e-9, atol=1e-12)


@pytest.mark.stress
def test_top_k_stays_exact_for_common_and_rare_terms_on_a_large_corpus():
    rng = np.random.default_rng(5)
    vocab = [f"t{i}" for i in range(2000)]
    weights = 1.0 / np.arange(1, len(vocab) + 1)
    weights /= weights.sum()
    corpus = [list(rng.choice(vocab, size=int(rng.integers(5, 60)), p=weights)) for _ in range(20_000)]
    index = Bm25Index(Bm25Params())
    index.add(corpus)
    week = rng.random(len(corpus)) < 0.005  # a question about one week: its documents are looked up
    for _ in range(30):
        query = list(rng.choice(vocab[:5], size=2)) + list(rng.choice(vocab[200:], size=2))  # common + rare
        _same_top(index.top(query, 50), _full_top(index, query, 50))
        _same_top(index.top(query, 20, week), _full_top(index, query, 20, week))


@pytest.mark.parametrize("params", PARAMS, ids=_id)
def test_top_k_of_a_loaded_index(params):
    index = Bm25Index(params)
    index.add(CORPUS)
    loaded = Bm25Index.from_arrays(params, index.vocab_list(), index.arrays())
    for query in QUERIES:
        _same_top(loaded.top(query, 10), _full_top(index, query, 10))


def test_top_k_of_nothing():
    index = Bm25Index(Bm25Params())
    assert [len(a) for a in index.top(["w1"], 5)] == [0, 0]
    index.add(CORPUS)
    assert [len(a) for a in index.top(["zzz-unknown"], 5)] == [0, 0]
    assert [len(a) for a in index.top([], 5)] == [0, 0]


def test_warming_compiles_the_loop_for_both_count_dtypes():
    """A generation saved with two-byte counts narrows to one byte at its first compaction: warming
    compiles the loop for both, so no question waits for a compilation."""
    import numba

    from index import bm25_kernel

    index = Bm25Index(Bm25Params())
    index.add([["rail", "strike"], ["rail"]])
    index.warm()
    data_types = {signature[2].dtype for signature in bm25_kernel.top_k.signatures}
    assert {numba.types.uint8, numba.types.uint16} <= data_types
