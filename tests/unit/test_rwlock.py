"""Questions share the index; a change waits for them and has it alone."""

import threading

import pytest

from index.rwlock import ReadWriteLock


def _start(target) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def test_readers_hold_the_lock_at_the_same_time():
    lock = ReadWriteLock()
    both_inside = threading.Barrier(2, timeout=5)

    def read():
        with lock.shared():
            both_inside.wait()  # breaks (and fails the join below) unless both are inside at once

    threads = [_start(read) for _ in range(2)]
    for t in threads:
        t.join(5)
    assert not both_inside.broken


def test_a_writer_waits_for_readers_and_then_has_the_lock_alone():
    lock = ReadWriteLock()
    events = []
    reader_in, reader_may_leave = threading.Event(), threading.Event()

    def read():
        with lock.shared():
            reader_in.set()
            assert reader_may_leave.wait(5)
            events.append("reader out")

    def write():
        with lock:
            events.append("writer in")

    reader = _start(read)
    assert reader_in.wait(5)
    writer = _start(write)
    writer.join(0.2)
    assert writer.is_alive() and events == []  # held back by the reader
    reader_may_leave.set()
    for t in (reader, writer):
        t.join(5)
    assert events == ["reader out", "writer in"]


def test_a_waiting_writer_holds_back_new_readers():
    lock = ReadWriteLock()
    order = []
    first_in, first_may_leave = threading.Event(), threading.Event()

    def first_reader():
        with lock.shared():
            first_in.set()
            assert first_may_leave.wait(5)

    def writer():
        with lock:
            order.append("writer")

    def late_reader():
        with lock.shared():
            order.append("late reader")

    threads = [_start(first_reader)]
    assert first_in.wait(5)
    threads.append(_start(writer))
    while not lock._writers_waiting:
        threading.Event().wait(0.001)
    threads.append(_start(late_reader))
    threads[-1].join(0.2)
    assert order == []  # the late reader queues behind the writer, not beside the first reader
    first_may_leave.set()
    for t in threads:
        t.join(5)
    assert order == ["writer", "late reader"]


def test_holders_may_reenter_and_a_writer_may_read():
    lock = ReadWriteLock()
    with lock.shared(), lock.shared():
        pass
    with lock, lock, lock.shared():
        pass
    done = []
    _start(lambda: (lock.acquire(), done.append(1), lock.release())).join(5)
    assert done == [1]  # everything was released


def test_a_reader_cannot_become_a_writer():
    lock = ReadWriteLock()
    with lock.shared():
        with pytest.raises(RuntimeError, match="reader"):
            lock.acquire()
    with lock:  # and nothing was left held
        pass
