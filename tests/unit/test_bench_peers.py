"""The benchmark's peers at sizes where their copies would not fit in memory: skipped, with why."""

import numpy as np
import pytest

from bench import latency
from bench.measure import random_unit_vectors
from bench.report import _size_lines
from index.bm25 import Bm25Params
from index.config import RetrievalConfig
from index.search_index import IndexShape, SearchIndex


@pytest.fixture
def int8_index():
    index = SearchIndex(IndexShape(model="m", vector_dtype="int8"), 16, Bm25Params())
    index.bm25.add([["rail", "strike"], ["ferry", "fares"], ["rail", "fares"]] * 20)
    index.vectors.extend(random_unit_vectors(np.random.default_rng(0), 60, 16))
    index.article_seq.extend(np.arange(1, 61))
    index.passage_idx.extend(np.zeros(60, np.int32))
    index.day.extend(np.full(60, 739_000, np.int32))
    return index


def queries(n=4):
    return list(random_unit_vectors(np.random.default_rng(1), n, 16))


def test_every_dense_peer_is_timed_where_its_copy_fits(int8_index, monkeypatch):
    monkeypatch.setattr(latency, "fits", lambda mb, reserve_mb=1024: True)
    out = latency.time_dense(int8_index, queries(), RetrievalConfig())
    assert out["dense_p50_ms"] > 0 and out["dense_exact_p50_ms"] > 0 and out["dense_numpy_p50_ms"] > 0
    assert "dense_exact_note" not in out and "dense_numpy_note" not in out


def test_a_dense_peer_whose_copy_does_not_fit_is_skipped_and_says_why(int8_index, monkeypatch):
    asked = []
    monkeypatch.setattr(latency, "fits", lambda mb, reserve_mb=1024: asked.append(mb) or False)
    out = latency.time_dense(int8_index, queries(), RetrievalConfig())
    assert out["dense_p50_ms"] > 0  # ours is always timed
    assert out["dense_exact_p50_ms"] is None and "float16 copy" in out["dense_exact_note"]
    assert out["dense_numpy_p50_ms"] is None and "float32 copy" in out["dense_numpy_note"]
    # the float32 copy needs twice the float16 one: 60 passages × 16 dimensions × 2 and 4 bytes
    assert asked == [pytest.approx(60 * 16 * 2 / 2**20), pytest.approx(60 * 16 * 4 / 2**20)]


def test_bm25s_is_skipped_where_its_index_would_not_fit(int8_index, monkeypatch):
    monkeypatch.setattr(latency, "fits", lambda mb, reserve_mb=1024: False)
    corpus = [["rail", "strike"], ["ferry", "fares"], ["rail", "fares"]] * 20
    out = latency.time_bm25_vs_bm25s(int8_index, corpus, Bm25Params(), [["rail"], ["fares"]])
    assert out["bm25_p50_ms"] > 0 and out["bm25s_p50_ms"] is None
    assert "does not fit" in out["bm25s_note"]


def test_the_report_says_why_a_peer_is_missing():
    size = {"p50_ms": 1.0, "p95_ms": 2.0, "p99_ms": 3.0, "questions": 10, "stages_ms": {"bm25": 0.5},
            "bm25_p50_ms": 0.5, "bm25s_p50_ms": None, "bm25s_note": "skipped: its index (~30.0 GiB) does not fit",
            "dense_p50_ms": 1.0, "dense_exact_p50_ms": None, "dense_numpy_p50_ms": None,
            "dense_exact_note": "skipped: its float16 copy (7.2 GiB) does not fit",
            "dense_numpy_note": "skipped: its float32 copy (14.3 GiB) does not fit",
            "rss_mb": 100.0, "load_s": 1.0, "build_rss_mb": 200.0, "build_s": 2.0, "disk_mb": 50.0,
            "vector_dtype": "int8"}
    text = "\n".join(_size_lines("10000000", size))
    assert "bm25s skipped: its index (~30.0 GiB) does not fit" in text
    assert "float16 exact search skipped: its float16 copy (7.2 GiB) does not fit" in text
    assert "numpy float32 brute force skipped: its float32 copy (14.3 GiB) does not fit" in text


def test_postings_count_pending_and_compacted_pairs():
    from index.bm25 import Bm25Index

    bm25 = Bm25Index(Bm25Params())
    bm25.add([["a", "b", "a"], ["b"]])
    assert bm25.postings == 3  # (0, a), (0, b), (1, b): a repeated term is one posting
    bm25.compact()
    bm25.add([["c"]])
    assert bm25.postings == 4


def test_the_search_stage_is_what_is_left_outside_the_scoring_stages_union():
    """Scoring stages that ran at once are counted once: "fusion" is the search less their union."""
    clock = latency.StageClock()
    clock.add("bm25", 10.0, 14.0)
    clock.add("dense", 11.0, 13.0)  # inside BM25's call
    clock.add("dense", 15.0, 16.0)  # a second search's, after it
    assert clock.seconds == {"bm25": 4.0, "dense": 3.0}
    assert clock.scoring_seconds() == 5.0
    clock.clear()
    assert clock.scoring_seconds() == 0.0 and not clock.seconds
