"""Benchmarks: query latency by stage, memory, index size, ingest and reindex speed, beside peers.

`newsbot bench` measures, in one run, each figure next to a peer measured on the same data in the
same run, and checks the project's targets. Choices, and why:

* Real data: passages come from ../shared/eval through the project's own ingestion
  (record_to_document, build_article, a SQLite store) and BM25 tokens from index.tokenize over
  index.search_index.passage_text, as the index builds them. Sizes past the real passage count
  replicate real passages (copies get article seqs of their own) and say so ("replicated").
* Dense vectors are random unit vectors of the model's dimension: embedding a million passages is
  days of CPU, and the cost of the matrix-vector product depends only on the matrix's shape.
  Query vectors are real (the bundled model's encode_query), computed once; their cost is reported
  apart ("query_embedding_ms") and is not in the answer-path figures.
* One subprocess per size: peak RSS (VmHWM) only ever grows in a process, so a per-size figure
  needs a fresh process. The subprocess never loads torch or the model: its RSS is the index, the
  store connection and the Python libraries a server needs besides the model.
* The answer path timed is the real Answerer.answer over a real SearchIndex, filled in bulk through
  the calls SearchIndex.add makes (Bm25Index.add and the arrays' extend). Stage times come from
  clocks put around the real methods it calls, not from a copy of the retrieval code that could
  drift from it; a stage that stops being observed is reported as null with a note.
* Peers run after the peak RSS is read, on the same token lists and queries: rank-bm25 (the scoring
  the project reproduces), bm25s (a fast sparse BM25), and numpy brute force for the dense stage.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import gzip
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from .answers import Answerer
from .bench_alerts import ALERT_ARTICLES, ALERT_TOPICS, measure_alerts
from .bm25 import Bm25Params
from .config import Config, RetrievalConfig
from .embedding import text_hash
from .retrieval import Retriever, _top
from .search_index import (
    IndexManager,
    IndexShape,
    SearchIndex,
    day_number,
    passage_text,
)
from .store import SqliteStore
from .timeparse import parse_time
from .tokenize import tokenize

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
EVAL_FILES = ("articles.jsonl.gz", "reuters-21578.jsonl.gz")
MIN_QUESTIONS = 200  # percentiles need enough queries: the dev questions are repeated up to this
WARMUP_QUERIES = 3  # first queries pay one-off costs (idf cache, SQLite page cache)
TOP_K = 200  # the retriever's candidates per method; the peers return as many
BUILD_BATCH = 5_000  # passages per Bm25Index.add call, about what one catch-up batch of 500 articles holds
RANK_BM25_LIMIT_S = 2.0  # rank-bm25 is timed only where one query takes less than this
RANK_BM25_PROBE = 20_000  # its cost is linear in passages: probed on this many, then extrapolated
RANK_BM25_QUERIES = 20  # queries timed on rank-bm25 (near a second each at 100k passages)
REINDEX_ARTICLES = 5_000  # without --full; --full reindexes every real article (~45k)
DENSE_NOTE = "random unit vectors"
STAGES = ("bm25", "dense", "fusion", "sentences", "articles")
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


# -- small measuring helpers --------------------------------------------------------------------
def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM) in MiB; getrusage where /proc is absent."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / (1024 * 1024)


def percentile_ms(seconds: list[float], q: float) -> float | None:
    return round(float(np.percentile(seconds, q)) * 1000, 3) if seconds else None


def random_unit_vectors(rng: np.random.Generator, n: int, dimension: int) -> np.ndarray:
    vectors = rng.standard_normal((n, dimension), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def time_calls(call: Callable[[object], object], inputs: list) -> list[float]:
    """Seconds taken by call(x) for each input, one perf_counter pair per call."""
    out = []
    for item in inputs:
        started = time.perf_counter()
        call(item)
        out.append(time.perf_counter() - started)
    return out


def time_interleaved(calls: dict[str, Callable[[object], object]], inputs: list) -> dict[str, list[float]]:
    """time_calls for several rivals, taking turns on each input (and each going first in turn), so
    that a burst of load from elsewhere on a shared machine lands on all of them alike."""
    out: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for i, item in enumerate(inputs):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            calls[name](item)
            out[name].append(time.perf_counter() - started)
    return out


def machine_info(threads: int) -> dict:
    from importlib import metadata

    def version(package: str) -> str | None:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    return {
        "cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
        "numpy": np.__version__, "torch": version("torch"), "torch_threads": threads,
        "bm25s": version("bm25s"), "rank_bm25": version("rank-bm25"),
    }


# -- the real data ------------------------------------------------------------------------------
def eval_data_missing(eval_dir: Path) -> str | None:
    """Why the benchmark cannot run on eval_dir, or None when it can."""
    if (eval_dir / "questions_dev.jsonl").is_file() and any((eval_dir / f).is_file() for f in EVAL_FILES):
        return None
    return (f"evaluation data not found in {eval_dir} (expected ../shared/eval with questions_dev.jsonl "
            f"and {' / '.join(EVAL_FILES)}); skipping the benchmark")


def iter_records(eval_dir: Path) -> Iterator[dict]:
    """Article records of the eval files, news first, then Reuters."""
    for name in EVAL_FILES:
        path = eval_dir / name
        if not path.is_file():
            continue
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue


def fill_corpus_store(store, eval_dir: Path, passage_words: int, min_passages: int, min_articles: int,
                      max_file_bytes: int) -> None:
    """Save real articles, built by ingestion's own code, until the store holds enough of both (or
    the data runs out). Duplicates and unusable records are skipped as ingestion skips them."""
    from .articles import Unusable, build_article
    from .readers import Unreadable, record_to_document

    passages = articles = 0
    for number, record in enumerate(iter_records(eval_dir)):
        if passages >= min_passages and articles >= min_articles:
            return
        try:
            article = build_article(record_to_document(record, f"bench:{number}", max_file_bytes), passage_words)
        except (Unreadable, Unusable):
            continue
        if store.save(article).added:
            passages += len(article.passages)
            articles += 1


def write_passage_table(store, folder: Path, titles: bool, limit: int) -> int:
    """Tokenise the store's passages (in seq order, as the index reads them) into a compact table
    the per-size processes share: token ids, offsets, and each passage's seq, index and day."""
    vocab: dict[str, int] = {}
    ids: list[int] = []
    offsets, seqs, pidx, days = [0], [], [], []
    after = 0
    while len(seqs) < limit:
        articles = store.articles_after(after, limit=500)
        if not articles:
            break
        for article in articles:
            for p in article.passages:
                if len(seqs) >= limit:
                    break
                ids.extend(vocab.setdefault(t, len(vocab)) for t in tokenize(passage_text(article, p.index, titles)))
                offsets.append(len(ids))
                seqs.append(article.seq)
                pidx.append(p.index)
                days.append(day_number(article.date))
        after = articles[-1].seq
    np.savez(folder / "passages.npz", ids=np.asarray(ids, np.int32), offsets=np.asarray(offsets, np.int64),
             seq=np.asarray(seqs, np.int64), pidx=np.asarray(pidx, np.int32), day=np.asarray(days, np.int32))
    terms = [""] * len(vocab)
    for term, i in vocab.items():
        terms[i] = term
    (folder / "vocab.json").write_text(json.dumps(terms))
    return len(seqs)


class PassageTable:
    """The real passages' tokens and positions, loaded in a per-size process."""

    def __init__(self, folder: Path):
        with np.load(folder / "passages.npz") as arrays:
            self.ids, self.offsets = arrays["ids"], arrays["offsets"]
            self.seq, self.pidx, self.day = arrays["seq"], arrays["pidx"], arrays["day"]
        self.vocab = np.asarray(json.loads((folder / "vocab.json").read_text()), dtype=object)
        self.count = len(self.seq)

    def token_lists(self, rows: np.ndarray) -> list[list[str]]:
        """Token lists of the given real passages (the strings are shared, as interned tokens are)."""
        return [self.vocab[self.ids[self.offsets[r] : self.offsets[r + 1]]].tolist() for r in rows.tolist()]


# -- one size, in its own process ---------------------------------------------------------------
def build_search_index(table: PassageTable, n: int, shape: IndexShape, dimension: int, params: Bm25Params,
                       seq_stride: int, seed: int = 0) -> SearchIndex:
    """A SearchIndex of n passages filled as SearchIndex.add fills it (Bm25Index.add, then the
    arrays' extend), in batches and without compacting until the end, with room for the vectors
    reserved first, as a rebuild does. Row i is real passage i mod R; its copy number k shifts its
    article seq by k × seq_stride."""
    index = SearchIndex(shape, dimension, params)
    index.vectors.reserve(n)
    rng = np.random.default_rng(seed)
    for start in range(0, n, BUILD_BATCH):
        rows = np.arange(start, min(n, start + BUILD_BATCH))
        real, copy = rows % table.count, rows // table.count
        index.bm25.add(table.token_lists(real))
        index.article_seq.extend(table.seq[real] + copy * seq_stride)
        index.passage_idx.extend(table.pidx[real])
        index.day.extend(table.day[real])
        index.vectors.extend(random_unit_vectors(rng, len(rows), dimension))
    index.watermark = int(index.article_seq.view.max()) if n else 0
    index.bm25.compact()
    return index


class ReplicaStore:
    """The corpus store seen through replicated seqs: copy k of article s has seq s + k × stride.
    The answer path only fetches articles by seq, so that is all this forwards."""

    def __init__(self, store, stride: int):
        self.store = store
        self.stride = stride

    def articles_by_seq(self, seqs: list[int]) -> dict:
        real = {int(s): (int(s) - 1) % self.stride + 1 for s in seqs}
        found = self.store.articles_by_seq(sorted(set(real.values())))
        return {s: found[r] for s, r in real.items() if r in found}


class QueryVectors:
    """Stands in for the Embedder at query time: the vectors the real model gave, looked up by text."""

    def __init__(self, key: str, vectors: dict[str, np.ndarray], dimension: int):
        self.key = key
        self.dimension = dimension
        self.vectors = vectors
        self.misses = 0

    def encode_query(self, text: str) -> np.ndarray:
        vector = self.vectors.get(text)
        if vector is None:  # the question was parsed differently from the parent's parse
            self.misses += 1
            vector = random_unit_vectors(np.random.default_rng(len(text)), 1, self.dimension)[0]
        return vector


class StageClock:
    """Seconds spent per stage, accumulated by wrappers around the real calls."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)

    def wrap(self, stage: str, call: Callable) -> Callable:
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                self.seconds[stage] += time.perf_counter() - started

        return timed


class _TimedVectors:
    """The index's vectors as the retriever sees them while timed: `scores` is clocked as "dense"."""

    def __init__(self, inner, clock: StageClock):
        self._inner = inner
        self._clock = clock

    def scores(self, query: np.ndarray) -> np.ndarray:
        started = time.perf_counter()
        try:
            return self._inner.scores(query)
        finally:
            self._clock.seconds["dense"] += time.perf_counter() - started

    def __getattr__(self, name: str):
        return getattr(self._inner, name)


@contextmanager
def instrumented(answerer: Answerer, index: SearchIndex, clock: StageClock):
    """Clocks around the real methods one answer calls. Instance attributes shadow the methods for
    the duration and are removed afterwards; a missing method fails here rather than silently."""
    wrapped = [(index.bm25, "scores_and_matches", "bm25"), (answerer.retriever, "search", "search"),
               (answerer, "_relevant", "sentences"), (answerer, "_quotes", "sentences")]
    for owner, name, stage in wrapped:
        setattr(owner, name, clock.wrap(stage, getattr(owner, name)))
    vectors = index.vectors
    index.vectors = _TimedVectors(vectors, clock)
    try:
        yield
    finally:
        index.vectors = vectors
        for owner, name, _ in wrapped:
            delattr(owner, name)


def time_answers(answerer: Answerer, index: SearchIndex, queries: list[dict]) -> dict:
    """Whole answer path (query vector looked up, not computed) per query, and its stages:
    bm25 = Bm25Index.scores_and_matches; dense = the vector matrix product; fusion = the rest of
    Retriever.search (time scope, masks, fusion, top-k, recency, grouping); articles = fetching the
    hit articles from the store and dropping near-duplicate stories; sentences = the relevance check
    and the choice of quoted sentences."""
    clock = StageClock()
    totals: list[float] = []
    stages: dict[str, list[float]] = {s: [] for s in STAGES}
    with instrumented(answerer, index, clock):
        for q in queries[:WARMUP_QUERIES]:
            answerer.answer(q["question"], now=q["now"])
        for q in queries:
            clock.seconds.clear()
            started = time.perf_counter()
            answerer.answer(q["question"], now=q["now"], mode="hybrid")
            total = time.perf_counter() - started
            s = clock.seconds
            totals.append(total)
            stages["bm25"].append(s["bm25"])
            stages["dense"].append(s["dense"])
            stages["fusion"].append(s["search"] - s["bm25"] - s["dense"])
            stages["sentences"].append(s["sentences"])
            stages["articles"].append(total - s["search"] - s["sentences"])
    unobserved = [name for name in ("bm25", "dense", "sentences") if not any(stages[name])]
    return {
        "p50_ms": percentile_ms(totals, 50), "p95_ms": percentile_ms(totals, 95),
        "p99_ms": percentile_ms(totals, 99),
        "stages_ms": {name: None if name in unobserved else percentile_ms(values, 50)
                      for name, values in stages.items()},
        "stages_unobserved": unobserved,
    }


def bm25_top(index: SearchIndex) -> Callable[[list[str]], np.ndarray]:
    """Ours, like-for-like with the peers: every passage's score, then the retriever's top-k."""
    return lambda tokens: _top(index.bm25.scores_and_matches(tokens)[0], TOP_K)


def time_bm25_vs_bm25s(index: SearchIndex, corpus: list[list[str]], params: Bm25Params,
                       query_tokens: list[list[str]]) -> dict:
    """Ours beside bm25s (indexed on the same token lists, retrieving the top-k), taking turns."""
    ours = bm25_top(index)
    try:
        import bm25s
    except ImportError:
        seconds = time_calls(ours, query_tokens)
        return {"bm25_p50_ms": percentile_ms(seconds, 50), "bm25s_p50_ms": None,
                "bm25s_note": "skipped: bm25s not installed"}
    method = {"bm25plus": "bm25+", "bm25l": "bm25l", "okapi": "robertson"}[params.variant]
    model = bm25s.BM25(method=method, k1=params.k1, b=params.b, delta=params.delta)
    before = current_rss_mb()
    model.index(corpus, show_progress=False)
    grown = current_rss_mb() - before
    k = min(TOP_K, len(corpus))
    seconds = time_interleaved(
        {"ours": ours, "bm25s": lambda tokens: model.retrieve([tokens], k=k, show_progress=False)}, query_tokens)
    return {"bm25_p50_ms": percentile_ms(seconds["ours"], 50), "bm25s_p50_ms": percentile_ms(seconds["bm25s"], 50),
            "bm25s_rss_mb": round(grown, 1)}


def _rank_bm25(corpus: list[list[str]], params: Bm25Params):
    import rank_bm25

    if params.variant == "okapi":
        return rank_bm25.BM25Okapi(corpus, k1=params.k1, b=params.b, epsilon=params.epsilon)
    kind = rank_bm25.BM25L if params.variant == "bm25l" else rank_bm25.BM25Plus
    return kind(corpus, k1=params.k1, b=params.b, delta=params.delta)


def bm25_agrees(ours: np.ndarray, theirs: np.ndarray, k: int = 10) -> bool:
    """Equal scores (to 1e-9) and the same top-k, ties allowed to fall either way."""
    if not np.allclose(ours, theirs, rtol=1e-9, atol=1e-9):
        return False
    top = _top(ours, k)
    return bool(np.allclose(np.sort(theirs[top])[::-1], np.sort(theirs)[::-1][: len(top)], rtol=1e-9, atol=1e-9))


def time_rank_bm25(corpus: list[list[str]], params: Bm25Params, index: SearchIndex,
                   query_tokens: list[list[str]]) -> dict:
    """rank-bm25's get_scores + argsort, where one query takes under RANK_BM25_LIMIT_S (estimated on
    a slice first: building it on a million passages alone takes minutes and gigabytes)."""
    before = current_rss_mb()
    try:
        probe = _rank_bm25(corpus[: min(len(corpus), RANK_BM25_PROBE)], params)
    except ImportError:
        return {"rank_bm25_p50_ms": None, "rank_bm25_note": "skipped: rank-bm25 not installed"}
    probe_s = float(np.median(time_calls(probe.get_scores, query_tokens[:3])))
    estimate = probe_s * len(corpus) / min(len(corpus), RANK_BM25_PROBE)
    if estimate >= RANK_BM25_LIMIT_S:
        return {"rank_bm25_p50_ms": None,
                "rank_bm25_note": f"skipped: about {estimate:.1f} s per query (over {RANK_BM25_LIMIT_S:.0f} s)"}
    model = probe if len(corpus) <= RANK_BM25_PROBE else _rank_bm25(corpus, params)
    del probe
    grown = current_rss_mb() - before
    queries = query_tokens[:RANK_BM25_QUERIES]
    seconds = time_calls(lambda tokens: np.argsort(-model.get_scores(tokens)), queries)
    agree = [bm25_agrees(index.bm25.scores(tokens), model.get_scores(tokens)) for tokens in queries]
    return {"rank_bm25_p50_ms": percentile_ms(seconds, 50), "rank_bm25_queries": len(queries),
            "rank_bm25_rss_mb": round(grown, 1),
            "rank_bm25_agree": sum(agree) / len(agree) if agree else None}


def time_dense(index: SearchIndex, query_vectors: list[np.ndarray]) -> dict:
    """Ours (the retriever's product, in the index's vector dtype, and top-k) beside plain numpy
    brute force over float32 vectors with argpartition (a float32 copy where ours are smaller)."""
    vectors = index.vectors.view if index.vectors.dtype == "float32" else index.vectors.take(slice(None))
    k = min(TOP_K, len(vectors))
    seconds = time_interleaved({
        "ours": lambda q: _top(index.vectors.scores(q), TOP_K),
        "numpy": lambda q: np.argpartition(-(vectors @ q), k - 1)[:k],
    }, query_vectors)
    return {"dense_p50_ms": percentile_ms(seconds["ours"], 50),
            "dense_numpy_p50_ms": percentile_ms(seconds["numpy"], 50)}


def load_queries(workdir: Path, key: str, dimension: int) -> tuple[list[dict], QueryVectors]:
    spec = json.loads((workdir / "queries.json").read_text())
    matrix = np.load(workdir / "query_vectors.npy")
    vectors = {text: matrix[i] for i, text in enumerate(spec["texts"])}
    queries = [{"question": q["question"], "now": date.fromisoformat(q["now"]), "text": q["text"]}
               for q in spec["queries"]]
    return queries, QueryVectors(key, vectors, dimension)


def current_rss_mb() -> float:
    """This process's resident set now (VmRSS) in MiB: what a peer's index adds is measured as the
    growth of this figure while it is built and held."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mb()


def _meta(workdir: Path) -> tuple[dict, RetrievalConfig, Bm25Params, IndexShape]:
    meta = json.loads((workdir / "meta.json").read_text())
    retrieval = RetrievalConfig(**meta["retrieval"])
    params = Bm25Params(variant=retrieval.bm25_variant, k1=retrieval.k1, b=retrieval.b, delta=retrieval.delta)
    shape = IndexShape(model=meta["model_key"], titles=meta["titles"], vector_dtype=retrieval.vector_dtype)
    return meta, retrieval, params, shape


def measure_build(workdir: Path, n: int) -> dict:
    """Build the index of n passages as a rebuild does and save it: its build time, the peak RSS of
    building it (nothing else in the process) and its size on disk. Meant for a fresh process."""
    meta, _, params, shape = _meta(workdir)
    table = PassageTable(workdir)
    started = time.perf_counter()
    index = build_search_index(table, n, shape, meta["dimension"], params, meta["seq_stride"])
    result = {"passages": n, "replicated": n > table.count, "real_passages": table.count,
              "build_s": round(time.perf_counter() - started, 3), "build_rss_mb": round(peak_rss_mb(), 1),
              "vector_dtype": shape.vector_dtype}
    saved = workdir / f"index-{n}"
    saved.mkdir()
    index.save(saved)
    result["disk_mb"] = round(folder_mb(saved), 2)
    return result


def measure_serve(workdir: Path, n: int) -> dict:
    """Load the saved index as a server starts, answer every question (peak RSS read now: the
    index, the store connection and the libraries the answer path uses, torch included where the
    vectors are float16), then time the peers and measure what each one's index adds to the RSS."""
    meta, retrieval, params, _ = _meta(workdir)
    started = time.perf_counter()
    index = SearchIndex.load(workdir / f"index-{n}", params)
    result = {"load_s": round(time.perf_counter() - started, 3)}
    queries, query_vectors = load_queries(workdir, meta["model_key"], meta["dimension"])
    store = SqliteStore(workdir / "corpus.db")
    try:
        replicas = ReplicaStore(store, meta["seq_stride"])
        manager = IndexManager(replicas, query_vectors, params, meta["titles"], vector_dtype=retrieval.vector_dtype)
        manager.current = index
        answerer = Answerer(replicas, Retriever(manager, query_vectors, retrieval), retrieval)
        result.update(time_answers(answerer, index, queries))
        result["rss_mb"] = round(peak_rss_mb(), 1)
    finally:
        store.close()
    result["questions"] = len(queries)
    result["query_vector_misses"] = query_vectors.misses

    peers_mb = {}
    query_tokens = [tokenize(q["text"]) for q in queries]
    result.update(time_dense(index, [query_vectors.encode_query(q["text"]) for q in queries]))
    table = PassageTable(workdir)
    real_lists = table.token_lists(np.arange(table.count))
    corpus = [real_lists[i % table.count] for i in range(n)]
    gc.collect()
    before = current_rss_mb()
    result.update(time_bm25_vs_bm25s(index, corpus, params, query_tokens))
    peers_mb["bm25s"] = result.pop("bm25s_rss_mb", None)
    gc.collect()
    before = current_rss_mb()
    result.update(time_rank_bm25(corpus, params, index, query_tokens))
    if result.get("rank_bm25_p50_ms") is not None:
        peers_mb["rank_bm25"] = round(result.pop("rank_bm25_rss_mb", current_rss_mb() - before), 1)
    result["peers_rss_mb"] = peers_mb
    return result


# -- the parent: data, subprocesses, ingest, reindex --------------------------------------------
def prepare_queries(workdir: Path, questions: list, count: int, embedder, dimension: int) -> float | None:
    """Write the timed queries (questions repeated to `count`) and one vector per distinct parsed
    text; with an embedder the vectors are real and each encode_query is timed (p50 returned)."""
    queries = []
    for i in range(count):
        q = questions[i % len(questions)]
        text = parse_time(" ".join(q.question.split()), q.asked).text  # what Retriever.search embeds
        queries.append({"question": q.question, "now": q.asked.isoformat(), "text": text})
    texts = sorted({q["text"] for q in queries})
    if embedder is None:
        matrix = random_unit_vectors(np.random.default_rng(1), len(texts), dimension)
        encode_ms = None
    else:
        embedder.encode_query("warm-up")
        rows, seconds = [], []
        for text in texts:
            started = time.perf_counter()
            rows.append(embedder.encode_query(text))
            seconds.append(time.perf_counter() - started)
        matrix = np.vstack(rows).astype(np.float32)
        encode_ms = percentile_ms(seconds, 50)
    np.save(workdir / "query_vectors.npy", matrix)
    (workdir / "queries.json").write_text(json.dumps({"texts": texts, "queries": queries}))
    return encode_ms


def _run_phase(workdir: Path, n: int, phase: str) -> dict:
    out = workdir / f"{phase}-{n}.json"
    command = [sys.executable, "-m", "index.bench", "--one-size", str(n), "--phase", phase,
               "--workdir", str(workdir), "--out", str(out)]
    done = subprocess.run(command, cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0 or not out.is_file():
        tail = (done.stderr or "").strip().splitlines()[-3:]
        return {"passages": n, "error": f"{phase}: exit code {done.returncode}: {' | '.join(tail)}"}
    return json.loads(out.read_text())


def run_size(workdir: Path, n: int) -> dict:
    """One size in two fresh interpreters (peak RSS only ever grows in a process): one builds and
    saves the index, the other loads it, as a server starts, answers, then times the peers."""
    try:
        result = _run_phase(workdir, n, "build")
        if "error" not in result:
            result.update(_run_phase(workdir, n, "serve"))
        return result
    finally:
        shutil.rmtree(workdir / f"index-{n}", ignore_errors=True)


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
        return {"reindex_s": round(seconds, 3), "reindex_articles": copied, "reindex_passages": index.size}
    finally:
        store.close()


def measure_ingest(config: Config, eval_dir: Path, embedder, n_articles: int, workdir: Path) -> dict:
    """Tokens per second through the ingest pipeline (build_article, the store, tokenising and
    embedding through IndexManager's catch-up, as Engine.ingest does) beside the bare
    SentenceTransformer.encode on the same passage texts. Tokens are the model tokenizer's, after
    its truncation: what the encoder actually processes."""
    from itertools import islice

    from .engine import bm25_params
    from .ingest import ingest_documents
    from .readers import Unreadable, record_to_document

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
        IndexManager.for_store(store, embedder, bm25_params(config),
                               vector_dtype=config.retrieval.vector_dtype).open()
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


def parse_sizes(text: str) -> tuple[int, ...]:
    sizes = tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())
    if not sizes or min(sizes) < 1:
        raise ValueError(f"expected positive passage counts like 10000,100000, got {text!r}")
    return sizes


def run_benchmark(config: Config, eval_dir: Path, options: BenchOptions, log: Log = lambda _: None,
                  embedder=None) -> dict:
    """The whole benchmark; returns the report (the JSON written by `newsbot bench`)."""
    from .embedding import Embedder
    from .engine import bm25_params
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
                      "note": "skipped: no model (--no-model)"}
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


# -- targets and the table ----------------------------------------------------------------------
def _target(name: str, value: float | None, ok: Callable[[float], bool], detail: str) -> dict:
    status = "not measured" if value is None else ("met" if ok(value) else "missed")
    return {"target": name, "status": status, "detail": detail}


def evaluate_targets(report: dict) -> list[dict]:
    sizes = report["sizes"]
    at_1m, at_100k = sizes.get("1000000", {}), sizes.get("100000", {})
    targets = []
    p95 = at_1m.get("p95_ms")
    targets.append(_target("p95 <= 50 ms at 1M passages", p95, lambda v: v <= 50,
                           f"p95 {_ms(p95)}" if p95 is not None else "1000000 not in --sizes"))
    pairs = [(n, s["bm25_p50_ms"], s["bm25s_p50_ms"]) for n, s in sizes.items()
             if s.get("bm25_p50_ms") is not None and s.get("bm25s_p50_ms") is not None]
    worst = max((ours / theirs for _, ours, theirs in pairs), default=None)
    targets.append(_target("bm25 stage at least as fast as bm25s", worst, lambda v: v <= 1.0,
                           "; ".join(f"{int(n):,}: {_ms(a)} vs {_ms(b)}" for n, a, b in pairs) or "no sizes"))
    ours, theirs = at_100k.get("bm25_p50_ms"), at_100k.get("rank_bm25_p50_ms")
    speedup = theirs / ours if ours and theirs else None
    targets.append(_target(">= 100x faster than rank-bm25 at 100k", speedup, lambda v: v >= 100,
                           f"{speedup:.0f}x" if speedup else at_100k.get("rank_bm25_note", "100000 not in --sizes")))
    ingest = report["ingest"]
    ratio = (ingest["pipeline_tokens_per_s"] / ingest["encoder_tokens_per_s"]
             if ingest.get("pipeline_tokens_per_s") and ingest.get("encoder_tokens_per_s") else None)
    targets.append(_target("ingest pipeline >= 0.9x encoder tokens/s", ratio, lambda v: v >= 0.9,
                           f"{ratio:.2f}x" if ratio else ingest.get("note", "")))
    rss = at_1m.get("rss_mb")
    targets.append(_target("peak RSS <= 1.5 GiB at 1M passages (serving: index loaded, answering)", rss,
                           lambda v: v <= 1536,
                           f"{rss:,.0f} MiB serving; building it peaks at {at_1m.get('build_rss_mb', 0):,.0f} MiB "
                           "in a process of its own" if rss is not None else "1000000 not in --sizes"))
    seconds = report.get("reindex_s") if report.get("reindex_full") else None
    detail = (f"{report.get('reindex_articles', 0):,} articles in {report.get('reindex_s', 0):.1f} s"
              + ("" if report.get("reindex_full") else " (not all ~45k: run with --full)"))
    targets.append(_target("reindex of 45k articles <= 60 s", seconds, lambda v: v <= 60, detail))
    alert = (report.get("alert_match_ms") or {}).get("100000")
    p95 = alert.get("p95_ms") if alert else None
    targets.append(_target("matching one article against 100k topics <= 20 ms (p95)", p95, lambda v: v <= 20,
                           f"p50 {_ms(alert['p50_ms'])}, p95 {_ms(p95)} over {alert['articles']} articles"
                           if alert else "100000 not among the alert topic counts"))
    return targets


def _ms(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms"


def _versus(label: str, ours: float | None, peer: str, theirs: float | None, note: str = "") -> str:
    """'bm25 3.1 ms vs bm25s 2.0 ms (0.65x)': the ratio is the peer's time over ours (above 1: faster)."""
    if theirs is None:
        return f"{label} {_ms(ours)} vs {peer} {note or 'n/a'}"
    ratio = f" ({theirs / ours:.2f}x)" if ours else ""
    return f"{label} {_ms(ours)} vs {peer} {_ms(theirs)}{ratio}"


def _size_lines(n: str, s: dict) -> list[str]:
    head = f"{int(n):,} passages" + (f" (real passages replicated from {s['real_passages']:,})"
                                     if s.get("replicated") else " (real)")
    if "error" in s:
        return [head, f"  failed: {s['error']}"]
    stages = " · ".join(f"{k} {_ms(v)}" for k, v in s["stages_ms"].items())
    agree = s.get("rank_bm25_agree")
    return [
        head,
        (f"  answer path  p50 {_ms(s['p50_ms'])}  p95 {_ms(s['p95_ms'])}  p99 {_ms(s['p99_ms'])}"
         f"  ({s['questions']} questions)"),
        f"  stages p50   {stages}",
        "  " + _versus("bm25", s["bm25_p50_ms"], "bm25s", s.get("bm25s_p50_ms"), s.get("bm25s_note", "")),
        "  " + _versus("bm25", s["bm25_p50_ms"], "rank-bm25", s.get("rank_bm25_p50_ms"), s.get("rank_bm25_note", ""))
        + (f"; same top 10 on {agree:.0%} of queries" if agree is not None else ""),
        "  " + _versus("dense", s["dense_p50_ms"], "numpy brute force", s["dense_numpy_p50_ms"]),
        (f"  memory       peak RSS serving {s['rss_mb']:,.0f} MiB (loaded in {s['load_s']:.1f} s) · building "
         f"{s['build_rss_mb']:,.0f} MiB (in {s['build_s']:.1f} s) · on disk {s['disk_mb']:,.1f} MiB "
         f"· vectors {s['vector_dtype']}"),
        "  peers' RSS   " + (" · ".join(f"{k} +{v:,.0f} MiB" for k, v in s.get("peers_rss_mb", {}).items()
                                      if v is not None) or "n/a") + " (each one's growth, measured apart)",
    ]


def _alert_lines(report: dict) -> list[str]:
    sizes = report.get("alert_match_ms")
    if not sizes:
        return [f"alert match  n/a: {report.get('alert_match_note', '')}"]
    lines = []
    for n, a in sizes.items():
        lines.append(
            f"alert match  {int(n):,} topics: p50 {_ms(a['p50_ms'])} p95 {_ms(a['p95_ms'])} per article "
            f"(tokenise + match, {a['articles']} articles, {a['passages_per_article']:.1f} passages each); "
            + _versus("match", a["match_p50_ms"], "brute force", a["brute_force_p50_ms"])
            + f", dense product alone {_ms(a['dense_floor_p50_ms'])}, per-topic loop {_ms(a['per_topic_loop_p50_ms'])}"
            f"; same matches as brute force on {a['same_hits_as_brute_force']:.0%}; every topic at 0.45: "
            f"p50 {_ms(a['low_threshold_p50_ms'])} p95 {_ms(a['low_threshold_p95_ms'])}")
    lines.append(f"             ({report['alert_match_note']})")
    return lines


def format_report(report: dict) -> str:
    m, data = report["machine"], report["data"]
    lines = [
        (f"newsbot bench: {m['cpus']} CPUs, Python {m['python']}, numpy {m['numpy']}, torch {m['torch']} "
         f"({m['torch_threads'] or 'default'} threads)"),
        (f"data: {data['articles']:,} real articles, {data['real_passages']:,} passages; "
         f"{data['questions']} timed questions ({data['distinct_questions']} distinct)"),
        f"dense vectors: {report['dense_vectors']} ({report['dimension']}-d); query vectors: {report['query_vectors']}"
        + (f", encode_query p50 {_ms(report['query_embedding_ms'])} (not in the answer-path figures)"
           if report["query_embedding_ms"] is not None else ""),
        "ratios: the peer's time over ours (above 1x: newsbot is faster)",
        "",
    ]
    for n, s in report["sizes"].items():
        lines += _size_lines(n, s) + [""]
    ingest = report["ingest"]
    if ingest.get("pipeline_tokens_per_s"):
        lines.append(f"ingest       pipeline {ingest['pipeline_tokens_per_s']:,.0f} tokens/s vs encoder "
                     f"{ingest['encoder_tokens_per_s']:,.0f} tokens/s ({ingest['ratio']:.2f}x; "
                     f"{ingest['articles']} articles, {ingest['passages']} passages)")
    else:
        lines.append(f"ingest       {ingest.get('note', 'n/a')}")
    lines.append(f"reindex      {report['reindex_articles']:,} articles ({report['reindex_passages']:,} passages) "
                 f"in {report['reindex_s']:.1f} s, every vector cached")
    lines += _alert_lines(report)
    lines += ["", "targets"]
    lines += [f"  {t['status']:>12}  {t['target']}: {t['detail']}" for t in report["targets"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`python -m index.bench --one-size N --phase build|serve --workdir W --out PATH`: one size's
    phase, for run_size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one-size", type=int, required=True)
    parser.add_argument("--phase", choices=["build", "serve"], required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    measure = measure_build if args.phase == "build" else measure_serve
    args.out.write_text(json.dumps(measure(args.workdir, args.one_size)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
