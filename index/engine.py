"""The library's front door: one store, its index, and the answer pipeline wired together.

Adapters (CLI, terminal chat, Telegram) hold one Engine and call it; they never reach into the
store or the index themselves, so every path that saves an article also indexes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path

from .answers import Answer, Answerer
from .bm25 import Bm25Params
from .config import Config
from .embedding import Embedder
from .ingest import ingest_documents, ingest_paths
from .models import IngestReport, RawDocument
from .retrieval import Retriever
from .search_index import IndexManager
from .store import Store, open_store

Progress = Callable[[int], None]


def bm25_params(config: Config) -> Bm25Params:
    r = config.retrieval
    return Bm25Params(variant=r.bm25_variant, k1=r.k1, b=r.b, delta=r.delta)


class Engine:
    def __init__(self, config: Config, store: Store | None = None, embedder: Embedder | None = None):
        self.config = config
        self.store = store or open_store(config.store.path)
        self.embedder = embedder or Embedder(config.model)
        self.index = IndexManager.for_store(self.store, self.embedder, bm25_params(config))
        self.retriever = Retriever(self.index, self.embedder, config.retrieval)
        self.answerer = Answerer(self.store, self.retriever, config.retrieval)

    def open_index(self, progress: Progress | None = None) -> None:
        """Load the saved index and index whatever the store gained since (embedding only new text)."""
        if self.index.current is None:
            self.index.open(progress)
        else:
            self.index.catch_up(progress)

    def pending_passages(self) -> int:
        """Passages saved but not yet indexed: the size of the embedding work ahead."""
        seq = self.index.current.watermark if self.index.current else 0
        return self.store.passages_after(seq)

    def ingest(self, paths: Iterable[str | Path], progress: Progress | None = None) -> IngestReport:
        report = ingest_paths(self.store, paths, self.config.ingest, progress)
        return report

    def save_documents(self, documents: Iterable[RawDocument]) -> IngestReport:
        return ingest_documents(self.store, documents, self.config.ingest)

    def answer(self, question: str, now: date | None = None, mode: str = "hybrid") -> Answer:
        if self.index.current is None:
            self.open_index()
        return self.answerer.answer(question, now=now, mode=mode)

    def reindex(self, progress: Progress | None = None) -> None:
        self.index.rebuild(progress)

    def close(self) -> None:
        self.store.close()
