"""The garbage collector and a large loaded index.

A loaded index holds millions of Python-tracked objects (its vocabulary and the structures around
the postings), all alive for as long as the index serves. CPython's full collections walk every
tracked object, so each one paused an answer at a million passages for 100–130 ms, about every
30 answers. Once an index is loaded or rebuilt, what is alive is moved out of the collector's
view (`gc.freeze`): later collections walk only what answers allocate. Frozen objects are still
freed by reference counting when a swapped-out index is dropped; only reference cycles among them
would wait (the index makes none).
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect what is garbage now, then freeze everything still alive (call after loading or
    swapping in an index)."""
    gc.collect()
    gc.freeze()
