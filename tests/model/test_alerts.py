"""Topic subscriptions and alert matching, on real demo articles, a real store and the real model."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest
from tests.support.demo import demo_documents

from index.embedding import text_hash
from index.search_index import passage_text
from index.tokenize import tokenize
from index.topic_match import corpus_scores
from index.topics import TopicError

RAIL = {"demo-019", "demo-020", "demo-023", "demo-025"}
QUILLNEST = {"demo-030", "demo-032", "demo-035"}
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


def all_ids():
    return {d.id for d in demo_documents()}


@pytest.fixture
def engine(fresh_engine, store_location):
    """A store (SQLite, and PostgreSQL where the run has one) holding the demo minus the rail strike
    and Quillnest stories, index open."""
    engine = fresh_engine(location=store_location)
    engine.save_documents(demo_documents(all_ids() - RAIL - QUILLNEST))
    engine.open_index()
    return engine


def alerts_of(engine, chat_id=None):
    items = engine.store.due_alerts("9999-12-31T00:00:00Z", limit=1000)
    return [i for i in items if chat_id is None or i.chat_id == chat_id]


def test_a_new_matching_article_gives_one_alert_with_a_verbatim_dated_quote(engine):
    engine.alerts.subscribe(1, "rail strike")
    engine.save_documents(demo_documents({"demo-025"}))
    assert engine.alerts.match_new(NOW) == 1
    [alert] = alerts_of(engine)
    article = engine.store.get("demo-025")
    assert alert.chat_id == 1 and alert.topic == "rail strike"
    assert alert.article.id == "demo-025" and alert.article.date == "2026-10-22"
    assert alert.quote in [s.text for s in article.sentences]
    assert "strike" in alert.quote.lower()


def test_articles_on_other_subjects_give_no_alert(engine):
    engine.alerts.subscribe(1, "rail strike")
    engine.save_documents(demo_documents(QUILLNEST))
    engine.alerts.match_new(NOW)
    assert alerts_of(engine) == []


def test_articles_saved_before_the_subscription_never_alert(engine):
    engine.alerts.subscribe(1, "Kestrel 5G")  # three Kestrel stories are already stored
    engine.save_documents(demo_documents(RAIL))
    engine.alerts.match_new(NOW)
    assert alerts_of(engine) == []


def test_one_article_matching_two_topics_of_a_chat_alerts_once_naming_the_better_topic(engine):
    engine.alerts.subscribe(1, "rail strike")
    engine.alerts.subscribe(1, "Northwind Rail drivers")
    engine.alerts.subscribe(2, "rail strike")
    engine.save_documents(demo_documents({"demo-019"}))  # "Northwind Rail drivers and conductors vote to strike"
    engine.alerts.match_new(NOW)
    alerts = alerts_of(engine)
    assert sorted(a.chat_id for a in alerts) == [1, 2]
    assert next(a for a in alerts if a.chat_id == 1).topic == "Northwind Rail drivers"


def test_matching_again_or_after_a_restart_records_nothing_twice(engine, fresh_engine):
    engine.alerts.subscribe(1, "rail strike")
    engine.save_documents(demo_documents(RAIL))
    first = engine.alerts.match_new(NOW)
    assert first == len(RAIL)
    assert engine.alerts.match_new(NOW) == 0
    # a crash after recording but before the watermark moved would match the batch again
    engine.store.record_alerts([], 0)  # the watermark only moves forward
    assert engine.store.alerts_watermark() == engine.store.max_seq()
    with engine.store._write():
        engine.store._run("UPDATE meta SET value='0' WHERE key='alerts_watermark'")
    assert engine.alerts.match_new(NOW) == 0
    assert len(alerts_of(engine)) == len(RAIL)


def test_excluded_words_and_required_phrases_filter_matches(engine):
    engine.alerts.subscribe(1, "rail strike -pay")  # demo-025 is about the pay rise
    engine.alerts.subscribe(2, 'rail strike "second week"')  # only demo-023 says it
    engine.save_documents(demo_documents(RAIL))
    engine.alerts.match_new(NOW)
    to_1 = {a.article.id for a in alerts_of(engine, 1)}
    to_2 = {a.article.id for a in alerts_of(engine, 2)}
    assert "demo-025" not in to_1 and "demo-020" in to_1
    assert to_2 == {"demo-023"}


def test_muted_topics_are_silent_and_daily_topics_wait_for_the_digest_hour(engine):
    muted, _ = engine.alerts.subscribe(1, "rail strike")
    engine.alerts.set_muted(1, muted.id, True)
    engine.alerts.subscribe(2, "rail strike", delivery="daily")
    engine.save_documents(demo_documents({"demo-020"}))
    engine.alerts.match_new(NOW)
    assert alerts_of(engine, 1) == []
    assert engine.store.due_alerts("2026-11-26T07:59:59Z") == []
    [daily] = engine.store.due_alerts("2026-11-26T08:00:00Z")
    assert daily.chat_id == 2 and daily.delivery == "daily"


def test_a_threshold_raised_to_the_top_stops_alerts_for_that_topic_only(engine):
    strict, _ = engine.alerts.subscribe(1, "rail strike")
    engine.alerts.subscribe(2, "rail strike")
    for _ in range(20):
        engine.alerts.adjust_threshold(1, strict.id, +1)
    assert engine.alerts.topics(1)[0].threshold == 0.95
    engine.save_documents(demo_documents(RAIL))
    engine.alerts.match_new(NOW)
    assert alerts_of(engine, 1) == [] and len(alerts_of(engine, 2)) == len(RAIL)


def test_the_timeline_and_the_alerts_score_an_article_alike(engine):
    engine.alerts.subscribe(1, "rail strike")
    engine.save_documents(demo_documents({"demo-023"}))
    engine.alerts.match_new(NOW)
    article = engine.store.get("demo-023")
    matcher = engine.alerts.matcher()
    index = engine.index.current
    texts = [passage_text(article, p.index, True) for p in article.passages]
    vectors = np.vstack([engine.store.get_vectors(engine.embedder.key, [text_hash(t)])[text_hash(t)] for t in texts])
    [match] = matcher.match(article.seq, [tokenize(t) for t in texts], vectors,
                            index.bm25.term_weights(matcher.vocab), article.text)
    topic = matcher.topics[0]
    whole = corpus_scores(index, topic.query, matcher.vectors[0], engine.config.retrieval)
    # the index holds float16 vectors (retrieval.vector_dtype), alerts use the cached float32 ones
    assert whole[article.seq][0] == pytest.approx(match.score, abs=1e-3)


def test_subscription_limits_and_unusable_topics_are_refused_with_a_reason(engine):
    limit = engine.config.alerts.max_topics_per_chat
    for n in range(limit):
        engine.alerts.subscribe(7, f"topic number {n} harbour")
    with pytest.raises(TopicError, match="most allowed"):
        engine.alerts.subscribe(7, "one too many")
    with pytest.raises(TopicError, match="no searchable words"):
        engine.alerts.subscribe(8, "the and of -harbour")
    again, created = engine.alerts.subscribe(7, "topic   number 0 harbour")
    assert not created and len(engine.alerts.topics(7)) == limit


def test_unsubscribe_by_text_by_number_and_all(engine):
    for topic in ("rail strike", "Quillnest", "Kestrel 5G"):
        engine.alerts.subscribe(1, topic)
    assert engine.alerts.unsubscribe(1, "RAIL strike") == 1
    assert engine.alerts.unsubscribe(1, "2") == 1  # now the second of [Quillnest, Kestrel 5G]
    assert [t.query.raw for t in engine.alerts.topics(1)] == ["Quillnest"]
    assert engine.alerts.unsubscribe(1, "nothing like it") == 0
    assert engine.alerts.unsubscribe(1, "all") == 1


def test_a_deactivated_chat_loses_its_pending_alerts_and_gets_no_new_ones(engine):
    engine.alerts.subscribe(1, "rail strike")
    engine.save_documents(demo_documents({"demo-019"}))
    engine.alerts.match_new(NOW)
    engine.store.set_chat_active(1, False, "Forbidden: bot was blocked by the user")
    assert alerts_of(engine) == []
    assert engine.store.outbox_counts()["dropped"] == 1
    engine.save_documents(demo_documents({"demo-020"}))
    engine.alerts.match_new(NOW)
    assert alerts_of(engine) == []


def test_a_migrated_group_keeps_its_topics_and_pending_alerts(engine):
    engine.alerts.subscribe(-100, "rail strike", kind="group", title="Rail fans")
    engine.save_documents(demo_documents({"demo-019"}))
    engine.alerts.match_new(NOW)
    engine.store.migrate_chat(-100, -100200)
    assert [a.chat_id for a in alerts_of(engine)] == [-100200]
    assert [t.query.raw for t in engine.alerts.topics(-100200)] == ["rail strike"]
    assert engine.alerts.topics(-100) == []
    engine.save_documents(demo_documents({"demo-020"}))
    engine.alerts.match_new(NOW)
    assert sorted(a.article.id for a in alerts_of(engine)) == ["demo-019", "demo-020"]


def test_sent_and_retried_alerts_leave_the_queue_as_recorded(engine):
    engine.alerts.subscribe(1, "rail strike")
    engine.save_documents(demo_documents(RAIL))
    engine.alerts.match_new(NOW)
    first, second, *rest = alerts_of(engine)
    engine.store.mark_sent([first.id])
    engine.store.retry_alerts([second.id], "2026-11-25T12:05:00Z", "timed out")
    due_now = engine.store.due_alerts("2026-11-25T12:01:00Z")
    assert [a.id for a in due_now] == [a.id for a in rest]
    later = engine.store.due_alerts("2026-11-25T12:05:00Z")
    assert second.id in [a.id for a in later] and next(a for a in later if a.id == second.id).attempts == 1
    assert engine.store.outbox_counts()["sent"] == 1


def test_articles_another_process_saved_are_indexed_and_matched_on_refresh(engine, fresh_engine, embedder):
    from tests.support.demo import engine_at

    engine.alerts.subscribe(1, "Quillnest data breach")
    other = engine_at(engine.config.store.path, embedder)  # e.g. `newsbot ingest` while the bot runs
    try:
        other.save_documents(demo_documents(QUILLNEST))
    finally:
        other.close()
    indexed, alerts = engine.refresh()
    assert indexed == 3 and alerts == 3
    assert {a.article.id for a in alerts_of(engine)} == QUILLNEST


def test_the_timeline_counts_matching_articles_by_month(demo_engine):
    timeline = demo_engine.timeline("rail strike", granularity="month")
    counts = {b.start.isoformat(): b.count for b in timeline.buckets}
    assert counts["2026-10-01"] >= 4 and counts.get("2026-09-01", 0) >= 1
    assert timeline.peak.start.isoformat() == "2026-10-01"
    assert "strike" in timeline.peak_item.title.lower()
    assert sum(counts.values()) == timeline.total - timeline.undated - timeline.clipped


def test_a_chat_with_a_backlog_does_not_hold_up_other_chats(engine):
    engine.alerts.subscribe(1, "rail strike")
    engine.alerts.subscribe(2, "rail strike")
    engine.save_documents(demo_documents(RAIL))
    engine.alerts.match_new(NOW)
    due = engine.store.due_alerts("9999-12-31T00:00:00Z", limit=4, per_chat=2)
    assert sorted(a.chat_id for a in due) == [1, 1, 2, 2]


def test_claimed_alerts_are_not_claimed_again_until_their_lease_ends(engine):
    for chat in (1, 2, 3):
        engine.alerts.subscribe(chat, "rail strike")
    engine.save_documents(demo_documents(RAIL))
    engine.alerts.match_new(NOW)
    now, lease = "2026-11-25T12:00:00Z", "2026-11-25T12:02:00Z"
    first = engine.store.claim_alerts("worker-a", now, lease)
    assert sorted(a.chat_id for a in first) == [1, 2, 3]  # one per chat per claim
    assert engine.store.claim_alerts("worker-b", now, lease) == []  # those chats are being sent to
    engine.store.mark_sent([first[0].id])
    engine.store.retry_alerts([first[1].id], now, "timed out")
    again = engine.store.claim_alerts("worker-b", now, lease)
    assert {a.chat_id for a in again} == {first[0].chat_id, first[1].chat_id}
    # worker-a died holding chat 3's alert: after the lease it is claimed again, and sent once
    later = engine.store.claim_alerts("worker-b", "2026-11-25T12:02:00Z", "2026-11-25T12:04:00Z")
    assert first[2].id in [a.id for a in later]
    assert engine.store.outbox_counts()["sent"] == 1


def test_workers_claiming_at_once_share_the_outbox_without_overlap(engine, store_location):
    from concurrent.futures import ThreadPoolExecutor

    from index.store import open_store

    for chat in range(1, 41):
        engine.alerts.subscribe(chat, "rail strike")
    engine.save_documents(demo_documents(RAIL))
    engine.alerts.match_new(NOW)
    stores = [open_store(store_location) for _ in range(3)]  # three workers, three connections

    def drain(n):
        got = []
        while batch := stores[n].claim_alerts(f"w{n}", "2026-11-25T12:00:00Z", "2026-11-25T13:00:00Z", limit=7):
            got += [a.id for a in batch]
            stores[n].mark_sent([a.id for a in batch])
        return got

    try:
        with ThreadPoolExecutor(3) as pool:
            claimed = list(pool.map(drain, range(3)))
    finally:
        for s in stores:
            s.close()
    every = [i for ids in claimed for i in ids]
    assert len(every) == len(set(every)) == 40 * len(RAIL)
    assert engine.store.outbox_counts()["sent"] == 40 * len(RAIL)


# -- topics that learn from the archive and from judgements ------------------------------------
@pytest.fixture
def learning(engine):
    """The engine with the archive large enough to calibrate on (the demo store is small)."""
    from index.topic_profile import ProfileSettings

    engine.alerts.profile_settings = ProfileSettings(min_archive=10, prf_articles=3)
    return engine


def test_a_new_topic_is_calibrated_on_the_archive_and_its_profile_is_stored(learning):
    articles = learning.store.stats()["articles"]
    topic, created = learning.alerts.subscribe(1, "railway strikes")
    assert created and topic.calibrated_on == articles
    assert topic.profile is not None and 0.0 < topic.auto_threshold < 1.0
    text_vector = learning.embedder.encode_query("railway strikes")
    assert not np.allclose(np.frombuffer(topic.profile, np.float32), text_vector)  # moved by the archive
    [stored] = learning.alerts.topics(1)
    assert stored.auto_threshold == topic.auto_threshold and stored.profile == topic.profile


def test_a_calibrated_topic_alerts_on_its_stories_and_not_on_others(learning):
    learning.alerts.subscribe(1, "rail strike")
    learning.save_documents(demo_documents(QUILLNEST | {"demo-025"}))
    learning.alerts.match_new(NOW)
    assert {a.article.id for a in alerts_of(learning)} == {"demo-025"}


def test_a_judgement_is_kept_per_topic_and_article_and_a_second_tap_replaces_it(learning):
    topic, _ = learning.alerts.subscribe(1, "rail strike")
    learning.save_documents(demo_documents({"demo-025"}))
    learning.alerts.match_new(NOW)
    [alert] = alerts_of(learning)
    assert learning.alerts.judge(1, alert.id, 1).topic.liked == 1
    judged = learning.alerts.judge(1, alert.id, -1)
    assert (judged.topic.liked, judged.topic.disliked) == (0, 1)
    assert learning.store.judgements(topic.id) == [(alert.article.seq, -1)]
    assert learning.alerts.judge(2, alert.id, 1) is None  # another chat's alert


def test_why_names_the_topic_words_found_and_missing_and_quotes_the_passage(learning):
    learning.alerts.subscribe(1, "rail strike ballot")
    learning.save_documents(demo_documents({"demo-019"}))
    learning.alerts.match_new(NOW)
    [alert] = alerts_of(learning)
    why = learning.alerts.explain(1, alert.id)
    article = learning.store.get("demo-019")
    assert set(why.found) <= {"rail", "strike", "ballot"} and "strike" in why.found
    assert set(why.found) | set(why.missing) == {"rail", "strike", "ballot"}
    assert why.passage in {p.text for p in article.passages}
    assert why.score >= why.threshold


def test_filters_keep_their_exact_meaning_on_calibrated_topics(learning):
    """Every rail strike story names Northwind and none says "Harbour Line": the plain topic gets
    them, the filtered ones none, however low their calibrated thresholds are."""
    learning.alerts.subscribe(1, "rail strike -Northwind")
    learning.alerts.subscribe(2, '"Harbour Line" strike')
    learning.alerts.subscribe(3, "rail strike")
    learning.save_documents(demo_documents(RAIL))
    learning.alerts.match_new(NOW)
    assert {a.article.id for a in alerts_of(learning, 3)} == RAIL
    assert alerts_of(learning, 1) == [] and alerts_of(learning, 2) == []


def test_a_topic_from_before_profiles_learns_when_its_chat_subscribes_again(learning):
    learning.store.upsert_chat(1)
    learning.store.add_topic(1, "rail strike", "instant", learning.store.max_seq(), 20)  # as an old version did
    [old] = learning.alerts.topics(1)
    assert old.profile is None and old.auto_threshold is None
    topic, created = learning.alerts.subscribe(1, "rail strike")
    assert not created and topic.profile is not None and topic.calibrated_on > 0
