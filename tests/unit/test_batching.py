"""Concurrent calls share a batch; each caller gets its own result, a lone caller never waits."""

import threading

import pytest

from index.batching import Batcher


def test_a_lone_call_runs_at_once_as_a_batch_of_one():
    seen = []
    batcher = Batcher(lambda items: seen.append(list(items)) or [i * 2 for i in items])
    assert batcher(21) == 42
    assert seen == [[21]]


def test_calls_arriving_while_a_batch_runs_go_together_as_the_next_batch():
    first_running, release_first = threading.Event(), threading.Event()
    batches = []

    def run(items):
        batches.append(list(items))
        if len(batches) == 1:
            first_running.set()
            assert release_first.wait(10)
        return [f"answer to {i}" for i in items]

    batcher = Batcher(run)
    results = {}

    def ask(i):
        results[i] = batcher(i)

    leader = threading.Thread(target=ask, args=(0,))
    leader.start()
    assert first_running.wait(10)
    others = [threading.Thread(target=ask, args=(i,)) for i in range(1, 6)]
    for t in others:
        t.start()
    while len(batcher._waiting) < 5:  # all five are queued behind the running batch
        threading.Event().wait(0.001)
    release_first.set()
    for t in [leader, *others]:
        t.join(10)
    assert batches == [[0], [1, 2, 3, 4, 5]]
    assert results == {i: f"answer to {i}" for i in range(6)}
    assert (batcher.batches, batcher.items) == (2, 6)


def test_a_batch_is_capped_and_the_rest_run_after_it():
    gate = threading.Event()
    batches = []

    def run(items):
        batches.append(len(items))
        if len(batches) == 1:
            assert gate.wait(10)
        return list(items)

    batcher = Batcher(run, max_batch=2)
    threads = [threading.Thread(target=batcher, args=(i,)) for i in range(5)]
    threads[0].start()
    while not batches:
        threading.Event().wait(0.001)
    for t in threads[1:]:
        t.start()
    while len(batcher._waiting) < 4:
        threading.Event().wait(0.001)
    gate.set()
    for t in threads:
        t.join(10)
    assert batches == [1, 2, 2]


def test_an_error_reaches_every_caller_of_its_batch_and_the_next_batch_still_runs():
    batcher = Batcher(lambda items: (_ for _ in ()).throw(ValueError("model failed")) if "bad" in items else items)
    with pytest.raises(ValueError, match="model failed"):
        batcher("bad")
    assert batcher("good") == "good"
