"""The garbage collector and a long-running process.

CPython's full collections walk every tracked object, holding the GIL: every question waits. What
a serving process holds for its whole life is mostly what importing torch creates (~165k objects;
a full collection took ~100 ms with torch imported and nothing else, AMD EPYC) and the structures
around a loaded index. Once an index is loaded or rebuilt, what is alive is moved out of the
collector's view (`gc.freeze`): later collections walk only what answers allocate. torch is
imported first, because the first question would import it moments later (the query encoder,
the float16 product) and leave those objects in view. Frozen objects are still freed by reference
counting when a swapped-out index is dropped; only reference cycles among them would wait (the
index makes none).
"""

from __future__ import annotations

import ctypes
import gc


def settle() -> None:
    """Import torch, collect what is garbage now, then freeze everything still alive, and give
    the heap's free pages back to the system (call after loading or swapping in an index)."""
    import torch  # noqa: F401 - for its objects' sake (module docstring)

    gc.collect()
    gc.freeze()
    trim_heap()


def trim_heap() -> bool:
    """Return the C heap's free memory to the system (glibc's malloc_trim); False where there is
    no glibc. A rebuild frees hundreds of MB of small objects (the old index's vocabulary, batches
    of articles and tokens) that glibc keeps inside its heap, where they count as the process's
    RSS until reused: at a million passages a process that had rebuilt once held ~0.4-0.9 GB more
    than one that had loaded the same index (scripts/rebuild_memory.py, README: Benchmarks)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (musl, macOS): nothing to trim this way
        return False
    trim = getattr(libc, "malloc_trim", None)
    if trim is None:
        return False
    trim(0)
    return True
