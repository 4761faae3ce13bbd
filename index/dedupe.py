"""Near-identical stories (wire copy run by several outlets) are shown once.

Texts are compared as sets of hashed word 5-grams; two articles are the same story when most of
the shorter one's 5-grams appear in the other (containment), the measure news aggregators' duplicate
filters use, robust to one outlet adding a paragraph or a different headline. A set is kept as a
sorted array of unique hashes: answers cache thousands of them, and Python sets of ints would be
millions of entries for the garbage collector to walk on every full collection.
"""

from __future__ import annotations

import re
from itertools import islice

import numpy as np

_WORD = re.compile(r"\w+")
SHINGLE = 5
MAX_WORDS = 400


def shingles(text: str) -> np.ndarray:
    """The hashed word 5-grams of the text's first MAX_WORDS words, sorted and unique. Only those
    words are read: an answer computes this for each new story it weighs, and lower-casing and
    splitting a whole long article to keep its first 400 words was most of the cost."""
    words = [match.group().lower() for match in islice(_WORD.finditer(text), MAX_WORDS)]
    hashes = [hash(tuple(words[i : i + SHINGLE])) for i in range(max(1, len(words) - SHINGLE + 1))]
    return np.unique(np.asarray(hashes, np.int64))


def containment(a: np.ndarray, b: np.ndarray) -> float:
    if not len(a) or not len(b):
        return 0.0
    return len(np.intersect1d(a, b, assume_unique=True)) / min(len(a), len(b))


def is_near_duplicate(a: np.ndarray, b: np.ndarray, threshold: float) -> bool:
    return containment(a, b) >= threshold
