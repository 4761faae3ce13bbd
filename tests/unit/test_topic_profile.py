"""A topic's profile from the archive: pseudo-relevance feedback, a threshold from its own score
distribution, and its chat's judgements (index/topic_profile.py), on synthetic vectors."""

import numpy as np

from index.config import RetrievalConfig
from index.topic_profile import (
    ProfileSettings,
    article_scores,
    build_profile,
    calibrated_threshold,
    judged_rise,
    unit,
)

DIM = 64
RETRIEVAL = RetrievalConfig()  # equal BM25 and dense weights
SETTINGS = ProfileSettings()


class Matrix:
    """Passage vectors as the index holds them (scores and rows)."""

    def __init__(self, rows: np.ndarray):
        self.rows = rows.astype(np.float32)

    def scores(self, query):
        return self.rows @ query

    def take(self, rows):
        return self.rows[rows]


def archive(rng, n_unrelated=400, n_related=12):
    """One passage per article: unrelated ones spread at random, related ones close to a direction,
    all sharing a common direction as sentence embeddings do."""
    common = unit(rng.standard_normal(DIM))
    noise = np.array([unit(common + unit(v)) for v in rng.standard_normal((n_unrelated, DIM))])
    direction = unit(rng.standard_normal(DIM))
    related = np.array([unit(common + direction + 0.1 * rng.standard_normal(DIM)) for _ in range(n_related)])
    vectors = np.vstack([noise, related])
    seqs = np.arange(1, len(vectors) + 1)
    return vectors, seqs, direction


def test_an_article_scores_by_its_best_passage():
    scores = np.array([0.1, 0.7, 0.3, 0.2, 0.9])
    articles = np.array([0, 0, 1, 1, 2])
    best, rows = article_scores(scores, articles, 3)
    assert list(best) == [0.7, 0.3, 0.9]
    assert list(rows) == [1, 2, 4]


def test_the_profile_ranks_the_topic_s_stories_better_than_the_typed_text():
    rng = np.random.default_rng(1)
    vectors, seqs, direction = archive(rng)
    # the typed topic only partly points at its stories (a different word for the same thing)
    typed = unit(vectors[-1] + unit(rng.standard_normal(DIM)) * 1.5)
    profile = build_profile(typed, np.zeros(len(seqs)), Matrix(vectors), seqs, RETRIEVAL, SETTINGS, 0.6)
    assert profile.calibrated and profile.archive == len(seqs)

    def related_in_top(vector):
        return int((np.argsort(-(vectors @ vector))[:12] >= len(seqs) - 12).sum())

    assert related_in_top(profile.vector) > related_in_top(typed)
    assert abs(float(np.linalg.norm(profile.vector)) - 1.0) < 1e-5


def test_the_calibrated_threshold_stands_above_unrelated_articles_and_keeps_the_related_ones():
    rng = np.random.default_rng(2)
    vectors, seqs, direction = archive(rng)
    profile = build_profile(direction, np.zeros(len(seqs)), Matrix(vectors), seqs, RETRIEVAL, SETTINGS, 0.6)
    scores = np.maximum(vectors @ profile.vector, 0) / 2  # no topic word anywhere: meaning alone
    unrelated, related = scores[:-12], scores[-12:]
    assert profile.threshold < 0.5  # meaning alone can reach it
    assert (related >= profile.threshold).all()
    assert (unrelated >= profile.threshold).mean() < 0.02


def test_a_threshold_follows_its_topic_s_score_scale():
    rng = np.random.default_rng(3)
    low = np.concatenate([rng.normal(0.20, 0.02, 1000), rng.normal(0.40, 0.02, 10)])
    high = low + 0.2  # the same topic on a scale shifted up (a longer, more specific text)
    assert calibrated_threshold(high, SETTINGS) > calibrated_threshold(low, SETTINGS) + 0.15


def test_judged_precision_moves_the_threshold_down_when_high_and_up_when_low():
    assert judged_rise(4, 0, SETTINGS) == SETTINGS.rise  # too few judgements to say anything
    assert judged_rise(10, 0, SETTINGS) < SETTINGS.rise  # every alert liked: stories are being missed
    assert judged_rise(7, 3, SETTINGS) == SETTINGS.rise
    assert judged_rise(4, 6, SETTINGS) > SETTINGS.rise  # mostly disliked: too many alerts


def test_a_chat_that_likes_every_alert_gets_a_lower_threshold():
    rng = np.random.default_rng(7)
    vectors, seqs, direction = archive(rng)
    coverage = np.r_[np.full(len(seqs) - 12, 0.3), np.ones(12)]  # topic words: some everywhere, all in related
    before = build_profile(direction, coverage, Matrix(vectors), seqs, RETRIEVAL, SETTINGS, 0.6)
    liked = [int(s) for s in seqs[-6:]]  # the related archive articles
    after = build_profile(direction, coverage, Matrix(vectors), seqs, RETRIEVAL, SETTINGS, 0.6, liked=liked)
    assert after.liked == 6 and after.threshold < before.threshold
    disliked = build_profile(direction, coverage, Matrix(vectors), seqs, RETRIEVAL, SETTINGS, 0.6,
                             liked=liked[:2], disliked=liked[2:])
    assert disliked.threshold > after.threshold


def test_judgements_pull_the_profile_toward_liked_stories_and_away_from_disliked_ones():
    rng = np.random.default_rng(4)
    vectors, seqs, direction = archive(rng)
    coverage = np.zeros(len(seqs))
    before = build_profile(direction, coverage, Matrix(vectors), seqs, RETRIEVAL, SETTINGS, 0.6)
    liked, disliked = int(seqs[5]), int(seqs[6])  # two unrelated archive articles
    after = build_profile(direction, coverage, Matrix(vectors), seqs, RETRIEVAL, SETTINGS, 0.6,
                          liked=[liked], disliked=[disliked])
    assert (after.liked, after.disliked) == (1, 1)
    assert float(after.vector @ vectors[5]) > float(before.vector @ vectors[5])
    assert float(after.vector @ vectors[6]) < float(before.vector @ vectors[6])


def test_a_small_archive_keeps_the_default_threshold_but_still_learns_from_judgements():
    rng = np.random.default_rng(5)
    vectors, seqs, direction = archive(rng, n_unrelated=20, n_related=3)
    plain = build_profile(direction, np.zeros(len(seqs)), Matrix(vectors), seqs, RETRIEVAL, SETTINGS, 0.6)
    assert not plain.calibrated and not plain.learned and plain.threshold == 0.6
    judged = build_profile(direction, np.zeros(len(seqs)), Matrix(vectors), seqs, RETRIEVAL, SETTINGS, 0.6,
                           disliked=[int(seqs[-1])])
    assert judged.learned and judged.disliked == 1


def test_judgements_of_articles_outside_the_archive_are_ignored():
    rng = np.random.default_rng(6)
    vectors, seqs, direction = archive(rng)
    profile = build_profile(direction, np.zeros(len(seqs)), Matrix(vectors), seqs, RETRIEVAL, SETTINGS, 0.6,
                            liked=[10_000], disliked=[0])
    assert (profile.liked, profile.disliked) == (0, 0)
