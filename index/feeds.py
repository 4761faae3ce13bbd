"""Feeds as data: what one fetched feed holds, and when to fetch it next.

Pure functions only (no HTTP, no store): `bot/feed_poller.py` does the fetching and calls these,
so every rule here — which formats are feeds, what an entry's date is, how long to wait after a
failure — is tested on plain bytes and numbers.

RSS 0.9x/1.0/2.0 and Atom are read by feedparser; JSON Feed (jsonfeed.org) is mapped here onto
the same entries. Entries become `RawDocument`s and go through the one ingestion path, so a feed
item is cleaned, dated and de-duplicated exactly like a file.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin

from .dates import from_struct_time, parse_date
from .models import RawDocument
from .readers import html_to_text

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json", "application/rdf+xml",
              "application/json")  # in order of preference: a plain JSON link is often an API, not a feed
ENCODINGS = ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")


def declares(data: bytes, *words: str) -> bool:
    """Whether the document holds `<!WORD` anywhere, in any encoding XML allows (a 64 KiB comment
    first, or UTF-16, must not hide an entity declaration)."""
    return any(f"<!{word}".encode(encoding) in data for word in words for encoding in ENCODINGS)


_LINK_TAG = re.compile(rb"<link\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(rb"""([a-z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
_UPDATE_PERIODS = {"hourly": 60, "daily": 1440, "weekly": 10080, "monthly": 43200, "yearly": 525600}
_MAX_AGE = re.compile(r"(?:^|[,\s])(?:s-)?max-age\s*=\s*([0-9]{1,9})(?![0-9])", re.IGNORECASE)


@dataclass(frozen=True)
class FeedSource:
    """A feed the store polls, with what the last polls learnt about it."""

    id: int
    url: str
    title: str = ""
    site: str = ""
    etag: str | None = None
    last_modified: str | None = None
    interval: float | None = None  # minutes; None: the configured default
    next_poll: str = ""
    failures: int = 0  # consecutive
    last_ok: str | None = None
    last_error: str | None = None
    items: int = 0  # articles saved from it
    enabled: bool = True
    disabled_reason: str | None = None
    added_at: str = ""
    hint: float | None = None  # minutes the feed itself asks between polls, as last read

    @property
    def name(self) -> str:
        return self.title or self.url

    def as_dict(self) -> dict:
        return {"id": self.id, "url": self.url, "title": self.title, "site": self.site, "enabled": self.enabled,
                "disabled_reason": self.disabled_reason, "items": self.items, "last_ok": self.last_ok,
                "last_error": self.last_error, "failures": self.failures, "next_poll": self.next_poll,
                "interval_minutes": self.interval, "added_at": self.added_at}


@dataclass(frozen=True)
class PollOutcome:
    """What a poll changes on its feed, written in one transaction after its items are saved."""

    next_poll: str
    ok: bool
    error: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    new_url: str | None = None  # a permanent redirect moved the feed
    title: str | None = None
    site: str | None = None
    items: int = 0
    disable: str | None = None  # a reason: the feed is switched off
    warning: str | None = None  # a successful poll that found something odd (kept in last_error)
    hint: float | None = None  # the feed's own update hint, when the document was read (a 200)
    read: bool = False  # the document was read: its hint replaces the stored one


class FeedError(ValueError):
    """The response is not a feed newsbot can read; the message is the feed's `last_error`."""


@dataclass(frozen=True)
class FeedEntry:
    key: str  # guid, else link, else a hash of title and text: what makes a re-published item the same
    title: str
    link: str | None
    date: str | None  # the entry's own date as given (ISO), never the time it was polled
    text: str
    summary_only: bool  # the feed carried a summary, not the article (full text may be fetched)


@dataclass(frozen=True)
class ParsedFeed:
    kind: str  # rss20, atom10, json1…
    title: str
    site: str
    entries: tuple[FeedEntry, ...]
    hint_minutes: float | None = None  # the feed's own word on how often it changes (<ttl>, sy:updatePeriod)
    notes: tuple[str, ...] = ()  # recoverable oddities, for the poll report


_ENTRY_OR_SKIP = re.compile(rb"<!\[CDATA\[.*?\]\]>|<!--.*?-->|<(?:item|entry)[\s>/]", re.S | re.I)


def _cut_after(data: bytes, max_entries: int) -> bytes | None:
    """The document up to its (max_entries + 1)-th <item>/<entry> (not counting any inside CDATA or
    comments), or None when it has no more: parsing 50,000 entries to keep 200 would cost a poll
    seconds of CPU every time."""
    seen = 0
    for match in _ENTRY_OR_SKIP.finditer(data):
        if match.group(0)[:2] == b"<!":
            continue
        seen += 1
        if seen > max_entries:
            return data[:match.start()]
    return None


def parse_feed(data: bytes, content_type: str = "", base_url: str = "", max_entries: int | None = None) -> ParsedFeed:
    """The feed in `data`, or FeedError saying why it is not one. `max_entries`: only the first
    entries are read (feeds list the newest first)."""
    if not data.strip():
        raise FeedError("empty response")
    head = data[:4096].lstrip()
    kind = content_type.split(";")[0].strip().lower()
    if head[:1] in (b"{", b"[") or kind in ("application/feed+json", "application/json"):
        return _parse_json_feed(data, base_url)
    if declares(data, "ENTITY"):
        # feeds have no use for their own entities; declaring them is how entity-expansion bombs start
        raise FeedError("the feed declares XML entities (<!ENTITY>); refused as a possible entity-expansion bomb")
    import feedparser

    cut = _cut_after(data, max_entries) if max_entries else None
    if cut is not None:
        data = cut
    headers = {"content-type": content_type or "application/xml"}
    if base_url:
        headers["content-location"] = base_url
    parsed = feedparser.parse(data, response_headers=headers)
    if not parsed.get("version") and not parsed.entries:
        if head.lower().startswith((b"<!doctype html", b"<html")) or b"<html" in head.lower():
            found = advertised_feeds(data, base_url)
            hint = f"; it advertises {found[0]}" if found else ""
            raise FeedError(f"an HTML page, not a feed{hint}")
        reason = parsed.get("bozo_exception")
        raise FeedError(f"not a feed (RSS, Atom or JSON Feed){f': {reason}' if reason else ''}")
    notes = [f"more than {max_entries} entries; read the first {max_entries} (feeds.max_items)"] if cut else []
    if cut is None and parsed.get("bozo") and parsed.get("bozo_exception") is not None:
        exc = parsed.bozo_exception
        if type(exc).__name__ not in ("CharacterEncodingOverride", "NonXMLContentType"):
            if not parsed.entries:
                raise FeedError(f"malformed feed: {exc}")
            notes.append(f"malformed XML, read leniently ({exc})")
    meta = parsed.feed
    entries = []
    for raw in parsed.entries:
        body = ""
        if raw.get("content"):
            body = max((c.get("value", "") for c in raw.content), key=len)
        summary = raw.get("summary", "")
        text = html_to_text(body or summary)
        link = raw.get("link") or None
        title = raw.get("title", "")
        date = from_struct_time(raw.get("published_parsed") or raw.get("updated_parsed"))
        key = raw.get("id") or link or _content_key(title, text)
        entries.append(FeedEntry(key=str(key), title=title, link=link, date=date, text=text,
                                 summary_only=not body))
    return ParsedFeed(kind=parsed.get("version") or "feed", title=meta.get("title", ""), site=meta.get("link", ""),
                      entries=tuple(entries), hint_minutes=_xml_hint(meta), notes=tuple(notes))


def _xml_hint(meta) -> float | None:
    hints = []
    ttl = meta.get("ttl")
    if ttl and str(ttl).strip().isdecimal() and len(str(ttl).strip()) < 9:
        hints.append(float(str(ttl).strip()))
    period = _UPDATE_PERIODS.get(str(meta.get("sy_updateperiod", "")).strip().lower())
    if period:
        try:
            frequency = max(1, int(str(meta.get("sy_updatefrequency", "1")).strip()))
        except ValueError:
            frequency = 1
        hints.append(period / frequency)
    return max(hints) if hints else None


def _parse_json_feed(data: bytes, base_url: str) -> ParsedFeed:
    try:
        payload = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FeedError(f"not valid JSON ({exc})") from exc
    except RecursionError as exc:
        raise FeedError("JSON nested too deeply to be a feed") from exc
    if not isinstance(payload, dict) or not str(payload.get("version", "")).startswith("https://jsonfeed.org/"):
        raise FeedError("JSON, but not a JSON Feed (no https://jsonfeed.org/version/… field)")
    items = payload.get("items")
    if not isinstance(items, list):
        raise FeedError("JSON Feed without an items list")
    entries = []
    for item in items:
        if not isinstance(item, dict):
            continue
        body = _str(item.get("content_text")) or html_to_text(_str(item.get("content_html")))
        summary = _str(item.get("summary"))
        link = _str(item.get("url")) or _str(item.get("external_url")) or None
        if link and base_url:
            link = urljoin(base_url, link)
        title = _str(item.get("title"))
        text = body or summary
        date = parse_date(_str(item.get("date_published")) or _str(item.get("date_modified")) or None)
        key = _str(item.get("id")) or link or _content_key(title, text)
        entries.append(FeedEntry(key=key, title=title, link=link, date=date, text=text, summary_only=not body))
    version = str(payload["version"]).rstrip("/").rsplit("/", 1)[-1]
    return ParsedFeed(kind=f"json{version}", title=_str(payload.get("title")), site=_str(payload.get("home_page_url")),
                      entries=tuple(entries))


def _str(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _content_key(title: str, text: str) -> str:
    return "h-" + hashlib.sha256(f"{title}\n{text}".encode("utf-8", "replace")).hexdigest()[:24]


def advertised_feeds(html: bytes, base_url: str = "") -> list[str]:
    """Feed URLs a page advertises (`<link rel="alternate" type="application/rss+xml" href=…>`),
    absolute, RSS and Atom before JSON Feed before plain JSON, each kind in page order."""
    found = []
    for tag in _LINK_TAG.findall(html[:500_000]):
        attrs = {m.group(1).lower().decode("ascii", "replace"): (m.group(2) or m.group(3) or m.group(4) or b"").decode("utf-8", "replace")
                 for m in _ATTR.finditer(tag)}
        rel = attrs.get("rel", "").lower().split()
        kind = attrs.get("type", "").lower().strip()
        if "alternate" in rel and kind in FEED_TYPES and attrs.get("href"):
            url = urljoin(base_url, attrs["href"].strip())
            if url not in [u for u, _ in found]:
                found.append((url, FEED_TYPES.index(kind)))
    return [url for url, _ in sorted(found, key=lambda pair: pair[1])]


def entry_article_id(feed_id: int, entry: FeedEntry) -> str:
    """The stored article id of an entry: the same guid in the same feed is the same article, also
    when the feed re-publishes or reorders its items (links and text are de-duplicated as well)."""
    return f"feed{feed_id}-" + hashlib.sha1(entry.key.encode("utf-8", "replace")).hexdigest()[:16]


def entry_document(feed_id: int, feed_title: str, entry: FeedEntry, origin: str, text: str | None = None,
                   fallback_date: str | None = None) -> RawDocument:
    """A feed entry as ingestion's input; `text` replaces the entry's own (a fetched full page)."""
    return RawDocument(origin=origin, text=text or entry.text, title=entry.title, date=entry.date or fallback_date,
                       url=entry.link, source=feed_title, id=entry_article_id(feed_id, entry))


# -- when to poll -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Schedule:
    """The operator's bounds (minutes); a feed's hints are honoured only within them."""

    interval: float = 15.0
    min_interval: float = 5.0
    max_interval: float = 1440.0
    max_backoff: float = 1440.0


def cache_max_age_minutes(cache_control: str | None) -> float | None:
    match = _MAX_AGE.search(cache_control or "")
    return int(match.group(1)) / 60 if match else None


def next_interval(schedule: Schedule, own: float | None, *hints: float | None) -> float:
    """Minutes until the next poll after a success. A hint may slow polling down (the publisher asks
    for fewer requests), never speed it up past the feed's interval or the minimum."""
    base = own or schedule.interval
    wanted = max([base, *[h for h in hints if h]])
    return min(max(wanted, schedule.min_interval), max(schedule.max_interval, schedule.min_interval))


def backoff_minutes(schedule: Schedule, own: float | None, failures: int, rng: random.Random | None = None) -> float:
    """After `failures` consecutive failures: the interval doubled per failure, ±20 % jitter (so
    feeds that failed together do not retry together), at most `max_backoff`."""
    base = own or schedule.interval
    delay = min(base * 2 ** min(max(failures - 1, 0), 30), schedule.max_backoff)
    jitter = (rng or random).uniform(0.8, 1.2)
    return max(min(delay * jitter, schedule.max_backoff), schedule.min_interval)


def retry_after_minutes(value: str | None, now: datetime) -> float | None:
    """`Retry-After` as seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdecimal() and value.isascii():
        return int(value[:9]) / 60
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max((moment - now).total_seconds() / 60, 0.0)


def at(now: datetime, minutes: float) -> str:
    """A stored time `minutes` after `now` (UTC, second precision, as the store keeps times)."""
    return (now + timedelta(minutes=minutes)).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FeedPollReport:
    """What one poll of one feed did: the line `feeds poll` prints and the admin sees."""

    feed_id: int
    url: str
    status: str  # new | unchanged | error | disabled
    added: int = 0
    duplicates: int = 0
    rejected: int = 0
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    added_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"id": self.feed_id, "url": self.url, "status": self.status, "added": self.added,
                "duplicates": self.duplicates, "rejected": self.rejected, "error": self.error, "notes": self.notes}
