"""Passage vectors stored as float32, float16 or int8: the same cosines (within each precision),
saved and loaded in their dtype, and a generation of another dtype converted, never re-embedded."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from tests.support.demo import demo_documents

from index.bm25 import Bm25Params
from index.config import Config, ConfigError, RetrievalConfig, StoreConfig, validate
from index.engine import Engine
from index.passage_vectors import PassageVectors
from index.search_index import IndexShape, SearchIndex

TOLERANCE = {"float32": 1e-6, "float16": 2e-3, "int8": 2e-2}


def unit(rng, n, d=48):
    rows = rng.standard_normal((n, d)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.mark.parametrize("dtype", ["float32", "float16", "int8"])
def test_scores_are_the_float32_cosines_within_the_precision(dtype):
    rng = np.random.default_rng(0)
    rows = unit(rng, 5000)
    vectors = PassageVectors(48, dtype)
    vectors.extend(rows[:1234])
    vectors.extend(rows[1234:])
    vectors.extend(np.zeros((1, 48), np.float32))  # a zero row stays zero (int8's scale is never 0)
    query = unit(rng, 1)[0]
    expected = np.append(rows @ query, 0.0)
    scores = vectors.scores(query)
    assert scores.dtype == np.float32 and len(scores) == len(vectors) == 5001
    np.testing.assert_allclose(scores, expected, atol=TOLERANCE[dtype])
    np.testing.assert_allclose(vectors.take(np.array([3, 4000])), rows[[3, 4000]], atol=TOLERANCE[dtype])
    assert vectors.view.dtype == np.dtype(dtype)
    top = np.argsort(-expected)[:10]
    assert len(set(np.argsort(-scores)[:10]) & set(top)) >= 9


def test_wrong_dimension_and_unknown_dtype_are_refused():
    with pytest.raises(ValueError):
        PassageVectors(8, "float8")
    with pytest.raises(ValueError):
        PassageVectors(8).extend(np.zeros((2, 9), np.float32))
    with pytest.raises(ConfigError, match="vector_dtype"):
        validate(Config(retrieval=RetrievalConfig(vector_dtype="bfloat16")))


@pytest.mark.parametrize("dtype", ["float16", "int8"])
def test_saved_and_loaded_in_their_dtype(tmp_path, dtype):
    rng = np.random.default_rng(1)
    index = SearchIndex(IndexShape(model="m", vector_dtype=dtype), 48, Bm25Params())
    index.bm25.add([["a"], ["b"], ["c"]])
    index.article_seq.extend(np.array([1, 2, 3]))
    index.passage_idx.extend(np.zeros(3, np.int32))
    index.day.extend(np.zeros(3, np.int32))
    index.vectors.extend(unit(rng, 3))
    index.save(tmp_path)
    loaded = SearchIndex.load(tmp_path, Bm25Params())
    assert loaded.shape.vector_dtype == dtype and loaded.vectors.dtype == dtype
    np.testing.assert_array_equal(loaded.vectors.view, index.vectors.view)
    np.testing.assert_array_equal(loaded.vectors.take(slice(None)), index.vectors.take(slice(None)))


def _engine(path: Path, embedder, dtype: str) -> Engine:
    config = Config(store=StoreConfig(path=str(path)), retrieval=RetrievalConfig(vector_dtype=dtype))
    return Engine(config, embedder=embedder)


def test_a_generation_of_another_dtype_is_converted_not_reembedded(tmp_path, fresh_engine, embedder):
    first = fresh_engine(config=Config(retrieval=RetrievalConfig(vector_dtype="float32")))
    store_path = Path(first.store.path)
    first.save_documents(demo_documents({"demo-019", "demo-020", "demo-023"}))
    first.open_index()
    before = first.answer("Why are the rail workers on strike?", mode="dense").as_dict()
    first.close()
    meta_path = next(store_path.parent.glob("*.index/gen-*/meta.json"))
    meta = json.loads(meta_path.read_text())
    del meta["shape"]["vector_dtype"]  # as generations saved before the field existed
    meta_path.write_text(json.dumps(meta))

    class NoEncoder:
        key, dimension = embedder.key, embedder.dimension

        def encode(self, texts):
            raise AssertionError(f"re-embedded {len(texts)} passages")

        def encode_query(self, text):
            return embedder.encode_query(text)

    again = _engine(store_path, NoEncoder(), "float16")
    try:
        again.open_index()
        index = again.index.current
        assert index.vectors.dtype == "float16" and index.shape.vector_dtype == "float16"
        after = again.answer("Why are the rail workers on strike?", mode="dense").as_dict()
        assert after["articles"] == before["articles"]
        location = again.index.location
        saved = json.loads((location / (location / "CURRENT").read_text().strip() / "meta.json").read_text())
        assert saved["shape"]["vector_dtype"] == "float16"  # converted once, saved in the new dtype
    finally:
        again.close()
    assert dataclasses.replace(IndexShape(model="m"), vector_dtype="float32") == IndexShape(model="m")


def test_a_smaller_dtype_generation_is_rebuilt_from_cached_vectors_for_float32(tmp_path, fresh_engine, embedder):
    """float16 → float32 cannot be converted exactly: the index is rebuilt from the store's cached
    float32 vectors (nothing is embedded) and answers as an index built in float32 from the start."""
    first = fresh_engine(config=Config(retrieval=RetrievalConfig(vector_dtype="float32")))
    store_path = Path(first.store.path)
    first.save_documents(demo_documents({"demo-019", "demo-020", "demo-023"}))
    first.open_index()
    expected = first.index.current.vectors.view.copy()  # the cached vectors, exactly
    first.close()

    class CachedOnly:
        key, dimension = embedder.key, embedder.dimension

        def encode(self, texts):
            raise AssertionError(f"re-embedded {len(texts)} passages")

    half = _engine(store_path, CachedOnly(), "float16")
    half.open_index()
    assert half.index.current.vectors.dtype == "float16"
    half.close()
    full = _engine(store_path, CachedOnly(), "float32")
    try:
        full.open_index()
        np.testing.assert_array_equal(full.index.current.vectors.view, expected)
    finally:
        full.close()


@pytest.mark.parametrize("saved_dtype", [np.float32, np.uint16])
def test_postings_saved_with_wider_counts_still_load_and_grow(saved_dtype):
    """Generations saved before counts were one byte hold float32 or uint16 counts: same scores,
    and adding to them works (and narrows them)."""
    from index.bm25 import Bm25Index

    docs = [["oil", "price", "oil"], ["rail", "strike"], ["oil", "rail"], ["harbour"]]
    fresh = Bm25Index(Bm25Params())
    fresh.add(docs)
    arrays = dict(fresh.arrays())
    assert arrays["bm25_data"].dtype == np.uint8
    arrays["bm25_data"] = arrays["bm25_data"].astype(saved_dtype)
    old = Bm25Index.from_arrays(Bm25Params(), fresh.vocab_list(), arrays)
    np.testing.assert_array_equal(old.scores(["oil", "rail"]), fresh.scores(["oil", "rail"]))
    for index in (old, fresh):
        index.add([["oil", "strike", "new"]])
    np.testing.assert_array_equal(old.scores(["oil", "new"]), fresh.scores(["oil", "new"]))
    assert old.arrays()["bm25_data"].dtype == np.uint8


def test_a_word_said_more_than_255_times_in_a_passage_keeps_its_exact_count():
    """Counts are kept in one byte only while every count fits: junk that repeats a word keeps its
    count, in memory and after more passages are added, and scores as rank-bm25 scores it."""
    from rank_bm25 import BM25Plus

    from index.bm25 import Bm25Index

    docs = [["oil", "price"], ["rail", "strike", "oil"], ["oil"] * 300 + ["rail"], ["harbour", "oil"]]
    index = Bm25Index(Bm25Params())
    index.add(docs[:2])
    assert index.arrays()["bm25_data"].dtype == np.uint8
    index.add(docs[2:])
    assert index.arrays()["bm25_data"].dtype == np.uint16
    reference = BM25Plus(docs, k1=1.2, b=0.75, delta=1.0)
    np.testing.assert_allclose(index.scores(["oil", "rail"]), reference.get_scores(["oil", "rail"]), rtol=1e-6)


# -- sign codes: a first pass that hands the nearest passages to exact rescoring ------------------

def clustered(rng, n, d=384, clusters=40):
    """Unit vectors around a few centres, as sentence embeddings cluster by topic."""
    centres = unit(rng, clusters, d)
    rows = centres[rng.integers(0, clusters, n)] + 1.0 * rng.standard_normal((n, d)).astype(np.float32) / np.sqrt(d)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return ((a > 0) != (b > 0)).sum(axis=1)


@pytest.mark.parametrize("d", [96, 100])  # 100: the last word holds bits past the dimension
def test_sign_codes_find_every_passage_at_least_as_near_as_the_count_th(d):
    rng = np.random.default_rng(1)
    rows = unit(rng, 3000, d)
    vectors = PassageVectors(d, "float32")
    vectors.extend(rows)
    query = unit(rng, 1, d)[0]
    nearest = vectors.codes().nearest(query, 100)
    distance = hamming(rows, query[None, :])
    cutoff = np.sort(distance)[99]
    assert set(nearest) == set(np.flatnonzero(distance <= cutoff))


@pytest.mark.parametrize("share", [1.0, 0.3, 0.002])
def test_sign_codes_in_a_window_find_every_allowed_passage_as_near_as_the_count_th(share):
    """The compiled pass counts only the window's passages towards the cut-off, searched fresh
    or with the distances of the same query kept from a search before."""
    rng = np.random.default_rng(4)
    rows = clustered(rng, 5000, d=384)
    vectors = PassageVectors(384, "int8")
    vectors.extend(rows)
    allowed = rng.random(5000) < share
    distance = hamming(vectors.take(slice(None)), rows[7][None, :])
    cutoff = np.sort(distance[allowed])[min(49, allowed.sum() - 1)]
    expected = np.flatnonzero(allowed & (distance <= cutoff))
    for _ in range(2):  # the second search reuses the first's distances
        np.testing.assert_array_equal(vectors.codes().nearest(rows[7], 50, allowed), expected)


def test_sign_codes_grown_with_the_vectors_equal_codes_built_at_once():
    rng = np.random.default_rng(2)
    rows = unit(rng, 500, 64)
    grown = PassageVectors(64, "float16")
    grown.extend(rows[:200])
    grown.codes()  # built here, then kept up to date by extend
    grown.extend(rows[200:])
    whole = PassageVectors(64, "float16")
    whole.extend(rows)
    query = unit(rng, 1, 64)[0]
    np.testing.assert_array_equal(grown.codes().nearest(query, 50), whole.codes().nearest(query, 50))


@pytest.mark.parametrize("dtype", ["float32", "float16", "int8"])
def test_sign_codes_built_from_the_stored_rows_are_the_signs_of_the_stored_vectors(dtype, monkeypatch):
    """Codes are built block by block from the rows in their storage dtype (no float32 copy on
    the load's peak): the blocks' seams and the int8 scale change no bit."""
    monkeypatch.setattr(PassageVectors, "SIGN_BLOCK", 7)
    rng = np.random.default_rng(5)
    vectors = PassageVectors(100, dtype)
    vectors.extend(clustered(rng, 60, d=100, clusters=3))
    stored = vectors.take(slice(None))
    query = unit(rng, 1, 100)[0]
    distance = hamming(stored, query[None, :])
    for count in (1, 10, 59):
        cutoff = np.sort(distance)[count - 1]
        assert set(vectors.codes().nearest(query, count)) == set(np.flatnonzero(distance <= cutoff))


def test_a_query_searched_again_gets_the_same_passages_in_or_out_of_a_window():
    """The answer's second search ("the latest I have") reuses the first's distances: with
    another window, or none, it finds what a fresh search finds, and never a stale distance
    after the codes grew."""
    rng = np.random.default_rng(5)
    rows = unit(rng, 2000, 96)
    vectors = PassageVectors(96, "float32")
    vectors.extend(rows)
    query = unit(rng, 1, 96)[0]
    window = rng.random(2000) < 0.1
    in_window = vectors.codes().nearest(query, 40, window)
    everywhere = vectors.codes().nearest(query, 40)
    distance = hamming(rows, query[None, :])
    assert window[in_window].all()
    assert set(in_window) == set(np.flatnonzero(window & (distance <= np.sort(distance[window])[39])))
    assert set(everywhere) == set(np.flatnonzero(distance <= np.sort(distance)[39]))
    vectors.extend(query[None, :])  # a passage at distance 0 arrives after both searches
    assert 2000 in vectors.codes().nearest(query, 1)


@pytest.mark.parametrize("dtype", ["float32", "float16", "int8"])
def test_rescored_top_holds_exact_cosines_and_nearly_all_the_exact_best(dtype):
    """Approximate by design: the sign bits may miss a passage exact search ranks in the top 10
    (the eval pools' figures are in the README); what is returned is scored exactly. Questions
    lie near the passages that answer them, so the queries are noisy copies of stored rows."""
    rng = np.random.default_rng(3)
    rows = clustered(rng, 20_000)
    vectors = PassageVectors(384, dtype)
    vectors.extend(rows)
    overlap = []
    for source in rng.choice(len(rows), 20, replace=False):
        query = rows[source] + rng.standard_normal(384).astype(np.float32) / np.sqrt(384)
        query /= np.linalg.norm(query)
        exact = vectors.take(slice(None)) @ query
        found = vectors.top(query, 10, rescore=2000)
        np.testing.assert_allclose(found.scores, exact[found.ids], rtol=1e-5, atol=1e-6)
        assert list(found.scores) == sorted(found.scores, reverse=True)
        overlap.append(len(set(found.ids) & set(np.argsort(-exact)[:10])) / 10)
        others = np.arange(5)
        np.testing.assert_allclose(found.cosines(others), exact[others], rtol=1e-5, atol=1e-6)
    assert np.mean(overlap) >= 0.95
    exact_top = vectors.top(query, 10, rescore=len(vectors))  # rescoring every passage is exact search
    assert set(exact_top.ids) == set(np.argsort(-exact)[:10])


def test_rescored_top_keeps_to_allowed_passages():
    rng = np.random.default_rng(4)
    rows = clustered(rng, 5000)
    vectors = PassageVectors(384, "float32")
    vectors.extend(rows)
    allowed = rng.random(5000) < 0.2
    query = clustered(rng, 1)[0]
    found = vectors.top(query, 10, allowed, rescore=1000)  # of about 1,000 allowed: all of them
    assert allowed[found.ids].all()
    exact = np.where(allowed, rows @ query, -np.inf)
    assert set(found.ids) == set(np.argsort(-exact)[:10])
    assert len(vectors.top(query, 10, np.zeros(5000, bool), rescore=1000).ids) == 0


def test_rescore_config_is_checked():
    with pytest.raises(ConfigError, match="dense_rescore"):
        validate(Config(retrieval=RetrievalConfig(candidates=200, dense_rescore=100)))


def test_a_large_index_has_its_sign_codes_built_when_opened_and_answers_as_exact_search(fresh_engine):
    """sign_codes_from = 0 stands in for a store past 50,000 passages."""
    documents = demo_documents({"demo-019", "demo-020", "demo-023"})
    exact = fresh_engine(config=Config(retrieval=RetrievalConfig(sign_codes_from=10**9)))
    exact.save_documents(documents)
    exact.open_index()
    signs = fresh_engine(config=Config(retrieval=RetrievalConfig(sign_codes_from=0)))
    signs.save_documents(documents)
    signs.open_index()
    assert signs.index.current.vectors._signs is not None  # built on opening, not by the first question
    assert exact.index.current.vectors._signs is None
    question = "Why are the rail workers on strike?"
    assert signs.answer(question).as_dict() == exact.answer(question).as_dict()  # a few passages: all rescored
