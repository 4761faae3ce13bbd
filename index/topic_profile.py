"""A topic's profile: the vector the matcher scores it with and the threshold it must reach, both
derived from the archive when the topic is created (and again when its chat judges an alert).

Why: a topic's text alone is a poor probe. "aluminium" never occurs on a wire that writes
"aluminum"; "grain harvest and exports" is rarely written in all its words; and the cosine of one
short text with a story lands on a different scale for every topic (a one-word topic's related
stories score lower than a sentence's). A fixed threshold on the text's own score therefore
misses most stories of some topics and floods others. The archive fixes both, without labels:

* pseudo-relevance feedback (Rocchio): the topic vector is moved toward the centroid of the
  passages that match it best in the archive, so it takes on the vocabulary and meaning of the
  stories it is about ("aluminium" toward smelters, ingots, LME prices);
* the threshold comes from the topic's own score distribution over the archive: most stored
  articles are about something else, so the median says what an unrelated article scores for
  this topic, and the mean of its best archive matches what a story about it scores; the
  threshold sits `rise` of the way between the two (0.6, chosen on the tune half of the eval's
  topics: 0.5–0.7 were within 0.03 macro-F1);
* the archive's mean vector is taken off the topic's directions (embeddings share a common
  direction that makes every cosine look alike; on the score scale it is a per-topic offset, so
  the matcher's cosines with raw passage vectors rank the same way).

A chat's judgements move the profile the same way with real relevance: liked stories pull the
vector toward them, disliked ones push it away. They also say how precise the topic's alerts are,
which is what a threshold trades: a chat that liked nearly every alert it judged is missing
stories, so the threshold moves down the archive's range; one that disliked half or more moves it
up. (Separating the judged scores, or measuring from the liked stories' mean, was tried first:
ten judgements all sit above the threshold, so both only ever raised it and cost recall.)

Pure functions over arrays: the caller hands in the index's passage vectors, coverage and the
article of each passage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .config import RetrievalConfig
from .topic_match import fuse


@dataclass(frozen=True)
class ProfileSettings:
    prf_articles: int = 10  # archive articles whose best passages expand the topic
    prf_weight: float = 1.0  # weight of their centroid against the topic text's vector
    center: float = 1.0  # share of the archive's mean vector taken off every direction (anisotropy)
    prf_rounds: int = 1
    liked_weight: float = 0.6  # weight of the centroid of liked stories
    disliked_weight: float = 0.3  # weight of the centroid of disliked stories (subtracted)
    rise: float = 0.6  # the threshold: this far from the archive's median score to its best matches' mean
    min_judged: int = 5  # judgements before their precision moves the threshold
    precise: float = 0.9  # judged precision from which the threshold moves down by `rise_step`
    imprecise: float = 0.5  # judged precision below which it moves up by `rise_step`
    rise_step: float = 0.2
    floor: float = 0.1  # no threshold below this
    ceiling: float = 0.95
    min_archive: int = 50  # with fewer archive articles there is no distribution: the default applies


@dataclass(frozen=True)
class TopicProfile:
    vector: np.ndarray  # unit float32: what the matcher scores the topic with
    threshold: float  # the calibrated threshold (the default where the archive is too small)
    archive: int  # how many archive articles it was derived from
    liked: int = 0
    disliked: int = 0
    calibrated: bool = True  # False: the archive was too small for a distribution (judgements only)

    @property
    def learned(self) -> bool:
        """Whether the profile differs from the topic as typed (else nothing is stored)."""
        return self.calibrated or bool(self.liked or self.disliked)


def unit(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, np.float32)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def article_scores(passage_scores: np.ndarray, passage_article: np.ndarray,
                   n_articles: int) -> tuple[np.ndarray, np.ndarray]:
    """(each article's best passage score, the row of that passage): an article matches by its
    best passage, as the matcher decides. `passage_article` numbers articles 0..n_articles-1."""
    order = np.lexsort((-passage_scores, passage_article))  # by article, best passage first
    first = np.ones(len(order), bool)
    first[1:] = passage_article[order][1:] != passage_article[order][:-1]
    rows = order[first]
    best = np.full(n_articles, -np.inf, np.float64)
    where = np.full(n_articles, -1, np.int64)
    best[passage_article[rows]] = passage_scores[rows]
    where[passage_article[rows]] = rows
    return best, where


def calibrated_threshold(scores: np.ndarray, settings: ProfileSettings, rise: float | None = None) -> float:
    """Where a match starts for a topic whose archive articles score `scores` (one per article):
    `rise` of the way from what a typical (unrelated) archive article scores, the median, to what
    the topic's best archive matches score. Both ends are the topic's own, so a topic whose
    stories score low on the absolute scale (a single word, a spelling the wire does not use)
    gets a low threshold and a long, specific one a high threshold."""
    rise = settings.rise if rise is None else rise
    scores = np.sort(scores[np.isfinite(scores)])
    median = float(np.median(scores))
    top = float(scores[-settings.prf_articles:].mean())
    threshold = median + rise * (top - median)
    return float(min(max(threshold, settings.floor), settings.ceiling))


def judged_rise(liked: int, disliked: int, settings: ProfileSettings) -> float:
    """The `rise` after a chat's judgements: down a step when nearly all it judged was liked (the
    alerts are precise, so recall is what can grow), up a step when half or more was disliked.
    Simulated on the alert evaluation's tune topics (first 10 alerts judged by the labels): +0.03
    macro-F1 on the later alerts, where separating the judged scores lost 0.01."""
    judged = liked + disliked
    if judged < settings.min_judged:
        return settings.rise
    precision = liked / judged
    if precision >= settings.precise:
        return settings.rise - settings.rise_step
    if precision < settings.imprecise:
        return settings.rise + settings.rise_step
    return settings.rise


def raw_scores(coverage: np.ndarray, cosine: np.ndarray, retrieval: RetrievalConfig) -> np.ndarray:
    """fuse() without clipping negative cosines at 0, for the distribution: clipped, every
    unrelated article would score its coverage alone (mostly 0) and the bulk would have no spread.
    The two differ only where the cosine is negative, where nothing matches on meaning."""
    total = retrieval.bm25_weight + retrieval.dense_weight
    if total <= 0:
        return np.zeros_like(cosine)
    return (retrieval.bm25_weight * coverage + retrieval.dense_weight * cosine) / total


class Passages(Protocol):
    """The archive's passage vectors (the index's PassageVectors): products and rows."""

    def scores(self, query: np.ndarray) -> np.ndarray: ...

    def take(self, rows: np.ndarray) -> np.ndarray: ...


def build_profile(text_vector: np.ndarray, coverage: np.ndarray, passages: Passages, passage_seq: np.ndarray,
                  retrieval: RetrievalConfig, settings: ProfileSettings, default_threshold: float,
                  liked: Sequence[int] = (), disliked: Sequence[int] = ()) -> TopicProfile:
    """The topic's profile from the archive: its passages (vectors, the topic's `coverage` of each,
    the article seq of each); `liked` and `disliked` are seqs of articles the chat judged (those
    not in the archive are ignored)."""
    text_vector = unit(text_vector)
    seqs, article = np.unique(np.asarray(passage_seq, np.int64), return_inverse=True)
    n_articles = len(seqs)
    if not n_articles:
        return TopicProfile(text_vector, default_threshold, 0, calibrated=False)
    calibrated = n_articles >= settings.min_archive  # else no distribution to learn from: judgements only

    def numbers(judged: Sequence[int]) -> np.ndarray:
        judged = np.asarray(list(judged), np.int64)
        at = np.searchsorted(seqs, judged)
        return at[(at < n_articles) & (seqs[np.minimum(at, n_articles - 1)] == judged)]

    liked_n, disliked_n = numbers(liked), numbers(disliked)
    mean = np.zeros_like(text_vector)
    if settings.center and calibrated:
        step = max(1, len(passage_seq) // 5000)
        mean = passages.take(np.arange(0, len(passage_seq), step)).mean(axis=0) * settings.center
    base = unit(text_vector - mean)

    def centered(rows_: np.ndarray) -> np.ndarray:
        return unit(passages.take(rows_).mean(axis=0) - mean)

    vector = base
    _, rows = article_scores(fuse(coverage, passages.scores(text_vector), retrieval), article, n_articles)
    if calibrated:
        k = min(settings.prf_articles, n_articles)
        probe = text_vector
        for _ in range(settings.prf_rounds):
            first, rows = article_scores(fuse(coverage, passages.scores(probe), retrieval), article, n_articles)
            top = np.argpartition(-first, k - 1)[:k]
            vector = unit(base + settings.prf_weight * centered(rows[top]))
            probe = vector
    if len(liked_n):
        vector = vector + settings.liked_weight * centered(rows[liked_n])
    if len(disliked_n):
        vector = vector - settings.disliked_weight * centered(rows[disliked_n])
    vector = unit(vector)
    scores, _ = article_scores(raw_scores(coverage, passages.scores(vector), retrieval), article, n_articles)
    rise = judged_rise(len(liked_n), len(disliked_n), settings)
    threshold = calibrated_threshold(scores, settings, rise) if calibrated else default_threshold
    return TopicProfile(vector, threshold, n_articles, len(liked_n), len(disliked_n), calibrated)
