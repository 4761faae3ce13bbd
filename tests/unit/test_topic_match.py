"""TopicMatcher skips topics that cannot reach their threshold; what it returns must be exactly what
scoring every topic on every passage returns."""

from __future__ import annotations

import numpy as np
import pytest

from index.config import RetrievalConfig
from index.topic_match import Topic, TopicMatcher, fuse
from index.topics import parse_topic

WORDS = [f"w{i}" for i in range(300)]


def brute_force(topics, vectors, config, default, seq, tokens, passage_vectors, idf, text):
    """Every topic, every passage: the score as the module defines it."""
    out = {}
    for topic, vector in zip(topics, vectors):
        if topic.muted or topic.since_seq >= seq:
            continue
        weights = {t: max(idf.get(t, 0.0), 0.0) for t in topic.query.terms}
        total = sum(weights.values())
        coverage = np.array([sum(w for t, w in weights.items() if t in set(p)) / total if total > 0 else 0.0
                             for p in tokens])
        scores = fuse(coverage, passage_vectors.astype(np.float64) @ vector.astype(np.float64), config)
        # the chat's own threshold, else the one learned from the archive, else the default
        threshold = topic.threshold if topic.threshold is not None else (
            default if topic.auto_threshold is None else topic.auto_threshold)
        best = int(scores.argmax())
        if scores[best] >= threshold - TopicMatcher.TIE and topic.query.admits(text):
            out[topic.id] = (float(scores[best]), best)
    return out


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


LOW = (0.2, 0.3, 0.45, 0.5, 0.7, 0.95)  # some topics can match on meaning alone
HIGH = (0.55, 0.7, 0.95)  # coverage is needed: most topics are skipped before their cosine


@pytest.mark.parametrize("thresholds", [LOW, HIGH], ids=["low", "high"])
@pytest.mark.parametrize("weights", [(1.0, 1.0), (1.0, 0.5), (0.3, 1.0), (0.0, 1.0), (1.0, 0.0)])
@pytest.mark.parametrize("seed", range(4))
def test_match_equals_scoring_every_topic_on_every_passage(seed, weights, thresholds):
    rng = np.random.default_rng(seed)
    dimension, n_topics, n_passages = 96, 600, int(rng.integers(1, 12))
    passage_vectors = unit(rng.standard_normal((n_passages, dimension)))
    # topics near a passage (they match on meaning), and unrelated ones
    near = passage_vectors[rng.integers(n_passages, size=n_topics)]
    noise = rng.standard_normal((n_topics, dimension)) * rng.choice([0.02, 0.05, 0.1, 10.0], size=(n_topics, 1))
    vectors = unit(near + noise)
    topics = []
    for i in range(n_topics):
        words = rng.choice(WORDS, size=int(rng.integers(1, 5)), replace=False)
        text = " ".join(words) + (f" -{WORDS[int(rng.integers(300))]}" if i % 13 == 0 else "")
        threshold = None if i % 3 else float(rng.choice(thresholds))
        learned = float(rng.choice(thresholds)) if i % 2 else None  # some with both: the chat's wins
        topics.append(Topic(id=i, chat_id=i, query=parse_topic(text), threshold=threshold,
                            muted=i % 17 == 0, since_seq=int(rng.integers(0, 12)), auto_threshold=learned))
    tokens = [list(rng.choice(WORDS, size=int(rng.integers(0, 25)))) for _ in range(n_passages)]
    idf = {w: float(rng.uniform(-0.5, 5.0)) for w in WORDS[:290]}  # some missing, some negative
    text = " ".join(t for p in tokens for t in p)
    config = RetrievalConfig(bm25_weight=weights[0], dense_weight=weights[1])
    matcher = TopicMatcher(topics, vectors, config, default_threshold=0.6)
    matcher.BOUND_FROM = 0  # the low-rank bound on every dense call, however small
    bounded = []
    matcher._bounded = lambda *args: bounded.append(TopicMatcher._bounded(matcher, *args)) or bounded[-1]

    found = {m.topic.id: (m.score, m.passage) for m in matcher.match(10, tokens, passage_vectors, idf, text)}
    expected = brute_force(topics, vectors, config, 0.6, 10, tokens, passage_vectors, idf, text)
    assert set(found) == set(expected)
    assert expected, "the case should have matches"
    if weights == (1.0, 1.0):
        if thresholds is HIGH:  # every topic needs coverage: pair by pair, the bound ruling some out
            assert matcher.last_pairs.ruled_out > 0 and matcher.last_pairs.scored > 0
        else:  # those that can match on meaning alone are scored on every passage, bounded first
            assert bounded and not bounded[0].all(), "the bound should have been tried, and skipped some topics"
    for topic_id, (score, passage) in found.items():
        assert score == pytest.approx(expected[topic_id][0], abs=1e-5)
        assert passage == expected[topic_id][1]


WAYS = {  # (GATHER_BELOW, GROUP_TERMS): how topics are screened, and how their passages are found
    "read every topic, group passages": (0.0, 5),
    "screen from the article's terms, group passages": (2.0, 5),
    "read every topic, add weights": (0.0, 0),
    "screen from the article's terms, add weights": (2.0, 0),
}


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("seed", range(4))
def test_a_long_article_matches_as_scoring_every_topic_on_every_passage(seed, way):
    """Past 64 passages (odd seeds) a term's passages take more than one word of bits; topics of one to six
    words take the paths for one, two and more of their terms in the article. Each way of finding
    the pairs (chosen by cost in use) gives the same matches."""
    rng = np.random.default_rng(100 + seed)
    dimension, n_topics = 96, 800
    n_passages = int(rng.integers(65, 140)) if seed % 2 else int(rng.integers(2, 64))
    passage_vectors = unit(rng.standard_normal((n_passages, dimension)))
    vectors = unit(passage_vectors[rng.integers(n_passages, size=n_topics)]
                   + rng.standard_normal((n_topics, dimension)) * rng.choice([0.05, 0.3, 10.0], size=(n_topics, 1)))
    vocabulary = WORDS[:120]  # few words, so that topics share passages with the article
    topics = [Topic(id=i, chat_id=i, query=parse_topic(" ".join(rng.choice(vocabulary, size=int(rng.integers(1, 7)),
                                                                           replace=False))),
                    threshold=float(rng.choice(HIGH)) if i % 2 else None) for i in range(n_topics)]
    tokens = [list(rng.choice(vocabulary, size=int(rng.integers(5, 30)))) for _ in range(n_passages)]
    idf = {w: float(rng.uniform(0.1, 5.0)) for w in vocabulary}
    config = RetrievalConfig()
    matcher = TopicMatcher(topics, vectors, config, default_threshold=0.6)
    matcher.GATHER_BELOW, matcher.GROUP_TERMS = WAYS[way]
    found = {m.topic.id: (m.score, m.passage) for m in matcher.match(10, tokens, passage_vectors, idf, "")}
    expected = brute_force(topics, vectors, config, 0.6, 10, tokens, passage_vectors, idf, "")
    assert expected and set(found) == set(expected)
    for topic_id, (score, passage) in found.items():
        assert score == pytest.approx(expected[topic_id][0], abs=1e-5)
        assert passage == expected[topic_id][1]


def test_no_topics_and_no_passages_match_nothing():
    config = RetrievalConfig()
    empty = TopicMatcher([], np.zeros((0, 8), np.float32), config, 0.6)
    assert empty.match(1, [["harbour"]], np.ones((1, 8), np.float32), {}, "harbour") == []
    one = TopicMatcher([Topic(1, 1, parse_topic("harbour"))], np.ones((1, 8), np.float32), config, 0.6)
    assert one.match(1, [], np.zeros((0, 8), np.float32), {}, "") == []
