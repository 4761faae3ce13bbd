"""Ingest throughput (the pipeline against the bare encoder on the same passages) and the
reindex with every vector cached."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from index.bm25 import Bm25Params
from index.config import Config
from index.embedding import text_hash
from index.index_manager import IndexManager
from index.search_index import passage_text
from index.store import SqliteStore
from .data import iter_records
from .measure import random_unit_vectors

REINDEX_ARTICLES = 5_000  # without --full; --full reindexes every real article (~45k)


class CachedVectorsOnly:
    """An embedder for the reindex benchmark: the model's cache key, and no model. Asked to embed
    anything, it fails, which proves the rebuild found every vector in the store's cache."""

    def __init__(self, key: str, dimension: int):
        self.key = key
        self.dimension = dimension

    def encode(self, texts):
        raise RuntimeError(f"reindex benchmark: {len(texts)} vectors missing from the cache")


def measure_reindex(corpus_store, workdir: Path, n_articles: int, key: str, dimension: int,
                    params: Bm25Params, titles: bool, vector_dtype: str = "float32") -> dict:
    """IndexManager.rebuild() over a store of n real articles whose vectors are all cached."""
    store = SqliteStore(workdir / "reindex.db")
    rng = np.random.default_rng(2)
    try:
        copied, after = 0, 0
        while copied < n_articles:
            articles = corpus_store.articles_after(after, limit=min(500, n_articles - copied))
            if not articles:
                break
            hashes = set()
            for article in articles:
                store.save(article)
                hashes.update(text_hash(passage_text(article, p.index, titles)) for p in article.passages)
            ordered = sorted(hashes)
            store.put_vectors(key, zip(ordered, random_unit_vectors(rng, len(ordered), dimension)))
            copied += len(articles)
            after = articles[-1].seq
        manager = IndexManager.for_store(store, CachedVectorsOnly(key, dimension), params, titles, vector_dtype)
        started = time.perf_counter()
        index = manager.rebuild()
        seconds = time.perf_counter() - started
        return {"reindex_s": round(seconds, 3), "reindex_articles": copied, "reindex_passages": index.size,
                "reindex_note": "IndexManager.rebuild() of a store whose every passage vector is cached; the "
                                "cached vectors are random unit vectors seeded in the benchmark's own store "
                                "(only the rebuild is timed, and it never reads a vector's values)"}
    finally:
        store.close()


def measure_ingest(config: Config, eval_dir: Path, embedder, n_articles: int, workdir: Path) -> dict:
    """Tokens per second through the ingest pipeline (build_article, the store, tokenising and
    embedding through IndexManager's catch-up, as Engine.ingest does) beside the bare
    SentenceTransformer.encode on the same passage texts. Tokens are the model tokenizer's, after
    its truncation: what the encoder actually processes."""
    from itertools import islice

    from index.engine import bm25_params
    from index.ingest import ingest_documents
    from index.readers import Unreadable, record_to_document

    docs = []
    for i, record in enumerate(islice(iter_records(eval_dir), n_articles)):
        try:
            docs.append(record_to_document(record, f"ingest:{i}", config.ingest.max_file_bytes))
        except Unreadable:
            continue
    model = embedder.model
    model.encode([docs[0].text[:500]] * 4, show_progress_bar=False)  # warm-up
    store = SqliteStore(workdir / "ingest.db")
    try:
        started = time.perf_counter()
        ingest_documents(store, docs, config.ingest)
        IndexManager.for_store(store, embedder, bm25_params(config), vector_dtype=config.retrieval.vector_dtype,
                               sign_codes_from=config.retrieval.sign_codes_from).open()
        pipeline_s = time.perf_counter() - started
        texts = {}
        for article in store.articles_after(0, limit=n_articles * 2):
            for p in article.passages:
                text = passage_text(article, p.index, True)
                texts[text_hash(text)] = text
    finally:
        store.close()
    texts = list(texts.values())
    started = time.perf_counter()
    model.encode(texts, batch_size=config.model.batch_size, normalize_embeddings=True,
                 convert_to_numpy=True, show_progress_bar=False)
    encoder_s = time.perf_counter() - started
    tokens = sum(len(ids) for ids in model.tokenizer(texts, truncation=True,
                                                       max_length=model.max_seq_length)["input_ids"])
    pipeline, encoder = tokens / pipeline_s, tokens / encoder_s
    return {"pipeline_tokens_per_s": round(pipeline, 1), "encoder_tokens_per_s": round(encoder, 1),
            "ratio": round(pipeline / encoder, 3), "articles": len(docs), "passages": len(texts),
            "tokens": tokens}
