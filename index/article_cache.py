"""Articles by seq, the most recently used kept in memory between questions.

Loading an article (its row, its sentences and passages) is most of an answer's time once
retrieval is fast: a dozen articles of a few hundred sentences each per question, two thirds of
the answer path at 100k passages (README, Benchmarks). A stored article never changes and its
seq is never reused (the store only appends), so the seq is a safe key and nothing needs
invalidating. Popular stories come up in many answers.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable

from .models import Article

ARTICLES_CACHED = 2_000  # about 50 MB of long news articles


class ArticleCache:
    def __init__(self, load: Callable[[list[int]], dict[int, Article]], capacity: int = ARTICLES_CACHED):
        self._load = load
        self._capacity = capacity
        self._articles: OrderedDict[int, Article] = OrderedDict()
        self._lock = threading.Lock()  # answers run in worker threads
        self.hits = 0
        self.misses = 0

    def get(self, seqs: Iterable[int]) -> dict[int, Article]:
        """The stored articles of these seqs (a seq the store lacks is left out)."""
        seqs = list(seqs)
        found: dict[int, Article] = {}
        with self._lock:
            for seq in seqs:
                article = self._articles.get(seq)
                if article is not None:
                    self._articles.move_to_end(seq)
                    found[seq] = article
            missing = [s for s in seqs if s not in found]
            self.hits += len(found)
            self.misses += len(missing)
        if not missing:
            return found
        loaded = self._load(missing)  # outside the lock: other answers go on meanwhile
        found.update(loaded)
        with self._lock:
            for seq, article in loaded.items():
                self._articles[seq] = article
                self._articles.move_to_end(seq)
            while len(self._articles) > self._capacity:
                self._articles.popitem(last=False)
        return found
