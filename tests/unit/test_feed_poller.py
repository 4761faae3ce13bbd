"""Polling feeds over real HTTP: a feed server on 127.0.0.1, a real store, the real poller.

Rounds run with `index=False` (nothing embedded): what is saved is what the index and the topic
matcher then read through the change feed, as `tests/test_feed_alerts.py` shows end to end.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from datetime import datetime, timedelta, timezone

import pytest

from bot.feed_poller import FeedPoller, add_feeds
from index.config import Config, FeedsConfig, StoreConfig
from index.engine import Engine
from tests.support.feed_server import (
    FeedRoute,
    FeedServer,
    Item,
    Reply,
    article_page,
    atom,
    gzipped,
    json_feed,
    rss,
    story,
)

FAST = FeedsConfig(per_host_delay_s=0.0, timeout_s=5.0, max_failures=3, max_feed_bytes=2_000_000)


@pytest.fixture
def server():
    with FeedServer() as s:
        yield s


@pytest.fixture
def engine(tmp_path):
    e = Engine(dataclasses.replace(Config(), store=StoreConfig(path=str(tmp_path / "feeds.db")), feeds=FAST))
    yield e
    e.close()


def poller(engine, server, **options) -> FeedPoller:
    config = dataclasses.replace(engine.config.feeds, **options.pop("config", {}))
    return FeedPoller(engine, config, trusted=frozenset({server.netloc}), **options)


def poll(p: FeedPoller, every: bool = True):
    return asyncio.run(p.poll_round(every=every, index=False))


def add(engine, server, path: str, **kw):
    feed, created = engine.store.add_feed(server.url(path), **kw)
    assert created
    return feed


def articles(engine):
    return {h.id: h for h in engine.store.headers()}


def test_a_feed_is_saved_once_with_each_entrys_own_date_title_link_and_the_feed_as_source(engine, server):
    route = server.routes["/rss"] = FeedRoute(rss([story(1), story(2)], title="Harbour Wire"))
    add(engine, server, "/rss")
    report = poll(poller(engine, server))
    assert [(f.status, f.added) for f in report.feeds] == [("new", 2)]
    saved = sorted(articles(engine).values(), key=lambda h: h.url)
    assert [(h.title, h.date, h.source, h.url) for h in saved] == [
        ("Harbour story number 1", "2026-11-30T08:00", "Harbour Wire", "http://wire.test/harbour/1"),
        ("Harbour story number 2", "2026-11-30T08:00", "Harbour Wire", "http://wire.test/harbour/2")]

    again = poll(poller(engine, server))  # unchanged: a conditional GET answered 304
    assert [(f.status, f.added) for f in again.feeds] == [("unchanged", 0)]
    assert server.hits("/rss")[-1].headers["if-none-match"] == route.etag

    route.set(rss([story(3), story(2), story(1)], title="Harbour Wire"))  # one new, the rest reordered
    third = poll(poller(engine, server))
    assert [(f.status, f.added, f.duplicates) for f in third.feeds] == [("new", 1, 2)]
    assert len(articles(engine)) == 3
    [feed] = engine.store.feeds()
    assert (feed.items, feed.failures, feed.last_error, feed.title) == (3, 0, None, "Harbour Wire")


@pytest.mark.parametrize("make", [atom, json_feed])
def test_atom_and_json_feed_are_polled_alike(engine, server, make):
    server.routes["/f"] = FeedRoute(make([story(1), story(2)]), content_type="application/octet-stream")
    add(engine, server, "/f")
    assert poll(poller(engine, server)).added == 2
    assert all(h.date.startswith("2026-11-30") for h in articles(engine).values())


def test_summary_only_entries_get_their_linked_page_fetched_and_extracted(engine, server):
    paragraphs = [f"Paragraph {n} of the full harbour article, with enough words to be the main text of the page "
                  f"that trafilatura extracts for the store." for n in range(6)]
    server.routes["/page/1"] = lambda r: Reply(200, {"Content-Type": "text/html"},
                                               article_page("Harbour plan approved", paragraphs))
    short = Item("p1", "Harbour plan approved", "The council approved the plan.", server.url("/page/1"), date=None)
    server.routes["/rss"] = FeedRoute(rss([short]))
    add(engine, server, "/rss")
    poll(poller(engine, server))
    [header] = articles(engine).values()
    article = engine.store.get(header.id)
    assert "Paragraph 5 of the full harbour article" in article.text
    assert article.date == "2026-11-29T07:45"  # the entry has none: the page's own date

    other = Engine(dataclasses.replace(engine.config, store=StoreConfig(path=str(engine.store.path) + "2")))
    try:
        other.store.add_feed(server.url("/rss"))
        poll(poller(other, server, config={"full_text": "never"}))
        [kept] = other.store.headers()
        assert other.store.get(kept.id).text == "The council approved the plan." and kept.date is None
    finally:
        other.close()


def test_429_and_503_wait_for_retry_after(engine, server):
    server.routes["/busy"] = lambda r: Reply(429, {"Retry-After": "3600"})
    add(engine, server, "/busy")
    now = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    poll(poller(engine, server, clock=lambda: now))
    [feed] = engine.store.feeds()
    assert feed.next_poll == "2026-12-01T13:00:00Z" and "429" in feed.last_error and feed.failures == 1


def test_a_permanent_redirect_moves_the_feed_a_temporary_one_does_not(engine, server):
    server.routes["/new"] = FeedRoute(rss([story(1)]))
    server.routes["/old"] = lambda r: Reply(301, {"Location": "/new"})
    server.routes["/moved-for-now"] = lambda r: Reply(302, {"Location": "/new"})
    add(engine, server, "/old")
    add(engine, server, "/moved-for-now")
    poll(poller(engine, server))
    assert sorted(f.url for f in engine.store.feeds()) == sorted([server.url("/new"), server.url("/moved-for-now")])


def test_410_disables_the_feed_and_too_many_failures_disable_it_once(engine, server):
    server.routes["/gone"] = lambda r: Reply(410)
    server.routes["/broken"] = lambda r: Reply(500)
    gone, broken = add(engine, server, "/gone"), add(engine, server, "/broken")
    first = poll(poller(engine, server))
    assert [f.feed_id for f in first.disabled] == [gone.id]
    disabled_at = []
    for _ in range(4):  # max_failures is 3: the third failure disables, a disabled feed is not polled
        disabled_at.append([f.feed_id for f in poll(poller(engine, server)).disabled])
    assert disabled_at == [[], [broken.id], [], []]
    state = {f.id: f for f in engine.store.feeds()}
    assert not state[gone.id].enabled and "410" in state[gone.id].disabled_reason
    assert not state[broken.id].enabled and "3 failures in a row" in state[broken.id].disabled_reason
    assert len(server.hits("/broken")) == 3


BIG = 50_000


def _bad_routes(server: FeedServer) -> dict[str, tuple[object, str]]:
    """path: (route, what `feeds list` should say): each a way a feed goes wrong."""
    bomb = gzipped(b"<rss>" + b" " * 30_000_000)
    return {
        "/malformed": (FeedRoute(b"<rss><channel><title>x</title><item><title"), "malformed|not a feed"),
        "/html": (lambda r: Reply(200, {"Content-Type": "text/html"}, b"<html><body><p>Hello</p></body></html>"),
                  "HTML page"),
        "/huge": (lambda r: Reply(200, {"Content-Type": "application/rss+xml", "Content-Length": str(100_000_000)}),
                  "over the limit"),
        "/endless": (lambda r: Reply(200, {"Content-Type": "application/rss+xml"}, b"<rss>" + b"x" * 3_000_000),
                     "over the limit"),
        "/bomb": (lambda r: Reply(200, {"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"}, bomb),
                  "over the limit"),
        "/stacked": (lambda r: Reply(200, {"Content-Encoding": "gzip, gzip"}, gzipped(rss([story(1)]), 2)),
                     "Stacked content encodings"),
        "/laughs": (FeedRoute(b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;">]>'
                              b"<rss><channel><title>&b;</title></channel></rss>"), "entity"),
        "/drip": (lambda r: Reply(200, {"Content-Type": "application/rss+xml"}, rss([story(1)]), drip_s=1.0),
                  "did not answer within"),
        "/loop": (lambda r: Reply(302, {"Location": "/loop2"}), "loop"),
        "/local": (lambda r: Reply(302, {"Location": "http://127.0.0.1:9/admin"}), "private or local"),
    }


def test_each_bad_feed_gets_a_clear_error_and_the_round_goes_on(engine, server):
    bad = _bad_routes(server)
    server.routes["/loop2"] = lambda r: Reply(302, {"Location": "/loop"})
    for path, (route, _) in bad.items():
        server.routes[path] = route
        add(engine, server, path)
    server.routes["/good"] = FeedRoute(rss([story(1)]))
    good = add(engine, server, "/good")
    report = poll(poller(engine, server, config={"timeout_s": 3.0}))
    assert {f.feed_id: f.status for f in report.feeds}[good.id] == "new"
    errors = {f.url.split(str(server.port))[-1]: f.last_error for f in engine.store.feeds()}
    import re
    for path, (_, expected) in bad.items():
        assert errors[path] and re.search(expected, errors[path]), (path, errors[path])
    assert errors["/good"] is None and len(articles(engine)) == 1


def test_odd_entries_are_kept_as_given_and_noted(engine, server):
    future = (datetime.now(timezone.utc) + timedelta(days=400)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    items = [story(1), dataclasses.replace(story(2), link=None), dataclasses.replace(story(3), date=None),
             dataclasses.replace(story(4), date=future), dataclasses.replace(story(5), guid="item-1")]
    server.routes["/odd"] = FeedRoute(rss(items))
    add(engine, server, "/odd")
    [report] = poll(poller(engine, server)).feeds
    assert report.added == 4  # the repeated guid is the same item
    notes = " | ".join(report.notes)
    assert "repeat another's guid" in notes and "dated in the future" in notes and "without a link" in notes
    dates = {h.title: h.date for h in articles(engine).values()}
    assert dates["Harbour story number 3"] is None
    assert dates["Harbour story number 4"] > "2027"


@pytest.mark.stress
def test_a_feed_of_50000_items_reads_only_the_newest_max_items(engine, server):
    server.routes["/big"] = FeedRoute(rss([Item(f"g{n}", f"T{n}", f"Item {n} of the very long feed text here.",
                                               f"http://wire.test/big/{n}") for n in range(BIG)]))
    add(engine, server, "/big")
    [report] = poll(poller(engine, server, config={"max_items": 50, "max_feed_bytes": 20_000_000})).feeds
    assert report.added == 50 and any("read the first 50" in n for n in report.notes)
    assert not any("malformed" in n for n in report.notes)  # cut on purpose, not broken


def test_one_request_at_a_time_per_host_spaced_by_the_delay(engine, server):
    inflight, peak, lock = [0], [0], threading.Lock()

    def slow(request):
        with lock:
            inflight[0] += 1
            peak[0] = max(peak[0], inflight[0])
        import time
        time.sleep(0.05)
        with lock:
            inflight[0] -= 1
        return Reply(200, {"Content-Type": "application/rss+xml"}, rss([story(int(request.path[2:]))]))

    for n in range(5):
        server.routes[f"/s{n}"] = slow
        add(engine, server, f"/s{n}")
    poll(poller(engine, server, config={"per_host_delay_s": 0.2, "concurrency": 10}))
    times = sorted(r.at for r in server.requests)
    assert peak[0] == 1
    assert all(b - a >= 0.2 for a, b in zip(times, times[1:]))


def test_two_workers_polling_one_store_fetch_each_feed_once(engine, server, tmp_path):
    for n in range(12):
        server.routes[f"/w{n}"] = FeedRoute(rss([story(n)]))
        add(engine, server, f"/w{n}")
    second = Engine(dataclasses.replace(engine.config))  # another process's connection to the same store
    try:
        async def both():
            return await asyncio.gather(poller(engine, server, worker="a").poll_round(every=True, index=False),
                                        poller(second, server, worker="b").poll_round(every=True, index=False))

        a, b = asyncio.run(both())
    finally:
        second.close()
    assert sorted(f.feed_id for f in a.feeds + b.feeds) == sorted(f.id for f in engine.store.feeds())
    assert all(len(server.hits(f"/w{n}")) == 1 for n in range(12))


def test_only_due_feeds_are_polled_unless_every_feed_is_asked_for(engine, server):
    server.routes["/d"] = FeedRoute(rss([story(1)]))
    add(engine, server, "/d")
    assert len(poll(poller(engine, server), every=False).feeds) == 1  # new feeds are due at once
    assert poll(poller(engine, server), every=False).feeds == []  # next poll in 15 minutes
    assert len(poll(poller(engine, server), every=True).feeds) == 1


def test_adding_a_page_finds_its_advertised_feed(engine, server):
    server.routes["/feed.xml"] = FeedRoute(rss([story(1)], title="Found Wire"))
    server.routes["/"] = lambda r: Reply(200, {"Content-Type": "text/html"},
                                         b'<html><head><link rel="alternate" type="application/rss+xml" '
                                         b'href="/feed.xml"></head><body>Home</body></html>')
    server.routes["/plain"] = lambda r: Reply(200, {"Content-Type": "text/html"}, b"<html><body>No feed</body></html>")
    results = asyncio.run(add_feeds(engine, [server.url("/"), server.url("/plain"), "ftp://x.test/f"],
                                    trusted=frozenset({server.netloc})))
    (_, found, said), (_, none, why), (_, ftp, ftp_why) = results
    assert found.url == server.url("/feed.xml") and found.title == "Found Wire" and "found at" in said
    assert none is None and "advertises none" in why
    assert ftp is None and "http" in ftp_why
    [(_, negative, why_not)] = asyncio.run(add_feeds(engine, [server.url("/feed.xml")], interval=-5))
    assert negative is None and "more than 0" in why_not


def test_a_lost_claim_writes_nothing(engine, server):
    server.routes["/c"] = FeedRoute(rss([story(1)]))
    feed = add(engine, server, "/c")
    store = engine.store
    [claimed] = store.claim_feeds("a", "2026-12-01T00:00:00Z", "2026-12-01T00:05:00Z", every=True)
    assert store.claim_feeds("b", "2026-12-01T00:01:00Z", "2026-12-01T00:06:00Z", every=True) == []
    assert store.claim_feeds("b", "2026-12-01T00:05:00Z", "2026-12-01T00:10:00Z", every=True)  # lease over
    from index.feeds import PollOutcome
    assert not store.record_poll(feed.id, "a", PollOutcome(next_poll="2030-01-01T00:00:00Z", ok=True))
    assert store.record_poll(feed.id, "b", PollOutcome(next_poll="2026-12-01T01:00:00Z", ok=True))
    assert store.find_feed(feed.id).next_poll == "2026-12-01T01:00:00Z"


def test_a_feeds_own_hint_still_counts_when_it_answers_304(engine, server):
    server.routes["/ttl"] = FeedRoute(rss([story(1)], ttl=120))
    add(engine, server, "/ttl")
    now = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    poll(poller(engine, server, clock=lambda: now))
    assert engine.store.feeds()[0].next_poll == "2026-12-01T14:00:00Z"
    later = now + timedelta(hours=2)
    [report] = poll(poller(engine, server, clock=lambda: later)).feeds
    assert report.status == "unchanged" and engine.store.feeds()[0].next_poll == "2026-12-01T16:00:00Z"


def test_retry_after_zero_still_waits_the_minimum_interval(engine, server):
    server.routes["/now"] = lambda r: Reply(503, {"Retry-After": "0"})
    add(engine, server, "/now")
    now = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    poll(poller(engine, server, clock=lambda: now))
    assert engine.store.feeds()[0].next_poll == "2026-12-01T12:05:00Z"  # min_interval_minutes


def test_the_same_story_in_another_feed_is_not_fetched_again(engine, server):
    hits = []
    paragraphs = [f"Paragraph {n} of the shared story, long enough to be the page's main text for the store."
                  for n in range(6)]

    def page(request):
        hits.append(request.path)
        return Reply(200, {"Content-Type": "text/html"}, article_page("Shared story", paragraphs))

    server.routes["/story"] = page
    entry = Item("s1", "Shared story", "A short summary.", server.url("/story"))
    server.routes["/a.xml"] = FeedRoute(rss([entry]))
    server.routes["/b.xml"] = FeedRoute(rss([dataclasses.replace(entry, guid="other-guid")]))
    add(engine, server, "/a.xml")
    poll(poller(engine, server))
    add(engine, server, "/b.xml")  # carries the same story, later
    for _ in range(2):
        poll(poller(engine, server))
        for route in ("/a.xml", "/b.xml"):
            server.routes[route].set(server.routes[route].body + b" ")  # changed: read again (200)
    assert len(hits) == 1 and len(articles(engine)) == 1


def test_a_store_failure_for_one_feed_leaves_the_others_polled(engine, server):
    for n in range(3):
        server.routes[f"/f{n}"] = FeedRoute(rss([story(n)]))
        add(engine, server, f"/f{n}")
    record = engine.store.record_poll
    broken = engine.store.feeds()[1].id

    def flaky(feed_id, *args, **kwargs):
        if feed_id == broken:
            raise RuntimeError("database is locked")
        return record(feed_id, *args, **kwargs)

    engine.store.record_poll = flaky
    report = poll(poller(engine, server))
    assert sorted((f.feed_id, f.status) for f in report.feeds) == sorted(
        [(f.id, "error" if f.id == broken else "new") for f in engine.store.feeds()])


def test_a_claim_lost_before_its_turn_is_not_fetched(engine, server):
    feed = add(engine, server, "/late")
    store = engine.store
    store.claim_feeds("a", "2026-12-01T00:00:00Z", "2026-12-01T00:05:00Z", every=True)
    store.claim_feeds("b", "2026-12-01T00:06:00Z", "2026-12-01T00:10:00Z", every=True)  # a's lease ran out
    assert not store.renew_feed_claim(feed.id, "a", "2026-12-01T00:11:00Z")
    assert store.renew_feed_claim(feed.id, "b", "2026-12-01T00:11:00Z")
