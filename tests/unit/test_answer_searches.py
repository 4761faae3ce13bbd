"""How many times an answer searches, and what each search costs."""

from __future__ import annotations

from datetime import date

from tests.support.demo import demo_documents, engine_at
from tests.support.hashing import HashingEmbedder


class CountingQueries(HashingEmbedder):
    def __init__(self):
        super().__init__()
        self.queries: list[str] = []

    def encode_query(self, text: str):
        self.queries.append(text)
        return super().encode_query(text)


def test_a_week_with_nothing_on_the_topic_is_searched_again_with_the_vector_it_has(tmp_path):
    """"…this week?" when the week holds nothing on it: the whole store is searched again for
    "the latest I have", and that search reuses the question's vector (with the model, a forward
    pass is ~12 ms of the answer)."""
    embedder = CountingQueries()
    engine = engine_at(tmp_path / "store.db", embedder)
    try:
        engine.save_documents(demo_documents())
        engine.open_index()
        answer = engine.answer("What happened with the rail strike this week?", now=date(2026, 11, 24))
        assert answer.no_answer and answer.note.endswith("The latest I have:") and answer.quotes
        assert embedder.queries == ["What happened with the rail strike ?"]  # one forward pass for both searches
    finally:
        engine.close()


def test_the_latest_i_have_is_searched_only_as_deep_as_its_first_stories_need(tmp_path, monkeypatch):
    """The second search points at the best story and the newest close to it: it takes each
    method's best LATEST_DEPTH passages, not retrieval.candidates (BM25 prunes more)."""
    from index.answers import LATEST_DEPTH

    engine = engine_at(tmp_path / "store.db", HashingEmbedder())
    try:
        engine.save_documents(demo_documents())
        engine.open_index()
        depths = []
        search = engine.answerer.retriever.search

        def spy(*args, **kwargs):
            depths.append(kwargs.get("depth"))
            return search(*args, **kwargs)

        monkeypatch.setattr(engine.answerer.retriever, "search", spy)
        answer = engine.answer("What happened with the rail strike this week?", now=date(2026, 11, 24))
        assert answer.note.endswith("The latest I have:")
        assert depths == [None, LATEST_DEPTH] and LATEST_DEPTH < engine.config.retrieval.candidates
    finally:
        engine.close()


def test_a_large_index_scores_both_stages_at_once_and_answers_the_same(tmp_path, monkeypatch):
    """From retrieval.parallel_stages_from passages (0 here) the dense stage runs in a thread of
    its own while BM25 scores: every answer, in every mode and window, is the sequential one."""
    import dataclasses
    import threading

    questions = ["What happened with the rail strike this week?", "How many jobs will the Brightgrid battery "
                 "factory create?", "Who leads the port authority?", "What happened in June 2026?"]
    engine = engine_at(tmp_path / "store.db", HashingEmbedder())
    try:
        engine.save_documents(demo_documents())
        engine.open_index()
        now = date(2026, 11, 24)
        sequential = {(q, m): engine.answer(q, now=now, mode=m).as_dict()
                      for q in questions for m in ("hybrid", "bm25", "dense")}
        threads = []
        vectors = engine.index.current.vectors
        top = vectors.top

        def spy(*args, **kwargs):
            threads.append(threading.current_thread().name)
            return top(*args, **kwargs)

        monkeypatch.setattr(vectors, "top", spy)
        retriever = engine.answerer.retriever
        monkeypatch.setattr(retriever, "config", dataclasses.replace(retriever.config, parallel_stages_from=0))
        for (question, mode), expected in sequential.items():
            assert engine.answer(question, now=now, mode=mode).as_dict() == expected, (question, mode)
        assert any(name.startswith("dense-stage") for name in threads)
        assert threading.current_thread().name in threads  # dense mode alone stays in the answering thread
    finally:
        engine.close()


def test_a_forked_process_makes_its_own_stage_threads():
    """A child forked after the parent used the pool has none of its threads: it makes a pool of
    its own instead of queueing dense stages that nothing would run."""
    import multiprocessing
    import os

    import index.retrieval as retrieval

    import time

    parent_pool = retrieval._stage_pool()
    both = [parent_pool.submit(time.sleep, 0.2) for _ in range(2)]  # both threads started
    for future in both:
        future.result()
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        child_pid, answered = pool.apply(_stage_pool_answers)
    assert answered == child_pid != os.getpid()
    assert retrieval._stage_pool() is parent_pool


def _stage_pool_answers() -> tuple[int, int]:
    import os

    import index.retrieval as retrieval

    return os.getpid(), retrieval._stage_pool().submit(os.getpid).result(timeout=10)
