"""Questions answered in worker processes, so that one process's GIL does not serialise them.

In the bot's own process the numpy and torch stages of an answer run beside other questions,
but the Python around them (fusion, story de-duplication, sentence choice) holds the GIL: under
load two cores sat a third idle (README, Reliability: Load). A worker is an Engine of its own
over the same store. It loads the saved index generation and, before each question, indexes
what the asking process had indexed (its watermark travels with the question), from the vectors
that process stored: a worker never embeds a passage nor writes a generation, and every process
answers from the same articles.

A worker that dies breaks the executor: the question it held fails with BrokenProcessPool, the
caller answers it in-process, and the next question gets fresh workers. Two breaks within
`BREAK_WINDOW_S` turn the pool off for good (`disabled`), so a crash loop costs two questions'
worth of start-ups, not one per question. `restart()` (after a /reindex) warms fresh workers on
the new generation before the old ones are retired.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import date

from . import memory
from .answers import Answer
from .config import Config, ModelConfig
from .embedding import Embedder

log = logging.getLogger(__name__)
BREAK_WINDOW_S = 60.0
WARM_TIMEOUT_S = 600.0  # loading a generation of millions of passages takes a minute or more

EmbedderFactory = Callable[[ModelConfig], Embedder]
_engine = None  # the worker process's Engine (set by _start)


def _start(config: Config, store_location: str, make_embedder: EmbedderFactory) -> None:
    """Runs once in each worker: one torch thread, as the workers share the cores between them."""
    global _engine
    from .engine import Engine  # the worker's own import: the parent may never need an Engine here
    from .store import open_store

    config = dataclasses.replace(config, model=dataclasses.replace(config.model, threads=1))
    _engine = Engine(config, store=open_store(store_location), embedder=make_embedder(config.model))
    _engine.load_index()
    _engine.retriever.prepare()
    _engine.embedder.encode_query("warm up")  # the model loads now, not with the first question
    memory.settle()


def _ready(watermark: int) -> int:
    _engine.follow(watermark)
    return os.getpid()


def _answer(question: str, watermark: int, now: date | None, mode: str, more: int) -> Answer:
    _engine.follow(watermark)
    return _engine.answerer.answer(question, now=now, mode=mode, more=more)


class AnswerPool:
    """`make_embedder` builds the workers' embedder from the model config: the class of the one
    the bot holds (it must be importable by a fresh process)."""

    def __init__(self, config: Config, store_location: str, processes: int,
                 make_embedder: EmbedderFactory = Embedder):
        if processes < 1:
            raise ValueError("an answer pool needs at least one process")
        self.config = config
        self.store_location = store_location
        self.processes = processes
        self.make_embedder = make_embedder
        self.disabled = False
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._broken_at: float | None = None

    def _new_executor(self) -> ProcessPoolExecutor:
        # spawn, not fork: a forked child would inherit torch's thread pool in whatever state it was
        return ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start, initargs=(self.config, self.store_location, self.make_embedder))

    def _warmed(self, watermark: int) -> ProcessPoolExecutor:
        """A new executor whose every worker has loaded the index and caught up to `watermark`:
        with no idle worker, each of these submissions starts a process of its own."""
        executor = self._new_executor()
        try:
            pings = [executor.submit(_ready, watermark) for _ in range(self.processes)]
            pids = {ping.result(timeout=WARM_TIMEOUT_S) for ping in pings}
        except BaseException:
            executor.shutdown(wait=False, cancel_futures=True)
            raise
        log.info("answer workers ready: %d process(es), pids %s", len(pids), sorted(pids))
        return executor

    def start(self, watermark: int) -> None:
        """Blocks until every worker is ready (seconds: the model and the index load in each)."""
        executor = self._warmed(watermark)
        with self._lock:
            self._executor = executor

    def restart(self, watermark: int) -> None:
        """Fresh workers on the generation saved now (after a rebuild); questions go on to the old
        workers until the new ones are ready, and those already given to the old ones finish."""
        executor = self._warmed(watermark)
        with self._lock:
            old, self._executor = self._executor, executor
        if old is not None:
            old.shutdown(wait=False)

    def submit(self, question: str, watermark: int, now: date | None = None, mode: str = "hybrid",
               more: int = 0) -> Future:
        """The answer's future. Raises BrokenProcessPool (now or from the future) when a worker
        died: the caller answers that question itself."""
        with self._lock:
            if self.disabled or self._executor is None:
                raise BrokenProcessPool("the answer workers are not running")
            executor = self._executor
        try:
            future = executor.submit(_answer, question, watermark, now, mode, more)
        except BrokenProcessPool:
            self._broke(executor)
            raise
        def check(done: Future) -> None:
            if not done.cancelled() and isinstance(done.exception(), BrokenProcessPool):
                self._broke(executor)

        future.add_done_callback(check)
        return future

    def _broke(self, executor: ProcessPoolExecutor) -> None:
        """Replace a broken executor (its workers start with the next question), or turn the pool
        off when it broke twice within BREAK_WINDOW_S."""
        with self._lock:
            if executor is not self._executor:
                return  # already replaced
            now = time.monotonic()
            again = self._broken_at is not None and now - self._broken_at < BREAK_WINDOW_S
            self._broken_at = now
            if again:
                self.disabled = True
                self._executor = None
                log.error("answer workers died twice within %.0f s: answering in the bot's process from now on",
                          BREAK_WINDOW_S)
            else:
                self._executor = self._new_executor()
                log.warning("an answer worker died: starting new ones")
        executor.shutdown(wait=False, cancel_futures=True)

    @property
    def running(self) -> bool:
        return self._executor is not None and not self.disabled

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
