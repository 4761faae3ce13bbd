"""The search index: BM25 postings and dense vectors of every passage, kept beside the store.

Layout on disk (`<store>.index/`):
    CURRENT            name of the generation readers load ("gen-000003")
    gen-000003/        meta.json (checksums last), arrays.npz (postings' pointers and lengths, the
                       passage table), bm25_indices.npy and bm25_data.npy (the postings),
                       vectors.npy (and vector_scale.npy for int8), vocab.json
The large arrays are files of their own so that a rebuild can map them (`load(mapped=True)`);
generations written before that keep their postings in arrays.npz and load as before.

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
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import numpy as np

from .bm25 import Bm25Index, Bm25Params
from .embedding import text_hash
from .models import Article
from .passage_vectors import PassageVectors, _check_vectors, _Growable
from .rwlock import ReadWriteLock
from .tokenize import tokenize

log = logging.getLogger(__name__)
FORMAT_VERSION = 2  # 2: tokens keep apostrophe names whole ("o'brien")
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


def passage_tokens(article: Article, titles: bool) -> list[list[str]]:
    """Each passage's tokens, exactly `tokenize(passage_text(...))`, with the title tokenised once
    rather than once per passage: a token never spans whitespace, so the title's tokens lead
    every passage's (4-8% of a long article's tokenising time)."""
    head = tokenize(article.title) if titles and article.title else []
    return [head + tokenize(article.passages[p.index].text) for p in article.passages]


@dataclass(frozen=True)
class PassageRows:
    """What indexing takes of a batch of articles: their passages' tokens, places and vectors, in order."""

    tokens: list[list[str]]
    article_seq: np.ndarray  # int64
    passage_idx: np.ndarray  # int32
    day: np.ndarray  # int32, day_number of the article's date
    vectors: np.ndarray  # float32, a row per passage


def passage_rows(articles: list[Article], vectors: dict[str, np.ndarray], titles: bool, dimension: int) -> PassageRows:
    """The passages of `articles` as indexing adds them, each with its vector from `vectors` (by
    text hash); raises on a missing vector or one of another dimension."""
    tokens, seqs, idxs, days, rows = [], [], [], [], []
    for article in articles:
        tokens += passage_tokens(article, titles)
        for p in article.passages:
            text = passage_text(article, p.index, titles)
            seqs.append(article.seq)
            idxs.append(p.index)
            days.append(day_number(article.date))
            rows.append(vectors[text_hash(text)])
    matrix = np.vstack(rows).astype(np.float32) if rows else np.zeros((0, dimension), np.float32)
    if matrix.shape[1] != dimension:
        raise ValueError(f"vectors of dimension {matrix.shape[1]}, index has {dimension}")
    return PassageRows(tokens, np.asarray(seqs, np.int64), np.asarray(idxs, np.int32), np.asarray(days, np.int32),
                       matrix)


class SearchIndex:
    """In-memory passage index. Thread-safe: queries share the lock (`reading`), adds hold it."""

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
        self.lock = ReadWriteLock()  # `with lock:` changes the index; `reading()` shares it
        self._latest = (0, NO_DAY)  # (passages looked at, their latest day)

    @property
    def latest_day(self) -> int:
        """The latest passage day (NO_DAY when none is dated), kept as the index grows: every
        question asks whether anything was published after it, and a scan of a million days
        for that each time is waste."""
        seen, latest = self._latest
        days = self.day.view
        if seen < len(days):
            latest = max(latest, int(days[seen:].max()))
            self._latest = (len(days), latest)
        return latest

    @property
    def size(self) -> int:
        return len(self.article_seq.view)

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Hold the index for a query, beside other queries. Additions not yet folded into the
        BM25 postings are folded first, under the write lock: folding changes the postings."""
        while True:
            self.lock.acquire_shared()
            if not self.bm25.pending:
                break
            self.lock.release_shared()
            with self.lock:
                self.bm25.compact()
        try:
            yield
        finally:
            self.lock.release_shared()

    def add(self, articles: list[Article], vectors: dict[str, np.ndarray]) -> None:
        """Add articles newer than the watermark. Everything is prepared before anything changes,
        so a failure (a missing or malformed vector) leaves the index as it was."""
        with self.lock:
            articles = [a for a in articles if a.seq > self.watermark]
            if not articles:
                return
            rows = passage_rows(articles, vectors, self.shape.titles, self.dimension)
            self.bm25.add(rows.tokens)
            self.article_seq.extend(rows.article_seq)
            self.passage_idx.extend(rows.passage_idx)
            self.day.extend(rows.day)
            self.vectors.extend(rows.vectors)
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
            arrays.update(self.vectors.arrays())
            vocab = self.bm25.vocab_list()
            meta = {"shape": asdict(self.shape), "dimension": self.dimension, "watermark": self.watermark,
                    "passages": self.size, "store_id": store_id}
        write_generation(folder, arrays, vocab, meta)

    @classmethod
    def load(cls, folder: Path, bm25_params: Bm25Params, mapped: bool = False) -> "SearchIndex":
        """Raises on any damage: files whose checksum differs from the one saved with them (a
        flipped or zeroed block reads as valid numbers), arrays of inconsistent lengths, vectors
        that are not finite or are all zero (generations saved before checksums existed).

        `mapped`: the large arrays (vectors, postings) are mapped from their files, not read, so
        loading reads nothing but the checksums' pass through the page cache: a rebuild swaps its
        generation in beside the old index without holding both in memory (README: Benchmarks)."""
        meta = json.loads((folder / "meta.json").read_text())
        checksums = meta.get("checksums", {})
        for name, expected in checksums.items():
            if _checksum(folder / name) != expected:
                raise ValueError(f"{name} does not match its checksum")
        index = cls(IndexShape(**meta["shape"]), meta["dimension"], bm25_params)
        with np.load(folder / "arrays.npz") as packed:
            arrays = {name: packed[name] for name in packed.files}
        for name in MAPPABLE:
            if (folder / f"{name}.npy").is_file():  # generations before mapping kept postings in arrays.npz
                arrays[name] = _open_array(folder / f"{name}.npy", mapped)
        vocab = json.loads((folder / "vocab.json").read_text())
        index.bm25 = Bm25Index.from_arrays(bm25_params, vocab, arrays, known_sorted=meta.get("postings_sorted", False))
        index.article_seq = _Growable(np.int64, data=arrays["article_seq"])
        index.passage_idx = _Growable(np.int32, data=arrays["passage_idx"])
        index.day = _Growable(np.int32, data=arrays["day"])
        dtype = index.shape.vector_dtype
        scale = arrays.get("vector_scale") if dtype == "int8" else None
        index.vectors = PassageVectors(meta["dimension"], dtype, arrays["vectors"], scale)
        index.watermark = meta["watermark"]
        index.store_id = meta.get("store_id", "")
        lengths = {index.size, len(index.passage_idx.view), len(index.day.view), len(index.vectors),
                   index.bm25.size, meta["passages"]}
        if len(lengths) != 1:
            raise ValueError(f"inconsistent generation: lengths {sorted(lengths)}")
        if not (mapped and meta.get("vectors_checked")):  # a mapped check would page every vector in
            _check_vectors(index.vectors.view)
        return index


# arrays saved as .npy files of their own (not inside arrays.npz), so that loading can map them
MAPPABLE = ("vectors", "vector_scale", "bm25_indices", "bm25_data")


def write_generation(folder: Path, arrays: dict[str, np.ndarray], vocab: list[str], meta: dict) -> None:
    """A generation's files in `folder`, then their checksums in meta.json, written last: the
    large arrays as .npy files of their own, the rest in arrays.npz."""
    packed = {name: array for name, array in arrays.items() if name not in MAPPABLE}
    _write(folder / "arrays.npz", lambda f: np.savez(f, **packed))
    for name in MAPPABLE:
        if name in arrays:
            _write(folder / f"{name}.npy", lambda f, a=arrays[name]: np.save(f, a))
    _write(folder / "vocab.json", lambda f: f.write(json.dumps(vocab).encode()))
    finish_generation(folder, meta, vectors_checked=False)


def finish_generation(folder: Path, meta: dict, vectors_checked: bool) -> None:
    """meta.json with every file's checksum, then the folder synced: the last step of a write.
    `vectors_checked`: every vector was checked as it was written (GenerationWriter), so a mapped
    load need not read them all to check them again. Postings are always written sorted."""
    meta = {**meta, "postings_sorted": True, "vectors_checked": vectors_checked,
            "checksums": {p.name: _checksum(p) for p in sorted(folder.iterdir())}}
    _write(folder / "meta.json", lambda f: f.write(json.dumps(meta).encode()))
    _fsync_dir(folder)


def _open_array(path: Path, mapped: bool) -> np.ndarray:
    """A saved array, read, or mapped copy-on-write: pages are read on first use and shared with
    the page cache, and a write would copy its page, never reach the file (a generation's files
    never change once written). A plain ndarray view either way (numba and scipy take it as is)."""
    return np.asarray(np.load(path, mmap_mode="c")) if mapped else np.load(path)


def _checksum(path: Path) -> str:
    """CRC-32 of a file: catches a disk's or a bug's damage at GB/s (not a defence against tampering)."""
    crc = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return f"{crc:08x}"


def _write(path: Path, writer) -> None:
    with open(path, "wb") as handle:
        writer(handle)
        handle.flush()
        os.fsync(handle.fileno())

def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
