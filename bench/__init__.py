"""Benchmarks (`newsbot bench`): query latency by stage, memory, index size, ingest, reindex and
alert-matching speed, each beside a peer measured on the same data in the same run, and the
project's targets checked. Choices, and why:

* Real data: passages come from ../shared/eval through the project's own ingestion
  (record_to_document, build_article, a SQLite store) and BM25 tokens from index.tokenize over
  index.search_index.passage_text, as the index builds them. Sizes past the real passage count
  replicate real passages (copies get article seqs of their own) and say so ("replicated").
* Dense vectors are random unit vectors of the model's dimension: embedding a million passages is
  days of CPU, and the cost of the matrix-vector product depends only on the matrix's shape.
  Query vectors are real (the bundled model's encode_query), computed once; their cost is reported
  apart ("query_embedding_ms") and is not in the answer-path figures.
* Two processes per size, because peak RSS (VmHWM) only ever grows in a process: one builds the
  index as a rebuild does and saves it (its peak is the build's), the other loads it as a server
  starts and answers (its peak, read before any peer is built, is the serving figure). Neither
  loads the model; the serving one imports torch where the vectors are float16 (its product runs
  there), so that figure includes torch.
* The answer path timed is the real Answerer.answer over a real SearchIndex, filled in bulk through
  the calls SearchIndex.add makes (Bm25Index.add and the vectors' extend). Stage times come from
  clocks put around the real methods it calls, not from a copy of the retrieval code that could
  drift from it; a stage that stops being observed is reported as null with a note.
* Peers run after the serving peak is read, on the same token lists and queries: rank-bm25 (the
  scoring the project reproduces), bm25s (a fast sparse BM25), numpy brute force over float32
  vectors for the dense stage; what each peer's index adds to the RSS is reported apart.

Parts: `data` (the corpus, the passage table, indexes of any size, the questions), `latency` (one
size: build and serve processes, stages, peers, memory), `throughput` (ingest, reindex), `alerts`
(one article against N topics), `report` (targets and the table), `measure` (helpers).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from index.config import Config
from index.store import SqliteStore
from .alerts import ALERT_ARTICLES, ALERT_TOPICS, measure_alerts
from .data import (
    PassageTable,
    ReplicaStore,
    build_search_index,
    eval_data_missing,
    fill_corpus_store,
    prepare_queries,
    write_passage_table,
)
from .latency import bm25_agrees, bm25_top, run_size
from .measure import machine_info
from .report import evaluate_targets, format_report
from .throughput import REINDEX_ARTICLES, measure_ingest, measure_reindex

__all__ = ["BenchOptions", "PassageTable", "ReplicaStore", "bm25_agrees", "bm25_top", "build_search_index",
           "eval_data_missing", "fill_corpus_store", "format_report", "parse_sizes", "run_benchmark",
           "write_passage_table"]

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
MIN_QUESTIONS = 200  # percentiles need enough queries: the dev questions are repeated up to this
DENSE_NOTE = "random unit vectors"
Log = Callable[[str], None]


@dataclass(frozen=True)
class BenchOptions:
    sizes: tuple[int, ...] = DEFAULT_SIZES
    questions: int = 0  # 0: every dev question, repeated to at least MIN_QUESTIONS
    full: bool = False  # reindex every real article instead of REINDEX_ARTICLES
    model: bool = True  # False: random query vectors and no ingest figures (no model loaded)
    threads: int = 1  # torch threads: one keeps figures steady on a shared machine
    ingest_articles: int = 300
    reindex_articles: int = REINDEX_ARTICLES
    alert_topics: tuple[int, ...] = ALERT_TOPICS
    alert_articles: int = ALERT_ARTICLES


def parse_sizes(text: str) -> tuple[int, ...]:
    sizes = tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())
    if not sizes or min(sizes) < 1:
        raise ValueError(f"expected positive passage counts like 10000,100000, got {text!r}")
    return sizes


def run_benchmark(config: Config, eval_dir: Path, options: BenchOptions, log: Log = lambda _: None,
                  embedder=None) -> dict:
    """The whole benchmark; returns the report (the JSON written by `newsbot bench`)."""
    from index.embedding import Embedder
    from index.engine import bm25_params
    from .evaluation import load_questions

    model_config = dataclasses.replace(config.model, threads=options.threads or config.model.threads)
    if options.model and embedder is None:
        embedder = Embedder(model_config)
    model_key = embedder.key if embedder is not None else Embedder(model_config).key
    dimension = embedder.dimension if embedder is not None else 384
    params = bm25_params(config)
    titles = True  # IndexManager's default, as Engine builds it
    questions = load_questions(eval_dir)
    count = options.questions or max(MIN_QUESTIONS, len(questions))
    reindex_n = 10**9 if options.full else options.reindex_articles
    workdir = Path(tempfile.mkdtemp(prefix="newsbot-bench-"))
    try:
        log("bench: building the corpus store from real articles…")
        corpus = SqliteStore(workdir / "corpus.db")
        try:
            fill_corpus_store(corpus, eval_dir, config.ingest.passage_words, max(options.sizes), reindex_n,
                              config.ingest.max_file_bytes)
            real = write_passage_table(corpus, workdir, titles, max(options.sizes))
            stats = corpus.stats()
            (workdir / "meta.json").write_text(json.dumps({
                "retrieval": dataclasses.asdict(config.retrieval), "model_key": model_key,
                "dimension": dimension, "titles": titles, "seq_stride": corpus.max_seq()}))
            log(f"bench: {stats['articles']:,} articles, {stats['passages']:,} passages; "
                f"{real:,} tokenised for the index")
            query_ms = prepare_queries(workdir, questions, count, embedder, dimension)
            sizes = {}
            for n in options.sizes:
                log(f"bench: {n:,} passages…")
                sizes[str(n)] = run_size(workdir, n)
            ingest = {"pipeline_tokens_per_s": None, "encoder_tokens_per_s": None,
                      "note": "skipped: no model (--no-model)" if embedder is None else "skipped: --ingest-articles 0"}
            if embedder is not None and options.ingest_articles > 0:
                log(f"bench: ingest throughput on {options.ingest_articles} articles…")
                ingest = measure_ingest(config, eval_dir, embedder, options.ingest_articles, workdir)
            log("bench: reindex with cached vectors…")
            reindex = measure_reindex(corpus, workdir, min(reindex_n, stats["articles"]), model_key, dimension,
                                      params, titles, config.retrieval.vector_dtype)
            alerts = measure_alerts(config, PassageTable(workdir), corpus, [q.question for q in questions],
                                    model_key, embedder, dimension, params, titles, options.alert_topics,
                                    options.alert_articles, log)
        finally:
            corpus.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report = {
        "machine": machine_info(options.threads or config.model.threads),
        "data": {"eval_dir": str(eval_dir), "articles": stats["articles"], "real_passages": stats["passages"],
                 "questions": count, "distinct_questions": len(questions)},
        "dense_vectors": DENSE_NOTE, "dimension": dimension,
        "query_vectors": f"{config.model.name} encode_query" if embedder is not None else DENSE_NOTE,
        "query_embedding_ms": query_ms,
        "sizes": sizes, "ingest": ingest, **reindex, "reindex_full": options.full,
        **alerts,
    }
    report["targets"] = evaluate_targets(report)
    return report
