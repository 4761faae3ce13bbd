"""Feed sources in the store, on SQLite and PostgreSQL alike: adding, claiming, recording a poll."""

from __future__ import annotations

from index.feeds import PollOutcome
from index.store import open_store

T0, T1, T2 = "2026-12-01T10:00:00Z", "2026-12-01T10:01:00Z", "2026-12-01T10:10:00Z"


def test_a_feed_is_added_once_and_found_by_id_or_url(store):
    feed, created = store.add_feed("https://wire.test/rss", "Wire", 30.0, now=T0)
    again, created_again = store.add_feed("https://wire.test/rss", now=T1)
    assert created and not created_again and again.id == feed.id
    assert (feed.title, feed.interval, feed.next_poll, feed.enabled) == ("Wire", 30.0, T0, True)
    assert store.find_feed(feed.id) == store.find_feed("https://wire.test/rss") == feed
    assert store.find_feed("https://other.test/") is None and store.find_feed(999) is None


def test_claimed_feeds_are_no_one_elses_until_the_lease_ends(store_location):
    a, b = open_store(store_location), open_store(store_location)  # two workers' connections
    try:
        for n in range(4):
            a.add_feed(f"https://wire.test/{n}", now=T0)
        first = a.claim_feeds("worker-a", T1, T2, limit=3)
        second = b.claim_feeds("worker-b", T1, T2)
        assert len(first) == 3 and len(second) == 1
        assert {f.id for f in first}.isdisjoint({f.id for f in second})
        assert b.claim_feeds("worker-b", T1, T2, every=True) == []
        assert len(b.claim_feeds("worker-b", T2, "2026-12-01T10:20:00Z", every=True)) == 4  # leases over
    finally:
        a.close()
        b.close()


def test_a_poll_result_is_written_by_the_claim_holder_only(store):
    feed, _ = store.add_feed("https://wire.test/rss", now=T0)
    store.claim_feeds("w", T1, T2)
    ok = PollOutcome(next_poll=T2, ok=True, etag='"e1"', last_modified="Tue, 01 Dec 2026 10:00:00 GMT",
                     title="Wire", items=3, new_url="https://wire.test/feed")
    assert not store.record_poll(feed.id, "someone-else", ok)
    assert store.record_poll(feed.id, "w", ok, now=T1)
    polled = store.find_feed(feed.id)
    assert (polled.url, polled.etag, polled.items, polled.last_ok, polled.failures) == \
        ("https://wire.test/feed", '"e1"', 3, T1, 0)
    store.claim_feeds("w", T2, "2026-12-01T11:00:00Z")
    failed = PollOutcome(next_poll="2026-12-01T12:00:00Z", ok=False, error="HTTP 500", disable="gone")
    assert store.record_poll(feed.id, "w", failed)
    polled = store.find_feed(feed.id)
    assert (polled.failures, polled.last_error, polled.enabled, polled.disabled_reason) == (1, "HTTP 500", False, "gone")
    assert store.claim_feeds("w", "2026-12-02T00:00:00Z", "2026-12-02T00:05:00Z", every=True) == []
    assert store.feed_counts() == {"enabled": 0, "disabled": 1, "failing": 0}
    assert store.set_feed_enabled(feed.id, True)
    assert store.find_feed(feed.id).enabled and store.remove_feed(feed.id) and store.feeds() == []


def test_known_article_ids_says_which_ids_are_stored(store, make_article):
    store.save(make_article("Seven words of text in this article here.", id="a1"))
    assert store.known_article_ids(["a1", "a2"]) == {"a1"}
