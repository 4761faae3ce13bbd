"""Date expressions in questions: "this week", "yesterday", "in June 2019", "since March", "latest".

They are resolved against `now` (a parameter, so the evaluation can ask on the day a question was
asked) into an inclusive day window and a recency wish, and removed from the text that is matched
against articles: the words "this week" say when, not what.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from .tokenize import tokenize

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_MONTHS["sept"] = 9
_MONTH = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_YEAR = r"((?:19|20)\d{2})"


# A month naming an event ("the June rate cut", "the October floods") dates it as "in June" does.
# "May" is left out (a modal verb and a surname: "the May government"), and so is a month followed
# by a word that makes it a noun or verb ("the March on Rome", "the march to the sea").
_MONTH_MODIFIER = (
    r"(?<=\bthe )(january|february|march|april|june|july|august|september|october|november|december)\b"
    r"(?= (?!(?:on|of|for|to|and|or|through|past|from)\b)[a-z])")


# "When did …", "What day …": the asker does not know when it happened, so no recency is assumed.
WHEN_QUESTION = re.compile(r"^\s*(?:when|what (?:day|date|time|year|month))\b|\bon what (?:day|date)\b", re.I)


@dataclass(frozen=True)
class TimeScope:
    start: date | None = None
    end: date | None = None
    recent: bool = False  # "latest", "newest", "most recent": order newest-first
    text: str = ""  # the question without its date expressions
    asks_when: bool = False  # the question asks for a date

    @property
    def bounded(self) -> bool:
        return self.start is not None or self.end is not None


def _month_range(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _last_month_named(month: int, now: date) -> int:
    """The year of the most recent such month not after now ("since March" in May: this year)."""
    return now.year if month <= now.month else now.year - 1


def parse_time(question: str, now: date) -> TimeScope:
    text = question
    start: date | None = None
    end: date | None = None
    recent = False

    def cut(pattern: str) -> re.Match | None:
        nonlocal text
        match = re.search(pattern, text, re.IGNORECASE)
        if match:
            text = (text[: match.start()] + " " + text[match.end() :]).strip()
        return match

    # "today's teens" is the present in general, not a day: a possessive is no date
    if cut(r"\btoday\b(?!['’]s)|\bthis morning\b|\btonight\b(?!['’]s)"):
        start = end = now
    elif cut(r"\byesterday\b"):
        start = end = now - timedelta(days=1)
    elif cut(r"\b(?:this|past|last) (?:few )?days?\b|\brecent days\b"):
        start, end = now - timedelta(days=3), now
    elif cut(r"\b(?:this|the past) week\b|\bthis past week\b"):
        start, end = now - timedelta(days=7), now
    elif cut(r"\blast week\b"):  # the previous Monday-to-Sunday week
        monday = now - timedelta(days=now.weekday())
        start, end = monday - timedelta(days=7), monday - timedelta(days=1)
    elif cut(r"\b(?:this|the past) month\b"):
        start, end = now - timedelta(days=31), now
    elif cut(r"\blast month\b"):
        first = now.replace(day=1)
        prev_end = first - timedelta(days=1)
        start, end = prev_end.replace(day=1), prev_end
    elif cut(r"\bthis year\b"):
        start, end = date(now.year, 1, 1), now
    elif cut(r"\blast year\b"):
        start, end = date(now.year - 1, 1, 1), date(now.year - 1, 12, 31)
    elif m := cut(rf"\b(?:since|after) {_MONTH}(?:,? {_YEAR})?\b"):
        month = _MONTHS[m.group(1).lower()]
        year = int(m.group(2)) if m.group(2) else _last_month_named(month, now)
        start, end = date(year, month, 1), now
    elif m := cut(rf"\b(?:since|after) {_YEAR}\b"):
        start, end = date(int(m.group(1)), 1, 1), now
    elif m := cut(rf"\bbefore {_MONTH}(?:,? {_YEAR})?\b"):
        month = _MONTHS[m.group(1).lower()]
        year = int(m.group(2)) if m.group(2) else _last_month_named(month, now)
        end = date(year, month, 1) - timedelta(days=1)
    elif m := cut(rf"\bbefore {_YEAR}\b"):
        end = date(int(m.group(1)) - 1, 12, 31)
    elif m := cut(rf"\b(?:on )?{_MONTH}\.? (\d{{1,2}})(?:st|nd|rd|th)?,? {_YEAR}\b"):
        month = _MONTHS[m.group(1).lower()]
        try:
            start = end = date(int(m.group(3)), month, int(m.group(2)))
        except ValueError:
            start = end = None
    elif m := cut(rf"\b(?:on )?(\d{{1,2}})(?:st|nd|rd|th)? (?:of )?{_MONTH}\.?,? {_YEAR}\b"):
        try:
            start = end = date(int(m.group(3)), _MONTHS[m.group(2).lower()], int(m.group(1)))
        except ValueError:
            start = end = None
    elif m := cut(rf"\b(?:in |during )?{_MONTH},? {_YEAR}\b"):
        month = _MONTHS[m.group(1).lower()]
        start, end = _month_range(int(m.group(2)), month)
    elif m := cut(rf"\b(?:in|during) {_MONTH}\b(?!\.? ?\d)"):
        month = _MONTHS[m.group(1).lower()]
        start, end = _month_range(_last_month_named(month, now), month)
    elif m := cut(rf"\b(?:in|during) {_YEAR}\b"):
        start, end = date(int(m.group(1)), 1, 1), date(int(m.group(1)), 12, 31)
    elif m := cut(_MONTH_MODIFIER):  # "the June rate cut": the one of the latest June
        month = _MONTHS[m.group(1).lower()]
        start, end = _month_range(_last_month_named(month, now), month)

    if cut(r"\b(?:the )?(?:latest|newest|most recent|recent(?= (?:news|stories|developments|updates|headlines)))\b"):
        recent = True  # asks for an ordering: the newest matching stories first
    else:  # "recently", "lately": the recency prior already favours recent news
        cut(r"\b(?:recently|lately)\b")
    return TimeScope(start=start, end=end, recent=recent, text=" ".join(text.split()) or question,
                     asks_when=bool(WHEN_QUESTION.search(question)))


# Words that ask for news in general, not about a topic: "What is the latest news?", "What
# happened last week?", "Any headlines today?".
GENERIC = frozenset(tokenize(
    "news happened happening happen going on stories story headlines headline new events event updates update "
    "anything something top biggest main big important world tell me show give any there whats what's "
    "day week month year"))


def is_broad(scope: TimeScope) -> bool:
    """A question with no topic left once its time expression is taken out."""
    return not (set(tokenize(scope.text)) - GENERIC)


def future_marks(question: str, scope: TimeScope, now: date) -> frozenset[str]:
    """What an article must say to speak of the future the question asks about: a year after now
    named in the question ("the 2034 World Cup", "in 2031"), and the month of a window after now
    ("in March 2027": "March"). Empty when the question asks about nothing after now. An archive
    only knows the future as plans announced before it ("the summit will be held in March"); an
    article that names no such time answers something else (today's gold price for "the price of
    gold in December 2029")."""
    marks = {year for year in re.findall(r"(?<!\d)((?:19|20)\d{2})(?!\d)", question) if int(year) > now.year}
    if scope.start and scope.start > now:
        if scope.start.year > now.year:
            marks.add(str(scope.start.year))
        if scope.end and (scope.start.year, scope.start.month) == (scope.end.year, scope.end.month):
            marks.add(calendar.month_name[scope.start.month])
    return frozenset(marks)


def names_any(text: str, marks: frozenset[str]) -> bool:
    return any(re.search(rf"(?<![\w]){re.escape(mark)}(?![\w])", text, re.I) for mark in marks)
