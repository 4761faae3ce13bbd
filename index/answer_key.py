"""Stored questions, and the answers a quiz keeps apart from them.

Saved news holds questions of its own: explainers ask before they answer, and news quizzes ("Quiz
of the Week") list each question with its options, then an answer key that repeats the right
option after the question's number, usually followed by a line on the story:

    Which social media platform expanded its link-sharing feature this week?
    Instagram / TikTok / Snapchat / 7.
    …
    6. / Instagram / Mark Zuckerberg announced that Instagram users will now be able to …

A stored question restates what a user asks, so it holds most of the question's words, yet quoting
it answers nothing. When it has options and the key repeats exactly one of them after a number,
the key's entry (and the line after it) is the quote; otherwise the question is only a weak
candidate. Plain sentences of the article, unchanged: nothing here writes text.
"""

from __future__ import annotations

import re

MAX_OPTIONS = 6
MAX_OPTION_WORDS = 8  # options are short lines: "E-scooters", "A snake and a hawk", "12"
# an item number, alone ("6.") or stuck to the line before it by the page's layout ("Buses 2.")
_NUMBER_MARK = re.compile(r"(?:^|\s)\d{1,2}\.$")


def is_question(text: str) -> bool:
    return text.rstrip(" \t\"'”’)»").endswith("?")


def _bare(text: str) -> str:
    """The line without an item number stuck to its end."""
    return _NUMBER_MARK.sub("", text.strip()).strip()


def _key(text: str) -> str:
    return " ".join(re.sub(r"[^\w%$.-]+", " ", _bare(text).lower()).split())


def options_after(texts: list[str], q: int) -> list[str]:
    """The short option lines under the question at `q`, up to the next item number."""
    out = []
    for text in texts[q + 1 : q + 1 + MAX_OPTIONS]:
        bare = _bare(text)
        if is_question(text) or len(bare.split()) > MAX_OPTION_WORDS:
            break
        if bare:
            out.append(bare)
        if bare != text.strip():  # the next item's number closes this one's options
            break
    return out


def asked_at(texts: list[str], i: int) -> int | None:
    """The stored question sentence `i` belongs to: itself, or the next sentence when a quiz item
    is a statement and then a short question ("A gardener was attacked while mowing. What were
    they?")."""
    if is_question(texts[i]):
        return i
    if i + 1 < len(texts) and is_question(texts[i + 1]) and options_after(texts, i + 1):
        return i + 1
    return None


def answer_key(texts: list[str], q: int) -> tuple[int, int] | None:
    """The key's entry for the quiz question at `q`: (first, last) sentences to quote, the
    repeated option and the line after it, or None when `q` is not a quiz question with a key."""
    options = options_after(texts, q)
    if len(options) < 2:
        return None
    wanted = {_key(o) for o in options}
    start = q + 1 + len(options)
    entries = [j for j in range(start, len(texts))
               if _key(texts[j]) in wanted and _NUMBER_MARK.search(texts[j - 1].strip())]
    if len({_key(texts[j]) for j in entries}) != 1:
        return None  # no key, or one that repeats several options: not the answer
    j = entries[0]
    told = j + 1 < len(texts) and not is_question(texts[j + 1]) and not _NUMBER_MARK.search(texts[j + 1].strip())
    return (j, j + 1) if told else (j, j)
