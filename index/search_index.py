"""The search index: BM25 postings and dense vectors of every passage, kept beside the store.

Layout on disk (`<store>.index/`):
    CURRENT            name of the generation readers load ("gen-000003")
    gen-000003/        meta.json, arrays.npz (postings, passage table), vectors.npy, vocab.json

A generation is written completely in a fresh folder, fsynced, and only then named in CURRENT via
an atomic rename: readers never see half a generation, and a crash while writing one leaves the
previous generation serving. Articles saved after a generation was written are caught up from the
store's change feed (article seq) when the index is opened, using vectors the store already holds,
so the saved generation may lag the store without anything being lost or re-embedded.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import numpy as np

from .bm25 import Bm25Index, Bm25Params
from .embedding import Embedder, ensure_vectors, text_hash
from .models import Article
from .tokenize import tokenize

log = logging.getLogger(__name__)
FORMAT_VERSION = 1
NO_DAY = -1
Progress = Callable[[int], None]


@dataclass(frozen=True)
class IndexShape:
    """What the persisted data depends on; a saved generation of another shape is rebuilt."""

    model: str
    titles: bool = True
    format: int = FORMAT_VERSION


def day_number(iso: str | None) -> int:
    if not iso:
        return NO_DAY
    try:
        return date.fromisoformat(iso[:10]).toordinal()
    except ValueError:
        return NO_DAY


def passage_text(article: Article, passage_index: int, titles: bool) -> str:
    body = article.passages[passage_index].text
    return f"{article.title}\n{body}" if titles and article.title else body


class _Growable:
    """An append-only numpy array with amortised O(1) growth."""

    def __init__(self, dtype, width: int | None = None, data: np.ndarray | None = None):
        shape = (0,) if width is None else (0, width)
        self._data = np.zeros(shape, dtype) if data is None else data
        self._n = len(self._data)

    def extend(self, rows: np.ndarray) -> None:
        need = self._n + len(rows)
        if need > len(self._data):
            capacity = max(need, int(len(self._data) * 1.5) + 16)
            grown = np.zeros((capacity, *self._data.shape[1:]), self._data.dtype)
            grown[: self._n] = self._data[: self._n]
            self._data = grown
        self._data[self._n : need] = rows
        self._n = need

    @property
    def view(self) -> np.ndarray:
        return self._data[: self._n]


class SearchIndex:
    """In-memory passage index. Thread-safe: adds and queries take the same lock."""

    def __init__(self, shape: IndexShape, dimension: int, bm25_params: Bm25Params):
        self.shape = shape
        self.dimension = dimension
        self.bm25 = Bm25Index(bm25_params)
        self.article_seq = _Growable(np.int64)
        self.passage_idx = _Growable(np.int32)
        self.day = _Growable(np.int32)
        self.vectors = _Growable(np.float32, dimension)
        self.watermark = 0
        self.lock = threading.RLock()

    @property
    def size(self) -> int:
        return len(self.article_seq.view)

    def add(self, articles: list[Article], vectors: dict[str, np.ndarray]) -> None:
        with self.lock:
            tokens, seqs, idxs, days, rows = [], [], [], [], []
            for article in articles:
                for p in article.passages:
                    text = passage_text(article, p.index, self.shape.titles)
                    tokens.append(tokenize(text))
                    seqs.append(article.seq)
                    idxs.append(p.index)
                    days.append(day_number(article.date))
                    rows.append(vectors[text_hash(text)])
                self.watermark = max(self.watermark, article.seq)
            if not seqs:
                return
            self.bm25.add(tokens)
            self.article_seq.extend(np.asarray(seqs, np.int64))
            self.passage_idx.extend(np.asarray(idxs, np.int32))
            self.day.extend(np.asarray(days, np.int32))
            self.vectors.extend(np.vstack(rows).astype(np.float32))

    # -- persistence ------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        with self.lock:
            folder.mkdir(parents=True)
            arrays = self.bm25.arrays()
            arrays.update(
                article_seq=self.article_seq.view, passage_idx=self.passage_idx.view, day=self.day.view
            )
            _write(folder / "arrays.npz", lambda f: np.savez(f, **arrays))
            _write(folder / "vectors.npy", lambda f: np.save(f, self.vectors.view))
            _write(folder / "vocab.json", lambda f: f.write(json.dumps(self.bm25.vocab_list()).encode()))
            meta = {"shape": asdict(self.shape), "dimension": self.dimension, "watermark": self.watermark,
                    "passages": self.size}
            _write(folder / "meta.json", lambda f: f.write(json.dumps(meta).encode()))

    @classmethod
    def load(cls, folder: Path, bm25_params: Bm25Params) -> "SearchIndex":
        meta = json.loads((folder / "meta.json").read_text())
        index = cls(IndexShape(**meta["shape"]), meta["dimension"], bm25_params)
        with np.load(folder / "arrays.npz") as arrays:
            vocab = json.loads((folder / "vocab.json").read_text())
            index.bm25 = Bm25Index.from_arrays(bm25_params, vocab, arrays)
            index.article_seq = _Growable(np.int64, data=arrays["article_seq"])
            index.passage_idx = _Growable(np.int32, data=arrays["passage_idx"])
            index.day = _Growable(np.int32, data=arrays["day"])
        index.vectors = _Growable(np.float32, meta["dimension"], data=np.load(folder / "vectors.npy"))
        index.watermark = meta["watermark"]
        return index


def _write(path: Path, writer) -> None:
    with open(path, "wb") as handle:
        writer(handle)
        handle.flush()
        os.fsync(handle.fileno())


class IndexManager:
    """Owns the index of one store: open, catch up, compact, rebuild and swap."""

    COMPACT_AFTER = 2000  # passages added since the last saved generation

    def __init__(self, store, embedder: Embedder, bm25_params: Bm25Params, titles: bool = True,
                 location: Path | None = None):
        self.store = store
        self.embedder = embedder
        self.bm25_params = bm25_params
        self.shape = IndexShape(model=embedder.name, titles=titles)
        self.location = location
        self.current: SearchIndex | None = None
        self._saved_size = 0
        self._rebuild_lock = threading.Lock()
        self._write_lock = threading.Lock()

    @classmethod
    def for_store(cls, store, embedder: Embedder, bm25_params: Bm25Params, titles: bool = True):
        path = str(getattr(store, "path", ""))
        location = Path(path + ".index") if path and path != ":memory:" else None
        return cls(store, embedder, bm25_params, titles, location)

    # -- opening and catching up ------------------------------------------------------------
    def open(self, progress: Progress | None = None) -> SearchIndex:
        index = self._load_current()
        if index is None:
            index = SearchIndex(self.shape, self.embedder.dimension, self.bm25_params)
            self._saved_size = -1  # nothing on disk yet: save after the first catch-up
        self.current = index
        self.catch_up(progress)
        return index

    def _load_current(self) -> SearchIndex | None:
        if not self.location:
            return None
        pointer = self.location / "CURRENT"
        if not pointer.is_file():
            return None
        folder = self.location / pointer.read_text().strip()
        try:
            index = SearchIndex.load(folder, self.bm25_params)
        except Exception as exc:  # noqa: BLE001 - any damage (bad zip, EOF, JSON): rebuild from the store
            log.warning("index %s unreadable (%s: %s); rebuilding from the store", folder, type(exc).__name__, exc)
            return None
        if index.shape != self.shape:
            return None
        self._saved_size = index.size
        return index

    def pending_articles(self) -> int:
        index = self.current
        return 0 if index is None else self.store.max_seq() - index.watermark

    def catch_up(self, progress: Progress | None = None) -> int:
        """Index articles the store has and the index lacks; returns how many were added."""
        index = self.current
        assert index is not None, "open() first"
        added = self._fill(index, progress)
        if added and (self._saved_size < 0 or index.size - self._saved_size >= self.COMPACT_AFTER):
            self._save_generation(index)
        return added

    def _fill(self, index: SearchIndex, progress: Progress | None, batch: int = 500) -> int:
        added = 0
        while True:
            articles = self.store.articles_after(index.watermark, limit=batch)
            if not articles:
                return added
            texts = {}
            for article in articles:
                for p in article.passages:
                    text = passage_text(article, p.index, self.shape.titles)
                    texts[text_hash(text)] = text
            vectors = ensure_vectors(self.store, self.embedder, texts, progress)
            index.add(articles, vectors)
            added += len(articles)

    # -- rebuilding -------------------------------------------------------------------------
    def rebuild(self, progress: Progress | None = None) -> SearchIndex:
        """Build a fresh index aside from the whole store, save it, then swap it in.

        Queries keep using the old index until the swap; cached vectors mean nothing is
        re-embedded unless the model or the passages changed.
        """
        if not self._rebuild_lock.acquire(blocking=False):
            raise RuntimeError("a rebuild is already running")
        try:
            fresh = SearchIndex(self.shape, self.embedder.dimension, self.bm25_params)
            self._fill(fresh, progress)
            self._save_generation(fresh)
            self.current = fresh
            self._fill(fresh, None)  # articles saved while the rebuild ran
            return fresh
        finally:
            self._rebuild_lock.release()

    @property
    def rebuilding(self) -> bool:
        return self._rebuild_lock.locked()

    def _save_generation(self, index: SearchIndex) -> None:
        if not self.location:
            self._saved_size = index.size
            return
        with self._write_lock:
            self.location.mkdir(parents=True, exist_ok=True)
            existing = sorted(p.name for p in self.location.glob("gen-*"))
            number = int(existing[-1].split("-")[1]) + 1 if existing else 1
            name = f"gen-{number:06d}"
            folder = self.location / name
            index.save(folder)
            tmp = self.location / "CURRENT.tmp"
            _write(tmp, lambda f: f.write(name.encode()))
            os.replace(tmp, self.location / "CURRENT")
            _fsync_dir(self.location)
            self._saved_size = index.size
            for old in existing:  # older generations are no longer named anywhere
                shutil.rmtree(self.location / old, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
