"""How well an article matches a topic: the hybrid score on an absolute scale.

A question's fusion normalises scores over its candidates, which ranks but cannot say "good
enough". An alert decides article by article, so a topic score is absolute: the share of the
topic's idf weight a passage holds (lexical coverage, 0..1) and the passage's cosine similarity,
weighted as retrieval weighs BM25 and dense, and maximised over the article's passages. The
same formula scores one new article against every topic (alerts) and the whole corpus against
one topic (/timeline), so "matches" means the same thing in both.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from .config import RetrievalConfig
from .search_index import SearchIndex
from .topics import FilterText, TopicQuery


@dataclass(frozen=True)
class Topic:
    id: int
    chat_id: int
    query: TopicQuery
    delivery: str = "instant"
    muted: bool = False
    threshold: float | None = None  # set by the chat ("fewer"/"more"); None: the calibrated one
    since_seq: int = 0  # articles saved before the subscription never alert
    auto_threshold: float | None = None  # calibrated on the archive (topic_profile); None: the default
    profile: bytes | None = field(default=None, repr=False, compare=False)  # float32 profile vector
    calibrated_on: int = 0  # archive articles the profile came from (0: the topic text as typed)
    liked: int = 0  # the chat's judgements of this topic's alerts
    disliked: int = 0

    def threshold_or(self, default: float) -> float:
        """The threshold the topic must reach: the chat's own, else the calibrated, else `default`."""
        if self.threshold is not None:
            return self.threshold
        return default if self.auto_threshold is None else self.auto_threshold


@dataclass(frozen=True)
class TopicMatch:
    topic: Topic
    score: float
    passage: int  # index of the article's best matching passage


def fuse(coverage: np.ndarray, cosine: np.ndarray, config: RetrievalConfig) -> np.ndarray:
    total = config.bm25_weight + config.dense_weight
    if total <= 0:
        return np.zeros_like(coverage)
    return (config.bm25_weight * coverage + config.dense_weight * np.maximum(cosine, 0.0)) / total


def _fuse_into(cosine: np.ndarray, coverage: np.ndarray, config: RetrievalConfig) -> np.ndarray:
    """fuse() in float32, overwriting `cosine` (large arrays: no temporaries of their size)."""
    total = config.bm25_weight + config.dense_weight
    np.maximum(cosine, 0.0, out=cosine)
    cosine *= np.float32(config.dense_weight / total)
    cosine += np.float32(config.bm25_weight / total) * coverage
    return cosine


def corpus_scores(index: SearchIndex, query: TopicQuery, vector: np.ndarray,
                  config: RetrievalConfig) -> dict[int, tuple[float, int]]:
    """{article seq: (score, best passage)} for every article with any similarity to the topic."""
    with index.reading():
        if index.size == 0:
            return {}
        coverage = index.bm25.coverage(query.terms)
        cosine = index.vectors.scores(vector)
        seqs = index.article_seq.view.copy()
        passages = index.passage_idx.view.copy()
    scores = fuse(coverage, cosine, config)
    order = np.argsort(-scores, kind="stable")
    best: dict[int, tuple[float, int]] = {}
    for i in order:
        if scores[i] <= 0:
            break
        best.setdefault(int(seqs[i]), (float(scores[i]), int(passages[i])))
    return best


@dataclass(frozen=True)
class PairCounts:
    """(topic, passage) pairs of one match that could reach a threshold on coverage, those the
    cosine bound then ruled out, and those scored exactly."""
    pairs: int
    ruled_out: int
    scored: int


class TopicMatcher:
    """All active topics, so that one article is matched against 100k topics in a few
    milliseconds. The score needs a topic's coverage and cosine, and the coverage bounds what the
    cosine must reach: with coverage c, a topic reaches its threshold t only where
    cosine >= (t·(bm25_weight + dense_weight) − bm25_weight·c) / dense_weight, and a cosine never
    exceeds 1. So the coverage of the topics sharing a term with the article comes first, passage
    by passage, and a cosine is computed only for a (topic, passage) pair where the passage's
    coverage lets the topic still reach its threshold: with the default threshold 0.6 and equal
    weights, a coverage of 0.2 at least. Topics at a threshold low enough to match on meaning
    alone are scored on every passage.

    A long article still leaves many pairs, so each passes a second, cheaper test before its full
    cosine: with U the BASIS_RANK main directions of the topic vectors,
    cos(t, p) <= (Uᵀt)·(Uᵀp) + |t − UUᵀt|·|p − UUᵀp| (Cauchy–Schwarz on the remainder), a product
    of BASIS_RANK dimensions instead of 384. Both tests only skip pairs that cannot reach the
    threshold: the matches are exactly those of scoring every topic on every passage."""

    SLACK = 1e-3  # float32 rounding in cosines and bounds: never skip a topic within this of its threshold
    TIE = 1e-6  # a score at its threshold in exact arithmetic may land this far below it in float32
    BASIS_RANK = 64
    BASIS_SAMPLE = 20_000  # topic vectors the basis is computed from (any orthonormal basis is valid)
    BOUND_FROM = 20_000  # (candidate topics × passages) from which the bound pays for itself
    GATHER_BELOW = 1 / 3  # share of the topics' term entries under which the article's terms screen topics first
    GROUP_TERMS = 5  # a topic with up to this many terms in the article finds its passages by groups (2^k)

    def __init__(self, topics: Sequence[Topic], vectors: np.ndarray, config: RetrievalConfig,
                 default_threshold: float):
        self.topics = list(topics)
        self.config = config
        self.vectors = np.ascontiguousarray(vectors, np.float32)
        self.vocab: dict[str, int] = {}
        rows, cols = [], []
        for row, topic in enumerate(self.topics):
            for term in topic.query.terms:
                rows.append(row)
                cols.append(self.vocab.setdefault(term, len(self.vocab)))
        self.incidence = sparse.csr_matrix(
            (np.ones(len(rows), np.float32), (rows, cols)), shape=(len(self.topics), len(self.vocab))
        )
        self._by_term = self.incidence.tocsc()  # a term's topics, for the article's terms only
        self._terms = [""] * len(self.vocab)
        for term, i in self.vocab.items():
            self._terms[i] = term
        self.thresholds = np.array([t.threshold_or(default_threshold) for t in self.topics], np.float64)
        self.since = np.array([t.since_seq for t in self.topics], np.int64)
        self.muted = np.array([t.muted for t in self.topics], bool)
        self._filtered = [t.query.filtered for t in self.topics]  # read once: the match loop checks it per hit
        bm25_w, dense_w = config.bm25_weight, config.dense_weight
        total = bm25_w + dense_w
        # the coverage each topic needs before its cosine is worth computing (cosine <= 1)
        self._min_coverage = ((self.thresholds * total - dense_w * (1.0 + self.SLACK)) / bm25_w
                              if bm25_w > 0 else np.where(self.thresholds * total <= dense_w * (1.0 + self.SLACK),
                                                          -np.inf, np.inf))
        self._always = np.flatnonzero(self._min_coverage <= 0)
        # what a pair's bound must reach (fused score × total weight), less the slack
        self._need = (self.thresholds * total - self.SLACK * dense_w).astype(np.float32)
        self._basis, self._low, self._rest = self._low_rank(self.vectors)
        self._weights_of: tuple[object, np.ndarray, np.ndarray] | None = None
        self.last_pairs = PairCounts(0, 0, 0)  # of the last match (tests read it to see which checks ran)

    @classmethod
    def _low_rank(cls, vectors: np.ndarray) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        """(U: dimension × rank orthonormal, vectors·U, norm of each vector's remainder)."""
        if vectors.ndim != 2 or vectors.shape[1] <= cls.BASIS_RANK or len(vectors) < cls.BASIS_RANK:
            return None, np.zeros((len(vectors), 0), np.float32), np.zeros(len(vectors), np.float32)
        step = max(1, len(vectors) // cls.BASIS_SAMPLE)
        sample = vectors[::step].astype(np.float64)
        _, eigenvectors = np.linalg.eigh(sample.T @ sample)  # ascending eigenvalues
        basis = np.ascontiguousarray(eigenvectors[:, ::-1][:, : cls.BASIS_RANK], dtype=np.float32)
        low = np.ascontiguousarray(vectors @ basis)
        rest = np.sqrt(np.maximum(np.einsum("ij,ij->i", vectors, vectors) - np.einsum("ij,ij->i", low, low), 0.0))
        return basis, low, rest.astype(np.float32)

    def _bounded(self, candidates: np.ndarray, coverage: np.ndarray, passage_vectors: np.ndarray) -> np.ndarray:
        """Which candidates' cosine bound reaches, on some passage, what their cosine must reach."""
        cfg = self.config
        low_p, rest_p = self._low_rank_of(passage_vectors)
        bound = self._low[candidates] @ low_p.T
        bound += self._rest[candidates, None] * rest_p[None, :]
        np.maximum(bound, 0.0, out=bound)  # the score counts max(cosine, 0)
        # cosine needed: (t·total − bm25_weight·coverage) / dense_weight, less the slack
        bound *= np.float32(cfg.dense_weight)
        bound += np.float32(cfg.bm25_weight) * coverage
        return (bound >= self._need[candidates, None]).any(axis=1)

    def _weights(self, idf: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """Each vocabulary term's weight and 1 / each topic's total weight (0 where it has none);
        computed once per idf dict (Alerts computes one per batch of articles; the dict must not
        change afterwards)."""
        cached = self._weights_of
        if cached is not None and cached[0] is idf:
            return cached[1], cached[2]
        weights = np.fromiter((max(idf.get(t, 0.0), 0.0) for t in self._terms), np.float32, len(self._terms))
        totals = self.incidence @ weights.astype(np.float64)
        inverse = np.divide(1.0, totals, out=np.zeros_like(totals), where=totals > 0).astype(np.float32)
        self._weights_of = (idf, weights, inverse)
        return weights, inverse

    def match(self, seq: int, passage_tokens: Sequence[Sequence[str]], passage_vectors: np.ndarray,
              idf: dict[str, float], text: str | FilterText) -> list[TopicMatch]:
        """Topics the article (seq, its passages' tokens and vectors, title + text, or the
        filters' view of them: `topics.article_screen`) matches.
        `idf` weighs every topic term (Bm25Index.term_weights). Topics that need coverage go
        (topic, passage) pair by pair (`topic_kernel`): coverage of those sharing a term, the
        passages where each can still reach its threshold, the cosine bound, then exact
        scores. Topics that can match on meaning alone are scored on every passage."""
        if not self.topics or not len(passage_tokens):
            return []
        cfg = self.config
        if cfg.bm25_weight + cfg.dense_weight <= 0:
            return []
        from . import topic_kernel  # numba: imported by the first match, not by every command

        live = (self.since < seq) & ~self.muted
        passage_vectors = np.asarray(passage_vectors, np.float32)
        article = self._article(passage_tokens, self._weights(idf))
        use_bound = cfg.dense_weight > 0 and self._basis is not None
        low_p, rest_p = self._low_rank_of(passage_vectors) if use_bound else (self._low, self._rest)
        *hits, pairs, ruled_out, scored = topic_kernel.match_pairs(
            *article, self._min_coverage, live, len(passage_tokens), self.vectors, passage_vectors, self._low,
            self._rest, low_p, rest_p, self._need, self.thresholds, cfg.bm25_weight, cfg.dense_weight, use_bound,
            self.TIE, self._few_topics_touched(article[6]), self.GROUP_TERMS)
        self.last_pairs = PairCounts(pairs, ruled_out, scored)
        found = [hits]  # (topic indices, scores, best passages)
        always = self._always[live[self._always]]
        if len(always):
            coverage = topic_kernel.coverage_rows(always, *article, len(passage_tokens))
            found.append(self._dense_hits(always, coverage, passage_vectors))
        topics, scores, passages = (np.concatenate(parts) for parts in zip(*found))
        screen = text if isinstance(text, FilterText) else FilterText(text)  # one article, many topics
        order = np.argsort(topics, kind="stable")
        # a long article matches hundreds of topics: Python numbers, not numpy scalars, in this loop,
        # and the hard filters read only for the topics that have one
        matched = zip(topics[order].tolist(), scores[order].tolist(), passages[order].tolist())
        filtered = self._filtered
        return [TopicMatch(self.topics[t], score, passage) for t, score, passage in matched
                if not filtered[t] or self.topics[t].query.admits(screen)]

    def _article(self, passage_tokens: Sequence[Sequence[str]], weights: tuple[np.ndarray, np.ndarray]) -> tuple:
        """`topic_kernel`'s first arguments for this article: the topic and term incidence, the
        topic terms it holds and the passages holding each, the term weights and each topic's
        inverse weight."""
        term_weights, inverse = weights
        columns: dict[int, list[int]] = {}  # the article's topic terms -> passages holding each
        for j, tokens in enumerate(passage_tokens):
            for term in set(tokens):
                col = self.vocab.get(term)
                if col is not None:
                    columns.setdefault(col, []).append(j)
        cols = np.fromiter(columns, np.int64, len(columns))
        col_ptr = np.zeros(len(cols) + 1, np.int64)
        np.cumsum(np.fromiter(map(len, columns.values()), np.int64, len(cols)), out=col_ptr[1:])
        col_passages = np.fromiter(chain.from_iterable(columns.values()), np.int64, int(col_ptr[-1]))
        topics, by_term = self.incidence, self._by_term
        return (topics.indptr, topics.indices, topics.data, by_term.indptr, by_term.indices, by_term.data, cols,
                col_ptr, col_passages, term_weights, inverse)

    def _few_topics_touched(self, cols: np.ndarray) -> bool:
        """Whether the article's topic terms (`cols`) are in few enough topic entries that summing
        each topic's weight from the terms' side, to skip topics first, costs less than reading
        every topic once."""
        by_term = self._by_term
        return int((by_term.indptr[cols + 1] - by_term.indptr[cols]).sum()) < self.GATHER_BELOW * by_term.nnz

    def _low_rank_of(self, passage_vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The passages in the topics' low-rank basis, and the norm of each one's remainder."""
        low_p = np.ascontiguousarray(passage_vectors @ self._basis)
        rest_p = np.sqrt(np.maximum(np.einsum("ij,ij->i", passage_vectors, passage_vectors)
                                    - np.einsum("ij,ij->i", low_p, low_p), 0.0)).astype(np.float32)
        return low_p, rest_p

    def _dense_hits(self, candidates: np.ndarray, coverage: np.ndarray,
                    passage_vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(topics, scores, best passages) among topics scored on every passage, as matrices."""
        cfg = self.config
        many = len(candidates) * 2 > len(self.topics)  # most topics: one full product beats gathering rows
        if (cfg.dense_weight > 0 and self._basis is not None
                and len(candidates) * len(passage_vectors) >= self.BOUND_FROM):
            keep = self._bounded(candidates, coverage, passage_vectors)
            candidates, coverage = candidates[keep], coverage[keep]
            many = len(candidates) * 2 > len(self.topics)
        scores = _fuse_into(self._cosines(candidates, passage_vectors, many, coverage), coverage, cfg)
        best_passage = scores.argmax(axis=1) if len(candidates) else np.zeros(0, np.int64)
        best = scores[np.arange(len(candidates)), best_passage]
        hits = best >= self.thresholds[candidates] - self.TIE
        return candidates[hits], best[hits], best_passage[hits]

    def _cosines(self, candidates: np.ndarray, passage_vectors: np.ndarray, many: bool,
                 like: np.ndarray) -> np.ndarray:
        """Candidates × passages cosines (zeros when the dense weight is 0)."""
        if self.config.dense_weight <= 0:
            return np.zeros_like(like)
        if many:
            cosine = self.vectors @ passage_vectors.T
            return cosine[candidates] if len(candidates) < len(self.topics) else cosine
        return self.vectors[candidates] @ passage_vectors.T
