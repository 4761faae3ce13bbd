"""Matching cost with learned thresholds: TopicMatcher.match on 60 Reuters dev stories against
10k and 100k topics, every topic at the default threshold (0.6) and with thresholds drawn from
those the eval's topics learned (`newsbot eval --alerts --json > FILE`), in the same run.

    python scripts/alert_match_cost.py [REPORT.json]

Reads the store `newsbot eval --alerts` caches (~/.cache/newsbot/eval/reuters_dev.db); skips with a
message where it is absent. Topics are the Reuters headlines and variations of them (as in
`newsbot bench`), with random unit vectors (a random vector is, like most real topics, unrelated
to a given story). Timed: `TopicMatcher.match` only (tokenising and idf apart).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/ is a checkout package, not installed

from bench.alerts import random_unit_vectors, topic_texts  # noqa: E402
from index.config import load_config  # noqa: E402
from index.embedding import text_hash  # noqa: E402
from index.engine import Engine  # noqa: E402
from index.search_index import passage_text  # noqa: E402
from index.tokenize import tokenize  # noqa: E402
from index.topic_match import Topic, TopicMatcher  # noqa: E402

LEARNED_FALLBACK = "run `newsbot eval --alerts --json > FILE` and pass FILE for the learned thresholds"


def main() -> int:
    cache = Path(os.environ.get("NEWSBOT_CACHE", Path.home() / ".cache" / "newsbot" / "eval")) / "reuters_dev.db"
    if not cache.is_file():
        print(f"{cache} not found: run `newsbot eval --alerts` first; skipping", file=sys.stderr)
        return 0
    if len(sys.argv) < 2:
        print(LEARNED_FALLBACK, file=sys.stderr)
        return 2
    learned = [t["threshold"] for t in json.loads(Path(sys.argv[1]).read_text())["topics"]]
    config = load_config(None)
    config = dataclasses.replace(config, store=dataclasses.replace(config.store, path=str(cache), url=""))
    engine = Engine(config)
    engine.load_index()
    stories = engine.store.articles_after(0, limit=10_000)
    sample = stories[::50][:60]
    queries = topic_texts([], [a.title for a in stories if a.title], 100_000, config.alerts.max_topic_chars)
    rng = np.random.default_rng(4)
    vectors = random_unit_vectors(rng, len(queries), engine.embedder.dimension)
    inputs = []
    for a in sample:
        texts = [passage_text(a, p.index, True) for p in a.passages]
        found = engine.store.get_vectors(engine.embedder.key, [text_hash(t) for t in texts])
        inputs.append(([tokenize(t) for t in texts], np.vstack([found[text_hash(t)] for t in texts]),
                       f"{a.title}\n{a.text}"))
    for n in (10_000, 100_000):
        for label, thresholds in (("default 0.6", [None] * n), ("learned", rng.choice(learned, n))):
            topics = [Topic(id=i, chat_id=i, query=q, auto_threshold=None if t is None else float(t))
                      for i, (q, t) in enumerate(zip(queries[:n], thresholds))]
            matcher = TopicMatcher(topics, vectors[:n], config.retrieval, config.alerts.threshold)
            with engine.index.current.reading():
                idf = engine.index.current.bm25.term_weights(matcher.vocab)
            times = []
            for tokens, passage_vectors, text in inputs:
                started = time.perf_counter()
                matcher.match(10**12, tokens, passage_vectors, idf, text)
                times.append(1000 * (time.perf_counter() - started))
            print(f"{n:>7,} topics, {label:11}: p50 {np.percentile(times, 50):5.1f} ms, "
                  f"p95 {np.percentile(times, 95):5.1f} ms")
    engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
