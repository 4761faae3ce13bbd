"""How often a topic was written about, period by period: the data behind `/timeline TOPIC`.

The caller decides which articles match a topic and how well; this module only counts them per ISO
week or calendar month. It stays free of any rendering so the Telegram chart, the terminal sparkline
and tests all read the same numbers. Every period between the first and the last dated article is
present, empty ones as 0, because a chart that silently skips quiet weeks would overstate a trend.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

WEEK = "week"
MONTH = "month"
AUTO = "auto"
AUTO_WEEKS_MAX = 26  # "auto" charts weeks while that takes at most this many bars, months beyond
DEFAULT_MAX_BUCKETS = 104  # two years of weeks, or eight and a half years of months


@dataclass(frozen=True)
class TimelineItem:
    date: str | None  # ISO date or datetime, UTC when it carries no offset; None = undated
    title: str
    article_id: str
    score: float  # how well it matches the topic (higher is better)


@dataclass(frozen=True)
class Bucket:
    start: date  # Monday of the ISO week, or the 1st of the month
    count: int


@dataclass(frozen=True)
class Timeline:
    topic: str
    granularity: str  # WEEK | MONTH
    buckets: list[Bucket]  # contiguous, oldest first, empty periods included as 0
    peak: Bucket | None  # most articles, earliest on ties; None when nothing is charted
    peak_item: TimelineItem | None  # best-scoring item inside the peak bucket
    undated: int  # matching items without a usable date: not charted, but reported
    total: int  # all matching items: charted + undated + clipped
    clipped: int = 0  # dated items older than the oldest kept bucket (see build_timeline's max_buckets)

    @property
    def charted(self) -> int:
        return sum(b.count for b in self.buckets)


def parse_day(value: str | None) -> date | None:
    """The UTC calendar day of an ISO date/datetime, or None when it cannot be read.

    A trailing "Z" is spelled out as "+00:00" so what is accepted does not hang on which Python's
    fromisoformat runs; naive values are taken as UTC, which is how the store keeps them.
    An unreadable date is treated as no date rather than an error: one bad row must not sink a chart.
    """
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return moment.date()


def period_start(day: date, granularity: str) -> date:
    """Monday of the ISO week (Monday-first everywhere, whatever the locale) or the month's 1st."""
    if granularity == WEEK:
        return day - timedelta(days=day.weekday())
    if granularity == MONTH:
        return day.replace(day=1)
    raise ValueError(f"unknown granularity {granularity!r}")


def next_period(start: date, granularity: str) -> date:
    if granularity == WEEK:
        return start + timedelta(days=7)
    return date(start.year + start.month // 12, start.month % 12 + 1, 1)


def _periods(first: date, last: date, granularity: str) -> list[date]:
    """Every period start from `first` to `last` inclusive, so gaps show up as zeros."""
    starts = [first]
    while starts[-1] < last:
        starts.append(next_period(starts[-1], granularity))
    return starts


def _week_count(first: date, last: date) -> int:
    return (period_start(last, WEEK) - period_start(first, WEEK)).days // 7 + 1


def _resolve_granularity(granularity: str, days: list[date]) -> str:
    """Weeks while a weekly chart stays at AUTO_WEEKS_MAX bars or fewer: past that, bars get too thin
    on a phone and week-to-week noise hides the trend, so months read better."""
    if granularity in (WEEK, MONTH):
        return granularity
    if granularity != AUTO:
        raise ValueError(f"granularity must be 'auto', 'week' or 'month', not {granularity!r}")
    if not days or _week_count(min(days), max(days)) <= AUTO_WEEKS_MAX:
        return WEEK
    return MONTH


def _best(items: list[TimelineItem]) -> TimelineItem | None:
    """Highest score; on equal scores the first one given, so the caller's order breaks ties."""
    best: TimelineItem | None = None
    for item in items:
        if best is None or item.score > best.score:
            best = item
    return best


def build_timeline(
    topic: str,
    items: Iterable[TimelineItem],
    granularity: str = AUTO,
    max_buckets: int = DEFAULT_MAX_BUCKETS,
) -> Timeline:
    """Count matching items per week or month, from the oldest dated item to the newest.

    `granularity` is "week", "month" or "auto" (weeks when the weekly chart would have at most 26
    bars, months otherwise). When the span needs more than `max_buckets` periods, only the most
    recent `max_buckets` are kept: a topic's current coverage matters more than its first mention
    years ago, and an unbounded span would make an unreadable chart. Items older than the kept range
    are counted in `clipped`, items without a readable date in `undated`; neither is charted, so
    `total == charted + undated + clipped` always holds.
    """
    if max_buckets < 1:
        raise ValueError("max_buckets must be at least 1")
    items = list(items)
    dated = [(day, item) for item in items if (day := parse_day(item.date)) is not None]
    unit = _resolve_granularity(granularity, [day for day, _ in dated])
    undated = len(items) - len(dated)
    if not dated:
        return Timeline(topic, unit, [], None, None, undated=undated, total=len(items))

    by_period: dict[date, list[TimelineItem]] = {}
    for day, item in dated:
        by_period.setdefault(period_start(day, unit), []).append(item)
    starts = _periods(min(by_period), max(by_period), unit)[-max_buckets:]
    buckets = [Bucket(start, len(by_period.get(start, ()))) for start in starts]
    clipped = sum(len(group) for start, group in by_period.items() if start < starts[0])

    peak = max(buckets, key=lambda b: b.count)  # max() keeps the first maximum: the earliest bucket
    peak_item = _best(by_period[peak.start])  # the newest period always holds an item, so peak.count >= 1
    return Timeline(topic, unit, buckets, peak, peak_item, undated=undated, total=len(items), clipped=clipped)
