"""A lock many readers share and one writer holds alone.

Questions only read the index; adding articles changes it. Under one exclusive lock the bot's
question workers searched one at a time however many cores there were; shared, they overlap
wherever numpy and torch release the GIL. (On 2 cores the GIL limits the load test either way:
README, Reliability: Load.)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class ReadWriteLock:
    """Writer-preferring: once a writer waits, new readers wait behind it (catch-ups are short
    and must not starve behind a stream of questions). A thread may re-enter what it holds, and a
    writer may read; a reader may not become a writer (that deadlocks two such readers)."""

    def __init__(self) -> None:
        self._changed = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer: int | None = None
        self._writer_depth = 0
        self._writers_waiting = 0
        self._mine = threading.local()  # this thread's shared holds

    def acquire_shared(self) -> None:
        me = threading.get_ident()
        held = getattr(self._mine, "depth", 0)
        with self._changed:
            if held or self._writer == me:  # nested, or reading inside one's own write
                self._mine.depth = held + 1
                return
            while self._writer is not None or self._writers_waiting:
                self._changed.wait()
            self._readers += 1
            self._mine.depth = 1

    def release_shared(self) -> None:
        with self._changed:
            self._mine.depth -= 1
            if self._mine.depth == 0 and self._writer != threading.get_ident():
                self._readers -= 1
                if self._readers == 0:
                    self._changed.notify_all()

    def acquire(self) -> None:
        me = threading.get_ident()
        with self._changed:
            if self._writer == me:
                self._writer_depth += 1
                return
            if getattr(self._mine, "depth", 0):
                raise RuntimeError("a reader cannot take the write lock it would wait for itself")
            self._writers_waiting += 1
            try:
                while self._writer is not None or self._readers:
                    self._changed.wait()
            finally:
                self._writers_waiting -= 1
            self._writer, self._writer_depth = me, 1

    def release(self) -> None:
        with self._changed:
            self._writer_depth -= 1
            if self._writer_depth == 0:
                self._writer = None
                self._changed.notify_all()

    @contextmanager
    def shared(self) -> Iterator[None]:
        self.acquire_shared()
        try:
            yield
        finally:
            self.release_shared()

    def __enter__(self) -> ReadWriteLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()
