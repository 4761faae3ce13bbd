"""Tokens for BM25 and sentence matching: lower-cased words, English stop words out, stemmed.

The same function serves documents, questions and topics, so their terms always meet. Stemming
(Snowball via PyStemmer, as bm25s uses) lets "signed" find "signing"; stop words would only add
huge posting lists that carry no evidence.
"""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its itself
    just me more most my myself no nor not now of off on once only or other our ours ourselves out
    over own same she should so some such than that the their theirs them themselves then there
    these they this those through to too under until up very was we were what when where which
    while who whom why will with would you your yours yourself yourselves s t don said says also
    """.split()
)
_stemmer = Stemmer.Stemmer("english")
CACHE_WORDS = 300_000  # distinct raw words whose token is remembered (a news corpus has fewer)


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return _stemmer.stemWord(word)


def _word(raw: str) -> str:
    """Possessives drop ("Huawei's" → "huawei"); names keep their apostrophe's parts ("o'brien" → "obrien")."""
    raw = raw.replace("’", "'")
    if raw.endswith("'s"):
        raw = raw[:-2]
    return raw.replace("'", "")


def _token(raw: str) -> str:
    """The token of one lower-cased word as the regex finds it; "" when it is dropped."""
    word = _word(raw)
    return _stem(word) if word and word not in STOPWORDS else ""


class _Tokens(dict):
    """raw word → token, filled on first sight: a text costs one dictionary lookup per word."""

    def __missing__(self, raw: str) -> str:
        token = _token(raw)
        if len(self) < CACHE_WORDS:
            self[raw] = token
        return token


_TOKENS = _Tokens()


def tokenize(text: str) -> list[str]:
    return list(filter(None, map(_TOKENS.__getitem__, _WORD.findall(text.lower()))))
