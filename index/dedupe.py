"""Near-identical stories (wire copy run by several outlets) are shown once.

Texts are compared as sets of hashed word 5-grams; two articles are the same story when most of
the shorter one's 5-grams appear in the other (containment), the measure news aggregators' duplicate
filters use, robust to one outlet adding a paragraph or a different headline.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+")
SHINGLE = 5
MAX_WORDS = 400


def shingles(text: str) -> set[int]:
    words = _WORD.findall(text.lower())[:MAX_WORDS]
    return {hash(tuple(words[i : i + SHINGLE])) for i in range(max(1, len(words) - SHINGLE + 1))}


def containment(a: set[int], b: set[int]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def is_near_duplicate(a: set[int], b: set[int], threshold: float) -> bool:
    return containment(a, b) >= threshold
