"""What kind of fact a question asks for, and whether a sentence holds a new one of that kind.

A sentence that answers holds something the question does not already say: "Which company is
accused of turning off the AC?" is answered by the sentence naming Bed Bath & Beyond, not by the
one that repeats "the company … the AC". So a candidate is rewarded only for *new* content of the
asked kind — a name (a capitalised span none of whose words are in the question) for who / which X /
where, a number the question does not hold for how many / how much, a day or date for when, a
quotation for "what did … say" (the speaker's own words, not a report of the vote after them).

Patterns only: no named-entity model is needed to tell a name from a common word in edited news
text, where names are capitalised and sentence-initial capitals are the one ambiguity.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from .timeparse import WHEN_QUESTION
from .tokenize import tokenize

NAME, NUMBER, WHEN, SAID = "name", "number", "when", "said"

_NUMBER_Q = re.compile(
    r"\bhow (?:many|much|long|old|far|big|large|high|often)\b|"
    r"\bwhat (?:percent|percentage|number|amount|share|price|age|proportion|fraction)\b|"
    r"\bwhich (?:percent|percentage|number|amount|share|price|age)\b|"
    # "what interest rate", "what is the fine", "what was the highest temperature": a quantity noun
    r"\b(?:what|which)\b(?: (?:is|was|are|were|will be))?(?: (?:the|a|an|its|their))?(?: [\w'’-]+){0,2}? "
    r"(?:rates?|prices?|costs?|fines?|fees?|temperatures?|salary|salaries|budget|value|sum|total|toll|"
    r"population|score|speed|distance|height|weight|capacity|turnout|margin|figure|size|duration)\b", re.I)
# "What did the governor say about …?": the answer is the speaker's own words, a quotation.
_SAID_Q = re.compile(r"\bwhat (?:did|does|do|has|have|had|will|would) (?:[\w'’.-]+ ){1,6}?"
                     r"(?:say|said|tell|told|write|wrote|claim|warn|think)\b", re.I)
_QUOTATION = re.compile(r"[“”\"]")
# who / whom / whose, where, and which/what followed by a noun ("which company", "what country"):
# the answer is something with a name.
# "What is it called?", "What is her name?": a name asked for in so many words.
_NAME_Q = re.compile(
    r"\b(?:who|whom|whose|where)\b|\bwhich\b|\bwhat (?!(?:is|was|are|were|did|does|do|has|have|had|will|"
    r"would|can|could|should|happened|happens|caused|made|makes|led)\b)[a-z-]+|"
    r"\bwhat (?:is|was|are|were|will be)\b(?: [\w'’-]+){0,3}? (?:called|named|name|names)\b", re.I)

_SPECIFIC_TIME = re.compile(
    r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|yesterday|tonight|"
    r"(?:jan|feb|march|april|may|june|july|aug|sept?|oct|nov|dec)[a-z]*\.? \d{1,2}\b|"
    r"\d{1,2} (?:jan|feb|march|april|may|june|july|aug|sept?|oct|nov|dec)|\d{1,2}:\d\d|"
    r"(?:last|this|next) (?:week|month|year)|(?:\w+) (?:days?|weeks?|months?|years?) (?:ago|earlier|later)|"
    r"in (?:19|20)\d\d|since (?:19|20)\d\d)",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"(?<![\w.])(?:\$?\d[\d,.]*%?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"twenty|thirty|forty|fifty|hundred|thousand|million|billion|trillion|dozens?|half)(?![\w])",
    re.IGNORECASE,
)
# A capitalised word (or one with a digit inside, like "BA.5" or "5G") and runs of them, allowing
# "of", "&", "de" inside ("Bank of England", "Bed Bath & Beyond").
_CAP = r"(?:[A-Z][\w'’.-]*[\w]|[A-Z]|[\w-]*\d[\w-]*)"
_NAME_SPAN = re.compile(rf"(?<![\w'’]){_CAP}(?:\s+(?:(?:of|the|&|de|and)\s+)?{_CAP})*")
# Capitalised words that are not names: sentence openers, days and months, titles of address.
_NOT_NAMES = frozenset(tokenize(
    "the a an this that these those it its he she they his her their we our i you in on at for from by with "
    "but and or as after before when while if so yet also however meanwhile still now then there here "
    "monday tuesday wednesday thursday friday saturday sunday january february march april may june july "
    "august september october november december mr mrs ms dr according last next new one"))
# Sentences that name their subject only by reference: "The company …", "She …", "The show …".
REFERS_BACK = re.compile(r"^\W*(?:(?:the|this|that) (?:[a-z-]+ )?[a-z-]+\b|he|she|it|they|his|her|its|their)\b", re.I)


def asked_kind(question: str) -> str | None:
    """NUMBER, WHEN, NAME, SAID ("what did … say") or None (yes/no, "what happened")."""
    if _NUMBER_Q.search(question):
        return NUMBER
    if WHEN_QUESTION.search(question):
        return WHEN
    if _NAME_Q.search(question):
        return NAME
    if _SAID_Q.search(question):
        return SAID
    return None


_ASKED_NOUN = re.compile(
    r"\bhow (?:many|much)(?: more| fewer)? ([\w'’-]+(?: [\w'’-]+)?)|"
    r"\b(?:what|which)\b(?: (?:is|was|are|were|will be))?(?: (?:the|a|an|its|their))?((?: [\w'’-]+){1,3})", re.I)


def asked_nouns(question: str) -> frozenset[str]:
    """The tokens of the thing asked about: "how many jobs" → jobs; "what interest rate" → interest,
    rate; "which company" → company. A number or name next to one of them is the one asked for."""
    match = _ASKED_NOUN.search(question)
    if not match:
        return frozenset()
    nouns = set(tokenize(match.group(1) or match.group(2)))
    if nouns & {"percentag", "percent", "share", "proport"}:
        nouns.add("percent")  # "60%" and "60 percent" both count a percentage
    return frozenset(nouns)


def asks_increment(question: str) -> bool:
    return bool(re.search(r"\b(?:more|fewer|less|additional|extra)\b", question, re.I))


def numbers_near(text: str, nouns: frozenset[str], question_tokens: frozenset[str], reach: int = 4,
                 increment: bool = False) -> bool:
    """A number the question does not hold within `reach` words of an asked noun ("850 permanent
    jobs", "a fine of 500 crowns")."""
    if not nouns:
        return False
    words = text.replace("%", " percent").split()
    spots = [i for i, w in enumerate(words) if set(tokenize(w)) & nouns]
    if not spots:
        return False
    for i, w in enumerate(words):
        if _NUMBER.search(w) and not set(tokenize(w)) <= question_tokens:
            if not increment and i + 1 < len(words) and words[i + 1].lower() in _INCREMENT:
                continue  # "180 more jobs" answers "how many more", not "how many"
            if any(abs(i - j) <= reach for j in spots):
                return True
    return False


_INCREMENT = frozenset(("more", "additional", "extra", "fewer", "less"))


def counts_change(text: str, nouns: frozenset[str], question_tokens: frozenset[str]) -> bool:
    """Whether `text` counts the asked thing only by a change ("creating 180 more jobs"): an answer
    to "how many more", not to "how many"."""
    return (numbers_near(text, nouns, question_tokens, increment=True)
            and not numbers_near(text, nouns, question_tokens))


def _name_spans(text: str, question_tokens: frozenset[str]) -> Iterator[tuple[str, list[str]]]:
    """Capitalised spans of `text` that hold a word the question does not (names it adds), each
    with its tokens (tokenised once: this runs over every candidate sentence of every answer)."""
    for match in _NAME_SPAN.finditer(text):
        tokens = tokenize(match.group())
        if any(t not in _NOT_NAMES and t not in question_tokens for t in tokens):
            yield match.group(), tokens


def new_names(text: str, question_tokens: frozenset[str]) -> list[str]:
    return [name for name, _ in _name_spans(text, question_tokens)]


def new_name_tokens(text: str, question_tokens: frozenset[str]) -> set[str]:
    """The tokens of the names `text` adds, less those the question holds."""
    return {t for _, tokens in _name_spans(text, question_tokens) for t in tokens if t not in question_tokens}


def new_numbers(text: str, question_tokens: frozenset[str]) -> list[str]:
    return [m.group() for m in _NUMBER.finditer(text)
            if not set(tokenize(m.group())) <= question_tokens]


def holds_new(kind: str | None, text: str, question_tokens: frozenset[str]) -> bool:
    """Whether `text` holds new content of the asked kind."""
    if kind == NAME:
        return next(_name_spans(text, question_tokens), None) is not None
    if kind == NUMBER:
        return bool(new_numbers(text, question_tokens))
    if kind == WHEN:
        return bool(_SPECIFIC_TIME.search(text))
    if kind == SAID:
        return bool(_QUOTATION.search(text))
    return False
