"""Date expressions in questions: "this week", "yesterday", "in June 2019", "since March", "latest".

They are resolved against `now` (a parameter, so the evaluation can ask on the day a question was
asked) into an inclusive day window and a recency wish, and removed from the text that is matched
against articles: the words "this week" say when, not what.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
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


Window = tuple[date | None, date | None]


def _day(year: int, month: int, day: int) -> Window:
    try:
        return (d := date(year, month, day)), d
    except ValueError:  # "February 30": no such day, so no window
        return None, None


def _last_week(now: date) -> Window:
    """The previous Monday-to-Sunday week."""
    monday = now - timedelta(days=now.weekday())
    return monday - timedelta(days=7), monday - timedelta(days=1)


def _last_month(now: date) -> Window:
    prev_end = now.replace(day=1) - timedelta(days=1)
    return prev_end.replace(day=1), prev_end


def _month(m: re.Match, group: int = 1) -> int:
    return _MONTHS[m.group(group).lower()]


def _named_month_year(m: re.Match, now: date) -> int:
    """The year given after a month, else that of the latest such month."""
    return int(m.group(2)) if m.group(2) else _last_month_named(_month(m), now)


# Time expressions, tried in order; the first found sets the window and is cut from the question.
# Each: (pattern, window(match, now)).
_RULES: tuple[tuple[str, Callable[[re.Match, date], Window]], ...] = (
    # "today's teens" is the present in general, not a day: a possessive is no date
    (r"\btoday\b(?!['’]s)|\bthis morning\b|\btonight\b(?!['’]s)", lambda m, now: (now, now)),
    (r"\byesterday\b", lambda m, now: (now - timedelta(days=1), now - timedelta(days=1))),
    (r"\b(?:this|past|last) (?:few )?days?\b|\brecent days\b", lambda m, now: (now - timedelta(days=3), now)),
    (r"\b(?:this|the past) week\b|\bthis past week\b", lambda m, now: (now - timedelta(days=7), now)),
    (r"\blast week\b", lambda m, now: _last_week(now)),
    (r"\b(?:this|the past) month\b", lambda m, now: (now - timedelta(days=31), now)),
    (r"\blast month\b", lambda m, now: _last_month(now)),
    (r"\bthis year\b", lambda m, now: (date(now.year, 1, 1), now)),
    (r"\blast year\b", lambda m, now: (date(now.year - 1, 1, 1), date(now.year - 1, 12, 31))),
    (rf"\b(?:since|after) {_MONTH}(?:,? {_YEAR})?\b",
     lambda m, now: (date(_named_month_year(m, now), _month(m), 1), now)),
    (rf"\b(?:since|after) {_YEAR}\b", lambda m, now: (date(int(m.group(1)), 1, 1), now)),
    (rf"\bbefore {_MONTH}(?:,? {_YEAR})?\b",
     lambda m, now: (None, date(_named_month_year(m, now), _month(m), 1) - timedelta(days=1))),
    (rf"\bbefore {_YEAR}\b", lambda m, now: (None, date(int(m.group(1)) - 1, 12, 31))),
    (rf"\b(?:on )?{_MONTH}\.? (\d{{1,2}})(?:st|nd|rd|th)?,? {_YEAR}\b",
     lambda m, now: _day(int(m.group(3)), _month(m), int(m.group(2)))),
    (rf"\b(?:on )?(\d{{1,2}})(?:st|nd|rd|th)? (?:of )?{_MONTH}\.?,? {_YEAR}\b",
     lambda m, now: _day(int(m.group(3)), _month(m, 2), int(m.group(1)))),
    (rf"\b(?:in |during )?{_MONTH},? {_YEAR}\b", lambda m, now: _month_range(int(m.group(2)), _month(m))),
    (rf"\b(?:in|during) {_MONTH}\b(?!\.? ?\d)",
     lambda m, now: _month_range(_last_month_named(_month(m), now), _month(m))),
    (rf"\b(?:in|during) {_YEAR}\b", lambda m, now: (date(int(m.group(1)), 1, 1), date(int(m.group(1)), 12, 31))),
    # "the June rate cut": the one of the latest June
    (_MONTH_MODIFIER, lambda m, now: _month_range(_last_month_named(_month(m), now), _month(m))),
)


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

    for pattern, window in _RULES:
        if m := cut(pattern):
            start, end = window(m, now)
            break

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
