"""Calls that arrive together run as one batch, with no waiting window.

A question's vector is one small forward pass whose cost is mostly reading the model's weights
(~90 MB for MiniLM): four questions answered at once read them four times over and thrash the
cache, where one batch of four reads them once. A caller that finds nothing running runs at once,
alone; callers arriving while a batch runs wait for it to end and then go together as the next
one, so a lone user never waits and a busy bot batches by itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


@dataclass
class _Slot(Generic[In, Out]):
    item: In
    done: bool = False
    result: Out | None = None
    error: BaseException | None = None


class Batcher(Generic[In, Out]):
    """`batcher(item)` returns `run([.., item, ..])[its position]`, batching concurrent calls."""

    def __init__(self, run: Callable[[list[In]], Sequence[Out]], max_batch: int = 16):
        self._run = run
        self._max = max_batch
        self._changed = threading.Condition()
        self._waiting: list[_Slot[In, Out]] = []
        self._running = False
        self.batches = 0  # batches run, and the items in them: what /stats-like reports can show
        self.items = 0

    def __call__(self, item: In) -> Out:
        slot: _Slot[In, Out] = _Slot(item)
        with self._changed:
            self._waiting.append(slot)
            while not slot.done:
                if self._running:
                    self._changed.wait()
                    continue
                batch, self._waiting = self._waiting[: self._max], self._waiting[self._max:]
                self._running = True
                self._changed.release()
                try:
                    results, error = self._run([s.item for s in batch]), None
                except BaseException as exc:  # noqa: BLE001 - handed to every caller of the batch
                    results, error = None, exc
                finally:
                    self._changed.acquire()
                    self._running = False
                self.batches += 1
                self.items += len(batch)
                for position, waiting in enumerate(batch):
                    waiting.done = True
                    if error is not None:
                        waiting.error = error
                    else:
                        waiting.result = results[position]
                self._changed.notify_all()
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]
