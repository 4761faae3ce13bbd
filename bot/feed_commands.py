"""The feed commands' words, shared by the CLI, the terminal chat and Telegram: a feed's health
in one line, a poll round's summary, an OPML import. Plain text; Telegram escapes it."""

from __future__ import annotations

from datetime import datetime, timezone

from index.engine import Engine
from index.feeds import FeedSource
from index.opml import OpmlFeed, read_opml, write_opml

from .feed_poller import RoundReport

TITLE_MAX = 80


def _ago(stamp: str | None, now: datetime) -> str:
    if not stamp:
        return "never"
    try:
        moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return stamp
    return _span((now - moment).total_seconds()) + " ago"


def _until(stamp: str, now: datetime) -> str:
    try:
        moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return stamp
    seconds = (moment - now).total_seconds()
    return "now" if seconds <= 0 else f"in {_span(seconds)}"


def _span(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


def short(text: str, limit: int = TITLE_MAX) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def health(feed: FeedSource) -> str:
    if not feed.enabled:
        return "disabled"
    if feed.failures:
        return f"failing ({feed.failures} in a row)"
    return "ok" if feed.last_ok else "not polled yet"


def describe(feed: FeedSource, now: datetime | None = None) -> str:
    """Two lines: the feed, then its health (what a failing feed looks like is what this says)."""
    now = now or datetime.now(timezone.utc)
    first = f"{feed.id}. {short(feed.title) + ' — ' if feed.title else ''}{short(feed.url, 200)}"
    if not feed.enabled:
        second = f"disabled: {short(feed.disabled_reason or 'by an admin', 300)}"
    else:
        state = health(feed)
        second = f"{state} · last ok {_ago(feed.last_ok, now)} · {feed.items} saved · next poll {_until(feed.next_poll, now)}"
    if feed.last_error and (feed.enabled or not (feed.disabled_reason or "").endswith(feed.last_error)):
        second += f"\n   last error: {short(feed.last_error, 300)}"
    return f"{first}\n   {second}"


def round_lines(report: RoundReport, names: dict[int, str] | None = None) -> list[str]:
    names = names or {}
    lines = []
    for f in report.feeds:
        name = short(names.get(f.feed_id) or f.url, 120)
        if f.status == "new":
            line = f"{name}: {f.added} new, {f.duplicates} already stored"
            if f.rejected:
                line += f", {f.rejected} rejected"
        elif f.status == "unchanged":
            line = f"{name}: unchanged"
        else:
            line = f"{name}: {'DISABLED' if f.status == 'disabled' else 'error'}: {f.error}"
        lines.append(line)
        lines += [f"   note: {short(n, 300)}" for n in f.notes[:5]]
    total = f"{len(report.feeds)} feed(s) polled, {report.added} new article(s)"
    if report.indexed or report.alerts:
        total += f", {report.alerts} alert(s) recorded"
    if report.failed:
        total += f", {len(report.failed)} feed(s) failed"
    return [*lines, total]


def import_opml(engine: Engine, data: bytes, interval: float | None = None) -> tuple[int, int, list[str]]:
    """(added, already polled, problems): feeds are added as listed (no fetch), due at once."""
    added = known = 0
    problems = []
    for feed in read_opml(data):
        if not feed.url.startswith(("http://", "https://")):
            problems.append(f"{feed.url}: not an http(s) URL")
            continue
        _, created = engine.store.add_feed(feed.url, feed.title[:300], interval)
        added, known = added + created, known + (not created)
    return added, known, problems


def export_opml(engine: Engine) -> str:
    return write_opml([OpmlFeed(f.url, f.title) for f in engine.store.feeds()])
