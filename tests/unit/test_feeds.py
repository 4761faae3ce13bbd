"""Feeds as data: formats, entries, discovery, OPML and the polling schedule (no network)."""

from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest

from index.feeds import (
    FeedError,
    Schedule,
    advertised_feeds,
    backoff_minutes,
    cache_max_age_minutes,
    entry_article_id,
    next_interval,
    parse_feed,
    retry_after_minutes,
)
from index.opml import OpmlError, OpmlFeed, read_opml, write_opml
from tests.support.feed_server import Item, atom, json_feed, rss

ITEMS = [Item("g1", "Harbour plan approved", "The council approved the harbour plan.", "http://wire.test/1"),
         Item("g2", "Strike called off", "The rail union called off the strike.", "http://wire.test/2")]


@pytest.mark.parametrize("make,kind", [(rss, "rss20"), (atom, "atom10"), (json_feed, "json1.1")])
def test_rss_atom_and_json_feed_give_the_same_entries(make, kind):
    feed = parse_feed(make(ITEMS))
    assert feed.kind == kind
    assert [(e.key, e.title, e.link) for e in feed.entries] == [(i.guid, i.title, i.link) for i in ITEMS]
    assert [e.text for e in feed.entries] == [i.text for i in ITEMS]
    assert all(e.date and e.date.startswith("2026-11-30") for e in feed.entries)


def test_rss_0_9x_and_1_0_are_feeds_too():
    rss091 = (b'<?xml version="1.0"?><rss version="0.91"><channel><title>Old</title><item><title>A</title>'
              b"<link>http://old.test/a</link><description>An old style item text.</description></item></channel></rss>")
    rdf = (b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
           b'xmlns="http://purl.org/rss/1.0/"><channel rdf:about="http://rdf.test/"><title>RDF</title></channel>'
           b'<item rdf:about="http://rdf.test/a"><title>A</title><link>http://rdf.test/a</link>'
           b"<description>An RSS 1.0 item text.</description></item></rdf:RDF>")
    assert parse_feed(rss091).entries[0].link == "http://old.test/a"
    assert parse_feed(rdf).entries[0].link == "http://rdf.test/a"


def test_an_entry_keeps_its_own_date_and_an_undated_entry_stays_undated():
    feed = parse_feed(rss([Item("a", "Dated", "Some text.", date="Tue, 01 Dec 2026 06:30:00 +0100"),
                           Item("b", "Undated", "Some text.", date=None)]))
    assert [e.date for e in feed.entries] == ["2026-12-01T05:30", None]


def test_the_feeds_update_hints_are_read():
    sy = ("<sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>4</sy:updateFrequency>")
    assert parse_feed(rss(ITEMS, ttl=90)).hint_minutes == 90
    assert parse_feed(rss(ITEMS, extra_channel=sy)).hint_minutes == 360
    assert parse_feed(rss(ITEMS)).hint_minutes is None
    assert cache_max_age_minutes("public, max-age=1800") == 30
    assert cache_max_age_minutes("no-cache") is None


def test_a_summary_only_entry_is_marked_so_its_page_can_be_fetched():
    with_content = atom(ITEMS)  # <content>
    summary_only = rss(ITEMS)  # <description>
    assert not any(e.summary_only for e in parse_feed(with_content).entries)
    assert all(e.summary_only for e in parse_feed(summary_only).entries)


@pytest.mark.parametrize("data,reason", [
    (b"", "empty"),
    (b"<html><head><title>x</title></head><body><p>A page.</p></body></html>", "HTML page"),
    (b"just some words", "not a feed"),
    (b'{"items": []}', "not a JSON Feed"),
    (b"{broken", "not valid JSON"),
    (b"[" * 100_000, "not valid JSON|nested"),
    (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><rss><channel>'
     b"<title>&b;</title></channel></rss>", "entity-expansion"),
])
def test_what_is_not_a_feed_is_refused_with_a_reason(data, reason):
    with pytest.raises(FeedError, match=reason):
        parse_feed(data)


def test_a_truncated_feed_keeps_the_entries_read_and_says_it_was_malformed():
    whole = rss(ITEMS)
    feed = parse_feed(whole[: whole.index(b"</item>") + 7])
    assert [e.key for e in feed.entries] == ["g1"]
    assert any("malformed" in note for note in feed.notes)


def test_non_utf8_feeds_are_decoded_by_their_declared_encoding():
    data = rss([Item("x", "Café society", "Le café était plein à craquer ce matin.")]).replace(
        b'encoding="utf-8"', b'encoding="iso-8859-1"').decode("utf-8").encode("iso-8859-1")
    [entry] = parse_feed(data).entries
    assert entry.title == "Café society" and "était" in entry.text


def test_an_entry_without_guid_or_link_is_keyed_by_its_content():
    a, b = (parse_feed(rss([Item("", "Same", "Same words.")])).entries[0] for _ in range(2))
    assert a.key == b.key and a.key.startswith("h-")
    assert entry_article_id(1, a) == entry_article_id(1, b) != entry_article_id(2, a)


def test_a_page_advertises_its_feeds_in_order_as_absolute_urls():
    page = (b'<html><head><link rel="stylesheet" href="/s.css">'
            b'<link rel="alternate" type="application/rss+xml" title="All" href="/feed.xml">'
            b"<link rel='alternate' type='application/atom+xml' href='https://other.test/atom'>"
            b'<link rel="alternate" type="text/html" href="/fr/"></head></html>')
    assert advertised_feeds(page, "https://site.test/news/") == ["https://site.test/feed.xml", "https://other.test/atom"]


# -- schedule ---------------------------------------------------------------------------------

S = Schedule(interval=15, min_interval=5, max_interval=120, max_backoff=600)


def test_hints_slow_polling_within_bounds_and_never_speed_it_up():
    assert next_interval(S, None) == 15
    assert next_interval(S, None, 60) == 60  # <ttl>60</ttl>
    assert next_interval(S, None, 2) == 15  # a hint does not make us poll more often
    assert next_interval(S, None, 10_000) == 120  # …nor less often than the operator allows
    assert next_interval(S, 30) == 30  # the feed's own interval
    assert next_interval(S, 1) == 5  # bounded below


def test_failures_back_off_exponentially_with_jitter_up_to_a_cap():
    rng = random.Random(1)
    waits = [backoff_minutes(S, None, n, rng) for n in range(1, 8)]
    assert 12 <= waits[0] <= 18 and 24 <= waits[1] <= 36 and 48 <= waits[2] <= 72
    assert max(waits) <= 600
    assert len({round(backoff_minutes(S, None, 3, random.Random(seed)), 3) for seed in range(20)}) > 10


def test_retry_after_is_read_as_seconds_or_a_date():
    now = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    assert retry_after_minutes("120", now) == 2
    assert retry_after_minutes("Tue, 01 Dec 2026 12:30:00 GMT", now) == 30
    assert retry_after_minutes("soon", now) is None and retry_after_minutes(None, now) is None


# -- OPML ------------------------------------------------------------------------------------

def test_opml_round_trip_keeps_every_feed_of_nested_folders():
    data = (b'<?xml version="1.0"?><opml version="2.0"><head><title>mine</title></head><body>'
            b'<outline text="News"><outline text="Wire" type="rss" xmlUrl="http://a.test/rss"/>'
            b'<outline text="Deep"><outline title="B &amp; C" xmlUrl="http://b.test/atom"/></outline></outline>'
            b'<outline text="no feed here"/><outline text="dup" xmlUrl="http://a.test/rss"/></body></opml>')
    feeds = read_opml(data)
    assert feeds == [OpmlFeed("http://a.test/rss", "Wire"), OpmlFeed("http://b.test/atom", "B & C")]
    assert read_opml(write_opml(feeds).encode()) == feeds


@pytest.mark.parametrize("data,reason", [
    (b"<rss/>", "not OPML"), (b"<opml><body>", "not valid XML"),
    (b'<?xml version="1.0"?><!DOCTYPE o [<!ENTITY x "y">]><opml/>', "DOCTYPE"),
])
def test_what_is_not_opml_is_refused(data, reason):
    with pytest.raises(OpmlError, match=reason):
        read_opml(data)


def test_a_huge_feed_is_cut_before_parsing_to_the_entries_that_will_be_read():
    many = [Item(f"g{n}", f"T{n}", f"Text of item {n}.", f"http://wire.test/{n}") for n in range(300)]
    feed = parse_feed(rss(many), max_entries=10)
    assert [e.key for e in feed.entries] == [f"g{n}" for n in range(10)]
    assert feed.notes == ("more than 10 entries; read the first 10 (feeds.max_items)",)
    assert len(parse_feed(atom(many), max_entries=10).entries) == 10
    assert len(parse_feed(rss(many[:10]), max_entries=10).entries) == 10 and not parse_feed(rss(many[:10])).notes


@pytest.mark.parametrize("encode", [
    lambda doc: doc.replace(b"<rss", b"<!--" + b"x" * 70_000 + b"--><rss", 1),  # past a 64 KiB prolog
    lambda doc: doc.decode("utf-8").replace('encoding="utf-8"', 'encoding="utf-16"').encode("utf-16"),
])
def test_an_entity_declaration_is_refused_wherever_and_however_it_is_written(encode):
    bomb = (b'<?xml version="1.0" encoding="utf-8"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><rss version="2.0"><channel><title>&b;</title>'
            b"<item><title>x</title><description>&b;</description></item></channel></rss>")
    with pytest.raises(FeedError, match="entity"):
        parse_feed(encode(bomb))
    opml = encode(b'<?xml version="1.0" encoding="utf-8"?><!DOCTYPE o [<!ENTITY u "http://a.test/">]>'
                  b'<opml version="2.0"><body><outline xmlUrl="&u;"/></body></opml>')
    with pytest.raises(OpmlError, match="DOCTYPE"):
        read_opml(opml)


def test_items_inside_cdata_or_comments_are_not_counted_when_a_feed_is_cut():
    tricky = [Item(f"g{n}", f"T{n}", f"Text <item > and <entry> words {n}.", f"http://wire.test/{n}") for n in range(5)]
    data = rss(tricky).replace(b"<description>", b"<description><![CDATA[").replace(b"</description>",
                                                                                      b"]]><!-- <item> --></description>")
    assert len(parse_feed(data, max_entries=4).entries) == 4


def test_odd_numbers_in_hints_and_headers_are_ignored_not_raised():
    assert parse_feed(rss(ITEMS).replace(b"<link>", b"<ttl>\xc2\xb2</ttl><link>", 1)).hint_minutes is None
    assert retry_after_minutes("²", datetime(2026, 12, 1, tzinfo=timezone.utc)) is None
    assert cache_max_age_minutes("max-age=" + "9" * 400) is None
    assert backoff_minutes(S, None, 5000, random.Random(1)) <= S.max_backoff


def test_rss_and_atom_are_preferred_over_a_plain_json_link():
    page = (b'<link rel="alternate" type="application/json" href="/wp-json/wp/v2/posts">'
            b'<link rel="alternate" type="application/feed+json" href="/feed.json">'
            b'<link rel="alternate" type="application/rss+xml" href="/feed/">')
    assert advertised_feeds(page, "https://blog.test/") == [
        "https://blog.test/feed/", "https://blog.test/feed.json", "https://blog.test/wp-json/wp/v2/posts"]
