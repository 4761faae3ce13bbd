"""Publication dates from the many shapes news pages print them in.

dateutil does the parsing; this module decides what counts as a date at all. A string that lacks
a day or a year is not a publication date (dateutil would silently fill in today's), so it is
refused rather than invented. Time zones are converted to UTC; a date without a time stays a day.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from dateutil import parser as du_parser

_TIME = re.compile(r"(?<!\d)\d{1,2}:\d{2}(?!\d)")
_HAS_DIGIT = re.compile(r"\d")
_EPOCH = re.compile(r"\d{9,10}|\d{13}")  # Unix seconds (1973–2286) or milliseconds (2001–2286)
_NOISE = re.compile(
    r"^(published|updated|posted|last updated|first published|date)\s*[:\-]?\s*|\s*\|.*$",
    re.IGNORECASE,
)
_MONTHS = (
    r"jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|june|"
    r"july|august|september|october|november|december"
)
_LOOKS_LIKE_DATE = re.compile(
    rf"(?:\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{_MONTHS})\.?,?\s+\d{{4}}"
    rf"|(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
    rf"|\d{{4}}-\d{{2}}-\d{{2}}"
    rf"|\d{{1,2}}/\d{{1,2}}/\d{{4}})",
    re.IGNORECASE,
)
_TZINFOS = {
    name: int(offset * 3600)
    for name, offset in {
        "UTC": 0, "GMT": 0, "Z": 0, "BST": 1, "CET": 1, "CEST": 2, "EET": 2, "EEST": 3, "MSK": 3,
        "IST": 5.5, "JST": 9, "AEST": 10, "EST": -5, "EDT": -4, "ET": -5, "CST": -6, "CDT": -5,
        "MST": -7, "MDT": -6, "PST": -8, "PDT": -7, "PT": -8,
    }.items()
}
_SENTINELS = (datetime(1901, 1, 1), datetime(1902, 2, 2))
_MIN_YEAR, _MAX_YEAR = 1900, 2100


def from_epoch(value: float) -> str | None:
    """Unix time in seconds (or milliseconds, as JavaScript exports write it), as a stored date."""
    seconds = value / 1000 if abs(value) >= 1e11 else value
    try:
        moment = datetime.fromtimestamp(seconds, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    if not _MIN_YEAR <= moment.year <= _MAX_YEAR:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M")


def parse_date(text: str | None) -> str | None:
    """Parse a publication date string; return `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM` (UTC), or None."""
    if not text:
        return None
    if _EPOCH.fullmatch(text.strip()):
        return from_epoch(int(text.strip()))
    text = _NOISE.sub("", text.strip()).strip()
    if not text or len(text) > 80 or not _HAS_DIGIT.search(text):
        return None
    results = []
    for default in _SENTINELS:
        try:
            results.append(du_parser.parse(text, default=default, fuzzy=True, tzinfos=_TZINFOS))
        except (ValueError, OverflowError, TypeError, du_parser.ParserError):
            return None
    first, second = results
    if (first.year, first.month, first.day) != (second.year, second.month, second.day):
        return None  # day, month or year was missing and filled in by the parser
    if not _MIN_YEAR <= first.year <= _MAX_YEAR:
        return None
    if first.tzinfo is not None:
        first = first.astimezone(timezone.utc).replace(tzinfo=None)
    if _TIME.search(text) or first.hour or first.minute:
        return first.strftime("%Y-%m-%dT%H:%M")
    return first.strftime("%Y-%m-%d")


_DATELINE_WORDS = frozenset(
    """published updated posted last first date on at am pm a.m p.m utc gmt et edt est bst cet
    cest msk pst pdt cst cdt mst mdt of the by""".split()
)
_WEEKDAYS = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)[a-z]*$")


def parse_date_line(line: str) -> str | None:
    """Like parse_date, but only for a short line that is a date and nothing else (a dateline).

    "The summit opened in Osaka on June 6, 2019." holds a date but is a sentence of the story:
    every word of a dateline other than the date itself must be a label, weekday or time zone.
    """
    stripped = line.strip()
    match = _LOOKS_LIKE_DATE.search(_NOISE.sub("", stripped))
    if len(stripped.split()) > 9 or not match:
        return None
    rest = _LOOKS_LIKE_DATE.sub(" ", stripped)
    for word in re.findall(r"[a-z][a-z.]*", rest.lower()):
        word = word.rstrip(".")
        if word not in _DATELINE_WORDS and not _WEEKDAYS.match(word):
            return None
    return parse_date(stripped)


def from_struct_time(value) -> str | None:
    """feedparser's `*_parsed` fields are UTC struct_time tuples."""
    if not value:
        return None
    try:
        dt = datetime(*value[:6])
    except (TypeError, ValueError):
        return None
    if not _MIN_YEAR <= dt.year <= _MAX_YEAR:
        return None
    if dt.hour or dt.minute:
        return dt.strftime("%Y-%m-%dT%H:%M")
    return dt.strftime("%Y-%m-%d")
