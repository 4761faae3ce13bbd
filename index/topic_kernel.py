"""One article against many topics, as compiled loops (numba): coverage, then passage by passage.

A long article shares a word with most of 100k topics. As matrix products (scipy, numpy) matching
built dense topics × passages matrices: coverage of ~80k touched topics on ~100 passages, a
low-rank cosine bound and exact cosines of the ~30k still in play, most of it thrown away: p95
~50 ms. But a topic can reach its threshold only on a passage whose coverage of it reaches the
topic's `min_coverage` (a cosine adds at most 1), and a topic holds a few terms, each in a few of
the article's passages. So each touched topic adds its terms' weights into the passages holding
them (a short list each), and only the (topic, passage) pairs that can still reach the threshold
go on, each to the bound and, if it passes, to its exact cosine and score. Topics at a threshold
low enough to match on meaning alone need every passage: `coverage_rows` gives their dense rows.

Float32 throughout, as the matrix version computed, so scores agree with it to float rounding.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(nogil=True, cache=True)
def _article_terms(cols, term_ptr, term_topics, term_counts, term_weights, n_topics: int):
    """(vocabulary term -> its place in cols or -1, each topic's coverage weight by the whole
    article: a bound on any one passage's)."""
    local = np.full(len(term_weights), -1, np.int64)
    whole = np.zeros(n_topics, np.float32)
    for c in range(len(cols)):
        local[cols[c]] = c
        for q in range(term_ptr[cols[c]], term_ptr[cols[c] + 1]):
            whole[term_topics[q]] += term_weights[cols[c]] * term_counts[q]
    return local, whole


@numba.njit(nogil=True, cache=True)
def match_pairs(topic_ptr, topic_terms, topic_counts, term_ptr, term_topics, term_counts, cols, col_ptr, col_passages,
                term_weights, inverse, min_coverage, live, n_passages: int, vectors, passage_vectors, low, rest,
                low_p, rest_p, need, thresholds, bm25_weight: float, dense_weight: float, use_bound: bool,
                tie: float):
    """(topics, scores, best passages) of the live topics with min_coverage > 0 whose best passage
    scores at least their threshold (less `tie`), in topic order, and counts: (topic, passage)
    pairs whose coverage reaches min_coverage, those the bound ruled out, those scored exactly.

    topic_ptr/topic_terms/topic_counts: each topic's terms and how often it names each (CSR);
    term_ptr/term_topics/term_counts: the same by term (CSC); cols: the article's terms (vocabulary ids),
    col_ptr/col_passages: the passages holding each (CSR); inverse: 1 / each topic's weight.
    With `use_bound`, a pair is scored only if its low-rank bound (low[t]·low_p[p] +
    rest[t]·rest_p[p] >= the cosine) lets it reach `need[t]` (the threshold × total weight, less
    the slack for rounding). Scores are `topic_match.fuse`'s, in float32."""
    n_topics = len(topic_ptr) - 1
    local, whole = _article_terms(cols, term_ptr, term_topics, term_counts, term_weights, n_topics)
    total = bm25_weight + dense_weight
    bw = np.float32(bm25_weight / total)
    dw = np.float32(dense_weight / total)
    bw_raw = np.float32(bm25_weight)
    dw_raw = np.float32(dense_weight)
    buf = np.zeros(n_passages, np.float32)
    hit_topic = np.empty(n_topics, np.int64)
    hit_score = np.empty(n_topics, np.float32)
    hit_passage = np.empty(n_topics, np.int64)
    hits = 0
    pairs = 0
    ruled_out = 0
    scored = 0
    for t in range(n_topics):
        floor = min_coverage[t]
        # no term of it here, too little even with all the article's, matches on meaning alone, or not live
        if whole[t] * inverse[t] < floor or floor <= 0 or not live[t]:
            continue
        most = np.float32(0.0)
        for q in range(topic_ptr[t], topic_ptr[t + 1]):
            c = local[topic_terms[q]]
            if c >= 0:
                w = term_weights[topic_terms[q]] * topic_counts[q]
                for r in range(col_ptr[c], col_ptr[c + 1]):
                    p = col_passages[r]
                    buf[p] += w
                    if buf[p] > most:  # weights are >= 0: the best passage is one a term was added to
                        most = buf[p]
        reaches = most * inverse[t] >= floor
        best = np.float32(-np.inf)
        best_p = -1
        for q in range(topic_ptr[t], topic_ptr[t + 1]):  # score where it reaches; zero what was added to
            c = local[topic_terms[q]]
            if c < 0:
                continue
            for r in range(col_ptr[c], col_ptr[c + 1]):
                p = col_passages[r]
                if buf[p] == 0:  # seen already (a passage holding two of its terms)
                    continue
                coverage = buf[p] * inverse[t]
                buf[p] = 0.0
                if not reaches or coverage < floor:
                    continue
                pairs += 1
                if use_bound:
                    bound = _dot(low[t], low_p[p]) + rest[t] * rest_p[p]
                    if max(bound, np.float32(0.0)) * dw_raw + bw_raw * coverage < need[t]:
                        ruled_out += 1
                        continue
                cosine = _dot(vectors[t], passage_vectors[p]) if dense_weight > 0 else np.float32(0.0)
                scored += 1
                score = max(cosine, np.float32(0.0)) * dw + bw * coverage
                if score > best or (score == best and p < best_p):  # ties: the first passage, as argmax
                    best = score
                    best_p = p
        if best_p >= 0 and best >= thresholds[t] - tie:
            hit_topic[hits] = t
            hit_score[hits] = best
            hit_passage[hits] = best_p
            hits += 1
    return hit_topic[:hits].copy(), hit_score[:hits].copy(), hit_passage[:hits].copy(), pairs, ruled_out, scored


@numba.njit(nogil=True, cache=True)
def coverage_rows(topics, topic_ptr, topic_terms, topic_counts, term_ptr, term_topics, term_counts, cols, col_ptr,
                  col_passages, term_weights, inverse, n_passages: int):
    """Dense coverage rows (topics × passages, float32) of the given topics (the arguments are
    match_pairs')."""
    local, _ = _article_terms(cols, term_ptr, term_topics, term_counts, term_weights, len(topic_ptr) - 1)
    rows = np.zeros((len(topics), n_passages), np.float32)
    for i in range(len(topics)):
        t = topics[i]
        row = rows[i]
        for q in range(topic_ptr[t], topic_ptr[t + 1]):
            c = local[topic_terms[q]]
            if c >= 0:
                w = term_weights[topic_terms[q]] * topic_counts[q]
                for r in range(col_ptr[c], col_ptr[c + 1]):
                    row[col_passages[r]] += w
        for p in range(n_passages):
            row[p] *= inverse[t]
    return rows


@numba.njit(nogil=True, cache=True, fastmath=True)
def _dot(a, b) -> float:
    """Float32 dot product, reassociated (fastmath) so that it vectorises: a cosine's rounding
    moves, as BLAS's blocked sums move it, by ~1e-7."""
    total = np.float32(0.0)
    for i in range(len(a)):
        total += a[i] * b[i]
    return total
