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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse


TF_DTYPE = np.uint16  # term counts in a passage: half the memory of float32 (saved generations may hold float32)


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

    # -- building ---------------------------------------------------------------------------
    def add(self, documents: Iterable[Sequence[str]]) -> None:
        start = self._pending_docs
        rows: list[int] = []
        cols: list[int] = []
        vals: list[int] = []
        lengths: list[int] = []
        vocab = self.vocab
        for offset, tokens in enumerate(documents, start=start):
            counts = Counter(tokens)
            for term in counts:  # new terms are numbered in first-seen order
                if term not in vocab:
                    vocab[term] = len(vocab)
            cols.extend(map(vocab.__getitem__, counts))
            vals.extend(counts.values())
            rows.extend([offset] * len(counts))
            lengths.append(len(tokens))
        if not lengths:
            return
        counts = np.minimum(np.asarray(vals, np.int64), np.iinfo(TF_DTYPE).max).astype(TF_DTYPE)
        self._pending.append((np.asarray(rows, np.int32), np.asarray(cols, np.int32), counts))
        self._pending_len.append(np.asarray(lengths, np.float32))
        self._pending_docs += len(lengths)
        self._idf_cache = None

    def _term_id(self, term: str) -> int:
        term_id = self.vocab.get(term)
        if term_id is None:
            term_id = self.vocab[term] = len(self.vocab)
        return term_id

    def compact(self) -> None:
        """Fold pending additions into the CSC segment (done before saving and before queries).
        The new segment is built straight in CSC order (a stable sort by term keeps each term's
        documents ascending), without scipy's COO intermediate and its copies."""
        if not self._pending:
            return
        n_terms = len(self.vocab)
        cols = np.concatenate([p[1] for p in self._pending])
        order = np.argsort(cols, kind="stable")
        indptr = np.zeros(n_terms + 1, np.int64)
        np.cumsum(np.bincount(cols, minlength=n_terms), out=indptr[1:])
        del cols
        indices = np.concatenate([p[0] for p in self._pending])[order]
        data = np.concatenate([p[2] for p in self._pending])[order]
        del order
        self._pending.clear()
        extra = sparse.csc_matrix((data, indices, indptr), shape=(self._pending_docs, n_terms))
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
            self._base = sparse.vstack([base, extra], format="csc", dtype=TF_DTYPE)
            self._base.sort_indices()
        self._doc_len = np.concatenate([self._doc_len, *self._pending_len])
        self._df = np.diff(self._base.indptr).astype(np.int64)
        self._pending_len.clear()
        self._pending_docs = 0
        self._idf_cache = None

    @property
    def size(self) -> int:
        return self._base.shape[0] + self._pending_docs

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
        avgdl = float(self._doc_len.sum()) / n
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
                norm = 1 - p.b + p.b * self._doc_len.astype(np.float64) / avgdl
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
    def from_arrays(cls, params: Bm25Params, vocab: list[str], arrays) -> "Bm25Index":
        index = cls(params)
        index.vocab = {t: i for i, t in enumerate(vocab)}
        shape = tuple(int(x) for x in arrays["bm25_shape"])
        index._base = sparse.csc_matrix(
            (arrays["bm25_data"], arrays["bm25_indices"], arrays["bm25_indptr"]), shape=shape
        )
        index._doc_len = np.asarray(arrays["bm25_doc_len"], np.float32)
        index._df = np.diff(index._base.indptr).astype(np.int64)
        return index

    def vocab_list(self) -> list[str]:
        terms = [""] * len(self.vocab)
        for term, i in self.vocab.items():
            terms[i] = term
        return terms
