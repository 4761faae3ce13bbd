"""Generations of a store's search index: open and catch up from the store's change feed, rebuild
aside and swap, under a file lock shared by the processes of one store (see index.search_index for
the layout on disk and why a crash never leaves half a generation)."""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .bm25 import Bm25Params
from .config import RetrievalConfig
from .embedding import Embedder, ensure_vectors, text_hash
from .generation_writer import GenerationWriter
from .passage_vectors import storage_dtype
from .search_index import IndexShape, SearchIndex, _fsync_dir, _write, passage_text

log = logging.getLogger(__name__)
Progress = Callable[[int], None]


class IndexSaveError(OSError):
    """A generation could not be written (full disk, no permission): the message says where."""


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
                 location: Path | None = None, vector_dtype: str = RetrievalConfig.vector_dtype,
                 sign_codes_from: int = RetrievalConfig.sign_codes_from):
        self.store = store
        self.embedder = embedder
        self.bm25_params = bm25_params
        self.vector_choice = vector_dtype  # a dtype, or "auto" (passage_vectors.storage_dtype)
        self.sign_codes_from = sign_codes_from
        self.shape = IndexShape(model=embedder.key, titles=titles,
                                vector_dtype=storage_dtype(vector_dtype, 0, sign_codes_from))
        self.location = location
        self.current: SearchIndex | None = None
        self._saved_size = 0
        self._resave = False  # the loaded generation was converted to another vector dtype
        self._rebuild_lock = threading.Lock()
        self._fill_lock = threading.RLock()  # one writer at a time: catch-ups and rebuilds

    @classmethod
    def for_store(cls, store, embedder: Embedder, bm25_params: Bm25Params, titles: bool = True,
                  vector_dtype: str = RetrievalConfig.vector_dtype,
                  sign_codes_from: int = RetrievalConfig.sign_codes_from):
        path = getattr(store, "path", None)  # a server store (PostgreSQL) has none: the index is rebuilt in memory
        location = Path(f"{path}.index") if path is not None and str(path) != ":memory:" else None
        return cls(store, embedder, bm25_params, titles, location, vector_dtype, sign_codes_from)

    def _sized_shape(self) -> IndexShape:
        """The shape of an index about to be built from the whole store: with "auto" its vector
        dtype depends on how many passages the store holds. A generation keeps its dtype until the
        next rebuild (`/reindex`): a store growing past `sign_codes_from` is not rebuilt for it."""
        if self.vector_choice != "auto":
            return self.shape
        wanted = storage_dtype("auto", self.store.passages_after(0), self.sign_codes_from)
        return dataclasses.replace(self.shape, vector_dtype=wanted)

    # -- opening and catching up ------------------------------------------------------------
    def load(self) -> SearchIndex:
        """The saved generation, or an empty index when there is none usable; no catching up."""
        index = self._load_current()
        if index is None:
            self.shape = self._sized_shape()
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
        if self.vector_choice == "auto" and index.shape.vector_dtype in ("float16", "int8"):
            self.shape = dataclasses.replace(self.shape, vector_dtype=index.shape.vector_dtype)  # kept as saved
        elif self.vector_choice == "auto":  # float32, saved before vector_dtype existed: converted below
            self.shape = dataclasses.replace(
                self.shape, vector_dtype=storage_dtype("auto", index.size, self.sign_codes_from))
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

    def catch_up(self, progress: Progress | None = None, upto: int | None = None, save: bool = True) -> int:
        """Index articles the store has and the index lacks; returns how many were added.

        `upto` stops at that article seq and `save=False` never writes a generation: an answer
        worker follows the bot's own index that way (index.answer_pool), reading the vectors the
        bot stored and leaving the generations on disk to the bot."""
        with self._fill_lock:
            index = self.current
            assert index is not None, "load() or open() first"
            added = self._fill(index, progress, upto=upto)
            if not save:
                return added
            if (added and (self._saved_size < 0 or index.size - self._saved_size >= self.SAVE_AFTER)) or self._resave:
                try:
                    self._save_generation(index)
                    self._resave = False
                except IndexSaveError as exc:  # the index in memory is whole: serve it, save later
                    log.warning("%s", exc)
            return added

    def _fill(self, index: SearchIndex | GenerationWriter, progress: Progress | None, batch: int = 500,
              stop: threading.Event | None = None, upto: int | None = None) -> int:
        """Add the store's articles past the index's (or writer's) watermark, batch by batch."""
        added = 0
        if upto is None and isinstance(index, SearchIndex):
            index.vectors.reserve(len(index.vectors) + self.store.passages_after(index.watermark))
        while True:
            if stop is not None and stop.is_set():
                raise RebuildStopped("the rebuild was stopped; the previous index stays in use")
            articles = self.store.articles_after(index.watermark, limit=batch)
            if upto is not None:
                articles = [a for a in articles if a.seq <= upto]
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

        With a folder for generations (a SQLite store) the new generation is written straight
        to disk (`GenerationWriter`) and mapped, so the old index and the new one are never both
        held in memory; a server store's index lives in memory and is built there.
        """
        if not self._rebuild_lock.acquire(blocking=False):
            raise RuntimeError("a rebuild is already running")
        try:
            shape = self._sized_shape()
            if self.location is not None:
                return self._rebuild_on_disk(shape, progress, stop)
            fresh = SearchIndex(shape, self.embedder.dimension, self.bm25_params)
            self._fill(fresh, progress, stop=stop)  # private to this thread: catch-ups of the live index go on
            with self._fill_lock:
                self._fill(fresh, None)  # articles saved while the rebuild ran
                self._save_generation(fresh)
                self.current, self.shape = fresh, shape
            return fresh
        finally:
            self._rebuild_lock.release()

    def _rebuild_on_disk(self, shape: IndexShape, progress: Progress | None,
                         stop: threading.Event | None) -> SearchIndex:
        self.location.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(dir=self.location, prefix=f"{REBUILD_PREFIX}{os.getpid()}-"))
        writer = None
        try:
            writer = GenerationWriter(folder, shape, self.embedder.dimension)
            self._fill(writer, progress, stop=stop)  # catch-ups of the live index go on meanwhile
            with self._fill_lock:
                self._fill(writer, None)  # articles saved while the rebuild ran
                writer.finish(self.store.store_id())
                name = self._publish(folder)
                fresh = SearchIndex.load(self.location / name, self.bm25_params, mapped=True)
                self.current, self.shape = fresh, shape
                self._saved_size = fresh.size
            return fresh
        except BaseException as exc:
            self._discard(writer, folder)
            if isinstance(exc, OSError) and (clear := _save_error(exc, self.location)):
                raise clear from exc
            raise

    @staticmethod
    def _discard(writer: GenerationWriter | None, folder: Path) -> None:
        if writer is not None:
            writer.discard()
        shutil.rmtree(folder, ignore_errors=True)

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
                self._publish(tmp_folder, locked=True)
            except BaseException as exc:
                shutil.rmtree(tmp_folder, ignore_errors=True)
                if isinstance(exc, OSError) and (clear := _save_error(exc, self.location)):
                    raise clear from exc
                raise
            self._saved_size = index.size

    def _publish(self, folder: Path, locked: bool = False) -> str:
        """Rename a written generation folder into place as the next generation and name it in
        CURRENT; remove older generations and folders left by crashed writes. Returns its name.
        Holds the store's generation lock unless the caller does (`locked`)."""
        if not locked:
            with open(self.location / "LOCK", "a+b") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                return self._publish(folder, locked=True)
        existing = sorted(p.name for p in self.location.glob("gen-*"))
        number = int(existing[-1].split("-")[1]) + 1 if existing else 1
        name = f"gen-{number:06d}"
        os.rename(folder, self.location / name)
        pointer = self.location / f"CURRENT.{os.getpid()}.tmp"
        _write(pointer, lambda f: f.write(name.encode()))
        os.replace(pointer, self.location / "CURRENT")
        _fsync_dir(self.location)
        for old in existing[:-1]:  # nothing names these any more
            shutil.rmtree(self.location / old, ignore_errors=True)
        for stale in self.location.glob(".tmp-*"):  # left by a crash mid-write
            if stale != folder and not _being_written(stale):
                shutil.rmtree(stale, ignore_errors=True)
        return name


REBUILD_PREFIX = ".tmp-rebuild-"  # + the writing process's id: a rebuild writes its generation for minutes


def _being_written(folder: Path) -> bool:
    """A rebuild's folder whose process is alive (saves of the live index go on meanwhile)."""
    if not folder.name.startswith(REBUILD_PREFIX):
        return False
    pid = folder.name[len(REBUILD_PREFIX):].split("-", 1)[0]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _save_error(exc: OSError, location: Path) -> IndexSaveError | None:
    """A full disk or a refused write as one clear line; None for any other error."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EROFS, errno.EPERM):
        return IndexSaveError(exc.errno, f"cannot save the index in {location}: {exc.strerror} "
                              "(the previous generation stays in use)")
    return None
