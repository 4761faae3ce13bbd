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

import dataclasses
import errno
import fcntl
import json
import logging
import os
import shutil
import tempfile
import threading
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import numpy as np

from .bm25 import Bm25Index, Bm25Params
from .config import RetrievalConfig
from .embedding import Embedder, ensure_vectors, text_hash
from .models import Article
from .tokenize import tokenize

log = logging.getLogger(__name__)
FORMAT_VERSION = 2  # 2: tokens keep apostrophe names whole ("o'brien")
VECTOR_DTYPES = ("float32", "float16", "int8")
NO_DAY = -1
Progress = Callable[[int], None]


@dataclass(frozen=True)
class IndexShape:
    """What the persisted data depends on; a saved generation of another shape is rebuilt."""

    model: str
    titles: bool = True
    format: int = FORMAT_VERSION
    vector_dtype: str = "float32"  # generations saved before this field existed hold float32


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

    def reserve(self, capacity: int) -> None:
        """Room for `capacity` rows in all, allocated once (a rebuild knows how many it will add)."""
        if capacity > len(self._data):
            grown = np.zeros((capacity, *self._data.shape[1:]), self._data.dtype)
            grown[: self._n] = self._data[: self._n]
            self._data = grown

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


class PassageVectors:
    """The passages' unit vectors, stored as float32, float16 (half the memory; the product runs
    in torch, whose half-precision matrix-vector product is faster on CPU than numpy's float32
    one, while numpy has no fast float16 product) or int8 with a scale per vector (a quarter of
    the memory; the product dequantises chunk by chunk in numpy). Scores are float32 cosines."""

    CHUNK = 2048  # rows dequantised at a time (int8, or float16 without torch)

    def __init__(self, dimension: int, dtype: str = "float32", data: np.ndarray | None = None,
                 scale: np.ndarray | None = None):
        if dtype not in VECTOR_DTYPES:
            raise ValueError(f"vector dtype must be one of {', '.join(VECTOR_DTYPES)}, got {dtype!r}")
        self.dimension = dimension
        self.dtype = dtype
        if data is not None and data.dtype != np.dtype(dtype):
            raise ValueError(f"vectors of dtype {data.dtype}, expected {dtype}")
        self._rows = _Growable(np.dtype(dtype), dimension, data)
        self._scale = _Growable(np.float32, data=scale) if dtype == "int8" else None
        if self._scale is not None and len(self._scale.view) != len(self._rows.view):
            raise ValueError("int8 vectors need one scale per vector")

    def __len__(self) -> int:
        return len(self._rows.view)

    @property
    def view(self) -> np.ndarray:
        """The stored rows, in their storage dtype (int8 rows are scaled: see `take`)."""
        return self._rows.view

    def reserve(self, capacity: int) -> None:
        self._rows.reserve(capacity)
        if self._scale is not None:
            self._scale.reserve(capacity)

    def extend(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, np.float32)
        if rows.ndim != 2 or rows.shape[1] != self.dimension:
            raise ValueError(f"vectors of shape {rows.shape}, index has dimension {self.dimension}")
        if self._scale is None:
            self._rows.extend(rows)  # cast to the storage dtype on assignment
            return
        scale = np.abs(rows).max(axis=1) / 127.0
        scale[scale == 0] = 1.0
        self._rows.extend(np.rint(rows / scale[:, None]).astype(np.int8))
        self._scale.extend(scale.astype(np.float32))

    def take(self, rows: np.ndarray | slice) -> np.ndarray:
        """The given rows as float32 vectors."""
        out = np.asarray(self._rows.view[rows], np.float32)
        if self._scale is not None:
            out *= self._scale.view[rows][..., None]
        return out

    def scores(self, query: np.ndarray) -> np.ndarray:
        """Each stored vector's dot product with `query` (its cosine: both are unit vectors)."""
        matrix = self._rows.view
        query = np.asarray(query, np.float32)
        if self.dtype == "float32":
            return matrix @ query
        if self.dtype == "float16":
            torch = _torch()
            if torch is not None and len(matrix):
                product = torch.mv(torch.from_numpy(matrix), torch.from_numpy(query.astype(np.float16)))
                return product.float().numpy()
        out = np.empty(len(matrix), np.float32)
        buffer = np.empty((min(self.CHUNK, len(matrix)), self.dimension), np.float32)
        for start in range(0, len(matrix), self.CHUNK):
            stop = min(len(matrix), start + self.CHUNK)
            chunk = buffer[: stop - start]
            chunk[...] = matrix[start:stop]
            np.matmul(chunk, query, out=out[start:stop])
        if self._scale is not None:
            out *= self._scale.view
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        out = {"vectors": self._rows.view}
        if self._scale is not None:
            out["vector_scale"] = self._scale.view
        return out

    def astype(self, dtype: str) -> "PassageVectors":
        """The same vectors in another storage dtype (converted chunk by chunk)."""
        if dtype == self.dtype:
            return self
        out = PassageVectors(self.dimension, dtype)
        out.reserve(len(self))
        for start in range(0, len(self), 65536):
            out.extend(self.take(slice(start, start + 65536)))
        return out


_TORCH: list = []


def _torch():
    """torch, imported on first use (the embedding model needs it anyway), or None."""
    if not _TORCH:
        try:
            import torch
        except ImportError:  # pragma: no cover - a dependency of sentence-transformers
            torch = None
        _TORCH.append(torch)
    return _TORCH[0]


class SearchIndex:
    """In-memory passage index. Thread-safe: adds and queries take the same lock."""

    def __init__(self, shape: IndexShape, dimension: int, bm25_params: Bm25Params):
        self.shape = shape
        self.dimension = dimension
        self.bm25 = Bm25Index(bm25_params)
        self.article_seq = _Growable(np.int64)
        self.passage_idx = _Growable(np.int32)
        self.day = _Growable(np.int32)
        self.vectors = PassageVectors(dimension, shape.vector_dtype)
        self.watermark = 0
        self.store_id = ""
        self.lock = threading.RLock()

    @property
    def size(self) -> int:
        return len(self.article_seq.view)

    def add(self, articles: list[Article], vectors: dict[str, np.ndarray]) -> None:
        """Add articles newer than the watermark. Everything is prepared before anything changes,
        so a failure (a missing or malformed vector) leaves the index as it was."""
        with self.lock:
            articles = [a for a in articles if a.seq > self.watermark]
            if not articles:
                return
            tokens, seqs, idxs, days, rows = [], [], [], [], []
            for article in articles:
                for p in article.passages:
                    text = passage_text(article, p.index, self.shape.titles)
                    tokens.append(tokenize(text))
                    seqs.append(article.seq)
                    idxs.append(p.index)
                    days.append(day_number(article.date))
                    rows.append(vectors[text_hash(text)])
            matrix = np.vstack(rows).astype(np.float32) if rows else np.zeros((0, self.dimension), np.float32)
            if matrix.shape[1] != self.dimension:
                raise ValueError(f"vectors of dimension {matrix.shape[1]}, index has {self.dimension}")
            self.bm25.add(tokens)
            self.article_seq.extend(np.asarray(seqs, np.int64))
            self.passage_idx.extend(np.asarray(idxs, np.int32))
            self.day.extend(np.asarray(days, np.int32))
            self.vectors.extend(matrix)
            self.watermark = max(a.seq for a in articles)

    # -- persistence ------------------------------------------------------------------------
    def save(self, folder: Path, store_id: str = "") -> None:
        """Write into an existing empty folder. Only the snapshot is taken under the lock: rows
        below the current size are never rewritten, so queries go on while the files are written."""
        with self.lock:
            arrays = self.bm25.arrays()
            arrays.update(
                article_seq=self.article_seq.view, passage_idx=self.passage_idx.view, day=self.day.view
            )
            vectors = self.vectors.arrays()
            vocab = self.bm25.vocab_list()
            meta = {"shape": asdict(self.shape), "dimension": self.dimension, "watermark": self.watermark,
                    "passages": self.size, "store_id": store_id}
        _write(folder / "arrays.npz", lambda f: np.savez(f, **arrays))
        _write(folder / "vectors.npy", lambda f: np.save(f, vectors["vectors"]))
        if "vector_scale" in vectors:
            _write(folder / "vector_scale.npy", lambda f: np.save(f, vectors["vector_scale"]))
        _write(folder / "vocab.json", lambda f: f.write(json.dumps(vocab).encode()))
        meta["checksums"] = {p.name: _checksum(p) for p in sorted(folder.iterdir())}
        _write(folder / "meta.json", lambda f: f.write(json.dumps(meta).encode()))
        _fsync_dir(folder)

    @classmethod
    def load(cls, folder: Path, bm25_params: Bm25Params) -> "SearchIndex":
        """Raises on any damage: files whose checksum differs from the one saved with them (a
        flipped or zeroed block reads as valid numbers), arrays of inconsistent lengths, vectors
        that are not finite or are all zero (generations saved before checksums existed)."""
        meta = json.loads((folder / "meta.json").read_text())
        for name, expected in meta.get("checksums", {}).items():
            if _checksum(folder / name) != expected:
                raise ValueError(f"{name} does not match its checksum")
        index = cls(IndexShape(**meta["shape"]), meta["dimension"], bm25_params)
        with np.load(folder / "arrays.npz") as arrays:
            vocab = json.loads((folder / "vocab.json").read_text())
            index.bm25 = Bm25Index.from_arrays(bm25_params, vocab, arrays)
            index.article_seq = _Growable(np.int64, data=arrays["article_seq"])
            index.passage_idx = _Growable(np.int32, data=arrays["passage_idx"])
            index.day = _Growable(np.int32, data=arrays["day"])
        dtype = index.shape.vector_dtype
        scale = np.load(folder / "vector_scale.npy") if dtype == "int8" else None
        index.vectors = PassageVectors(meta["dimension"], dtype, np.load(folder / "vectors.npy"), scale)
        index.watermark = meta["watermark"]
        index.store_id = meta.get("store_id", "")
        lengths = {index.size, len(index.passage_idx.view), len(index.day.view), len(index.vectors),
                   index.bm25.size, meta["passages"]}
        if len(lengths) != 1:
            raise ValueError(f"inconsistent generation: lengths {sorted(lengths)}")
        _check_vectors(index.vectors.view)
        return index


def _check_vectors(vectors: np.ndarray, block: int = 65536) -> None:
    """Passage vectors are unit vectors: a NaN or an all-zero row is damage, not data."""
    for start in range(0, len(vectors), block):
        rows = vectors[start : start + block]
        if rows.dtype.kind == "f" and not np.isfinite(rows).all():
            raise ValueError("vectors hold NaN or infinite values")
        if rows.size and not rows.any(axis=1).all():
            raise ValueError("vectors hold all-zero rows")


def _checksum(path: Path) -> str:
    """CRC-32 of a file: catches a disk's or a bug's damage at GB/s (not a defence against tampering)."""
    crc = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return f"{crc:08x}"


class IndexSaveError(OSError):
    """A generation could not be written (full disk, no permission): the message says where."""


def _write(path: Path, writer) -> None:
    with open(path, "wb") as handle:
        writer(handle)
        handle.flush()
        os.fsync(handle.fileno())


class RebuildStopped(RuntimeError):
    """A rebuild ended early on request (the process is shutting down); nothing was swapped."""


@dataclass(frozen=True)
class IndexStatus:
    passages: int
    behind: int  # articles saved but not yet indexed
    saved_at: float | None  # epoch seconds
    rebuilding: bool


class IndexManager:
    """Owns the index of one store: open, catch up, compact, rebuild and swap."""

    SAVE_AFTER = 2000  # passages added since the last saved generation

    def __init__(self, store, embedder: Embedder, bm25_params: Bm25Params, titles: bool = True,
                 location: Path | None = None, vector_dtype: str = RetrievalConfig.vector_dtype):
        self.store = store
        self.embedder = embedder
        self.bm25_params = bm25_params
        self.shape = IndexShape(model=embedder.key, titles=titles, vector_dtype=vector_dtype)
        self.location = location
        self.current: SearchIndex | None = None
        self._saved_size = 0
        self._resave = False  # the loaded generation was converted to another vector dtype
        self._rebuild_lock = threading.Lock()
        self._fill_lock = threading.RLock()  # one writer at a time: catch-ups and rebuilds

    @classmethod
    def for_store(cls, store, embedder: Embedder, bm25_params: Bm25Params, titles: bool = True,
                  vector_dtype: str = RetrievalConfig.vector_dtype):
        path = getattr(store, "path", None)  # a server store (PostgreSQL) has none: the index is rebuilt in memory
        location = Path(f"{path}.index") if path is not None and str(path) != ":memory:" else None
        return cls(store, embedder, bm25_params, titles, location, vector_dtype)

    # -- opening and catching up ------------------------------------------------------------
    def load(self) -> SearchIndex:
        """The saved generation, or an empty index when there is none usable; no catching up."""
        index = self._load_current()
        if index is None:
            index = SearchIndex(self.shape, self.embedder.dimension, self.bm25_params)
            self._saved_size = -1  # nothing usable on disk: save after the first catch-up
        self.current = index
        return index

    def open(self, progress: Progress | None = None) -> SearchIndex:
        index = self.load()
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
        if index.shape != self.shape and (
            dataclasses.replace(index.shape, vector_dtype=self.shape.vector_dtype) != self.shape
            or index.shape.vector_dtype != "float32"  # only float32 holds the cached vectors exactly
        ):
            return None
        if index.store_id != self.store.store_id() or index.watermark > self.store.max_seq():
            log.warning("index %s belongs to another store (or a newer state of it); rebuilding", folder)
            return None
        self._saved_size = index.size
        if index.shape.vector_dtype != self.shape.vector_dtype:
            # a float32 generation (all saved before vector_dtype existed) read for a smaller dtype:
            # converted here as a rebuild from the cached vectors would, and saved in the new dtype
            # at the next catch-up
            index.vectors = index.vectors.astype(self.shape.vector_dtype)
            index.shape = self.shape
            self._resave = True
        return index

    def pending_articles(self) -> int:
        index = self.current
        return 0 if index is None else self.store.max_seq() - index.watermark

    def catch_up(self, progress: Progress | None = None) -> int:
        """Index articles the store has and the index lacks; returns how many were added."""
        with self._fill_lock:
            index = self.current
            assert index is not None, "load() or open() first"
            added = self._fill(index, progress)
            if (added and (self._saved_size < 0 or index.size - self._saved_size >= self.SAVE_AFTER)) or self._resave:
                try:
                    self._save_generation(index)
                    self._resave = False
                except IndexSaveError as exc:  # the index in memory is whole: serve it, save later
                    log.warning("%s", exc)
            return added

    def _fill(self, index: SearchIndex, progress: Progress | None, batch: int = 500,
              stop: threading.Event | None = None) -> int:
        added = 0
        index.vectors.reserve(len(index.vectors) + self.store.passages_after(index.watermark))
        while True:
            if stop is not None and stop.is_set():
                raise RebuildStopped("the rebuild was stopped; the previous index stays in use")
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
    def rebuild(self, progress: Progress | None = None, stop: threading.Event | None = None) -> SearchIndex:
        """Build a fresh index aside from the whole store, save it, then swap it in.

        Queries keep using the old index until the swap; cached vectors mean nothing is
        re-embedded unless the model or the passages changed. Setting `stop` (a shutdown) ends the
        rebuild between two batches with RebuildStopped, the previous index untouched.
        """
        if not self._rebuild_lock.acquire(blocking=False):
            raise RuntimeError("a rebuild is already running")
        try:
            fresh = SearchIndex(self.shape, self.embedder.dimension, self.bm25_params)
            self._fill(fresh, progress, stop=stop)  # private to this thread: catch-ups of the live index go on
            with self._fill_lock:
                self._fill(fresh, None)  # articles saved while the rebuild ran
                self._save_generation(fresh)
                self.current = fresh
            return fresh
        finally:
            self._rebuild_lock.release()

    @property
    def rebuilding(self) -> bool:
        return self._rebuild_lock.locked()

    def status(self) -> IndexStatus:
        """What /stats shows: the passages served, the articles not yet indexed, when the serving
        generation was saved (None: never, or a server store's index, which lives in memory)."""
        saved = None
        if self.location is not None:
            try:
                saved = (self.location / "CURRENT").stat().st_mtime
            except OSError:
                saved = None
        return IndexStatus(passages=self.current.size if self.current else 0, behind=self.pending_articles(),
                           saved_at=saved, rebuilding=self.rebuilding)

    def _save_generation(self, index: SearchIndex) -> None:
        """Write a generation into a temporary folder, rename it into place, then point CURRENT at
        it. A file lock serialises processes sharing the store; the previous generation is kept
        (a process may be loading it), older ones are removed."""
        if not self.location:
            self._saved_size = index.size
            return
        self.location.mkdir(parents=True, exist_ok=True)
        with open(self.location / "LOCK", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            tmp_folder = Path(tempfile.mkdtemp(dir=self.location, prefix=".tmp-"))
            try:
                index.save(tmp_folder, store_id=self.store.store_id())
                existing = sorted(p.name for p in self.location.glob("gen-*"))
                number = int(existing[-1].split("-")[1]) + 1 if existing else 1
                name = f"gen-{number:06d}"
                os.rename(tmp_folder, self.location / name)
            except OSError as exc:
                shutil.rmtree(tmp_folder, ignore_errors=True)
                if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EROFS, errno.EPERM):
                    raise IndexSaveError(exc.errno, f"cannot save the index in {self.location}: {exc.strerror} "
                                         "(the previous generation stays in use)") from exc
                raise
            except BaseException:
                shutil.rmtree(tmp_folder, ignore_errors=True)
                raise
            pointer = self.location / f"CURRENT.{os.getpid()}.tmp"
            _write(pointer, lambda f: f.write(name.encode()))
            os.replace(pointer, self.location / "CURRENT")
            _fsync_dir(self.location)
            self._saved_size = index.size
            for old in existing[:-1]:  # nothing names these any more
                shutil.rmtree(self.location / old, ignore_errors=True)
            for stale in self.location.glob(".tmp-*"):  # left by a crash mid-write
                if stale != tmp_folder:
                    shutil.rmtree(stale, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
