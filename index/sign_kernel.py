"""The sign codes' first pass as compiled loops (numba): Hamming distances and their histogram in
one read of the codes, then the passages within the cut-off in one read of the distances.

numpy needed a pass per 64-bit word (XOR into a temporary, popcount into another, add into the
distances), then a histogram pass and a mask pass: at ten million passages ~1.6 GB of memory
traffic a question for 480 MB of codes (132 ms, AMD EPYC). Here each passage's words are read
once, row by row, and counted with the CPU's popcount instruction (LLVM's ctpop): 25 ms at 10M,
2.5 ms at 1M against numpy's 6.3 (README: Benchmarks). Integer work only, so the result is
exactly numpy's on any CPU. Compiled without the GIL, so answers in threads run it at once.

The candidates' exact cosines, where the vectors are int8 (the default from `sign_codes_from`),
are a compiled loop too: numpy widened the rows to a float32 copy and handed the product to
OpenBLAS, whose threads then waited for a core that the other scoring stage held (0.8-1.1 ms for
4,000 candidates alone; 0.14 ms here, in one thread).
"""

from __future__ import annotations

import numba
import numpy as np

from .cpu_intrinsics import popcount

NO_MASK = np.zeros(0, np.bool_)  # "every passage is allowed" (numba takes one array type, not None)


@numba.njit(nogil=True, cache=True)
def distances(codes, query, allowed, out, histogram):
    """Every passage's Hamming distance to `query` into `out`, and the histogram of the allowed
    passages' distances into `histogram` (zeroed by the caller; `allowed` empty: all passages)."""
    masked = len(allowed) > 0
    for i in range(codes.shape[0]):
        d = 0
        for w in range(codes.shape[1]):
            d += popcount(codes[i, w] ^ query[w])
        out[i] = d
        if not masked or allowed[i]:
            histogram[d] += 1


@numba.njit(nogil=True, cache=True)
def count_distances(distance, allowed, histogram):
    """The histogram of the allowed passages' distances already computed (a second search with
    the same query in another window)."""
    masked = len(allowed) > 0
    for i in range(len(distance)):
        if not masked or allowed[i]:
            histogram[distance[i]] += 1


@numba.njit(nogil=True, cache=True)
def within(distance, cutoff, allowed, count):
    """The allowed passages at most `cutoff` away, in passage order; `count` is how many there are
    (read off the histogram), so the result is allocated once."""
    masked = len(allowed) > 0
    out = np.empty(count, np.int64)
    found = 0
    for i in range(len(distance)):
        if distance[i] <= cutoff and (not masked or allowed[i]):
            out[found] = i
            found += 1
    return out[:found]


@numba.njit(nogil=True, cache=True, fastmath=True)
def int8_cosines(rows, scale, ids, query, out):
    """out[j] = cosine of passage ids[j]: its int8 row · query × its scale, summed in float32
    (reassociated so that it vectorises: rounding moves by ~1e-7, as BLAS's blocked sums move it)."""
    for j in range(len(ids)):
        i = ids[j]
        total = np.float32(0.0)
        for k in range(rows.shape[1]):
            total += np.float32(rows[i, k]) * query[k]
        out[j] = total * scale[i]


def warm() -> None:
    """Compile the loops (a fresh install, ~2 s) or read them from numba's cache, with the very
    argument types `SignCodes.nearest` passes (its distances are read-only), so that no question
    waits for it."""
    codes = np.zeros((2, 6), np.uint64)
    distance = np.empty(2, np.uint16)
    histogram = np.zeros(385, np.int64)
    distances(codes, codes[0], NO_MASK, distance, histogram)
    distance.flags.writeable = False
    count_distances(distance, NO_MASK, histogram)
    within(distance, 0, NO_MASK, 2)
    int8_cosines(np.zeros((2, 4), np.int8), np.ones(2, np.float32), np.zeros(1, np.int64), np.zeros(4, np.float32),
                 np.empty(1, np.float32))
