"""One article against many topics, as compiled loops (numba): coverage, then passage by passage.

A long article shares a word with most of 100k topics. As matrix products (scipy, numpy) matching
built dense topics × passages matrices: coverage of ~80k touched topics on ~100 passages, a
low-rank cosine bound and exact cosines of the ~30k still in play, most of it thrown away: p95
~50 ms. But a topic can reach its threshold only on a passage whose coverage of it reaches the
topic's `min_coverage` (a cosine adds at most 1), and a topic holds a few terms, each in a few of
the article's passages. So each topic finds the passages where its coverage reaches that floor,
and only those (topic, passage) pairs go on, each to the bound and, if it passes, to its exact
cosine and score. Topics at a threshold low enough to match on meaning alone need every passage:
`coverage_rows` gives their dense rows.

Finding those passages was most of the time on a long article (~70k topics, ~20 passages each).
A passage's coverage depends only on which of the topic's terms it holds, and a topic has two or
three here: so the article's passages are grouped by that, as bit sets (one 64-bit word per 64
passages), 2^k groups for k terms, and a group below the floor is skipped whole. The low-rank
rows the bound reads are prefetched a few topics ahead: they are read in topic order but too
sparsely for the CPU to foresee, and waiting for them cost a quarter of the time.

Float32 throughout, as the matrix version computed, so scores agree with it to float rounding.
"""

from __future__ import annotations

import numba
import numpy as np

from .cpu_intrinsics import prefetch, trailing_zeros

AHEAD = 8  # topics ahead whose low-rank rows are prefetched


@numba.njit(nogil=True, cache=True)
def _present(cols, term_weights):
    """(vocabulary term -> its place in cols or -1, its weight where the article holds it or 0)."""
    local = np.full(len(term_weights), -1, np.int64)
    weight = np.zeros(len(term_weights), np.float32)
    for c in range(len(cols)):
        local[cols[c]] = c
        weight[cols[c]] = term_weights[cols[c]]
    return local, weight


@numba.njit(nogil=True, cache=True)
def _gathered(cols, term_ptr, term_topics, term_counts, term_weights, n_topics: int):
    """Each topic's coverage weight by the whole article (a bound on any one passage's), summed from
    the side of the article's terms: cheaper than reading every topic when they are few."""
    whole = np.zeros(n_topics, np.float32)
    for c in range(len(cols)):
        for q in range(term_ptr[cols[c]], term_ptr[cols[c] + 1]):
            whole[term_topics[q]] += term_weights[cols[c]] * term_counts[q]
    return whole


@numba.njit(nogil=True, cache=True)
def _passage_bits(col_ptr, col_passages, n_passages: int):
    """Each article term's passages as bits: row c, word w, bit b is passage 64·w + b."""
    masks = np.zeros((len(col_ptr) - 1, (n_passages + 63) // 64), np.uint64)
    for c in range(len(col_ptr) - 1):
        for r in range(col_ptr[c], col_ptr[c + 1]):
            p = col_passages[r]
            masks[c, p >> 6] |= np.uint64(1) << np.uint64(p & 63)
    return masks


@numba.njit(nogil=True, cache=True)
def _reaching_by_adding(k, here_c, here_w, col_ptr, col_passages, scale, floor, buf, added, seen, seen_cov):
    """The passages where a topic's coverage reaches `floor`, into seen/seen_cov (returns how many),
    for a topic with too many terms here for 2^k groups: each term's weight (`here_w`) added into
    the passages holding it (`buf`, left zeroed), the sums × `scale` (1 / the topic's weight)."""
    n_added = 0
    for i in range(k):
        w = here_w[i]
        for r in range(col_ptr[here_c[i]], col_ptr[here_c[i] + 1]):
            p = col_passages[r]
            if buf[p] == 0:  # weights are > 0: first seen
                added[n_added] = p
                n_added += 1
            buf[p] += w
    n = 0
    for j in range(n_added):
        p = added[j]
        coverage = buf[p] * scale
        buf[p] = 0.0
        if coverage >= floor:
            seen[n] = p
            seen_cov[n] = coverage
            n += 1
    return n


@numba.njit(nogil=True, cache=True)
def match_pairs(topic_ptr, topic_terms, topic_counts, term_ptr, term_topics, term_counts, cols, col_ptr, col_passages,
                term_weights, inverse, min_coverage, live, n_passages: int, vectors, passage_vectors, low, rest,
                low_p, rest_p, need, thresholds, bm25_weight: float, dense_weight: float, use_bound: bool,
                tie: float, gather: bool, group_terms: int):
    """(topics, scores, best passages) of the live topics with min_coverage > 0 whose best passage
    scores at least their threshold (less `tie`), in topic order, and counts: (topic, passage)
    pairs whose coverage reaches min_coverage, those the bound ruled out, those scored exactly.

    topic_ptr/topic_terms/topic_counts: each topic's terms and how often it names each (CSR);
    term_ptr/term_topics/term_counts: the same by term (CSC); cols: the article's terms (vocabulary ids),
    col_ptr/col_passages: the passages holding each (CSR); inverse: 1 / each topic's weight.
    With `use_bound`, a pair is scored only if its low-rank bound (low[t]·low_p[p] +
    rest[t]·rest_p[p] >= the cosine) lets it reach `need[t]` (the threshold × total weight, less
    the slack for rounding). Scores are `topic_match.fuse`'s, in float32. With `gather`, topics are
    first screened by their weight in the whole article, summed from the side of the article's
    terms (cheaper when those terms are in few topics). A topic with up to `group_terms` of its
    terms here finds its passages by groups, one with more by adding weights passage by passage."""
    n_topics = len(topic_ptr) - 1
    local, present_w = _present(cols, term_weights)
    gathered = _gathered(cols, term_ptr, term_topics, term_counts, term_weights, n_topics) if gather \
        else np.zeros(0, np.float32)
    masks = _passage_bits(col_ptr, col_passages, n_passages)
    longest = 1
    for t in range(n_topics):
        longest = max(longest, topic_ptr[t + 1] - topic_ptr[t])
    here_c = np.empty(longest, np.int64)  # the topic's terms the article holds, and their weights
    here_w = np.empty(longest, np.float32)
    groups = 1 << group_terms
    last = np.zeros(groups, np.int64)  # a subset's last term (its highest bit)
    for s in range(2, groups):
        last[s] = last[s >> 1] + 1
    group_w = np.zeros(groups, np.float32)
    all_of = np.zeros(groups, np.uint64)
    any_of = np.zeros(groups, np.uint64)
    all_of[0] = ~np.uint64(0)
    buf = np.zeros(n_passages, np.float32)
    added = np.empty(n_passages, np.int64)
    seen = np.empty(n_passages, np.int64)  # the passages where the topic reaches its floor
    seen_cov = np.empty(n_passages, np.float32)
    total = bm25_weight + dense_weight
    bw = np.float32(bm25_weight / total)
    dw = np.float32(dense_weight / total)
    bw_raw = np.float32(bm25_weight)
    dw_raw = np.float32(dense_weight)
    hit_topic = np.empty(n_topics, np.int64)
    hit_score = np.empty(n_topics, np.float32)
    hit_passage = np.empty(n_topics, np.int64)
    hits = 0
    pairs = 0
    ruled_out = 0
    scored = 0
    for t in range(n_topics):
        if use_bound and t + AHEAD < n_topics:
            for d in range(0, low.shape[1], 16):  # 16 float32: a 64-byte cache line
                prefetch(low, t + AHEAD, d)
        floor = min_coverage[t]
        # matches on meaning alone, not live, or too little here even with all the article's terms
        if floor <= 0 or not live[t] or (gather and gathered[t] * inverse[t] < floor):
            continue
        k = 0
        whole = np.float32(0.0)
        for q in range(topic_ptr[t], topic_ptr[t + 1]):  # no branch: whether a term is here is a coin toss
            w = present_w[topic_terms[q]] * topic_counts[q]
            here_c[k] = local[topic_terms[q]]
            here_w[k] = w
            whole += w
            k += w > 0  # a term of weight 0 adds nothing
        if k == 0 or whole * inverse[t] < floor:
            continue
        n_seen = 0  # the passages where it reaches its floor, into seen/seen_cov
        if k <= group_terms:  # grouped by which of its terms they hold (here, not a call: ~10% faster)
            full = (1 << k) - 1
            for word in range(masks.shape[1]):
                for s in range(1, full + 1):
                    i = last[s]
                    prev = s ^ (1 << i)  # s without its last term: weights summed in the terms' order
                    group_w[s] = group_w[prev] + here_w[i]
                    m = masks[here_c[i], word]
                    all_of[s] = all_of[prev] & m  # the passages holding every term of s
                    any_of[s] = any_of[prev] | m  # and those holding any
                for s in range(1, full + 1):
                    coverage = group_w[s] * inverse[t]
                    if coverage < floor:  # the whole group is below the floor
                        continue
                    bits = all_of[s] & ~any_of[full ^ s]  # those holding s and no other of its terms
                    while bits != 0:
                        seen[n_seen] = word * 64 + np.int64(trailing_zeros(bits))
                        seen_cov[n_seen] = coverage
                        n_seen += 1
                        bits &= bits - np.uint64(1)
        else:
            n_seen = _reaching_by_adding(k, here_c, here_w, col_ptr, col_passages, inverse[t], floor, buf, added,
                                         seen, seen_cov)
        best = np.float32(-np.inf)
        best_p = -1
        for j in range(n_seen):
            p = seen[j]
            coverage = seen_cov[j]
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
    local, _ = _present(cols, term_weights)
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
