"""A topic's profile from the archive: pseudo-relevance feedback, a threshold from its own score
distribution, and its chat's judgements (index/topic_profile.py), on synthetic vectors."""

import numpy as np

from index.config import RetrievalConfig
from index.topic_profile import (
    ProfileSettings,
    article_scores,
    build_profile,
    calibrated_threshold,
    judged_threshold,
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


def test_dislikes_above_every_like_raise_the_threshold_past_them_and_likes_alone_keep_it():
    liked = np.array([0.50, 0.55, 0.60])
    assert judged_threshold(0.45, liked, np.array([]), SETTINGS) == 0.45
    raised = judged_threshold(0.45, liked, np.array([0.46, 0.47]), SETTINGS)
    assert 0.47 < raised <= 0.50
    # a dislike among the likes cannot be separated without losing likes: the threshold stays
    assert judged_threshold(0.45, liked, np.array([0.52]), SETTINGS) == 0.45


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
