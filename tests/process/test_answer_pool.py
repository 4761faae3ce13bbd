"""Questions answered in worker processes (index.answer_pool): the same answers as the bot's own
process gives, from the articles the bot had indexed when it asked, through dead workers and
rebuilds. The hashing embedder stands in for the model: workers are real spawned processes
reading the real SQLite store and the saved index generation."""

from __future__ import annotations

import os
import signal
from concurrent.futures.process import BrokenProcessPool
from datetime import date

import pytest

from index.answer_pool import AnswerPool
from index.config import Config, StoreConfig
from index.engine import Engine
from index.models import RawDocument
from index.store import location_of
from tests.support.demo import demo_documents
from tests.support.hashing import HashingEmbedder

pytestmark = pytest.mark.timeout(180)
NOW = date(2026, 10, 31)  # the demo set's last day
QUESTIONS = ["When did Kestrel Mobile sign the 5G deal with Orvane?", "What happened at Port Alder harbour?",
             "Who won the Formula One title on Mars?", "latest rail strike"]


@pytest.fixture
def engine(store_location):
    """The demo store, on SQLite (workers load the saved generation) and PostgreSQL (no index on
    disk: workers index the store's vectors in memory)."""
    engine = Engine(Config(store=StoreConfig(path=store_location)), embedder=HashingEmbedder())
    engine.save_documents(demo_documents())
    engine.open_index()
    yield engine
    engine.close()


@pytest.fixture
def pool(engine):
    pool = AnswerPool(engine.config, location_of(engine.store), processes=2, make_embedder=HashingEmbedder)
    pool.start(engine.index.current.watermark)
    yield pool
    pool.close()


def ask(pool, engine, question, watermark=None):
    watermark = engine.index.current.watermark if watermark is None else watermark
    return pool.submit(question, watermark, NOW).result(timeout=60)


def workers(pool) -> list[int]:
    return list(pool._executor._processes)


def kill_workers(pool) -> None:
    """Every worker: with one left alive, the question could still reach it before the pool sees
    the death, and the test would race."""
    for pid in workers(pool):
        os.kill(pid, signal.SIGKILL)


def test_workers_give_the_answers_the_bots_process_gives(pool, engine):
    for question in QUESTIONS:
        assert ask(pool, engine, question) == engine.answer(question, now=NOW)
    assert len(workers(pool)) == 2


def test_a_worker_answers_from_the_articles_the_bot_had_indexed_when_it_asked(pool, engine):
    before = engine.index.current.watermark
    engine.save_documents([RawDocument(
        origin="test", title="Quillfern opens a glass bridge", date="2026-10-30",
        text="Quillfern opened its glass bridge over the Vessa gorge on Friday. The bridge is 400 metres long.")])
    question = "How long is the Quillfern glass bridge?"
    assert ask(pool, engine, question, watermark=before).no_answer  # not yet indexed when asked
    answer = ask(pool, engine, question)
    assert not answer.no_answer and answer.quotes[0].title == "Quillfern opens a glass bridge"
    assert answer == engine.answer(question, now=NOW)


def test_dead_workers_fail_only_the_question_in_hand_and_new_workers_answer_the_next(pool, engine):
    kill_workers(pool)
    with pytest.raises(BrokenProcessPool):
        ask(pool, engine, QUESTIONS[0])
    assert pool.running
    assert ask(pool, engine, QUESTIONS[0]) == engine.answer(QUESTIONS[0], now=NOW)


def test_workers_dying_twice_in_a_row_turn_the_pool_off(pool, engine):
    for _ in range(2):
        ask(pool, engine, QUESTIONS[0])  # the replacements start with a question
        kill_workers(pool)
        with pytest.raises(BrokenProcessPool):
            ask(pool, engine, QUESTIONS[0])
    assert not pool.running
    with pytest.raises(BrokenProcessPool):  # the caller answers in its own process from now on
        pool.submit(QUESTIONS[0], engine.index.current.watermark, NOW)


def test_a_restart_after_a_rebuild_puts_fresh_workers_on_the_new_generation(pool, engine):
    old = set(workers(pool))
    engine.reindex()
    pool.restart(engine.index.current.watermark)
    assert not old & set(workers(pool))
    assert ask(pool, engine, QUESTIONS[1]) == engine.answer(QUESTIONS[1], now=NOW)


def test_workers_that_cannot_start_fail_the_start(engine, tmp_path):
    pool = AnswerPool(engine.config, str(tmp_path / "missing" / "dir" / "\0bad.db"), processes=1,
                      make_embedder=HashingEmbedder)
    with pytest.raises(BrokenProcessPool):
        pool.start(engine.index.current.watermark)
    pool.close()
