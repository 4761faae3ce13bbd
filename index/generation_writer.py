"""A generation written straight from the store, in bounded memory: what a rebuild writes.

Building the new index in memory beside the serving one held both, and at a million passages a
`/reindex` inside the bot peaked at ~2.5× the serving RSS (README: Benchmarks). The writer keeps
only what is small per passage (article seq, passage number, day, length, int8 scale: 24 bytes)
and the vocabulary. Vectors go to their file as they come. Postings are gathered RUN_POSTINGS at a
time, put in CSC order (`bm25.place_postings`) and appended to run files; `finish` merges the runs
term range by term range into the final postings, reading each run's slice for the range and
writing the range, so no step holds more than a range. The files are those `SearchIndex.save`
writes for the same passages (tests compare them array by array), so a generation loads the same
whichever wrote it, and the rebuild maps it (`SearchIndex.load(mapped=True)`).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .bm25 import TF_DTYPE, count_postings, counts_dtype, place_postings
from .models import Article
from .passage_vectors import _check_vectors, quantize
from .search_index import IndexShape, _write, finish_generation, passage_rows

RUN_POSTINGS = 4_000_000  # postings gathered before a run is written (~40 MB, and sorting's temporaries)
MERGE_POSTINGS = 2_000_000  # postings merged at a time (their slices, slots and output: ~70 MB)
COPY_BYTES = 1 << 24  # vectors copied into vectors.npy this many bytes at a time


class GenerationWriter:
    """Passages in, a generation's files out: `add` batches of articles in seq order, then
    `finish`. The folder must be new and empty; on failure the caller removes it."""

    def __init__(self, folder: Path, shape: IndexShape, dimension: int):
        self.folder = folder
        self.shape = shape
        self.dimension = dimension
        self.vocab: dict[str, int] = {}
        self.watermark = 0
        self.passages = 0
        self._columns: dict[str, list[np.ndarray]] = {
            "article_seq": [], "passage_idx": [], "day": [], "bm25_doc_len": [], "vector_scale": []}
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._pending_postings = 0
        self._runs: list[tuple[np.ndarray, int]] = []  # (CSC pointers over the vocabulary then, first posting)
        self._run_postings = 0
        self._largest_count = 0  # of any posting: the final counts' dtype (bm25.counts_dtype)
        self._vectors = open(folder / "vectors.part", "wb")
        self._run_docs = open(folder / "runs.docs", "wb")
        self._run_counts = open(folder / "runs.counts", "wb")

    def add(self, articles: list[Article], vectors: dict[str, np.ndarray]) -> None:
        """Articles newer than the watermark, with their passages' vectors by text hash (as
        SearchIndex.add takes them)."""
        articles = [a for a in articles if a.seq > self.watermark]
        if not articles:
            return
        rows = passage_rows(articles, vectors, self.shape.titles, self.dimension)
        self.watermark = max(a.seq for a in articles)
        if not rows.tokens:
            return
        _check_vectors(rows.vectors)
        stored, scale = quantize(rows.vectors, self.shape.vector_dtype)
        self._vectors.write(np.ascontiguousarray(stored).tobytes())
        chunk = count_postings(rows.tokens, self.vocab, self.passages)
        self._pending.append(chunk[:3])
        self._pending_postings += len(chunk[0])
        self._largest_count = max(self._largest_count, int(chunk[2].max()))
        columns = self._columns
        columns["article_seq"].append(rows.article_seq)
        columns["passage_idx"].append(rows.passage_idx)
        columns["day"].append(rows.day)
        columns["bm25_doc_len"].append(chunk[3])
        if scale is not None:
            columns["vector_scale"].append(scale)
        self.passages += len(rows.tokens)
        if self._pending_postings >= RUN_POSTINGS:
            self._write_run()

    def _write_run(self) -> None:
        if not self._pending:
            return
        indptr, docs, counts = place_postings(self._pending, len(self.vocab))
        self._run_docs.write(docs.tobytes())
        self._run_counts.write(counts.tobytes())
        self._runs.append((indptr, self._run_postings))
        self._run_postings += len(docs)
        self._pending.clear()
        self._pending_postings = 0

    def finish(self, store_id: str) -> None:
        """Merge the runs, write every file and, last, meta.json with the checksums."""
        self._write_run()
        for handle in (self._vectors, self._run_docs, self._run_counts):
            handle.close()
        n_docs, n_terms, nnz = self.passages, len(self.vocab), self._run_postings
        # the index dtype scipy gives a CSC matrix of this size (what SearchIndex.save writes)
        index_dtype = np.int32 if max(n_docs, n_terms, nnz) <= np.iinfo(np.int32).max else np.int64
        indptr = self._merge(n_terms, nnz, index_dtype)
        os.remove(self.folder / "runs.docs")
        os.remove(self.folder / "runs.counts")
        self._write_vectors()
        columns = {name: _joined(parts, dtype) for (name, parts), dtype in zip(
            self._columns.items(), (np.int64, np.int32, np.int32, np.float32, np.float32))}
        scale = columns.pop("vector_scale")
        if self.shape.vector_dtype == "int8":
            _write(self.folder / "vector_scale.npy", lambda f: np.save(f, scale))
        packed = {"bm25_indptr": indptr, "bm25_shape": np.asarray((n_docs, n_terms), np.int64),
                  "bm25_doc_len": columns.pop("bm25_doc_len"), **columns}
        _write(self.folder / "arrays.npz", lambda f: np.savez(f, **packed))
        terms = [""] * n_terms
        for term, i in self.vocab.items():
            terms[i] = term
        _write(self.folder / "vocab.json", lambda f: f.write(json.dumps(terms).encode()))
        finish_generation(self.folder, {
            "shape": asdict(self.shape), "dimension": self.dimension, "watermark": self.watermark,
            "passages": n_docs, "store_id": store_id}, vectors_checked=True)

    def _merge(self, n_terms: int, nnz: int, index_dtype) -> np.ndarray:
        """bm25_indices.npy and bm25_data.npy from the runs; returns the postings' indptr. A
        term's postings are its postings in each run, runs in document order."""
        runs = [(np.pad(ptr, (0, n_terms + 1 - len(ptr)), mode="edge"), first) for ptr, first in self._runs]
        totals = np.zeros(n_terms, np.int64)
        for ptr, _ in runs:
            totals += np.diff(ptr)
        indptr = np.zeros(n_terms + 1, np.int64)
        np.cumsum(totals, out=indptr[1:])
        # term ranges of about MERGE_POSTINGS postings each (a longer term is a range of its own)
        cuts = np.searchsorted(indptr, np.arange(MERGE_POSTINGS, nnz, MERGE_POSTINGS), side="right") - 1
        bounds = np.unique(np.concatenate([[0], cuts, [n_terms]]))
        with open(self.folder / "runs.docs", "rb") as docs_in, open(self.folder / "runs.counts", "rb") as counts_in, \
                open(self.folder / "bm25_indices.npy", "wb") as docs_out, \
                open(self.folder / "bm25_data.npy", "wb") as counts_out:
            _npy_header(docs_out, index_dtype, (nnz,))
            out_dtype = counts_dtype(self._largest_count)
            _npy_header(counts_out, out_dtype, (nnz,))
            for a, b in zip(bounds[:-1], bounds[1:]):
                lo, hi = indptr[a], indptr[b]
                out_docs = np.empty(hi - lo, index_dtype)
                out_counts = np.empty(hi - lo, out_dtype)
                free = indptr[a:b] - lo  # each term's next slot in this range's output
                for ptr, first in runs:
                    start, stop = int(ptr[a]), int(ptr[b])
                    if start == stop:
                        continue
                    sizes = np.diff(ptr[a : b + 1])
                    docs_in.seek((first + start) * 4)
                    run_docs = np.fromfile(docs_in, np.int32, stop - start)
                    counts_in.seek((first + start) * TF_DTYPE().itemsize)
                    run_counts = np.fromfile(counts_in, TF_DTYPE, stop - start)
                    rank = np.arange(stop - start) - np.repeat(ptr[a:b] - start, sizes)
                    slots = np.repeat(free, sizes) + rank
                    out_docs[slots] = run_docs
                    out_counts[slots] = run_counts
                    free += sizes
                docs_out.write(out_docs.tobytes())
                counts_out.write(out_counts.tobytes())
            for handle in (docs_out, counts_out):
                handle.flush()
                os.fsync(handle.fileno())
        return indptr.astype(index_dtype)

    def _write_vectors(self) -> None:
        """vectors.npy: the header for the rows written, then the rows, copied from vectors.part."""
        part = self.folder / "vectors.part"
        dtype = np.dtype(self.shape.vector_dtype)

        def copy(f) -> None:
            _npy_header(f, dtype, (self.passages, self.dimension))
            with open(part, "rb") as rows:
                shutil.copyfileobj(rows, f, COPY_BYTES)

        _write(self.folder / "vectors.npy", copy)
        os.remove(part)

    def discard(self) -> None:
        """Close the open files (the caller removes the folder)."""
        for handle in (self._vectors, self._run_docs, self._run_counts):
            handle.close()


def _joined(parts: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)


def _npy_header(handle, dtype, shape: tuple[int, ...]) -> None:
    """The header np.save writes for an array of this dtype and shape (format 1.0)."""
    np.lib.format.write_array_header_1_0(
        handle, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape})
