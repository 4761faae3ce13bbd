"""The SQLite store: whole articles or nothing, one copy of each story, a change feed."""

from __future__ import annotations

import dataclasses
import sqlite3

import numpy as np
import pytest

from index.models import Sentence
from index.store import SqliteStore, StoreError, open_store
from index.store.schema import MIGRATIONS

TEXT = (
    "A storm hit the northern coast on Thursday, cutting power to thousands of homes. "
    "Officials said the harbour would stay closed until Friday.\n\n"
    "Emergency services said no one had been seriously hurt. Several roads remained closed."
)
OTHER = "The city council approved next year's budget on Tuesday after a long debate about buses."


def test_save_and_get_roundtrip(store, make_article):
    article = make_article(
        TEXT, title="Storm hits coast", date="2019-06-06T08:22", url="https://example.com/storm", source="Example"
    )
    result = store.save(article)
    assert result.added and result.id == article.id

    loaded = store.get(article.id)
    assert loaded is not None
    for name in ("id", "title", "date", "source", "url", "text", "content_hash", "sentences", "passages"):
        assert getattr(loaded, name) == getattr(article, name), name
    assert loaded.seq == 1
    assert loaded.saved_at
    assert [s.text for s in loaded.sentences] == [
        "A storm hit the northern coast on Thursday, cutting power to thousands of homes.",
        "Officials said the harbour would stay closed until Friday.",
        "Emergency services said no one had been seriously hurt.",
        "Several roads remained closed.",
    ]
    assert [s.paragraph for s in loaded.sentences] == [0, 0, 1, 1]
    assert loaded.passages and loaded.passages[0].start == 0 and loaded.passages[-1].end == 4


def test_texts_by_seq_are_the_articles_without_their_sentences(store, make_article):
    seq = store.save(make_article(TEXT, title="Storm hits coast", date="2019-06-06", url="https://example.com/s",
                                  source="Example")).seq
    texts = store.texts_by_seq([seq, seq + 99])
    assert list(texts) == [seq]  # a seq the store lacks is left out
    whole = store.articles_by_seq([seq])[seq]
    for name in ("seq", "id", "title", "date", "source", "url", "text"):
        assert getattr(texts[seq], name) == getattr(whole, name), name
    assert not hasattr(texts[seq], "sentences")


def test_get_unknown_id_is_none(store):
    assert store.get("nope") is None


def test_saving_the_same_article_twice_keeps_one(store, make_article):
    article = make_article(TEXT, title="Storm")
    assert store.save(article).added
    again = store.save(article)
    assert not again.added and again.id == article.id
    assert store.stats()["articles"] == 1


def test_same_url_with_different_text_is_a_duplicate(store, make_article):
    first = make_article(TEXT, url="https://example.com/storm")
    second = make_article(OTHER, url="https://EXAMPLE.com/storm/?utm_source=x#top")  # same page
    assert first.url == second.url
    assert store.save(first).added
    result = store.save(second)
    assert not result.added and result.id == first.id
    assert store.stats()["articles"] == 1


def test_same_text_with_other_spacing_and_case_is_a_duplicate(store, make_article):
    first = make_article(TEXT, id="one")
    second = make_article("  " + TEXT.upper().replace(" ", "   "), id="two")
    assert first.id != second.id and first.url is None and second.url is None
    assert store.save(first).added
    result = store.save(second)
    assert not result.added and result.id == "one"
    assert store.get("two") is None


def test_record_id_is_kept_as_article_id(store, make_article):
    article = make_article(TEXT, id="rtqa-0123456789ab")
    assert store.save(article).id == "rtqa-0123456789ab"
    assert store.get("rtqa-0123456789ab").text == article.text


def test_change_feed(store, make_article):
    texts = [f"Story number {n} tells of a storm that hit coast number {n} on a Thursday." for n in range(5)]
    ids = [store.save(make_article(t, id=f"a{n}")).id for n, t in enumerate(texts)]
    assert store.max_seq() == 5
    assert [a.id for a in store.articles_after(0)] == ids
    assert [a.seq for a in store.articles_after(0)] == [1, 2, 3, 4, 5]
    assert [a.id for a in store.articles_after(3)] == ids[3:]
    assert [a.id for a in store.articles_after(1, limit=2)] == ids[1:3]
    assert store.articles_after(5) == []
    assert all(a.sentences and a.passages for a in store.articles_after(0))
    assert [h.id for h in store.headers()] == ids


def test_max_seq_of_an_empty_store_is_zero(store):
    assert store.max_seq() == 0
    assert store.articles_after(0) == []


def test_stats(store, make_article):
    store.save(make_article(TEXT, id="a", date="2019-06-06", source="Example"))
    store.save(make_article(OTHER, id="b", date="2021-01-02T10:00", source="Example"))
    store.save(make_article("A third story about a bridge that reopened after two years.", id="c"))
    stats = store.stats()
    assert stats["articles"] == 3
    assert stats["undated"] == 1
    assert stats["first_date"] == "2019-06-06"
    assert stats["last_date"] == "2021-01-02T10:00"
    assert stats["sources"] == {"Example": 2, "(unknown)": 1}
    assert stats["sentences"] == 4 + 1 + 1
    assert stats["passages"] == 3
    assert stats["schema_version"] == len(MIGRATIONS)


def test_vectors_roundtrip(store):
    a = np.arange(4, dtype=np.float32)
    b = np.array([0.5, -1.0, 2.0, 3.25], dtype=np.float64)  # stored as float32
    store.put_vectors("model-x", [("h1", a), ("h2", b)])
    found = store.get_vectors("model-x", ["h1", "h2", "missing"])
    assert set(found) == {"h1", "h2"}
    np.testing.assert_array_equal(found["h1"], a)
    np.testing.assert_array_equal(found["h2"], b.astype(np.float32))
    assert found["h2"].dtype == np.float32
    assert store.get_vectors("other-model", ["h1"]) == {}
    store.put_vectors("model-x", [("h1", np.ones(4, dtype=np.float32))])  # replaces
    np.testing.assert_array_equal(store.get_vectors("model-x", ["h1"])["h1"], np.ones(4))


def test_many_vector_lookups_at_once(store):
    store.put_vectors("m", [(f"h{i}", np.full(2, i, dtype=np.float32)) for i in range(1200)])
    found = store.get_vectors("m", [f"h{i}" for i in range(1200)])
    assert len(found) == 1200 and found["h1199"][0] == 1199


def test_a_driver_error_in_a_read_is_a_store_error_naming_the_store(store):
    with store._write():
        store._run("DROP TABLE outbox")
    with pytest.raises(StoreError) as caught:
        store.due_alerts("9999", limit=10, per_chat=1)
    assert store.location() in str(caught.value)
    assert isinstance(caught.value.__cause__, store.DRIVER_ERRORS)


def test_integrity_check_of_a_sound_store_is_empty(store, make_article):
    assert store.integrity_check() == []
    store.save(make_article(TEXT))
    assert store.integrity_check() == []


def test_a_save_that_fails_midway_leaves_nothing(store, make_article):
    article = make_article(TEXT, id="broken")
    bad_sentence = Sentence(index=0, paragraph=0, text=None)  # violates sentences.text NOT NULL
    broken = dataclasses.replace(article, sentences=(bad_sentence, *article.sentences[1:]))
    with pytest.raises(StoreError, match="NOT NULL|null value"):  # the driver's error, as the store's own
        store.save(broken)
    assert store.get("broken") is None
    assert store.stats()["articles"] == 0
    assert store.stats()["sentences"] == 0
    assert store.integrity_check() == []
    # the store is still usable, and the same article saves once it is whole
    assert store.save(article).added
    assert store.get("broken").sentences == article.sentences


def test_reopening_keeps_data_schema_version_and_id(store_location, make_article):
    first = open_store(store_location)
    article = make_article(TEXT, id="kept")
    first.save(article)
    store_id = first.store_id()
    first.close()

    second = open_store(store_location)
    try:
        assert second.schema_version() == len(MIGRATIONS) and second.store_id() == store_id
        assert second.get("kept").text == article.text
        assert second.stats()["articles"] == 1
        assert not second.save(article).added
    finally:
        second.close()


def test_opening_a_file_that_is_not_sqlite_raises_store_error(tmp_path):
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not a database, just some bytes\x00\x01\x02" * 200)
    with pytest.raises(StoreError):
        SqliteStore(path)


def test_open_store_accepts_paths_sqlite_and_postgresql_urls(tmp_path):
    s = open_store(f"sqlite:///{tmp_path / 'url.db'}")
    try:
        assert isinstance(s, SqliteStore) and s.path == tmp_path / "url.db"
    finally:
        s.close()
    with pytest.raises(StoreError, match="unsupported store URL"):
        open_store("mysql://localhost/news")
    with pytest.raises(StoreError, match=r"cannot connect to postgresql://news:\*\*\*@127.0.0.1:9/news"):
        open_store("postgresql://news:secret@127.0.0.1:9/news?connect_timeout=3")


def test_store_creates_missing_parent_folders(tmp_path):
    s = SqliteStore(tmp_path / "a" / "b" / "store.db")
    try:
        assert (tmp_path / "a" / "b" / "store.db").is_file()
    finally:
        s.close()


def test_a_store_from_before_alerts_upgrades_and_treats_its_articles_as_already_seen(tmp_path, make_article):
    """Upgrading must not alert every subscriber about the whole back catalogue."""
    path = tmp_path / "v1.db"
    db = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        db.execute(statement)
    db.execute("INSERT INTO meta VALUES('schema_version', '1')")
    db.execute("INSERT INTO articles(id, title, date, source, url, text, content_hash, saved_at) "
               "VALUES('old', 'Old', NULL, '', NULL, 'old text', 'h', '2020-01-01T00:00:00Z')")
    db.commit()
    db.close()
    with SqliteStore(path) as upgraded:
        assert upgraded.schema_version() == len(MIGRATIONS)
        assert upgraded.alerts_watermark() == 1
        assert upgraded.get("old").title == "Old"


def test_migrate_moves_articles_vectors_and_subscriptions_without_losing_or_repeating_an_alert(
        tmp_path, store_location, make_article):
    """SQLite → the other backend (SQLite again where no PostgreSQL is at hand)."""
    from index.outbox import Alert
    from index.store.migrate import migrate

    source = SqliteStore(tmp_path / "source.db")
    target = open_store(store_location if "://" in store_location else tmp_path / "target.db")
    try:
        source.save(make_article(OTHER, id="gone-before", title="Budget"))
        first = source.save(make_article(TEXT, id="storm", title="Storm", date="2019-06-06"))
        source.put_vectors("m|256", [("h1", np.arange(4, dtype=np.float32))])
        source.upsert_chat(7, "private", "Ann")
        topic_id, _ = source.add_topic(7, "storm harbour", "instant", since_seq=1, limit=5)
        source.record_alerts([Alert(7, first.seq, "storm harbour", "Officials said…", 0.8, "instant",
                                    "2026-01-01T00:00:00Z")], watermark=first.seq)
        [item] = source.due_alerts("2026-01-02T00:00:00Z")
        source.mark_sent([item.id])
        feed, _ = source.add_feed("https://wire.test/rss", "Wire", 30.0)
        source.claim_feeds("w", "2030-01-01T00:00:00Z", "2030-01-01T00:05:00Z")
        from index.feeds import PollOutcome
        source.record_poll(feed.id, "w", PollOutcome(next_poll="2030-01-01T00:15:00Z", ok=True, etag='"e"', items=2))

        counts = migrate(source, target)

        assert counts == {"articles": 2, "vectors": 1, "chats": 1, "topics": 1, "alerts": 1, "feeds": 1}
        [moved] = target.feeds()
        assert (moved.url, moved.title, moved.etag, moved.items, moved.interval) == \
            ("https://wire.test/rss", "Wire", '"e"', 2, 30.0)
        assert target.add_feed("https://wire.test/other")[0].id > moved.id
        assert target.get("storm").sentences == source.get("storm").sentences
        np.testing.assert_array_equal(target.get_vectors("m|256", ["h1"])["h1"], np.arange(4))
        [topic] = target.topics(7)
        assert topic.query == "storm harbour" and topic.since_seq == target.get("gone-before").seq
        assert target.alerts_watermark() == target.get("storm").seq
        assert target.outbox_counts()["sent"] == 1 and target.due_alerts("2027-01-01T00:00:00Z") == []
        new_id, created = target.add_topic(7, "budget", "daily", target.max_seq(), limit=5)
        assert created and new_id > topic_id  # ids go on above the copied ones
        with pytest.raises(StoreError, match="not empty"):
            migrate(source, target)
    finally:
        source.close()
        target.close()


def test_latest_is_the_newest_dated_articles_never_future_ones(store, make_article):
    """/latest reads a few rows by the date index; an article dated in the future (a typo, 2100)
    stays out until its date instead of topping the list forever."""
    for n, date in enumerate(["2026-11-01", "2100-01-01", "2026-11-03T08:00", None, "2026-10-30", "2026-11-02"]):
        store.save(make_article(f"{OTHER} Story number {n} about item {n * 7}.", id=f"a{n}", title=f"T{n}", date=date))
    assert [h.id for h in store.latest(3, now="2026-12-01T09:00")] == ["a2", "a5", "a0"]
    assert [h.id for h in store.latest(10, now="2026-12-01T09:00")] == ["a2", "a5", "a0", "a4", "a3"]
    assert [h.id for h in store.latest(1, now="2100-01-02")] == ["a1"]


def test_latest_on_sqlite_uses_the_date_index_not_a_sort_of_every_article(tmp_path):
    with SqliteStore(tmp_path / "s.db") as store:
        sql, params = store._latest_sql(8, "2026-12-01")
        plan = " ".join(str(row[-1]) for row in store._rows(f"EXPLAIN QUERY PLAN {sql}", params))
    assert "articles_date" in plan and "TEMP B-TREE" not in plan, plan


class _Killed(Exception):
    """Stands for a kill: what was committed stays, nothing after runs."""


def _source_with_sent_alerts(tmp_path, make_article, n=3):
    from index.outbox import Alert

    source = SqliteStore(tmp_path / "source.db")
    seqs = [source.save(make_article(f"{TEXT} Item {i} of {n} about pier {i * 13}.", id=f"s{i}", title=f"S{i}",
                                     date="2019-06-06")).seq for i in range(n)]
    source.upsert_chat(7, "private", "Ann")
    source.add_topic(7, "storm harbour", "instant", since_seq=0, limit=5)
    source.record_alerts([Alert(7, seq, "storm harbour", "Officials said…", 0.8, "instant", "2026-01-01T00:00:00Z")
                          for seq in seqs], watermark=seqs[-1])
    source.mark_sent([i.id for i in source.due_alerts("2026-01-02T00:00:00Z")])
    return source


@pytest.mark.parametrize("kill_at", ["vectors", "chats", "outbox"])
def test_an_interrupted_migrate_leaves_a_store_that_refuses_to_open_and_a_rerun_finishes_it(
        tmp_path, store_location, make_article, kill_at):
    """Killed midway, the target must not pass for a store (its first refresh would alert
    everyone again): it says a migration is in progress, and rerunning migrate starts it over."""
    from index.store.migrate import migrate

    location = store_location if "://" in store_location else str(tmp_path / "target.db")
    source = _source_with_sent_alerts(tmp_path, make_article)
    source.put_vectors("m|256", [("h1", np.arange(4, dtype=np.float32))])

    def killer(stage, n):
        if stage == kill_at:
            raise _Killed

    try:
        with open_store(location, allow_migrating=True) as target, pytest.raises(_Killed):
            migrate(source, target, killer)
        with pytest.raises(StoreError, match="migration .* did not complete"):
            open_store(location)
        with open_store(location, allow_migrating=True) as target:
            counts = migrate(source, target)
        assert counts["articles"] == 3 and counts["alerts"] == 3
        with open_store(location) as target:
            assert target.outbox_counts()["sent"] == 3 and target.due_alerts("2099-01-01T00:00:00Z") == []
            assert target.alerts_watermark() == target.max_seq() == target.get("s2").seq
            assert sorted(a.id for a in target.articles_after(0)) == ["s0", "s1", "s2"]
    finally:
        source.close()


def test_migrate_copies_the_outbox_and_watermark_before_topics(tmp_path, make_article):
    from index.store.migrate import migrate

    source = _source_with_sent_alerts(tmp_path, make_article)
    stages = []
    with source, SqliteStore(tmp_path / "t.db") as target:
        migrate(source, target, lambda stage, n: stages.append(stage))
    order = list(dict.fromkeys(stages))
    assert order.index("outbox") < order.index("watermark") < order.index("topics")


def test_each_migration_is_written_once_and_renders_for_both_backends():
    from index.store.schema import DIALECTS, MIGRATIONS, POSTGRES_MIGRATIONS, STEPS

    assert len(MIGRATIONS) == len(POSTGRES_MIGRATIONS) == len(STEPS)
    for statements in MIGRATIONS + POSTGRES_MIGRATIONS:
        assert not any(placeholder in s for s in statements for placeholder in DIALECTS["sqlite"])
    assert "AUTOINCREMENT" in MIGRATIONS[0][1] and "IDENTITY" in POSTGRES_MIGRATIONS[0][1]


def test_both_backends_implement_every_method_of_the_store_interface():
    """The protocol says what a store is: what the bot, migrate and the poller call is in it."""
    import inspect

    from index.store.base import Store
    from index.store.postgres import PostgresStore

    wanted = {name for name, _ in inspect.getmembers(Store, inspect.isfunction) if not name.startswith("_")}
    for backend in (SqliteStore, PostgresStore):
        missing = {name for name in wanted if not callable(getattr(backend, name, None))}
        assert not missing, (backend.__name__, missing)
    assert {"claim_alerts", "claim_feeds", "iter_vectors", "dump_table", "load_rows", "set_meta", "location",
            "schema_version", "restart_identities"} <= wanted
