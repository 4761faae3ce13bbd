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
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .config import RetrievalConfig
from .search_index import SearchIndex
from .topics import TopicQuery


@dataclass(frozen=True)
class Topic:
    id: int
    chat_id: int
    query: TopicQuery
    delivery: str = "instant"
    muted: bool = False
    threshold: float | None = None  # None: the configured default
    since_seq: int = 0  # articles saved before the subscription never alert


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


def corpus_scores(index: SearchIndex, query: TopicQuery, vector: np.ndarray,
                  config: RetrievalConfig) -> dict[int, tuple[float, int]]:
    """{article seq: (score, best passage)} for every article with any similarity to the topic."""
    with index.lock:
        if index.size == 0:
            return {}
        coverage = index.bm25.coverage(query.terms)
        cosine = index.vectors.view @ np.asarray(vector, np.float32)
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


class TopicMatcher:
    """All active topics as matrices, so one article is matched against 100k topics in two
    products: topic vectors × passage vectors, and topic-term incidence × passage-term presence."""

    def __init__(self, topics: Sequence[Topic], vectors: np.ndarray, config: RetrievalConfig,
                 default_threshold: float):
        self.topics = list(topics)
        self.config = config
        self.vectors = np.asarray(vectors, np.float32)
        self.vocab: dict[str, int] = {}
        rows, cols = [], []
        for row, topic in enumerate(self.topics):
            for term in topic.query.terms:
                rows.append(row)
                cols.append(self.vocab.setdefault(term, len(self.vocab)))
        self.incidence = sparse.csr_matrix(
            (np.ones(len(rows), np.float32), (rows, cols)), shape=(len(self.topics), len(self.vocab))
        )
        self.thresholds = np.array(
            [default_threshold if t.threshold is None else t.threshold for t in self.topics], np.float64
        )
        self.since = np.array([t.since_seq for t in self.topics], np.int64)
        self.muted = np.array([t.muted for t in self.topics], bool)

    def match(self, seq: int, passage_tokens: Sequence[Sequence[str]], passage_vectors: np.ndarray,
              idf: dict[str, float], text: str) -> list[TopicMatch]:
        """Topics the article (seq, its passages' tokens and vectors, title + text) matches.
        `idf` weighs every topic term (Bm25Index.term_weights)."""
        if not self.topics or not len(passage_tokens):
            return []
        presence = np.zeros((len(self.vocab), len(passage_tokens)), np.float32)
        for j, tokens in enumerate(passage_tokens):
            for term in set(tokens):
                row = self.vocab.get(term)
                if row is not None:
                    presence[row, j] = 1.0
        weights = np.zeros(len(self.vocab), np.float32)
        for term, row in self.vocab.items():
            weights[row] = max(idf.get(term, 0.0), 0.0)
        total = self.incidence @ weights
        covered = self.incidence @ (weights[:, None] * presence)
        coverage = np.divide(covered, total[:, None], out=np.zeros_like(covered), where=total[:, None] > 0)
        cosine = self.vectors @ np.asarray(passage_vectors, np.float32).T
        scores = fuse(coverage.astype(np.float64), cosine.astype(np.float64), self.config)
        best_passage = scores.argmax(axis=1)
        best = scores[np.arange(len(self.topics)), best_passage]
        hits = np.flatnonzero((best >= self.thresholds) & (self.since < seq) & ~self.muted)
        return [
            TopicMatch(self.topics[i], float(best[i]), int(best_passage[i]))
            for i in hits
            if self.topics[i].query.admits(text)
        ]
