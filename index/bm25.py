"""BM25 with rank-bm25's scoring definitions, computed from sparse postings.

rank-bm25 loops over every document in Python for every query (825 ms at 100k passages). Here
term frequencies live in a CSC matrix (one column per term) and a query touches only the postings
of its own terms, vectorised in numpy. Scores are computed at query time from raw frequencies, so
adding documents only appends postings: idf and average length always reflect the whole corpus,
exactly as if rank-bm25 had been built on it (a test checks equality for all three variants).

The variants' idf and term formulas, including rank-bm25's quirks: Okapi floors negative idf at
epsilon × mean idf (a term in exactly half of the documents scores zero); BM25L multiplies its
term score by tf once more; BM25+ adds idf × delta per query term to every document, which does
not change rankings but is kept so scores are equal, not merely equivalent.
"""

from __future__ import annotations

from collections import Counter
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from scipy import sparse


LOOKUP_COST = 6  # a binary search (per allowed document and term) costs about this many postings scanned
BLOCK = 1 << 15  # documents `top` scores at a time: their accumulator, norms and flags (~0.6 MB) stay in a core's L2
_EVERY_DOCUMENT = np.zeros(0, bool)  # the kernel's "no window"
TF_DTYPE = np.uint16  # term counts in a passage as built (saved generations may hold float32)
# term counts as kept where every count fits: a passage of ~120 words repeats no word 255 times
# unless it is junk, and at a million passages the counts are ~70M bytes less (README: Benchmarks)
NARROW_TF_DTYPE = np.uint8


def counts_dtype(largest: int):
    """The dtype postings' counts are kept in, given the largest: one byte where it fits, so the
    counts stay exact (rank-bm25's) whatever a passage holds."""
    return NARROW_TF_DTYPE if largest <= np.iinfo(NARROW_TF_DTYPE).max else TF_DTYPE


def narrowed(counts: np.ndarray) -> np.ndarray:
    """`counts` in `counts_dtype` (the same array where it is already in it)."""
    dtype = counts_dtype(int(counts.max()) if len(counts) else 0)
    return counts if counts.dtype == dtype else counts.astype(dtype)


@dataclass(frozen=True)
class Bm25Params:
    variant: str = "bm25plus"  # okapi | bm25l | bm25plus
    k1: float = 1.2
    b: float = 0.75
    delta: float = 1.0  # BM25L / BM25+ only
    epsilon: float = 0.25  # Okapi only


class Bm25Index:
    """Postings for a growing corpus: a compacted CSC segment plus not-yet-compacted additions."""

    def __init__(self, params: Bm25Params):
        self.params = params
        self.vocab: dict[str, int] = {}
        self._base = sparse.csc_matrix((0, 0), dtype=TF_DTYPE)
        self._doc_len = np.zeros(0, dtype=np.float32)
        self._df = np.zeros(0, dtype=np.int64)
        # additions not yet in the CSC segment, one entry per add() call, as compact arrays (a
        # Python list per document costs ~10x the memory: gigabytes when a million passages are
        # added before the first query)
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (doc offsets, term ids, counts)
        self._pending_len: list[np.ndarray] = []
        self._pending_docs = 0
        self._idf_cache: np.ndarray | None = None
        self._norm_cache: np.ndarray | None = None  # per document: 1 - b + b * length / average length
        # one block's accumulator, found-flags and found-list `top` reuses (zeroed after each
        # query), a set per query running at once: queries share the index (SearchIndex.reading)
        self._scratch_blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._scratch_lock = threading.Lock()

    # -- building ---------------------------------------------------------------------------
    def add(self, documents: Iterable[Sequence[str]]) -> None:
        chunk = count_postings(documents, self.vocab, self._pending_docs)
        if chunk is None:
            return
        self._pending.append(chunk[:3])
        self._pending_len.append(chunk[3])
        self._pending_docs += len(chunk[3])
        self._idf_cache = None

    def compact(self) -> None:
        """Fold pending additions into the CSC segment (done before saving and before queries).
        The new segment is built straight in CSC order, without scipy's COO intermediate and its
        copies, and without one sort of every posting: each addition's postings are placed in
        their terms' next free slots (a stable sort by term within the addition keeps each term's
        documents ascending, and additions come in document order). A rebuild of a million
        passages compacts ~60M postings at once; a sort of them all needed an 8-byte order and
        concatenated copies per posting besides the pending and the placed ones. Nothing changes
        until the new segment is whole, so a failure (out of memory) leaves the index as it was."""
        if not self._pending:
            return
        n_terms = len(self.vocab)
        indptr, indices, data = place_postings(self._pending, n_terms)
        self._pending.clear()
        extra = sparse.csc_matrix((narrowed(data), indices, indptr), shape=(self._pending_docs, n_terms))
        extra.has_sorted_indices = True
        del data, indices
        base = self._base
        if base.shape[0] == 0:
            self._base = extra
        else:
            if base.shape[1] < n_terms:  # new terms: empty columns for the documents already in
                grown = np.full(n_terms - base.shape[1], base.indptr[-1], base.indptr.dtype)
                base = sparse.csc_matrix(
                    (base.data, base.indices, np.concatenate([base.indptr, grown])),
                    shape=(base.shape[0], n_terms),
                )
            both_narrow = base.dtype == extra.dtype == NARROW_TF_DTYPE
            self._base = sparse.vstack([base, extra], format="csc", dtype=NARROW_TF_DTYPE if both_narrow else TF_DTYPE)
            self._base.sort_indices()
            if not both_narrow:  # a generation saved with float32 or uint16 counts: narrowed once
                self._base.data = narrowed(self._base.data)
        self._doc_len = np.concatenate([self._doc_len, *self._pending_len])
        self._df = np.diff(self._base.indptr).astype(np.int64)
        self._pending_len.clear()
        self._pending_docs = 0
        self._idf_cache = None
        self._norm_cache = None

    @property
    def size(self) -> int:
        return self._base.shape[0] + self._pending_docs

    @property
    def postings(self) -> int:
        """(document, term) pairs held, compacted or pending: what an index's size scales with."""
        return int(self._base.nnz) + sum(len(rows) for rows, _, _ in self._pending)

    @property
    def pending(self) -> bool:
        """Additions not yet folded into the CSC segment (`compact` changes the postings)."""
        return bool(self._pending)

    # -- scoring ----------------------------------------------------------------------------
    def _idf(self) -> np.ndarray:
        if self._idf_cache is not None:
            return self._idf_cache
        n = float(self.size)
        df = self._df.astype(np.float64)
        variant = self.params.variant
        if variant == "okapi":
            idf = np.log(n - df + 0.5) - np.log(df + 0.5)
            average = idf.mean() if len(idf) else 0.0
            idf[idf < 0] = self.params.epsilon * average
        elif variant == "bm25l":
            idf = np.log(n + 1) - np.log(df + 0.5)
        elif variant == "bm25plus":
            idf = np.log(n + 1) - np.log(np.maximum(df, 1))
        else:
            raise ValueError(f"unknown BM25 variant {variant!r}")
        self._idf_cache = idf
        return idf

    def idf_of(self, terms: Iterable[str]) -> dict[str, float]:
        self.compact()
        idf = self._idf()
        return {t: float(idf[self.vocab[t]]) for t in terms if t in self.vocab}

    def scores(self, query: Sequence[str]) -> np.ndarray:
        """Scores of every document for the query tokens (duplicates count, as in rank-bm25)."""
        return self.scores_and_matches(query)[0]

    def scores_and_matches(self, query: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Scores, and which documents hold at least one query term (BM25+ scores all others > 0)."""
        self.compact()
        n = self.size
        out = np.zeros(n, dtype=np.float64)
        matched = np.zeros(n, dtype=bool)
        if n == 0:
            return out, matched
        p = self.params
        idf = self._idf()
        norm = None
        for term in query:
            term_id = self.vocab.get(term)
            if term_id is None:
                continue  # rank-bm25: unknown terms have idf 0 and add nothing
            w = idf[term_id]
            lo, hi = self._base.indptr[term_id], self._base.indptr[term_id + 1]
            rows = self._base.indices[lo:hi]
            tf = self._base.data[lo:hi].astype(np.float64)
            matched[rows] = True
            if norm is None:
                norm = self._length_norm()
            dl_norm = norm[rows]
            if p.variant == "okapi":
                out[rows] += w * (tf * (p.k1 + 1) / (tf + p.k1 * dl_norm))
            elif p.variant == "bm25l":
                ctd = tf / dl_norm  # rank-bm25 multiplies by tf as well (zero where absent)
                out[rows] += w * tf * (p.k1 + 1) * (ctd + p.delta) / (p.k1 + ctd + p.delta)
            else:  # bm25plus
                out += w * p.delta
                out[rows] += w * (tf * (p.k1 + 1) / (p.k1 * dl_norm + tf))
        return out, matched

    def top(self, query: Sequence[str], k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The k best documents holding a query term (among `allowed` ones), best first, and their
        scores: the same documents and scores as full scoring's top k (`scores_and_matches`), ties
        aside, without a per-document score array: every posting of the query's terms is scored
        by the compiled loop of `bm25_kernel`, a cache-sized block of documents at a time. A
        window of few documents (a question about one week of a large store) is looked up in
        each term's postings instead (`_top_among`)."""
        self.compact()
        n = self.size
        terms = Counter(t for t in query if t in self.vocab)
        if n == 0 or not terms or k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        p = self.params
        idf = self._idf()
        ids = np.fromiter((self.vocab[t] for t in terms), np.int64, len(terms))
        weights = idf[ids] * np.fromiter(terms.values(), np.float64, len(terms))
        norm = self._length_norm()
        if allowed is not None:
            docs = np.flatnonzero(allowed)
            if len(docs) * len(ids) * LOOKUP_COST < int(self._df[ids].sum()):
                return self._top_among(docs, ids, weights, terms, k)
        from index import bm25_kernel  # numba takes ~0.2 s to import: paid by the first search, not by every command

        base = self._base
        with self._scratch(min(n, BLOCK)) as (acc, seen, local):
            docs, scores = bm25_kernel.top_k(
                base.indptr, base.indices, base.data, norm, ids, weights,
                _EVERY_DOCUMENT if allowed is None else allowed, p.k1, p.delta, bm25_kernel.VARIANTS[p.variant],
                k, acc, seen, local)
        if p.variant == "bm25plus":
            scores = scores + self._plus_constant(ids, terms)
        return _best(docs, scores, k)

    def warm(self) -> None:
        """Compile the top-k loop for this index's arrays now (or load it from numba's cache), so
        that the first question does not wait for it; for both dtypes counts come in, since a
        generation saved with two-byte counts narrows at its first compaction (`narrowed`), and a
        question would otherwise wait for that compilation (~5 s on a fresh install)."""
        if self.size and self.vocab:
            self.top([next(iter(self.vocab))], 1)
        for dtype in (NARROW_TF_DTYPE, TF_DTYPE):
            tiny = Bm25Index(self.params)
            tiny.add([["warm"]])
            tiny.compact()
            tiny._base.data = tiny._base.data.astype(dtype)
            tiny.top(["warm"], 1)

    @contextmanager
    def _scratch(self, block: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """A zeroed accumulator, found-flags and found-list for one block of documents, returned
        zeroed by the kernel (reused: allocating them per query costs page faults)."""
        with self._scratch_lock:
            arrays = self._scratch_blocks.pop() if self._scratch_blocks else None
        if arrays is None or len(arrays[0]) != block:
            # the found-list has room for one more: the kernel writes each document there before it knows
            # whether it is new
            arrays = (np.zeros(block, np.float64), np.zeros(block, bool), np.zeros(block + 1, np.int64))
        try:
            yield arrays
        finally:
            with self._scratch_lock:
                self._scratch_blocks.append(arrays)

    def _top_among(self, docs: np.ndarray, ids: np.ndarray, weights: np.ndarray, terms: Counter,
                   k: int) -> tuple[np.ndarray, np.ndarray]:
        """`top` when few documents are allowed (a question about one week of a large store):
        each term's postings are binary-searched for those documents instead of scanned."""
        norm = self._length_norm()
        acc = np.zeros(len(docs), np.float64)
        matched = np.zeros(len(docs), bool)
        for term_id, weight in zip(ids, weights):
            rows, tf = self._postings(term_id)
            at = np.searchsorted(rows, docs)
            hit = at < len(rows)
            hit[hit] = rows[at[hit]] == docs[hit]
            acc[hit] += weight * self._term_score(tf[at[hit]], norm[docs[hit]])
            matched |= hit
        scores = acc[matched]
        if self.params.variant == "bm25plus":
            scores = scores + self._plus_constant(ids, terms)
        return _best(docs[matched], scores, k)

    def _plus_constant(self, ids: np.ndarray, terms: Counter) -> float:
        """BM25+'s idf × delta per query term, which every document gets (ranks unchanged)."""
        counts = np.fromiter(terms.values(), np.float64, len(terms))
        return float(np.sum(self._idf()[ids] * counts)) * self.params.delta

    def _postings(self, term_id: int) -> tuple[np.ndarray, np.ndarray]:
        """A term's documents (ascending) and counts."""
        lo, hi = self._base.indptr[term_id], self._base.indptr[term_id + 1]
        rows, counts = self._base.indices[lo:hi], self._base.data[lo:hi]
        return rows, counts.astype(np.float64)

    def _length_norm(self) -> np.ndarray:
        """Per document, 1 - b + b × length / average length: the same for every query until the
        corpus grows."""
        if self._norm_cache is None:
            p = self.params
            avgdl = float(self._doc_len.sum()) / self.size
            self._norm_cache = 1 - p.b + p.b * self._doc_len.astype(np.float64) / avgdl
        return self._norm_cache

    def _term_score(self, tf: np.ndarray, dl_norm: np.ndarray) -> np.ndarray:
        """A term's score per unit of idf at these counts and length norms (without BM25+'s
        constant); it rises with tf and falls with length, which makes it an upper bound at
        (max tf, min length)."""
        p = self.params
        if p.variant == "bm25l":
            ctd = tf / dl_norm
            return tf * (p.k1 + 1) * (ctd + p.delta) / (p.k1 + ctd + p.delta)
        if p.variant == "okapi":
            return tf * (p.k1 + 1) / (tf + p.k1 * dl_norm)
        return tf * (p.k1 + 1) / (p.k1 * dl_norm + tf)

    def term_weights(self, terms: Iterable[str]) -> dict[str, float]:
        """idf of each term, a term the corpus lacks weighing as its rarest possible term: a topic
        word no article has yet is the most telling one, not a word to ignore."""
        self.compact()
        idf = self._idf()
        n = float(self.size)
        variant = self.params.variant
        if variant == "okapi":
            rarest = np.log(max(n - 0.5, 1.0)) - np.log(1.5)
        elif variant == "bm25l":
            rarest = np.log(n + 1) - np.log(1.5)
        else:
            rarest = np.log(n + 1)
        return {t: max(float(idf[self.vocab[t]]) if t in self.vocab else float(rarest), 0.0) for t in terms}

    def coverage(self, terms: Sequence[str]) -> np.ndarray:
        """Share (0..1) of the terms' total weight (term_weights) each document holds: an absolute
        lexical match, where BM25 scores only rank."""
        self.compact()
        weights = self.term_weights(dict.fromkeys(terms))
        total = sum(weights.values())
        out = np.zeros(self.size, dtype=np.float64)
        if total <= 0:
            return out
        for term, weight in weights.items():
            term_id = self.vocab.get(term)
            if term_id is not None:
                lo, hi = self._base.indptr[term_id], self._base.indptr[term_id + 1]
                out[self._base.indices[lo:hi]] += weight
        return out / total

    # -- persistence ------------------------------------------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        self.compact()
        return {
            "bm25_data": self._base.data,
            "bm25_indices": self._base.indices,
            "bm25_indptr": self._base.indptr,
            "bm25_shape": np.asarray(self._base.shape, np.int64),
            "bm25_doc_len": self._doc_len,
        }

    @classmethod
    def from_arrays(cls, params: Bm25Params, vocab: list[str], arrays, known_sorted: bool = False) -> "Bm25Index":
        """`arrays` may be memory-mapped: nothing here reads every posting when `known_sorted`
        (a generation that says its postings are sorted: checking would page in all of them)."""
        index = cls(params)
        index.vocab = {t: i for i, t in enumerate(vocab)}
        shape = tuple(int(x) for x in arrays["bm25_shape"])
        index._base = sparse.csc_matrix(
            (arrays["bm25_data"], arrays["bm25_indices"], arrays["bm25_indptr"]), shape=shape
        )
        index._doc_len = np.asarray(arrays["bm25_doc_len"], np.float32)
        index._df = np.diff(index._base.indptr).astype(np.int64)
        if known_sorted:
            index._base.has_sorted_indices = True
        elif not index._base.has_sorted_indices:  # `top` binary-searches postings
            index._base.sort_indices()
        return index

    def vocab_list(self) -> list[str]:
        terms = [""] * len(self.vocab)
        for term, i in self.vocab.items():
            terms[i] = term
        return terms


def count_postings(documents: Iterable[Sequence[str]], vocab: dict[str, int], first: int,
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """(document numbers from `first`, term ids, counts, lengths) of tokenised documents, as
    compact arrays (a Python list per document costs ~10x the memory); new terms join `vocab` in
    first-seen order. None for no documents."""
    rows: list[int] = []
    cols: list[int] = []
    vals: list[int] = []
    lengths: list[int] = []
    for offset, tokens in enumerate(documents, start=first):
        counts = Counter(tokens)
        for term in counts:  # new terms are numbered in first-seen order
            if term not in vocab:
                vocab[term] = len(vocab)
        cols.extend(map(vocab.__getitem__, counts))
        vals.extend(counts.values())
        rows.extend([offset] * len(counts))
        lengths.append(len(tokens))
    if not lengths:
        return None
    counts = np.minimum(np.asarray(vals, np.int64), np.iinfo(TF_DTYPE).max).astype(TF_DTYPE)
    return np.asarray(rows, np.int32), np.asarray(cols, np.int32), counts, np.asarray(lengths, np.float32)


def place_postings(chunks: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], n_terms: int,
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSC (indptr, document numbers, counts) of (documents, terms, counts) chunks given in
    document order: each chunk's postings go to their terms' next free slots (a stable sort by
    term within the chunk keeps each term's documents ascending), so no sort of every posting."""
    counts = np.zeros(n_terms, np.int64)
    for _, cols, _ in chunks:
        counts += np.bincount(cols, minlength=n_terms)
    indptr = np.zeros(n_terms + 1, np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices = np.empty(int(indptr[-1]), np.int32)
    data = np.empty(int(indptr[-1]), TF_DTYPE)
    free = indptr[:-1].copy()  # each term's next free slot
    for rows, cols, values in chunks:  # in document order
        order = np.argsort(cols, kind="stable")
        terms = cols[order]
        firsts, sizes = np.unique(terms, return_index=True, return_counts=True)[1:]
        rank = np.arange(len(terms)) - np.repeat(firsts, sizes)  # place within its term, in this chunk
        slots = free[terms] + rank
        indices[slots] = rows[order]
        data[slots] = values[order]
        free[terms[firsts]] += sizes
    return indptr, indices, data


def _best(docs: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best (docs, scores), best first; equal scores in document order."""
    if len(docs) > k:
        part = np.argpartition(-scores, k - 1)[:k]
        docs, scores = docs[part], scores[part]
    order = np.lexsort((docs, -scores))
    return docs[order].astype(np.int64), scores[order]
