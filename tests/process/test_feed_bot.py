"""Feeds through the Telegram bot: the real Application against the local Bot API server, the
real poller against a real feed server on 127.0.0.1, the real store and index."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timezone
from email.utils import format_datetime

import pytest
from tests.support.bot_harness import running
from tests.support.botapi import LocalBotApi
from tests.support.demo import demo_documents
from tests.support.feed_server import FeedRoute, FeedServer, Item, Reply, rss

from index.config import AlertsConfig, Config, FeedsConfig, TelegramConfig

ADMIN = 4242
USER = 777
RAIL = {"demo-019", "demo-020", "demo-023", "demo-025"}
pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]


@pytest.fixture
def api():
    with LocalBotApi() as server:
        yield server


@pytest.fixture
def feeds():
    with FeedServer() as server:
        yield server


@pytest.fixture
def engine(api, fresh_engine):
    config = Config(
        telegram=TelegramConfig(token=api.token, admins=[ADMIN], base_url=api.base_url,
                                base_file_url=api.base_file_url),
        alerts=AlertsConfig(check_seconds=0.3, retry_base_s=0.2),
        feeds=FeedsConfig(check_seconds=0.3, per_host_delay_s=0.0, allow_private_urls=True, timeout_s=5.0,
                          max_failures=2, full_text="never"),
    )
    engine = fresh_engine(config=config)
    engine.save_documents(demo_documents({d.id for d in demo_documents()} - RAIL))
    engine.open_index()
    return engine


def as_item(doc) -> Item:
    when = datetime.fromisoformat(doc.date[:10]).replace(hour=9, tzinfo=timezone.utc)
    return Item(guid=doc.id, title=doc.title, text=doc.text, link=doc.url, date=format_datetime(when, usegmt=True))


def texts_to(api, chat_id):
    return [c.params["text"] for c in api.calls_to("sendMessage", chat_id) if c.status == 200]


def alerts_to(api, chat_id):
    return [t for t in texts_to(api, chat_id) if "New on" in t]


async def test_a_new_item_in_a_polled_feed_alerts_its_subscriber_once_also_across_a_restart(engine, api, feeds):
    rail = [as_item(d) for d in demo_documents(RAIL)]
    route = feeds.routes["/rail.xml"] = FeedRoute(rss(rail[1:2], title="Northwind Rail News"))
    engine.store.add_feed(feeds.url("/rail.xml"))
    async with running(engine):
        await api.wait_for(lambda: engine.store.feeds()[0].last_ok is not None, timeout=30)  # the backlog is in
        api.push_message(USER, "/subscribe rail strike")
        await api.wait_for(lambda: any("Subscribed" in t for t in texts_to(api, USER)))
        route.set(rss(rail[:2], title="Northwind Rail News"))  # the publisher adds one story
        engine.store.set_feed_enabled(engine.store.feeds()[0].id, True)  # due now, not in 15 minutes
        await api.wait_for(lambda: alerts_to(api, USER), timeout=60)
    [alert] = alerts_to(api, USER)
    assert "Northwind Rail drivers and conductors vote to strike" in alert and "28 Sep 2026" in alert
    assert engine.store.get("demo-019") is None  # the feed's own id, not the demo export's
    assert {h.source for h in engine.store.headers()} >= {"Northwind Rail News"}

    polls = len(feeds.hits("/rail.xml"))
    async with running(engine):  # restart: the feed is polled again (reordered), nothing is sent again
        route.set(rss(rail[1::-1], title="Northwind Rail News"))
        engine.store.set_feed_enabled(engine.store.feeds()[0].id, True)
        await api.wait_for(lambda: len(feeds.hits("/rail.xml")) > polls and engine.store.feeds()[0].next_poll
                           > datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), timeout=30)
        await api.wait_for(lambda: engine.store.outbox_counts()["pending"] == 0)
    assert len(alerts_to(api, USER)) == 1
    assert engine.store.outbox_counts()["sent"] == 1


async def test_admins_add_list_and_remove_feeds_others_are_refused(engine, api, feeds):
    feeds.routes["/wire.xml"] = FeedRoute(rss([as_item(d) for d in demo_documents({"demo-025"})], title="Wire"))
    feeds.routes["/"] = lambda r: Reply(200, {"Content-Type": "text/html"},
                                        b'<html><head><link rel="alternate" type="application/rss+xml" '
                                        b'href="/wire.xml"></head><body>home</body></html>')
    async with running(engine):
        api.push_message(USER, f"/feed {feeds.url('/')}")
        await api.wait_for(lambda: any("only for the bot's admins" in t for t in texts_to(api, USER)))
        api.push_message(ADMIN, f"/feed {feeds.url('/')} 30")
        await api.wait_for(lambda: any("Polling it now" in t for t in texts_to(api, ADMIN)))
        [feed] = engine.store.feeds()
        assert feed.url == feeds.url("/wire.xml") and feed.interval == 30
        await api.wait_for(lambda: engine.store.feeds()[0].items == 1, timeout=30)

        api.push_message(ADMIN, "/feeds")
        await api.wait_for(lambda: any("feed(s)</b>" in t for t in texts_to(api, ADMIN)))
        [listing] = [c for c in api.calls_to("sendMessage", ADMIN) if "feed(s)</b>" in c.params["text"]]
        assert "Wire" in listing.params["text"] and "1 saved" in listing.params["text"]
        buttons = [b for row in listing.params["reply_markup"]["inline_keyboard"] for b in row]
        remove = next(b for b in buttons if b["callback_data"] == f"fd:rm:{feed.id}")
        message_id = api.bot_message_id(ADMIN, "feed(s)")

        api.push_callback(ADMIN, USER, remove["callback_data"], message_id)  # someone else presses it
        await api.wait_for(lambda: api.calls_to("answerCallbackQuery"))
        assert engine.store.feeds() != []
        api.push_callback(ADMIN, ADMIN, remove["callback_data"], message_id)
        await api.wait_for(lambda: engine.store.feeds() == [])
        await api.wait_for(lambda: len(api.calls_to("answerCallbackQuery")) == 2)


async def test_an_opml_file_sent_by_an_admin_imports_its_feeds(engine, api, feeds):
    opml = (f'<?xml version="1.0"?><opml version="2.0"><body><outline text="News">'
            f'<outline text="A" xmlUrl="{feeds.url("/a.xml")}"/><outline text="B" xmlUrl="{feeds.url("/b.xml")}"/>'
            f"</outline></body></opml>").encode()
    async with running(engine):
        api.push_document(ADMIN, ADMIN, "subscriptions.opml", opml, mime_type="text/x-opml")
        await api.wait_for(lambda: any("Imported 2 feed(s)" in t for t in texts_to(api, ADMIN)))
    assert sorted(f.url for f in engine.store.feeds()) == [feeds.url("/a.xml"), feeds.url("/b.xml")]


async def test_admins_are_told_once_when_a_feed_is_disabled(engine, api, feeds):
    feeds.routes["/dead.xml"] = lambda r: Reply(410)
    engine.store.add_feed(feeds.url("/dead.xml"))
    async with running(engine):
        await api.wait_for(lambda: any("Feed disabled" in t for t in texts_to(api, ADMIN)), timeout=30)
        engine.store.set_feed_enabled(engine.store.feeds()[0].id, False, "still gone")
    assert sum("Feed disabled" in t for t in texts_to(api, ADMIN)) == 1
    assert len(feeds.hits("/dead.xml")) == 1
