"""How the two methods' candidate lists become one ranking."""

import numpy as np
import pytest

from index.config import RetrievalConfig
from index.retrieval import FUSIONS, ArticleHit, Ranking, Retriever, weighted_fusion, zscore_fusion

CFG = RetrievalConfig()


def _ranking(scores: dict[int, float], weight: float = 1.0, score_of=None) -> Ranking:
    ids = np.array(sorted(scores, key=lambda i: -scores[i]), np.int64)
    return Ranking(ids, np.array([scores[i] for i in ids], np.float64), weight, score_of)


def _cosines(table: dict[int, float]):
    return lambda rows: np.array([table[int(r)] for r in rows], np.float32)


def _first(fused) -> list[int]:
    return [int(fused.ids[i]) for i in np.argsort(-fused.order, kind="stable")]


def test_a_passage_only_bm25_found_is_judged_by_its_own_cosine_not_by_the_dense_lists_floor():
    """Passages 1 and 2 score the same on BM25 and neither is in the dense list; 2 is close to the
    question in meaning, 1 is not. Min-max fusion cannot tell them apart (a tie, left in id
    order); zscore fusion asks the dense stage for their cosines."""
    cosines = {1: 0.05, 2: 0.50, 3: 0.70, 4: 0.60, 5: 0.55}
    bm25 = _ranking({1: 9.0, 2: 9.0, 3: 4.0, 4: 3.0})
    dense = _ranking({3: 0.70, 4: 0.60, 5: 0.55}, score_of=_cosines(cosines))
    minmax = weighted_fusion([bm25, dense], CFG)
    at = {int(i): k for k, i in enumerate(minmax.ids)}
    assert minmax.order[at[1]] == minmax.order[at[2]]
    order = _first(zscore_fusion([bm25, dense], CFG))
    assert order.index(2) < order.index(1)


def test_zscore_fusion_by_hand():
    """BM25 lists 8, 3, 5 (6, 4, 2: mean 4, spread 1.633); the dense list 5, 2 (0.6, 0.5: mean 0.55,
    spread 0.05), and the dense stage gives 3 and 8 their cosines 0.2 and 0.3. Passage 2, outside
    BM25's list, takes its last score, 2. Sums of zscores: 2: -1.225 - 1 = -2.225; 3: 0 - 7 = -7;
    5: -1.225 + 1 = -0.225; 8: 1.225 - 5 = -3.775; measured from the weakest (3)."""
    cosines = {2: 0.5, 3: 0.2, 5: 0.6, 8: 0.3}
    fused = zscore_fusion([_ranking({8: 6.0, 3: 4.0, 5: 2.0}),
                           _ranking({5: 0.6, 2: 0.5}, score_of=_cosines(cosines))], CFG)
    assert list(fused.ids) == [2, 3, 5, 8]
    np.testing.assert_allclose(fused.order, [4.775, 0.0, 6.775, 3.225], atol=1e-3)
    assert _first(fused) == [5, 2, 8, 3]


def test_near_equal_scores_do_not_count_as_evidence():
    """BM25 scores the three alike but for rounding: dividing by that spread would make the
    rounding outweigh the dense stage. Its spread counts as 1 % of its mean, so meaning decides."""
    cosines = {1: 0.5, 2: 0.4, 3: 0.6}
    fused = zscore_fusion([_ranking({1: 10.0, 2: 10.0000001, 3: 10.0}),
                           _ranking(cosines, score_of=_cosines(cosines))], CFG)
    assert _first(fused) == [3, 1, 2]


def test_zscore_order_does_not_change_when_a_method_scores_on_another_scale():
    """Standardising makes a method's units irrelevant: BM25 scores ×10 rank the same."""
    cosines = {i: 0.3 + 0.05 * i for i in range(1, 9)}
    bm25 = {1: 7.0, 2: 6.5, 4: 3.0, 6: 2.0, 8: 1.0}
    dense = {i: cosines[i] for i in (3, 4, 5, 6, 7, 8)}
    once = zscore_fusion([_ranking(bm25), _ranking(dense, score_of=_cosines(cosines))], CFG)
    tenfold = zscore_fusion([_ranking({i: 10 * s for i, s in bm25.items()}),
                             _ranking(dense, score_of=_cosines(cosines))], CFG)
    assert _first(once) == _first(tenfold)
    np.testing.assert_allclose(once.order, tenfold.order)
    order = _first(once)
    assert order.index(2) < order.index(5)  # and BM25 counts: 2 is further in meaning, but its words match


def test_zscore_measures_from_the_weakest_candidate_and_keeps_min_max_strength():
    """Order scores start at 0 (a recency factor then scales what is above the weakest); the
    strength the answerer compares is weighted fusion's."""
    cosines = {1: 0.2, 2: 0.4, 3: 0.6}
    ranked = [_ranking({1: 5.0, 2: 1.0}), _ranking({2: 0.4, 3: 0.6}, score_of=_cosines(cosines))]
    fused = zscore_fusion(ranked, CFG)
    assert fused.order.min() == 0.0
    np.testing.assert_allclose(fused.strength, weighted_fusion(ranked, CFG).strength)


def test_a_method_with_no_candidates_adds_nothing():
    cosines = {1: 0.6, 2: 0.5}
    empty = Ranking(np.array([], np.int64), np.array([], np.float64), 1.0)
    fused = zscore_fusion([empty, _ranking({1: 0.6, 2: 0.5}, score_of=_cosines(cosines))], CFG)
    assert _first(fused) == [1, 2]
    nothing = zscore_fusion([empty, Ranking(np.array([], np.int64), np.array([], np.float64), 1.0)], CFG)
    assert len(nothing.ids) == 0


@pytest.mark.parametrize("name", ["rrf", "weighted"])
def test_rank_based_and_min_max_fusion_order_by_their_strength(name):
    fused = FUSIONS[name]([_ranking({1: 3.0, 2: 2.0}), _ranking({2: 0.9, 3: 0.8})], CFG)
    np.testing.assert_array_equal(fused.order, fused.strength)


def test_articles_follow_the_order_and_carry_the_strength():
    """Article 7's passage ranks first, article 9's is stronger by min-max: 7 leads, and each
    article's score and passage list (best first) are strengths."""
    seqs = np.array([7, 9, 9, 7])
    pidx = np.array([0, 0, 1, 1])
    order = np.array([4.0, 3.0, 2.0, 1.0])
    strength = np.array([1.0, 1.5, 1.8, 1.2])
    hits = Retriever._group(seqs, pidx, order, strength, np.zeros(4), np.zeros(4, np.int64))
    assert [h.seq for h in hits] == [7, 9]
    assert hits[0].score == 1.2 and hits[0].passages == [(1, 1.2), (0, 1.0)]
    assert hits[1].score == 1.8 and hits[1].passages == [(1, 1.8), (0, 1.5)]


def test_latest_first_counts_what_scores_half_the_strongest_not_half_the_first_ranked():
    """"latest …" reorders by date only the articles scoring half the strongest one or more; the
    first ranked (zscore order) need not be the strongest (weighted strength)."""
    hits = [ArticleHit(seq=1, score=0.5, day=10), ArticleHit(seq=2, score=2.0, day=5),
            ArticleHit(seq=3, score=0.6, day=20)]
    assert [h.seq for h in Retriever._newest_relevant_first(hits)] == [2, 1, 3]
