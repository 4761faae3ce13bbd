"""One size of the benchmark, in two processes of its own: `build` fills the index as a rebuild
does and saves it (build time, build peak RSS, size on disk); `serve` loads it as a server starts,
times the real answer path by stage (peak RSS read here), then the peers on the same data: bm25s,
rank-bm25 where it finishes, numpy brute force for the dense stage, and what each peer's index
adds to the RSS. `python -m bench --one-size N --phase build|serve` runs one phase."""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from index.answers import Answerer
from index.bm25 import Bm25Params
from index.config import RetrievalConfig
from index.passage_vectors import best, storage_dtype
from index.retrieval import Retriever
from index import memory
from index.index_manager import IndexManager
from index.search_index import IndexShape, SearchIndex
from index.store import SqliteStore
from index.tokenize import tokenize
from .data import PassageTable, ReplicaStore, build_search_index, load_queries
from .measure import (
    current_rss_mb,
    fits,
    folder_mb,
    peak_rss_mb,
    percentile_ms,
    time_blocks,
    time_calls,
    time_interleaved,
)

WARMUP_QUERIES = 3  # first queries pay one-off costs (idf cache, SQLite page cache)
TOP_K = 200  # the retriever's candidates per method; the peers return as many
RANK_BM25_LIMIT_S = 2.0  # rank-bm25 is timed only where one query takes less than this
RANK_BM25_PROBE = 20_000  # its cost is linear in passages: probed on this many, then extrapolated
RANK_BM25_QUERIES = 20  # queries timed on rank-bm25 (near a second each at 100k passages)
STAGES = ("bm25", "dense", "fusion", "sentences", "articles")
# bm25s over the bench's 1M passages (68M postings), bm25s 0.3.16: 1,229 MiB kept, 3,159 MiB at the
# peak of indexing, ~19 and ~49 bytes a posting; the peer is skipped where the peak would not fit
BM25S_BYTES_PER_POSTING = 19
BM25S_BUILD_FACTOR = 2.6
MIB, GIB = 2**20, 2**30
REPO = Path(__file__).resolve().parents[1]  # the checkout: `python -m bench` runs from there


class StageClock:
    """Seconds spent per stage, accumulated by wrappers around the real calls, and when the two
    scoring stages ran: from a million passages they run at once (retrieval.parallel_stages_from),
    so the search's own time is what is left outside their union, not outside their sum."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.scoring: list[tuple[float, float]] = []  # (start, end) of each scoring call

    def clear(self) -> None:
        self.seconds.clear()
        self.scoring.clear()

    def scoring_seconds(self) -> float:
        """The time covered by at least one scoring call."""
        covered, reached = 0.0, float("-inf")
        for start, end in sorted(self.scoring):
            if end > reached:
                covered += end - max(start, reached)
                reached = end
        return covered

    @contextmanager
    def stage(self, name: str):
        """The answer path's own stage hook (Answerer.stage)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - started

    def wrap(self, stage: str, call: Callable) -> Callable:
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                self.add(stage, started, time.perf_counter())

        return timed

    def add(self, stage: str, started: float, ended: float) -> None:
        self.seconds[stage] += ended - started
        self.scoring.append((started, ended))


class _TimedVectors:
    """The index's vectors as the retriever sees them while timed: `top` is clocked as "dense"."""

    def __init__(self, inner, clock: StageClock):
        self._inner = inner
        self._clock = clock

    def top(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return self._inner.top(*args, **kwargs)
        finally:
            self._clock.add("dense", started, time.perf_counter())

    def __getattr__(self, name: str):
        return getattr(self._inner, name)


@contextmanager
def instrumented(answerer: Answerer, index: SearchIndex, clock: StageClock):
    """Clocks on the answer path: its own stage hook ("search", "sentences"), and around the two
    public scoring calls inside search (BM25's top k, and the vectors' top k), so fusion is the rest."""
    wrapped = [(index.bm25, "top", "bm25")]
    for owner, name, stage in wrapped:
        setattr(owner, name, clock.wrap(stage, getattr(owner, name)))
    vectors = index.vectors
    index.vectors = _TimedVectors(vectors, clock)
    untimed, answerer.stage = answerer.stage, clock.stage
    try:
        yield
    finally:
        answerer.stage = untimed
        index.vectors = vectors
        for owner, name, _ in wrapped:
            delattr(owner, name)


def time_answers(answerer: Answerer, index: SearchIndex, queries: list[dict]) -> dict:
    """Whole answer path (query vector looked up, not computed) per query, and its stages:
    bm25 = Bm25Index.top; dense = PassageVectors.top (the product and its top k); fusion = the rest of
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
            clock.clear()
            started = time.perf_counter()
            answerer.answer(q["question"], now=q["now"], mode="hybrid")
            total = time.perf_counter() - started
            s = clock.seconds
            totals.append(total)
            stages["bm25"].append(s["bm25"])
            stages["dense"].append(s["dense"])
            stages["fusion"].append(s["search"] - clock.scoring_seconds())
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
    """Ours, like-for-like with the peers: the retriever's top-k call."""
    return lambda tokens: index.bm25.top(tokens, TOP_K)[0]


def time_bm25_vs_bm25s(index: SearchIndex, corpus: list[list[str]], params: Bm25Params,
                       query_tokens: list[list[str]]) -> dict:
    """Ours beside bm25s (indexed on the same token lists, retrieving the top-k), taking turns."""
    ours = bm25_top(index)
    try:
        import bm25s
        skipped = None
    except ImportError:
        skipped = "skipped: bm25s not installed"
    needed = index.bm25.postings * BM25S_BYTES_PER_POSTING * BM25S_BUILD_FACTOR
    if skipped is None and not fits(needed / MIB):
        skipped = f"skipped: its index (~{needed / GIB:.1f} GiB while built) does not fit"
    if skipped:
        seconds = time_calls(ours, query_tokens)
        return {"bm25_p50_ms": percentile_ms(seconds, 50), "bm25s_p50_ms": None, "bm25s_note": skipped}
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
    top = best(ours, k)
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


def time_dense(index: SearchIndex, query_vectors: list[np.ndarray], retrieval: RetrievalConfig) -> dict:
    """Ours (the retriever's dense stage at this size: sign codes and exact rescoring from
    retrieval.sign_codes_from passages, else the exact product in the index's vector dtype, and
    its top-k) beside exact float16 search (the brute force the sign codes replace: a float16 copy
    where ours are int8) and plain numpy brute force over float32 vectors with argpartition (a
    float32 copy where ours are smaller), taking turns by blocks of queries (torch's and
    OpenBLAS's thread pools slow each other down when they alternate call by call). A peer whose
    copy would not fit in memory beside the index is skipped and says so (10M passages: a float32
    copy alone is 15 GB)."""
    n, dimension = len(index.vectors), index.vectors.dimension  # the rows a peer copies
    k = min(TOP_K, n)
    rescore = retrieval.dense_rescore if index.size >= retrieval.sign_codes_from else 0
    if rescore:
        index.vectors.top(query_vectors[0], TOP_K, rescore=rescore)  # the codes are built on first use
    calls = {"ours": lambda q: index.vectors.top(q, TOP_K, rescore=rescore)}
    notes = {}
    exact = index.vectors if index.vectors.dtype == "float16" else None
    if exact is None and fits(n * dimension * 2 / MIB):
        exact = index.vectors.astype("float16")
    if exact is not None:
        calls["exact"] = lambda q: exact.top(q, TOP_K)
    else:
        notes["dense_exact_note"] = f"skipped: its float16 copy ({n * dimension * 2 / GIB:.1f} GiB) does not fit"
    vectors = index.vectors.view if index.vectors.dtype == "float32" else None
    if vectors is None and fits(n * dimension * 4 / MIB):
        vectors = index.vectors.take(slice(None))
    if vectors is not None:
        calls["numpy"] = lambda q: np.argpartition(-(vectors @ q), k - 1)[:k]
    else:
        notes["dense_numpy_note"] = f"skipped: its float32 copy ({n * dimension * 4 / GIB:.1f} GiB) does not fit"
    seconds = time_blocks(calls, query_vectors)
    return {"dense_p50_ms": percentile_ms(seconds["ours"], 50),
            "dense_exact_p50_ms": percentile_ms(seconds.get("exact", []), 50),
            "dense_search": (f"sign codes + exact rescoring, {index.vectors.dtype}" if rescore
                             else f"exact, {index.vectors.dtype}"),
            "dense_numpy_p50_ms": percentile_ms(seconds.get("numpy", []), 50), **notes}


def _meta(workdir: Path, passages: int = 0) -> tuple[dict, RetrievalConfig, Bm25Params, IndexShape]:
    """The bench's settings, and the shape of an index of `passages` (its vector dtype may
    depend on the size: retrieval.vector_dtype "auto")."""
    meta = json.loads((workdir / "meta.json").read_text())
    retrieval = RetrievalConfig(**meta["retrieval"])
    params = Bm25Params(variant=retrieval.bm25_variant, k1=retrieval.k1, b=retrieval.b, delta=retrieval.delta)
    dtype = storage_dtype(retrieval.vector_dtype, passages, retrieval.sign_codes_from)
    shape = IndexShape(model=meta["model_key"], titles=meta["titles"], vector_dtype=dtype)
    return meta, retrieval, params, shape


def measure_build(workdir: Path, n: int) -> dict:
    """Build the index of n passages as a rebuild does and save it: its build time, the peak RSS of
    building it (nothing else in the process) and its size on disk. Meant for a fresh process."""
    meta, _, params, shape = _meta(workdir, n)
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
        retriever = Retriever(manager, query_vectors, retrieval)
        retriever.prepare()  # as Engine.open_index does, then settles memory
        memory.settle()
        answerer = Answerer(replicas, retriever, retrieval)
        result.update(time_answers(answerer, index, queries))
        result["rss_mb"] = round(peak_rss_mb(), 1)
    finally:
        store.close()
    result["questions"] = len(queries)
    result["query_vector_misses"] = query_vectors.misses

    peers_mb = {}
    query_tokens = [tokenize(q["text"]) for q in queries]
    result.update(time_dense(index, [query_vectors.encode_query(q["text"]) for q in queries], retrieval))
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


def _run_phase(workdir: Path, n: int, phase: str) -> dict:
    out = workdir / f"{phase}-{n}.json"
    command = [sys.executable, "-m", "bench", "--one-size", str(n), "--phase", phase,
               "--workdir", str(workdir), "--out", str(out)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
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


def main(argv: list[str] | None = None) -> int:
    """`python -m bench --one-size N --phase build|serve --workdir W --out PATH`: one size's
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
