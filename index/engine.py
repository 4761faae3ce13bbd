"""The library's front door: one store, its index, and the answer pipeline wired together.

Adapters (CLI, terminal chat, Telegram) hold one Engine and call it; they never reach into the
store or the index themselves, so every path that saves an article also indexes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path

from .alerts import Alerts
from .answers import Answer, Answerer
from .bm25 import Bm25Params
from .config import Config
from .embedding import Embedder
from .ingest import ingest_data, ingest_documents, ingest_paths
from .models import IngestReport, RawDocument
from .retrieval import Retriever
from .index_manager import IndexManager
from . import memory
from .store import Store, open_store
from .timeline import Timeline, TimelineItem, build_timeline
from .topic_match import corpus_scores
from .topics import parse_topic
from .watch import FolderWatch

Progress = Callable[[int], None]


def bm25_params(config: Config) -> Bm25Params:
    r = config.retrieval
    return Bm25Params(variant=r.bm25_variant, k1=r.k1, b=r.b, delta=r.delta)


class Engine:
    def __init__(self, config: Config, store: Store | None = None, embedder: Embedder | None = None):
        self.config = config
        self.store = store or open_store(config.store.location)
        self.embedder = embedder or Embedder(config.model)
        self.index = IndexManager.for_store(self.store, self.embedder, bm25_params(config),
                                            vector_dtype=config.retrieval.vector_dtype,
                                            sign_codes_from=config.retrieval.sign_codes_from)
        self.retriever = Retriever(self.index, self.embedder, config.retrieval)
        self.answerer = Answerer(self.store, self.retriever, config.retrieval)
        self.alerts = Alerts(self.store, self.index, self.embedder, config)
        self._watches: dict[str, FolderWatch] = {}

    def load_index(self) -> None:
        """Load the saved index (if not loaded yet) without catching up with the store."""
        if self.index.current is None:
            self.index.load()

    def open_index(self, progress: Progress | None = None) -> None:
        """Load the saved index and index whatever the store gained since (embedding only new text)."""
        self.load_index()
        self.index.catch_up(progress)
        self.retriever.prepare()
        memory.settle()

    def pending_passages(self) -> int:
        """Passages saved but not yet indexed: the size of the embedding work ahead."""
        self.load_index()
        return self.store.passages_after(self.index.current.watermark)

    def ingest(self, paths: Iterable[str | Path], progress: Progress | None = None) -> IngestReport:
        """Save, then index what was saved when the index is open (else it catches up on opening)."""
        report = ingest_paths(self.store, paths, self.config.ingest, progress)
        self._index_new(report)
        return report

    def ingest_watched(self, folder: str | Path) -> IngestReport:
        """Save what is new or changed in a watched folder since the last call (see index.watch)."""
        watch = self._watches.setdefault(str(folder), FolderWatch(folder))
        report = watch.ingest(self.store, self.config.ingest)
        self._index_new(report)
        return report

    def save_documents(self, documents: Iterable[RawDocument]) -> IngestReport:
        report = ingest_documents(self.store, documents, self.config.ingest)
        self._index_new(report)
        return report

    def save_data(self, data: bytes, name: str, origin: str, url: str | None = None) -> IngestReport:
        """Save downloaded bytes (a document sent to the bot, a fetched page)."""
        report = ingest_data(self.store, data, name, origin, self.config.ingest, url)
        self._index_new(report)
        return report

    def _index_new(self, report: IngestReport) -> None:
        if report.added and self.index.current is not None:
            self.index.catch_up()

    def answer(self, question: str, now: date | None = None, mode: str = "hybrid", more: int = 0) -> Answer:
        """`more`: further quotes to hold back for a "More" button."""
        if self.index.current is None:
            self.open_index()
        return self.answerer.answer(question, now=now, mode=mode, more=more)

    def follow(self, watermark: int) -> int:
        """Index what another process of this store had indexed at `watermark`, from the vectors
        it stored, without saving a generation (an answer worker: index.answer_pool)."""
        self.load_index()
        if self.index.current.watermark >= watermark:
            return 0
        return self.index.catch_up(upto=watermark, save=False)

    def refresh(self) -> tuple[int, int]:
        """Index what other processes saved, then match it against topics: (indexed, alerts)."""
        if self.index.current is None:
            self.open_index()
            indexed = 0
        else:
            indexed = self.index.catch_up()
        return indexed, self.alerts.match_new()

    def timeline(self, topic: str, granularity: str = "auto") -> Timeline:
        """Stored articles matching a topic (as alerts match), bucketed by week or month."""
        if self.index.current is None:
            self.open_index()
        query = parse_topic(topic, self.config.alerts.max_topic_chars)
        vector = self.embedder.encode_query(query.text)
        scores = corpus_scores(self.index.current, query, vector, self.config.retrieval)
        threshold = self.config.alerts.threshold
        seqs = [seq for seq, (score, _) in scores.items() if score >= threshold]
        if query.phrases or query.excluded:  # the filters need the text
            kept = [a.seq for a in self.store.articles_by_seq(seqs).values() if query.admits(f"{a.title}\n{a.text}")]
        else:
            kept = seqs
        items = [
            TimelineItem(date=h.date, title=h.title, article_id=h.id, score=scores[h.seq][0])
            for h in self.store.headers_by_seq(kept).values()
        ]
        return build_timeline(query.raw, items, granularity)

    def reindex(self, progress: Progress | None = None, stop=None) -> None:
        """`stop`: a threading.Event that ends the rebuild early (RebuildStopped)."""
        self.index.rebuild(progress, stop)
        self.retriever.prepare()
        memory.settle()

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
