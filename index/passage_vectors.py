"""Passage vectors in the dtype the config asks for: float32, float16 (half the memory; the product
runs in torch, whose half-precision matrix-vector product numpy lacks) or int8 with a scale per
vector (a quarter), grown in place as passages are added, checked when loaded."""

from __future__ import annotations

import threading
import typing
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from . import sign_kernel
from .config import VectorDtype

VECTOR_DTYPES: tuple[str, ...] = typing.get_args(VectorDtype)


def storage_dtype(choice: str, passages: int, sign_codes_from: int) -> str:
    """The dtype an index of this many passages holds its vectors in (`retrieval.vector_dtype`):
    a dtype named is kept; "auto" is float16 while search is exact (its product is the fastest,
    README: Benchmarks) and int8 from `sign_codes_from` on, where only the sign codes' candidates
    are rescored (int8 rescoring: the same eval figures within 0.005, a dense stage as fast, half
    of float16's memory)."""
    if choice != "auto":
        return choice
    return "int8" if passages >= sign_codes_from else "float16"


def quantize(rows: np.ndarray, dtype: str) -> tuple[np.ndarray, np.ndarray | None]:
    """float32 unit vectors as stored in `dtype`: (rows, None), or for int8 (rows, a float32
    scale per row: the row's largest magnitude maps to 127)."""
    if dtype != "int8":
        return rows.astype(np.dtype(dtype), copy=False), None
    scale = np.abs(rows).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    return np.rint(rows / scale[:, None]).astype(np.int8), scale.astype(np.float32)


class _Growable:
    """An append-only numpy array with amortised O(1) growth."""

    def __init__(self, dtype, width: int | None = None, data: np.ndarray | None = None):
        shape = (0,) if width is None else (0, width)
        self._data = np.zeros(shape, dtype) if data is None else data
        self._n = len(self._data)

    def reserve(self, capacity: int) -> None:
        """Room for `capacity` rows in all, allocated once (a rebuild knows how many it will add)."""
        if capacity > len(self._data):
            grown = np.zeros((capacity, *self._data.shape[1:]), self._data.dtype)
            grown[: self._n] = self._data[: self._n]
            self._data = grown

    def extend(self, rows: np.ndarray) -> None:
        need = self._n + len(rows)
        if need > len(self._data):
            capacity = max(need, int(len(self._data) * 1.5) + 16)
            grown = np.zeros((capacity, *self._data.shape[1:]), self._data.dtype)
            grown[: self._n] = self._data[: self._n]
            self._data = grown
        self._data[self._n : need] = rows
        self._n = need

    @property
    def view(self) -> np.ndarray:
        return self._data[: self._n]


class PassageVectors:
    """The passages' unit vectors, stored as float32, float16 (half the memory; the product runs
    in torch, whose half-precision matrix-vector product is faster on CPU than numpy's float32
    one, while numpy has no fast float16 product) or int8 with a scale per vector (a quarter of
    the memory; the product dequantises chunk by chunk in numpy). Scores are float32 cosines."""

    CHUNK = 2048  # rows dequantised at a time (int8, or float16 without torch)
    # rows whose signs are packed at a time: the signs are read from the stored dtype (an int8
    # row's scale is positive), so the transient is this block's bytes, not a float32 copy
    # (65,536 float32 rows put ~120 MB on the peak RSS of a 1M index's load)
    SIGN_BLOCK = 16384

    def __init__(self, dimension: int, dtype: str = "float32", data: np.ndarray | None = None,
                 scale: np.ndarray | None = None):
        if dtype not in VECTOR_DTYPES:
            raise ValueError(f"vector dtype must be one of {', '.join(VECTOR_DTYPES)}, got {dtype!r}")
        self.dimension = dimension
        self.dtype = dtype
        if data is not None and data.dtype != np.dtype(dtype):
            raise ValueError(f"vectors of dtype {data.dtype}, expected {dtype}")
        self._rows = _Growable(np.dtype(dtype), dimension, data)
        self._scale = _Growable(np.float32, data=scale) if dtype == "int8" else None
        self._signs: SignCodes | None = None
        if self._scale is not None and len(self._scale.view) != len(self._rows.view):
            raise ValueError("int8 vectors need one scale per vector")

    def __len__(self) -> int:
        return len(self._rows.view)

    @property
    def view(self) -> np.ndarray:
        """The stored rows, in their storage dtype (int8 rows are scaled: see `take`)."""
        return self._rows.view

    def reserve(self, capacity: int) -> None:
        self._rows.reserve(capacity)
        if self._scale is not None:
            self._scale.reserve(capacity)

    def extend(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, np.float32)
        if rows.ndim != 2 or rows.shape[1] != self.dimension:
            raise ValueError(f"vectors of shape {rows.shape}, index has dimension {self.dimension}")
        if self._signs is not None:
            self._signs.extend(rows)
        stored, scale = quantize(rows, self.dtype)
        self._rows.extend(stored)
        if self._scale is not None:
            self._scale.extend(scale)

    def take(self, rows: np.ndarray | slice) -> np.ndarray:
        """The given rows as float32 vectors (float16 widened by torch: numpy's conversion is ~5x
        slower, most of exact rescoring's time)."""
        picked = self._rows.view[rows]
        torch = _torch() if self.dtype == "float16" else None
        if torch is not None and picked.size:
            return torch.from_numpy(np.ascontiguousarray(picked)).float().numpy()
        out = np.asarray(picked, np.float32)
        if self._scale is not None:
            out *= self._scale.view[rows][..., None]
        return out

    def scores(self, query: np.ndarray) -> np.ndarray:
        """Each stored vector's dot product with `query` (its cosine: both are unit vectors)."""
        matrix = self._rows.view
        query = np.asarray(query, np.float32)
        if self.dtype == "float32":
            return matrix @ query
        if self.dtype == "float16":
            torch = _torch()
            if torch is not None and len(matrix):
                product = torch.mv(torch.from_numpy(matrix), torch.from_numpy(query.astype(np.float16)))
                return product.float().numpy()
        out = np.empty(len(matrix), np.float32)
        buffer = np.empty((min(self.CHUNK, len(matrix)), self.dimension), np.float32)
        for start in range(0, len(matrix), self.CHUNK):
            stop = min(len(matrix), start + self.CHUNK)
            chunk = buffer[: stop - start]
            chunk[...] = matrix[start:stop]
            np.matmul(chunk, query, out=out[start:stop])
        if self._scale is not None:
            out *= self._scale.view
        return out

    def top(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None, rescore: int = 0) -> "DenseTop":
        """The k passages closest to `query` among `allowed` ones, best first.

        rescore = 0: every passage's exact cosine. Most questions may be answered by nearly every
        passage, so the best 2k are taken unmasked first and filtered; only when too few of them
        are allowed is the whole score array masked.

        rescore = R > 0: a first pass over one sign bit per dimension (48 bytes a passage at 384
        dimensions, a sixteenth of float32: the Hamming distance to the query's bits ranks
        passages by angle, roughly) picks the R nearest allowed passages, whose stored vectors
        then give the exact cosines that rank them. Measured on the eval pools (README)."""
        query = np.asarray(query, np.float32)
        if rescore <= 0 or rescore >= len(self):
            scores = self.scores(query)
            ids = best(scores, 2 * k if allowed is not None else k)
            if allowed is not None:
                kept = ids[allowed[ids]]
                if len(kept) >= k or len(ids) == len(scores):
                    ids = kept[:k]
                else:
                    masked = scores.copy()
                    masked[~allowed] = -np.inf
                    ids = best(masked, k)
            return DenseTop(ids, scores[ids], lambda rows: scores[rows])
        candidates = self.codes().nearest(query, rescore, allowed)
        exact = self.cosines(candidates, query)
        order = best(exact, k)
        return DenseTop(candidates[order], exact[order], lambda rows: self.cosines(rows, query))

    def cosines(self, rows: np.ndarray, query: np.ndarray) -> np.ndarray:
        """Exact float32 cosines of the given rows (in torch where the vectors are float16: its
        thread pool and OpenBLAS's slow each other down when both run in one answer; in one
        compiled loop where they are int8, `sign_kernel.int8_cosines`)."""
        if self.dtype == "int8" and len(rows):
            ids = np.ascontiguousarray(rows, np.int64)
            out = np.empty(len(ids), np.float32)
            sign_kernel.int8_cosines(self._rows.view, self._scale.view, ids, np.ascontiguousarray(query, np.float32), out)
            return out
        torch = _torch() if self.dtype == "float16" else None
        if torch is None or not len(rows):
            return self.take(rows) @ np.asarray(query, np.float32)
        picked = torch.from_numpy(np.ascontiguousarray(self._rows.view[rows])).float()
        return torch.mv(picked, torch.from_numpy(np.asarray(query, np.float32))).numpy()

    def codes(self) -> "SignCodes":
        """The sign codes, built on first use (a store small enough for exact search never pays
        for them) and kept up to date by `extend` from then on."""
        if self._signs is None:
            codes = SignCodes(self.dimension)
            codes.reserve(len(self))
            stored = self._rows.view
            for start in range(0, len(stored), self.SIGN_BLOCK):
                codes.extend(stored[start : start + self.SIGN_BLOCK])
            self._signs = codes
        return self._signs

    def arrays(self) -> dict[str, np.ndarray]:
        out = {"vectors": self._rows.view}
        if self._scale is not None:
            out["vector_scale"] = self._scale.view
        return out

    def astype(self, dtype: str) -> "PassageVectors":
        """The same vectors in another storage dtype (converted chunk by chunk)."""
        if dtype == self.dtype:
            return self
        out = PassageVectors(self.dimension, dtype)
        out.reserve(len(self))
        for start in range(0, len(self), 65536):
            out.extend(self.take(slice(start, start + 65536)))
        return out


@dataclass(frozen=True)
class DenseTop:
    """The dense stage's best passages, and how any other passage's cosine is had (the other
    method's candidates take theirs from it)."""

    ids: np.ndarray
    scores: np.ndarray
    cosine_of: typing.Callable[[np.ndarray], np.ndarray]
    # the last rows asked for and their cosines: zscore fusion and the relevance check both ask
    # for the fused candidates' (the same array), and above sign_codes_from each ask is a product
    _last: list = field(default_factory=list, compare=False, repr=False)

    def cosines(self, rows: np.ndarray) -> np.ndarray:
        if self._last and self._last[0] is rows:
            return self._last[1]
        out = np.asarray(self.cosine_of(rows), np.float32)
        self._last[:] = [rows, out]
        return out


class SignCodes:
    """One bit per dimension (its sign) per passage, packed in 64-bit words, a passage's words
    side by side: the Hamming distance of every passage to a query is one compiled pass over
    memory 16x smaller than float32 vectors (`sign_kernel`)."""

    RECENT = 2  # queries whose distances are kept: an answer's second search reuses its first's

    def __init__(self, dimension: int):
        self.bits = dimension
        self.words = -(-dimension // 64)
        self._codes = _Growable(np.uint64, self.words)
        # query bits → every passage's distance (2 bytes a passage); answers run in threads
        self._recent: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._recent_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._codes.view)

    def reserve(self, capacity: int) -> None:
        """Room for `capacity` passages, allocated once: growing by half each time would hold
        the old and the new codes at once."""
        self._codes.reserve(capacity)

    def _pack(self, rows: np.ndarray) -> np.ndarray:
        packed = np.packbits(np.asarray(rows) > 0, axis=1)
        padded = np.zeros((len(packed), self.words * 8), np.uint8)  # the bits past the dimension stay 0
        padded[:, : packed.shape[1]] = packed
        return padded.view(np.uint64)

    def extend(self, rows: np.ndarray) -> None:
        self._codes.extend(self._pack(rows))

    def nearest(self, query: np.ndarray, count: int, allowed: np.ndarray | None = None) -> np.ndarray:
        """At least `count` allowed passages nearest the query in Hamming distance (all of those
        as near as the count-th, so ties are not cut arbitrarily), in passage order."""
        mask = sign_kernel.NO_MASK if allowed is None else np.ascontiguousarray(allowed, np.bool_)
        # the histogram counts only allowed passages: a question about one week of a large store
        histogram = np.zeros(self.bits + 1, np.int64)
        distance = self._distances(self._pack(query[None, :])[0], mask, histogram)
        cumulative = np.cumsum(histogram)
        cutoff = int(np.searchsorted(cumulative, min(count, int(cumulative[-1]))))
        return sign_kernel.within(distance, cutoff, mask, int(cumulative[cutoff]))

    def _distances(self, q: np.ndarray, mask: np.ndarray, histogram: np.ndarray) -> np.ndarray:
        """Every passage's Hamming distance to the query bits `q` (read-only: shared), and the
        allowed ones' histogram added into `histogram`. A question whose window holds nothing
        on its topic searches again for "the latest I have", with the same vector: that search
        reuses these instead of another pass over every code."""
        key = q.tobytes()
        with self._recent_lock:
            distance = self._recent.get(key)
        if distance is not None and len(distance) == len(self):
            sign_kernel.count_distances(distance, mask, histogram)
            return distance
        distance = np.empty(len(self), np.uint16)
        sign_kernel.distances(self._codes.view, q, mask, distance, histogram)
        distance.flags.writeable = False
        with self._recent_lock:
            self._recent[key] = distance
            self._recent.move_to_end(key)
            while len(self._recent) > self.RECENT:
                self._recent.popitem(last=False)
        return distance


TORCH_TOPK_FROM = 50_000  # scores from which torch's top-k is used: ~4x numpy's argpartition at 1M


def best(scores: np.ndarray, k: int) -> np.ndarray:
    """Indexes of the k best finite scores, best first."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, np.int64)
    torch = _torch() if len(scores) >= TORCH_TOPK_FROM else None
    if torch is not None:
        values, ids = torch.topk(torch.from_numpy(np.ascontiguousarray(scores)), k)
        ids = ids.numpy()
        return ids[np.isfinite(values.numpy())]
    valid = np.flatnonzero(np.isfinite(scores))
    if len(valid) > k:
        valid = valid[np.argpartition(-scores[valid], k - 1)[:k]]
    return valid[np.argsort(-scores[valid], kind="stable")]


_TORCH: list = []


def _torch():
    """torch, imported on first use (the embedding model needs it anyway), or None."""
    if not _TORCH:
        try:
            import torch
        except ImportError:  # pragma: no cover - a dependency of sentence-transformers
            torch = None
        _TORCH.append(torch)
    return _TORCH[0]


def _check_vectors(vectors: np.ndarray, block: int = 65536) -> None:
    """Passage vectors are unit vectors: a NaN or an all-zero row is damage, not data."""
    for start in range(0, len(vectors), block):
        rows = vectors[start : start + block]
        if rows.dtype.kind == "f" and not np.isfinite(rows).all():
            raise ValueError("vectors hold NaN or infinite values")
        if rows.size and not rows.any(axis=1).all():
            raise ValueError("vectors hold all-zero rows")
