"""Topics people subscribe to: free text, `-word` to exclude, `"exact phrase"` to require.

Keyword include/exclude is what news-alert users ask for first, so it is part of the topic text
itself rather than a separate settings screen: `Huawei 5G -phone "in Russia"` reads the way it
filters. The words (phrases included) are scored like a question; exclusions and phrases are hard
filters applied after scoring.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import chain

from .tokenize import tokenize

_PART = re.compile(r'"([^"]*)"|(\S+)')
DELIVERIES = ("instant", "daily")


class TopicError(ValueError):
    """A topic that cannot be used; the message is meant for the user."""


@dataclass(frozen=True)
class TopicQuery:
    raw: str  # as the user typed it, whitespace normalised: the topic's name in lists and alerts
    text: str  # what is scored: the words and phrases, exclusions removed
    terms: tuple[str, ...]  # distinct tokens of `text`, in order
    excluded: tuple[str, ...]  # tokens that must not occur in a matching article
    phrases: tuple[str, ...]  # lower-cased phrases that must occur verbatim

    @property
    def filtered(self) -> bool:
        """Whether it has hard filters (phrases or exclusions) for `admits` to check."""
        return bool(self.phrases or self.excluded)

    def admits(self, text: "str | FilterText") -> bool:
        """The hard filters, on an article's title and text (a FilterText when many topics are
        checked against one article: it is lower-cased and tokenised once, not once per topic)."""
        if not self.filtered:
            return True
        text = text if isinstance(text, FilterText) else FilterText(text)
        if any(not re.search(rf"(?<!\w){re.escape(p)}(?!\w)", text.lowered) for p in self.phrases):
            return False
        return not any(t in text.tokens for t in self.excluded)


class FilterText:
    """An article's title and text as the hard filters read them, each form made on first use.
    `tokens`, when given, must be what tokenising `text` would give (see `article_screen`)."""

    def __init__(self, text: str, tokens: frozenset[str] | None = None):
        self.text = text
        if tokens is not None:
            self.__dict__["tokens"] = tokens  # what the cached property would compute

    @cached_property
    def lowered(self) -> str:
        return " ".join(self.text.lower().split())

    @cached_property
    def tokens(self) -> frozenset[str]:
        return frozenset(tokenize(self.text))


def article_screen(title: str, text: str, passages: Sequence[str],
                   passage_tokens: Iterable[Iterable[str]]) -> FilterText:
    """The filters' view of an article whose passages were just tokenised for matching.

    Tokenising a long article's whole text again took ~3 ms, on every article a filtered topic
    matched. Passages are the text's sentences, split at whitespace only, so when they hold the
    text's words in order their tokens (with the title's) are the text's: a token never spans
    whitespace. That is checked, not assumed (a C-speed comparison of the two word lists): an
    article whose passages do not hold its words is tokenised whole when a filter asks."""
    whole = f"{title}\n{text}"
    if " ".join(passages).split() != text.split():
        return FilterText(whole)
    return FilterText(whole, frozenset(chain(tokenize(title), *passage_tokens)))


def parse_topic(raw: str, max_chars: int = 200) -> TopicQuery:
    raw = " ".join(raw.split())
    if not raw:
        raise TopicError("Say what the topic is, e.g. /subscribe Huawei 5G in Russia")
    if len(raw) > max_chars:
        raise TopicError(f"A topic can be at most {max_chars} characters long.")
    words: list[str] = []
    phrases: list[str] = []
    excluded: list[str] = []
    for match in _PART.finditer(raw):
        phrase, word = match.groups()
        if phrase is not None:
            phrase = " ".join(phrase.split())
            if phrase:
                phrases.append(phrase.lower())
                words.append(phrase)
        elif word.startswith("-") and len(word) > 1:
            excluded += tokenize(word[1:])
        else:
            words.append(word.strip('"'))
    text = " ".join(words)
    terms = tuple(dict.fromkeys(tokenize(text)))
    if not terms:
        raise TopicError(
            "That topic has no searchable words (only common words or exclusions). "
            "Add what you want to read about, e.g. /subscribe rail strike -football"
        )
    return TopicQuery(raw=raw, text=text, terms=terms, excluded=tuple(dict.fromkeys(excluded)),
                      phrases=tuple(dict.fromkeys(phrases)))
