"""Hybrid retrieval: BM25 and dense rankings of passages, fused, dated, grouped by article.

Each method picks its best `candidates` passages; only those are fused (standardised scores by
default, or min-max-normalised ones, or reciprocal ranks), a recency factor favours articles close
to "now" (news questions are mostly about recent news), and passages are grouped into articles,
an article ranking as its best passage. Which of these settings are the defaults was decided by
measurement on the evaluation set (README, "Evaluation").
"""

from __future__ import annotations

import os
import threading
import typing
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from . import sign_kernel
from .config import Mode, RetrievalConfig
from .embedding import Embedder
from .index_manager import IndexManager
from .search_index import NO_DAY
from .timeparse import TimeScope, parse_time
from .tokenize import tokenize

MODES: tuple[str, ...] = typing.get_args(Mode)
RECENT_FLOOR = 0.5
# From retrieval.parallel_stages_from passages a hybrid question's two scoring stages run at once,
# the dense one in `_STAGES`' threads: both release the GIL (numba), and at ten million passages
# each takes tens of milliseconds, so the answer waits for the longer one, not for both.
_STAGES: dict[int, ThreadPoolExecutor] = {}  # by process id: a forked child has none of its parent's threads
_STAGES_LOCK = threading.Lock()


def _stage_pool() -> ThreadPoolExecutor:
    """The threads dense stages run in beside BM25's, made on first use in each process (threads
    answering at once share them: each question's stages overlap, the total work is the same)."""
    pid = os.getpid()
    with _STAGES_LOCK:
        if pid not in _STAGES:
            _STAGES.clear()  # a parent's pool, inherited through fork: its threads are not here
            _STAGES[pid] = ThreadPoolExecutor(max_workers=2, thread_name_prefix="dense-stage")
        return _STAGES[pid]


@dataclass
class ArticleHit:
    seq: int
    score: float
    passages: list[tuple[int, float]] = field(default_factory=list)  # (passage idx, score), best first
    dense: float = 0.0  # best cosine similarity of one of its passages to the question
    day: int = NO_DAY


@dataclass
class SearchResult:
    hits: list[ArticleHit]
    scope: TimeScope
    tokens: list[str]
    idf: dict[str, float]
    window_empty: bool = False  # the question's window held no article, so the whole store was searched
    # the vector the dense stage searched with, for the text it was encoded from: a second search
    # of the same text (the answerer's "the latest I have") needs no second forward pass
    query_vector: tuple[str, np.ndarray] | None = None


@dataclass(frozen=True)
class Ranking:
    """One method's candidates: passage ids best first, their scores, the method's weight in
    fusion, and how it scores any other passage (None where it cannot say cheaply: a passage
    outside BM25's top k scores at most its k-th)."""

    ids: np.ndarray
    scores: np.ndarray
    weight: float
    score_of: typing.Callable[[np.ndarray], np.ndarray] | None = None


@dataclass(frozen=True)
class Fused:
    """The fused candidates: `order` ranks them; `strength` says how much better one is than
    another, which the answerer reads as ratios (its quote mixing and its relevance floors were
    calibrated on weighted fusion's scale). For RRF and weighted fusion the two are the same."""

    ids: np.ndarray
    order: np.ndarray
    strength: np.ndarray


def rrf_fusion(ranked: list[Ranking], cfg: RetrievalConfig) -> Fused:
    """Reciprocal rank fusion: each method adds weight / (k + rank) for each of its candidates."""
    ids = np.unique(np.concatenate([r.ids for r in ranked]))
    fused = np.zeros(len(ids))
    for r in ranked:
        fused[np.searchsorted(ids, r.ids)] += r.weight / (cfg.rrf_k + np.arange(1, len(r.ids) + 1))
    return Fused(ids, fused, fused)


def weighted_fusion(ranked: list[Ranking], cfg: RetrievalConfig) -> Fused:
    """Each method's candidate scores, min-max normalised, weighted and summed: score gaps survive,
    so a recency factor reorders only comparably good matches."""
    ids = np.unique(np.concatenate([r.ids for r in ranked]))
    fused = np.zeros(len(ids))
    for r in ranked:
        if not len(r.ids):
            continue
        lo, hi = r.scores.min(), r.scores.max()
        normalised = (r.scores - lo) / (hi - lo) if hi > lo else np.ones_like(r.scores)
        fused[np.searchsorted(ids, r.ids)] += r.weight * normalised
    return Fused(ids, fused, fused)


# A method whose candidates score nearly alike says little about them: a spread under this share
# of their mean counts as this share, so that rounding is not read as evidence (and one passage
# outside the list does not swamp the other method by dividing by almost nothing).
MIN_SPREAD = 0.01


def zscore_fusion(ranked: list[Ranking], cfg: RetrievalConfig) -> Fused:
    """Each method's scores standardised by the mean and spread of its own candidates, weighted
    and summed, measured from the weakest candidate. Every candidate gets each method's own
    score where the method can give it (the dense stage's exact cosine of a passage BM25 alone
    found), else the method's last: min-max fusion counts a passage outside one list as that
    list's floor, so a BM25-only passage far from the question in meaning loses nothing for it.
    Measured against weighted fusion on both eval pools, with and without dates (README,
    Evaluation). The strength stays weighted fusion's."""
    ids = np.unique(np.concatenate([r.ids for r in ranked]))
    fused = np.zeros(len(ids))
    for r in ranked:
        if not len(r.ids):
            continue
        mean = float(r.scores.mean())
        spread = max(float(r.scores.std()), MIN_SPREAD * abs(mean)) or 1.0
        if r.score_of is not None:
            values = np.asarray(r.score_of(ids), np.float64)
        else:
            values = np.full(len(ids), float(r.scores.min()))
            values[np.searchsorted(ids, r.ids)] = r.scores
        fused += r.weight * (values - mean) / spread
    if len(ids):
        fused -= fused.min()
    return Fused(ids, fused, weighted_fusion(ranked, cfg).strength)


FUSIONS = {"rrf": rrf_fusion, "weighted": weighted_fusion, "zscore": zscore_fusion}  # retrieval.fusion names one


class Retriever:
    def __init__(self, manager: IndexManager, embedder: Embedder, config: RetrievalConfig):
        self.manager = manager
        self.embedder = embedder
        self.config = config
        self._fusion = FUSIONS[config.fusion]  # chosen once, not branched on per question

    def prepare(self) -> None:
        """Build now what the first question would otherwise wait for: the compiled BM25 loop
        (compiled on a fresh install, ~5 s; read from numba's cache after, ~0.3 s) and a large
        index's sign codes (~2-3 s at a million passages) with their compiled first pass."""
        index = self.manager.current
        if index is not None:
            with index.reading():
                index.bm25.warm()
        if index is not None and index.size >= self.config.sign_codes_from:
            with index.lock:  # builds the sign codes: a change
                index.vectors.codes()
            sign_kernel.warm()

    def search(self, question: str, now: date | None = None, mode: str = "hybrid", k: int = 30,
               encoded: tuple[str, np.ndarray] | None = None, depth: int | None = None) -> SearchResult:
        """Each method's best `candidates` passages (BM25's among those holding a query term), fused;
        everything after the two scoring stages works on those few hundred passages, not on an
        array of every passage. `depth` (candidates per method in hybrid mode) overrides
        retrieval.candidates for a search that needs only its first few stories."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        cfg = self.config
        scope = parse_time(question, now or date.today())
        tokens = tokenize(scope.text)
        query_vector = None
        if mode != "bm25":
            reuse = encoded is not None and encoded[0] == scope.text
            query_vector = encoded[1] if reuse else self.embedder.encode_query(scope.text)
        index = self.manager.current
        with index.reading():
            n = index.size
            if n == 0:
                return SearchResult([], scope, tokens, {})
            days = index.day.view
            allowed, window_empty = self._allowed(days, index.latest_day, scope, now)
            ranked: list[Ranking] = []
            depth = depth or cfg.candidates
            depth = depth if mode == "hybrid" else 2 * depth  # as many as fusion yields at most
            rescore = cfg.dense_rescore if n >= cfg.sign_codes_from else 0
            dense = None
            if mode == "hybrid" and n >= cfg.parallel_stages_from:  # the index stays held: this thread waits
                later = _stage_pool().submit(index.vectors.top, query_vector, depth, allowed, rescore)
                try:
                    ids, scores = index.bm25.top(tokens, depth, allowed)
                finally:
                    wait([later])  # whatever BM25 did, the dense stage is done with the index first
                dense = later.result()
                ranked.append(Ranking(ids, scores, cfg.bm25_weight))
            elif mode != "dense":
                ids, scores = index.bm25.top(tokens, depth, allowed)
                ranked.append(Ranking(ids, scores, cfg.bm25_weight))
            if query_vector is not None:
                if dense is None:
                    dense = index.vectors.top(query_vector, depth, allowed, rescore)
                ranked.append(Ranking(dense.ids, dense.scores, cfg.dense_weight, dense.cosines))
            idf = index.bm25.idf_of(set(tokens))
            if len(ranked) == 1:
                candidates, order = ranked[0].ids, ranked[0].scores.astype(np.float64)
                strength = order
            else:
                fused = self._fusion(ranked, cfg)
                candidates, order, strength = fused.ids, fused.order, fused.strength
            cand_days = days[candidates]
            seqs = index.article_seq.view[candidates]
            pidx = index.passage_idx.view[candidates]
            cos = dense.cosines(candidates) if dense is not None else np.zeros(len(candidates))
        if now is not None and not scope.asks_when:
            recency = self._recency(cand_days, now)
            order, strength = order * recency, strength * recency
        hits = self._group(seqs, pidx, order, strength, cos, cand_days)
        if scope.recent:
            hits = self._newest_relevant_first(hits)
        return SearchResult(hits[:k], scope, tokens, idf, window_empty,
                            (scope.text, query_vector) if query_vector is not None else None)

    def newest(self, scope: TimeScope, now: date | None, k: int) -> list[ArticleHit]:
        """The k newest dated articles inside the scope's window (or up to now when it has none),
        newest first: what "what happened last week?" asks for. No fallback to the whole store:
        an empty window is an empty answer."""
        index = self.manager.current
        if index is None:
            return []
        with index.reading():
            days = index.day.view
            allowed = days != NO_DAY
            if now is not None:
                allowed &= days <= now.toordinal()
            if scope.start:
                allowed &= days >= scope.start.toordinal()
            if scope.end:
                allowed &= days <= scope.end.toordinal()
            rows = np.flatnonzero(allowed)
            seqs = index.article_seq.view[rows].astype(np.int64)
            row_days = days[rows].astype(np.int64)
            pidx = index.passage_idx.view[rows]
        order = np.lexsort((-seqs, -row_days))  # newest day first, then the latest saved
        hits: dict[int, ArticleHit] = {}
        for i in order:
            seq = int(seqs[i])
            if seq not in hits:
                if len(hits) == k:
                    break
                hits[seq] = ArticleHit(seq=seq, score=1.0, passages=[(int(pidx[i]), 1.0)], day=int(row_days[i]))
        return list(hits.values())

    @staticmethod
    def _newest_relevant_first(hits: list[ArticleHit]) -> list[ArticleHit]:
        """"latest …": among the articles that match well (half the top score or more), newest first."""
        if not hits:
            return hits
        floor = RECENT_FLOOR * max(h.score for h in hits)  # zscore fusion's first is not always the strongest
        relevant = [h for h in hits if h.score >= floor]
        relevant.sort(key=lambda h: h.day, reverse=True)
        return relevant + [h for h in hits if h.score < floor]

    @staticmethod
    def _allowed(days: np.ndarray, latest: int, scope: TimeScope, now: date | None) -> tuple[np.ndarray | None, bool]:
        """Which passages may answer (None: all), and whether the question's window held none
        (then none of the window applies: the answerer says the window is empty and what the
        store has instead)."""
        allowed = None
        if now is not None and latest > now.toordinal():  # nothing published after the question
            allowed = days <= now.toordinal()
        if scope.bounded:
            window = days != NO_DAY
            if scope.start:
                window &= days >= scope.start.toordinal()
            if scope.end:
                window &= days <= scope.end.toordinal()
            if allowed is not None:
                window &= allowed
            if not window.any():
                return allowed, True
            allowed = window
        return allowed, False

    def _recency(self, days: np.ndarray, now: date) -> np.ndarray:
        """exp decay by age with a floor: old news still answers, recent news answers first."""
        cfg = self.config
        weight = cfg.recency_weight
        if weight <= 0:
            return np.ones(len(days))
        half_life = cfg.recency_half_life_days
        age = np.maximum(now.toordinal() - days.astype(np.float64), 0.0)
        decay = np.where(days == NO_DAY, 0.5, np.power(0.5, age / half_life))
        return (1.0 - weight) + weight * decay

    @staticmethod
    def _group(seqs: np.ndarray, pidx: np.ndarray, order: np.ndarray, strength: np.ndarray,
               cos: np.ndarray, days: np.ndarray) -> list[ArticleHit]:
        """Articles ranked by their best passage's `order`; an article's score and its passages'
        (best first) are their `strength`, which the answerer compares."""
        ranked = np.argsort(-order, kind="stable")
        hits: dict[int, ArticleHit] = {}
        for i in ranked:
            seq = int(seqs[i])
            hit = hits.get(seq)
            if hit is None:
                hit = hits[seq] = ArticleHit(seq=seq, score=float(strength[i]), day=int(days[i]))
            hit.passages.append((int(pidx[i]), float(strength[i])))
            hit.dense = max(hit.dense, float(cos[i]))
        for hit in hits.values():
            hit.passages.sort(key=lambda p: -p[1])
            hit.score = hit.passages[0][1]
        return list(hits.values())  # in order of each one's first (best ranked) passage
