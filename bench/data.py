"""The benchmark's data: real eval articles saved through the project's own ingestion, their
passages tokenised into a table the per-size processes share, indexes of any size built from it
(replicating real passages past their count), and the timed questions with their vectors."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np

from index.bm25 import Bm25Params
from index.search_index import IndexShape, SearchIndex, day_number, passage_text
from index.timeparse import parse_time
from index.tokenize import tokenize
from .measure import percentile_ms, random_unit_vectors

EVAL_FILES = ("articles.jsonl.gz", "reuters-21578.jsonl.gz")
BUILD_BATCH = 5_000  # passages per Bm25Index.add call, about what one catch-up batch of 500 articles holds


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
    from index.articles import Unusable, build_article
    from index.readers import Unreadable, record_to_document

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
    The answer path only fetches articles by seq (whole, or their texts), so that is all this forwards."""

    def __init__(self, store, stride: int):
        self.store = store
        self.stride = stride

    def articles_by_seq(self, seqs: list[int]) -> dict:
        return self._replicated(self.store.articles_by_seq, seqs)

    def texts_by_seq(self, seqs: list[int]) -> dict:
        return self._replicated(self.store.texts_by_seq, seqs)

    def _replicated(self, load, seqs: list[int]) -> dict:
        real = {int(s): (int(s) - 1) % self.stride + 1 for s in seqs}
        found = load(sorted(set(real.values())))
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


def load_queries(workdir: Path, key: str, dimension: int) -> tuple[list[dict], QueryVectors]:
    spec = json.loads((workdir / "queries.json").read_text())
    matrix = np.load(workdir / "query_vectors.npy")
    vectors = {text: matrix[i] for i, text in enumerate(spec["texts"])}
    queries = [{"question": q["question"], "now": date.fromisoformat(q["now"]), "text": q["text"]}
               for q in spec["queries"]]
    return queries, QueryVectors(key, vectors, dimension)
