"""Polling feeds: one round fetches every due feed politely and saves what is new.

Politeness and cost: one shared HTTP client, at most `concurrency` requests in flight and one at a
time per host with `per_host_delay_s` between them; conditional GETs (ETag / Last-Modified), so
an unchanged feed costs one 304; the feed's own hints slow polling down within the configured
bounds; 429/503 wait for Retry-After, other failures back off exponentially with jitter, 410 and
too many failures in a row disable the feed.

Items go through the one ingestion path (`index.ingest`), so they are cleaned, dated and
de-duplicated like any file; ids already in the store are skipped before any work. A round's
items are indexed together at its end, and the change feed then matches them against topics.
A feed's validators and schedule are written after its items are saved, so a crash mid-poll
makes the next poll read the same items again, which de-duplication turns into nothing.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import httpx

from index.config import FeedsConfig
from index.engine import Engine
from index.feeds import (
    FeedEntry,
    FeedError,
    FeedPollReport,
    FeedSource,
    ParsedFeed,
    PollOutcome,
    Schedule,
    advertised_feeds,
    at,
    backoff_minutes,
    cache_max_age_minutes,
    entry_article_id,
    entry_document,
    next_interval,
    parse_feed,
    retry_after_minutes,
)
from index.articles import normalise_url
from index.ingest import ingest_documents
from index.models import RawDocument
from index.readers import read_data

from .fetch import FetchError, FetchPolicy, Response, get, new_client

log = logging.getLogger(__name__)
Blocking = Callable[..., Awaitable]


def schedule_of(config: FeedsConfig) -> Schedule:
    return Schedule(interval=config.interval_minutes, min_interval=config.min_interval_minutes,
                    max_interval=config.max_interval_minutes, max_backoff=config.max_backoff_minutes)


def feed_policy(config: FeedsConfig, max_bytes: int | None = None, trusted: frozenset[str] = frozenset()) -> FetchPolicy:
    return FetchPolicy(timeout_s=config.timeout_s, max_bytes=max_bytes or config.max_feed_bytes,
                       allow_private=config.allow_private_urls, user_agent=config.user_agent, trusted=trusted)


class HostGate:
    """One request at a time per host, `delay_s` apart: a site with many feeds sees one reader."""

    def __init__(self, delay_s: float):
        self.delay_s = delay_s
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._last: dict[str, float] = {}

    @asynccontextmanager
    async def slot(self, url: str):
        host = (urlsplit(url).hostname or "").lower()
        loop = asyncio.get_running_loop()
        async with self._locks[host]:
            wait = self._last.get(host, -math.inf) + self.delay_s - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                yield
            finally:
                self._last[host] = loop.time()


@dataclass
class RoundReport:
    feeds: list[FeedPollReport] = field(default_factory=list)
    indexed: int = 0
    alerts: int = 0
    disabled: list[FeedPollReport] = field(default_factory=list)  # switched off in this round

    @property
    def added(self) -> int:
        return sum(f.added for f in self.feeds)

    @property
    def failed(self) -> list[FeedPollReport]:
        return [f for f in self.feeds if f.status in ("error", "disabled")]

    def as_dict(self) -> dict:
        return {"feeds": [f.as_dict() for f in self.feeds], "added": self.added, "indexed": self.indexed,
                "alerts": self.alerts, "failed": len(self.failed)}


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class FeedPoller:
    """Polls the store's feeds; `blocking` runs store and CPU work off the event loop."""

    def __init__(self, engine: Engine, config: FeedsConfig | None = None, *, worker: str | None = None,
                 blocking: Blocking | None = None, trusted: frozenset[str] = frozenset(),
                 clock: Callable[[], datetime] = _utcnow, rng: random.Random | None = None):
        self.engine = engine
        self.config = config or engine.config.feeds
        self.worker = worker or f"feeds-{uuid.uuid4().hex[:8]}"
        self.blocking = blocking or asyncio.to_thread
        self.trusted = trusted
        self.clock = clock
        self.rng = rng or random.Random()
        self.schedule = schedule_of(self.config)

    # -- one round ------------------------------------------------------------------------
    async def poll_round(self, every: bool = False, index: bool = True) -> RoundReport:
        """Poll the due feeds (`every`: all enabled ones) once; `index`: then index what was new and
        match it against topics (the bot's alert check would do it otherwise)."""
        now = self.clock()
        store = self.engine.store
        lease = (now + timedelta(seconds=self.config.claim_lease_s)).strftime("%Y-%m-%dT%H:%M:%SZ")
        feeds = await self.blocking(store.claim_feeds, self.worker, _stamp(now), lease, 10_000, every)
        report = RoundReport()
        if not feeds:
            return report
        gate = HostGate(self.config.per_host_delay_s)
        slots = asyncio.Semaphore(self.config.concurrency)
        async with new_client(feed_policy(self.config, trusted=self.trusted), self.config.concurrency) as client:
            results = await asyncio.gather(*(self._poll_guarded(client, gate, slots, f) for f in feeds),
                                           return_exceptions=True)  # every task ends before the client closes
        for feed, result in zip(feeds, results):
            if isinstance(result, BaseException):
                log.error("polling feed %s failed: %r", feed.url, result)
                result = FeedPollReport(feed.id, feed.url, "error", error=f"{type(result).__name__}: {result}")
            if result is not None:
                report.feeds.append(result)
        report.disabled = [f for f in report.feeds if f.status == "disabled"]
        if index and report.added:
            report.indexed, report.alerts = await self.blocking(self.engine.refresh)
        return report

    async def _poll_guarded(self, client, gate, slots, feed: FeedSource) -> FeedPollReport | None:
        try:
            return await self._poll(client, gate, slots, feed)
        except Exception as exc:  # noqa: BLE001 - one feed's bug must not stop the round
            log.exception("polling feed %s failed", feed.url)
            try:
                return await self._failed(feed, f"{type(exc).__name__}: {exc}")
            except Exception:  # noqa: BLE001 - the store itself failed: reported, the round goes on
                log.exception("recording the failure of feed %s failed", feed.url)
                return FeedPollReport(feed.id, feed.url, "error", error=f"{type(exc).__name__}: {exc}")

    async def _fetch(self, client, gate: HostGate, slots: asyncio.Semaphore, url: str, policy: FetchPolicy,
                     headers: dict | None = None) -> Response:
        async with gate.slot(url), slots:
            return await get(client, url, policy, headers)

    async def _poll(self, client, gate, slots, feed: FeedSource) -> FeedPollReport | None:
        headers = {"Accept": "application/rss+xml, application/atom+xml, application/feed+json, "
                             "application/xml;q=0.9, */*;q=0.5"}
        if feed.etag:
            headers["If-None-Match"] = feed.etag
        if feed.last_modified:
            headers["If-Modified-Since"] = feed.last_modified
        policy = feed_policy(self.config, trusted=self.trusted)
        try:
            async with gate.slot(feed.url), slots:
                lease = (self.clock() + timedelta(seconds=self.config.claim_lease_s)).strftime("%Y-%m-%dT%H:%M:%SZ")
                if not await self.blocking(self.engine.store.renew_feed_claim, feed.id, self.worker, lease):
                    return None  # the lease ran out while waiting its turn; another worker has the feed
                response = await get(client, feed.url, policy, headers)
        except FetchError as exc:
            return await self._failed(feed, str(exc))
        now = self.clock()
        status = response.status
        if status == 304:
            interval = next_interval(self.schedule, feed.interval, feed.hint,
                                     cache_max_age_minutes(response.headers.get("cache-control")))
            outcome = PollOutcome(next_poll=at(now, interval), ok=True,
                                  etag=response.headers.get("etag") or feed.etag,
                                  last_modified=response.headers.get("last-modified") or feed.last_modified,
                                  new_url=response.permanent_url)
            await self.blocking(self.engine.store.record_poll, feed.id, self.worker, outcome)
            return FeedPollReport(feed.id, feed.url, "unchanged")
        if status == 410:
            return await self._failed(feed, "410 Gone: the feed was removed", disable="gone (HTTP 410)")
        if status in (429, 503):
            wait = retry_after_minutes(response.headers.get("retry-after"), now)
            reason = httpx.codes.get_reason_phrase(status)
            shown = f" (retry after {wait * 60:.0f} s)" if wait is not None else ""
            return await self._failed(feed, f"HTTP {status} {reason}{shown}", wait=wait)
        if status != 200:
            return await self._failed(feed, f"HTTP {status} {httpx.codes.get_reason_phrase(status)}".strip())
        try:
            parsed = await self.blocking(parse_feed, response.data, response.content_type, response.url,
                                         self.config.max_items)
        except FeedError as exc:
            return await self._failed(feed, str(exc))
        report = FeedPollReport(feed.id, feed.url, "new", notes=list(parsed.notes))
        await self._save_entries(client, gate, slots, feed, parsed, report)
        interval = next_interval(self.schedule, feed.interval, parsed.hint_minutes,
                                 cache_max_age_minutes(response.headers.get("cache-control")))
        if response.permanent_url:
            report.notes.append(f"moved permanently to {response.permanent_url}")
        outcome = PollOutcome(next_poll=at(now, interval), ok=True, etag=response.headers.get("etag"),
                              last_modified=response.headers.get("last-modified"), new_url=response.permanent_url,
                              title=parsed.title[:300], site=parsed.site[:300], items=report.added,
                              warning="; ".join(report.notes)[:500] or None, hint=parsed.hint_minutes, read=True)
        await self.blocking(self.engine.store.record_poll, feed.id, self.worker, outcome)
        return report

    async def _failed(self, feed: FeedSource, error: str, wait: float | None = None,
                      disable: str | None = None) -> FeedPollReport:
        failures = feed.failures + 1
        if disable is None and failures >= self.config.max_failures:
            disable = f"{failures} failures in a row; last: {error}"
        minutes = min(max(wait, self.schedule.min_interval), self.schedule.max_backoff) if wait is not None else \
            backoff_minutes(self.schedule, feed.interval, failures, self.rng)
        outcome = PollOutcome(next_poll=at(self.clock(), minutes), ok=False, error=error[:500], disable=disable)
        recorded = await self.blocking(self.engine.store.record_poll, feed.id, self.worker, outcome)
        log.info("feed %s: %s", feed.url, error)
        disabled = bool(disable and recorded)  # a lost claim disabled nothing: no admin is told
        return FeedPollReport(feed.id, feed.url, "disabled" if disabled else "error", error=disable or error)

    # -- items ------------------------------------------------------------------------------
    async def _save_entries(self, client, gate, slots, feed: FeedSource, parsed: ParsedFeed,
                            report: FeedPollReport) -> None:
        entries = list(parsed.entries)
        if len(entries) > self.config.max_items:
            report.notes.append(f"{len(entries):,} entries; read the first {self.config.max_items} (feeds.max_items)")
            entries = entries[: self.config.max_items]
        unique: dict[str, FeedEntry] = {}
        for entry in entries:
            unique.setdefault(entry_article_id(feed.id, entry), entry)
        if len(unique) < len(entries):
            report.notes.append(f"{len(entries) - len(unique)} entries repeat another's guid")
        known = await self.blocking(self.engine.store.known_article_ids, list(unique))
        links = {article_id: normalise_url(e.link) for article_id, e in unique.items() if e.link}
        stored = await self.blocking(self.engine.store.known_article_urls, [u for u in links.values() if u])
        fresh = [(article_id, e) for article_id, e in unique.items()
                 if article_id not in known and links.get(article_id) not in stored]
        report.duplicates = len(unique) - len(fresh)
        today = _stamp(self.clock())[:16]
        future = sum(1 for _, e in fresh if e.date and e.date[:16] > today)
        if future:
            report.notes.append(f"{future} entries dated in the future (kept as given; not shown before their date)")
        no_link = sum(1 for _, e in fresh if not e.link)
        if no_link:
            report.notes.append(f"{no_link} entries without a link")
        source = parsed.title or feed.title or urlsplit(feed.url).hostname or feed.url
        documents = await asyncio.gather(*(self._document(client, gate, slots, feed, source, e) for _, e in fresh))
        if documents:
            saved = await self.blocking(ingest_documents, self.engine.store, documents, self.engine.config.ingest)
            report.added += len(saved.added)
            report.duplicates += len(saved.duplicates)
            report.rejected += saved.rejected_total
            report.added_ids += saved.added
            report.notes += [f"{r.origin}: {r.reason}" for r in saved.rejected[:5]]

    def _wants_page(self, entry: FeedEntry) -> bool:
        mode = self.config.full_text
        if mode == "never" or not entry.link:
            return False
        if mode == "always":
            return True
        return entry.summary_only and len(entry.text.split()) < self.config.full_text_min_words

    async def _document(self, client, gate, slots, feed: FeedSource, source: str, entry: FeedEntry) -> RawDocument:
        origin = f"feed {feed.id} ({feed.url}): {entry.link or entry.key}"
        text = date = None
        if self._wants_page(entry):
            text, date = await self._page_text(client, gate, slots, entry.link)
        if text and len(text) < len(entry.text):
            text = None  # the page gave less than the feed (a paywall, a cookie wall)
        return entry_document(feed.id, source, entry, origin, text=text, fallback_date=date)

    async def _page_text(self, client, gate, slots, url: str) -> tuple[str | None, str | None]:
        """The linked page's main text and date, or (None, None): the entry's summary then stands."""
        policy = feed_policy(self.config, self.config.max_page_bytes, self.trusted)
        try:
            response = await self._fetch(client, gate, slots, url, policy)
        except Exception as exc:  # noqa: BLE001 - any failure of one page keeps its entry's summary
            log.info("full text of %s not fetched: %s", url, exc)
            return None, None
        if response.status != 200:
            return None, None

        def extract() -> tuple[str | None, str | None]:
            try:
                for item in read_data(response.data, _page_name(response.content_type), url,
                                      self.config.max_page_bytes):
                    if isinstance(item, RawDocument) and item.text.strip():
                        return item.text, item.date
            except Exception as exc:  # noqa: BLE001 - an unreadable page keeps the entry's summary
                log.info("full text of %s not extracted: %s", url, exc)
            return None, None

        return await self.blocking(extract)


def _page_name(content_type: str) -> str:
    kind = content_type.split(";")[0].strip().lower()
    return "page.html" if kind in ("text/html", "application/xhtml+xml", "") else "page.txt"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- adding a feed ------------------------------------------------------------------------------

async def discover(url: str, config: FeedsConfig, trusted: frozenset[str] = frozenset()) -> tuple[str, str]:
    """(feed URL, title) for what a user gave: a feed, or a page that advertises one. FetchError or
    FeedError say why it is neither."""
    policy = feed_policy(config, trusted=trusted)
    async with new_client(policy, connections=2) as client:
        response = await get(client, url, policy)
        if response.status != 200:
            raise FetchError(f"The site answered {response.status} {httpx.codes.get_reason_phrase(response.status)}.")
        try:
            parsed = await asyncio.to_thread(parse_feed, response.data, response.content_type, response.url)
            return response.permanent_url or url, parsed.title
        except FeedError as exc:
            found = advertised_feeds(response.data, response.url)
            if not found:
                raise FeedError(f"{url} is not a feed and advertises none ({exc})") from exc
        problems = []
        for feed_url in found[:5]:  # in order of preference: RSS/Atom, JSON Feed, plain JSON last
            try:
                response = await get(client, feed_url, policy)
                if response.status != 200:
                    raise FetchError(f"it answered {response.status}")
                parsed = await asyncio.to_thread(parse_feed, response.data, response.content_type, response.url)
                return response.permanent_url or feed_url, parsed.title
            except (FetchError, FeedError) as exc:
                problems.append(f"{feed_url}: {exc}")
        raise FeedError(f"{url} advertises feeds, but none could be read ({'; '.join(problems)})")


async def add_feeds(engine: Engine, urls: list[str], interval: float | None = None, check: bool = True,
                    trusted: frozenset[str] = frozenset()) -> list[tuple[str, FeedSource | None, str]]:
    """Add each URL (found feed, or the page's advertised one): [(given url, feed or None, message)]."""
    results = []
    if interval is not None and not 0 < interval <= 525_600:
        return [(url, None, "not added: the interval is a number of minutes, more than 0 (and at most a year)")
                for url in urls]
    for url in urls:
        url = url.strip()
        title = ""
        if check:
            try:
                url_found, title = await discover(url, engine.config.feeds, trusted)
            except (FetchError, FeedError) as exc:
                results.append((url, None, f"not added: {exc}"))
                continue
            except Exception as exc:  # noqa: BLE001 - whatever a hostile page does, the admin gets a reason
                log.exception("discovering a feed at %s failed", url)
                results.append((url, None, f"not added: {type(exc).__name__}: {exc}"))
                continue
        else:
            url_found = url
            if urlsplit(url).scheme not in ("http", "https"):
                results.append((url, None, "not added: only http:// and https:// feeds can be polled"))
                continue
        feed, created = await asyncio.to_thread(engine.store.add_feed, url_found, title[:300], interval)
        found = f" (found at {url_found})" if url_found != url else ""
        results.append((url, feed, ("added" if created else "already polled") + found))
    return results
