"""The benchmark library at a tiny size on the real eval data: the report's documented keys, BM25
results equal to rank-bm25's, and an index filled in bulk equal to one filled by SearchIndex.add."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_DIR

import bench
from index.bm25 import Bm25Params
from index.config import Config, IngestConfig
from index.embedding import text_hash
from bench.evaluation import load_questions
from index.search_index import IndexShape, SearchIndex, passage_text
from index.store import SqliteStore
from index.timeparse import parse_time
from index.tokenize import tokenize

pytestmark = pytest.mark.slow
EVAL_DIR = SHARED_DIR / "eval"
PARAMS = Bm25Params()  # the project's defaults: BM25+, k1 1.2, b 0.75, delta 1


@pytest.fixture(scope="module")
def eval_dir() -> Path:
    missing = bench.eval_data_missing(EVAL_DIR)
    if missing:
        pytest.skip(missing)
    return EVAL_DIR


@pytest.fixture(scope="module")
def corpus(eval_dir, tmp_path_factory):
    """About 300 real passages in a store, and their tokenised table."""
    folder = tmp_path_factory.mktemp("corpus")
    store = SqliteStore(folder / "corpus.db")
    ingest = IngestConfig()
    bench.fill_corpus_store(store, eval_dir, ingest.passage_words, 300, 0, ingest.max_file_bytes)
    bench.write_passage_table(store, folder, titles=True, limit=10**9)
    yield store, bench.PassageTable(folder)
    store.close()


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def test_report_has_the_documented_keys_with_positive_numbers(eval_dir, embedder, tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSBOT_CACHE", str(tmp_path / "cache"))  # the topic vectors it embeds go here
    options = bench.BenchOptions(sizes=(500,), questions=20, ingest_articles=1, reindex_articles=30,
                                 alert_topics=(300,), alert_articles=4)
    report = bench.run_benchmark(Config(), eval_dir, options, embedder=embedder)

    json.dumps(report)  # what `newsbot bench --json` writes
    assert {"cpus", "python", "platform", "numpy", "torch"} <= set(report["machine"])
    assert report["dense_vectors"] == "random unit vectors"
    size = report["sizes"]["500"]
    assert "error" not in size, size
    for key in ("p50_ms", "p95_ms", "p99_ms", "bm25_p50_ms", "bm25s_p50_ms", "rank_bm25_p50_ms",
                "dense_numpy_p50_ms", "dense_exact_p50_ms", "rss_mb", "build_rss_mb", "disk_mb", "load_s"):
        assert _positive(size[key]), (key, size[key])
    assert set(size["stages_ms"]) >= {"bm25", "dense", "fusion", "sentences"}
    assert all(_positive(v) for v in size["stages_ms"].values()), size["stages_ms"]
    assert size["p50_ms"] <= size["p95_ms"] <= size["p99_ms"]
    assert size["replicated"] is False and size["questions"] == 20 and size["query_vector_misses"] == 0
    assert size["rank_bm25_agree"] == 1.0
    assert size["vector_dtype"] == "float16"  # "auto" at 500 passages, below sign_codes_from
    assert set(size["peers_rss_mb"]) == {"bm25s", "rank_bm25"}
    assert _positive(report["ingest"]["pipeline_tokens_per_s"])
    assert _positive(report["ingest"]["encoder_tokens_per_s"])
    assert _positive(report["reindex_s"]) and report["reindex_articles"] == 30
    assert _positive(report["query_embedding_ms"])
    alerts = report["alert_match_ms"]["300"]
    for key in ("p50_ms", "p95_ms", "match_p50_ms", "brute_force_p50_ms", "dense_floor_p50_ms",
                "per_topic_loop_p50_ms", "low_threshold_p50_ms"):
        assert _positive(alerts[key]), (key, alerts[key])
    assert alerts["topics"] == 300 and alerts["articles"] == 4
    assert alerts["same_hits_as_brute_force"] == 1.0
    assert "topic vectors: the model's (cached in bench_topics.db)" in report["alert_match_note"]
    assert (tmp_path / "cache" / "bench_topics.db").is_file()  # embedded once, read from there after
    assert len(report["targets"]) == 9
    table = bench.format_report(report)
    assert "vs bm25s" in table and "vs rank-bm25" in table and "targets" in table


def test_bm25_top_results_equal_rank_bm25(corpus, eval_dir):
    import rank_bm25

    _, table = corpus
    index = bench.build_search_index(table, table.count, IndexShape(model="m"), 8, PARAMS, seq_stride=10**6)
    peer = rank_bm25.BM25Plus(table.token_lists(np.arange(table.count)), k1=1.2, b=0.75, delta=1.0)
    top = bench.bm25_top(index)
    for q in load_questions(eval_dir)[:8]:
        tokens = tokenize(parse_time(q.question, q.asked).text)
        theirs = peer.get_scores(tokens)
        assert bench.bm25_agrees(index.bm25.scores(tokens), theirs), q.question
        ours = top(tokens)[:10]
        np.testing.assert_allclose(theirs[ours], np.sort(theirs)[::-1][:10], rtol=1e-9)


def test_bulk_build_is_what_search_index_add_builds(corpus):
    """The benchmark fills the index without Article objects; it must hold what add() would."""
    store, table = corpus
    articles = [a for a in store.articles_after(0, limit=1000)]
    real = sum(len(a.passages) for a in articles)
    assert real == table.count
    bulk = bench.build_search_index(table, real, IndexShape(model="m"), 8, PARAMS, seq_stride=10**6)
    vectors = {text_hash(passage_text(a, p.index, True)): bulk.vectors.view[i]
               for i, (a, p) in enumerate((a, p) for a in articles for p in a.passages)}
    added = SearchIndex(IndexShape(model="m"), 8, PARAMS)
    added.add(articles, vectors)
    assert added.bm25.vocab == bulk.bm25.vocab
    for name, array in added.bm25.arrays().items():
        np.testing.assert_array_equal(array, bulk.bm25.arrays()[name], err_msg=name)
    for name in ("article_seq", "passage_idx", "day", "vectors"):
        np.testing.assert_array_equal(getattr(added, name).view, getattr(bulk, name).view, err_msg=name)
    assert added.watermark == bulk.watermark


def test_sizes_past_the_real_passages_replicate_them_under_new_seqs(corpus):
    store, table = corpus
    stride = store.max_seq()
    index = bench.build_search_index(table, table.count * 2 + 5, IndexShape(model="m"), 8, PARAMS, stride)
    seqs = index.article_seq.view
    np.testing.assert_array_equal(seqs[table.count : 2 * table.count], table.seq + stride)
    assert index.bm25.size == table.count * 2 + 5
    replicas = bench.ReplicaStore(store, stride)
    first = int(table.seq[0])
    found = replicas.articles_by_seq([first, first + stride, first + 2 * stride])
    assert {a.id for a in found.values()} == {store.articles_by_seq([first])[first].id}
    assert set(found) == {first, first + stride, first + 2 * stride}


def test_the_feed_benchmark_polls_every_feed_then_gets_only_304s():
    import importlib.util

    from index.config import FeedsConfig

    script = Path(__file__).resolve().parents[2] / "scripts" / "bench_feeds.py"
    spec = importlib.util.spec_from_file_location("bench_feeds", script)
    bench_feeds = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_feeds)
    figures = bench_feeds.run(feeds=6, items=2, hosts=3, rounds=2, latency_s=0.0,
                              config=FeedsConfig(full_text="never", per_host_delay_s=0.0))
    assert figures["first_round"]["articles_saved"] == 12 and figures["first_round"]["failed"] == 0
    assert [r["unchanged"] for r in figures["unchanged_rounds"]] == [6, 6]
    assert figures["sequential_get"]["statuses"] == {200: 6}
    assert figures["sequential_conditional_get"]["statuses"] == {304: 6}
    assert "unchanged round vs the sequential conditional loop" in bench_feeds.format_table(figures)
