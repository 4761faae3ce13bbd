"""Hostile and random input: ingestion never crashes or corrupts the store, and nothing that reaches
Telegram is HTML that Telegram's own parser would refuse (tests/support/botapi.py ports it)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from tests.support.botapi import HtmlError, parse_html
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.render import render_html
from bot.terminal import TerminalChat
from index.config import IngestConfig
from index.ingest import ingest_data, ingest_documents
from index.models import RawDocument
from index.store import SqliteStore

NAMES = ["page.txt", "page.html", "feed.xml", "export.json", "page.htm", "noext"]
CONFIG = IngestConfig(max_file_bytes=2_000_000)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
NASTY = ["\u202e", "\u200f", "\x00", "\x1b[31m", "<b>", "</i>", "&amp;", "&", "<a href='javascript:x'>", "*_`[",
         "\ufeff", "\ud7ff", "🙂", "\r\n", "<blockquote>", "<tg-spoiler>", "<!--", "]]>", "\\"]


@pytest.fixture(scope="module")
def fuzz_store(tmp_path_factory):
    store = SqliteStore(tmp_path_factory.mktemp("fuzz") / "fuzz.db")
    yield store
    store.close()


def accounted(report) -> int:
    return len(report.added) + len(report.duplicates) + len(report.rejected)


@FUZZ
@given(data=st.binary(max_size=4000), name=st.sampled_from(NAMES))
def test_random_bytes_are_saved_or_rejected_never_raised(fuzz_store, data, name):
    report = ingest_data(fuzz_store, data, name, f"fuzz:{name}", CONFIG)
    assert accounted(report) >= 1 or data.strip() == b"" or name == "export.json"
    assert all(r.reason for r in report.rejected)


@pytest.mark.stress
@FUZZ
@given(depth=st.integers(1, 3000), tag=st.sampled_from(["div", "p", "b", "span", "table"]),
       text=st.text(max_size=200))
def test_deeply_nested_html_is_handled(fuzz_store, depth, tag, text):
    page = f"<html><body>{f'<{tag}>' * depth}{text}{f'</{tag}>' * (depth // 2)}"
    report = ingest_data(fuzz_store, page.encode(), "deep.html", "fuzz:deep.html", CONFIG)
    assert accounted(report) == 1


@pytest.mark.parametrize("depth", [10, 10_000, 200_000])
def test_deeply_nested_json_is_rejected_with_a_reason(fuzz_store, depth):
    data = ("[" * depth + "]" * depth).encode()
    report = ingest_data(fuzz_store, data, "export.json", "fuzz:nested.json", CONFIG)
    assert report.added == [] and report.rejected and report.rejected[0].reason


@pytest.mark.parametrize("data,name", [
    ("A storm hit the coast. " * 40_000, "huge-line.txt"),  # one 900 kB line
    ("Title\n\n" + "x" * 500_000, "one-word.txt"),  # a single enormous "word"
    ("Gewitter über Köln. Die Feuerwehr rückte aus.".encode("latin-1"), "latin1.txt"),
    ("A storm hit the coast on Monday. Roads were closed.".encode("utf-16"), "utf16.txt"),
])
def test_huge_lines_and_odd_encodings(fuzz_store, data, name):
    raw = data.encode() if isinstance(data, str) else data
    report = ingest_data(fuzz_store, raw, name, f"fuzz:{name}", CONFIG)
    assert accounted(report) == 1
    assert fuzz_store.integrity_check() == []


@FUZZ
@given(value=st.one_of(st.text(max_size=40), st.integers(), st.floats(allow_nan=True), st.none(),
                       st.lists(st.integers(), max_size=3), st.sampled_from(
                           ["2019-02-30", "31/12/99", "0000-00-00", "9999-12-31T25:61", "yesterday", "1e308",
                            "2019-06-06T08:22:00+14:00", "-0001-01-01", "\u0661\u0669\u0669\u0669"])))
def test_any_date_field_is_stored_as_an_iso_date_or_unknown(fuzz_store, value):
    record = {"title": "Bridge reopens", "date": value, "url": None,
              "text": f"The old bridge reopened on a sunny day after repairs, the council said. {json.dumps(value)}"}
    report = ingest_data(fuzz_store, json.dumps(record).encode(), "export.json", "fuzz:date.json", CONFIG)
    assert accounted(report) == 1
    for article_id in report.added:
        stored = fuzz_store.get(article_id).date
        assert stored is None or date.fromisoformat(stored[:10])


def test_the_fuzzed_store_is_sound(fuzz_store):
    assert fuzz_store.integrity_check() == []


# -- what reaches Telegram ---------------------------------------------------------------------

def assert_telegram_accepts(messages: list[str]) -> None:
    for message in messages:
        try:
            visible, _ = parse_html(message)
        except HtmlError as exc:
            pytest.fail(f"Telegram would refuse: {exc}\n{message[:500]}")
        assert 0 < len(visible) <= 4096


@pytest.fixture(scope="module")
def hostile_engine(tmp_path_factory, embedder):
    """A store whose articles are full of markup, entities and control characters."""
    from tests.support.demo import engine_at

    engine = engine_at(tmp_path_factory.mktemp("hostile") / "hostile.db", embedder)
    docs = []
    for n, junk in enumerate(NASTY):
        docs.append(RawDocument(
            origin=f"hostile:{n}", title=f"Harbour {junk} report {n} <script>alert({n})</script>", date="2026-11-20",
            url=f"https://example.org/{n}?a=1&b=<{n}>",
            text=f"The harbour {junk} report number {n} says the tide rose {junk} by {n} metres & more. "
                 f"Officials <b>said</b> the {junk} wall held. " + "A long sentence about the sea wall. " * n * 8))
    report = ingest_documents(engine.store, docs, IngestConfig())
    assert report.added
    engine.open_index()
    yield engine
    engine.close()


@FUZZ
@given(question=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=300)
       .map(lambda q: q + " harbour report"))
def test_any_question_renders_to_html_telegram_accepts(hostile_engine, question):
    answer = hostile_engine.answer(question, now=date(2026, 11, 25))
    assert_telegram_accepts(render_html(answer))


@pytest.mark.parametrize("question", [q + " harbour report wall" for q in NASTY] + [
    "harbour " * 700,  # a 4,096-character question
    "<b>harbour</b> <i>report</i>", "**harbour** _report_ `wall`", "\u202eharbour report\u202c",
])
def test_hostile_questions_render_to_html_telegram_accepts(hostile_engine, question):
    assert_telegram_accepts(render_html(hostile_engine.answer(question, now=date(2026, 11, 25))))


@pytest.mark.parametrize("line", [
    "/subscribe <b>harbour</b>", "/subscribe " + "x" * 5000, "/subscribe \x00\x1b", "/timeline \u202e harbour",
    "/article <script>", "/article " + "../" * 100, "/unsubscribe <i>", "/latest &amp; harbour",
    "/save " + "\x00" * 10, "/ingest /etc/shadow\x00", "/help \u200f", "/" + "x" * 4000,
])
def test_hostile_terminal_commands_get_an_answer_not_a_crash(hostile_engine, line):
    written: list[str] = []
    chat = TerminalChat(hostile_engine, now=lambda: date(2026, 11, 25), write=written.append)
    assert chat.handle(line) is True
    assert written and all(isinstance(w, str) and w for w in written)


# -- issue 14: huge stored text, rejection floods, one-paragraph megabytes -------------------------

STORED_TEXT = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=200),
    st.builds(lambda piece, n: piece * n, st.sampled_from(NASTY + ["Valdoria Wire ", "&", '"']),
              st.integers(1, 8000)),
)


@FUZZ
@given(title=STORED_TEXT, source=STORED_TEXT, article_id=STORED_TEXT, topic=STORED_TEXT)
def test_any_stored_title_source_or_id_gives_messages_telegram_accepts(title, source, article_id, topic):
    """A 6,000-character channel title once broke /help and /latest for every user."""
    from bot.messages import alert_text, article_page, help_text, latest_text, topics_text
    from index.outbox import OutboxItem
    from index.store.base import ArticleHeader
    from index.topic_match import Topic
    from index.topics import TopicError, parse_topic

    header = ArticleHeader(1, article_id or "x", title, "2026-11-20", source, "https://example.org/a?b=<1>&c")
    stats = {"articles": 3, "first_date": "2019-01-01", "last_date": "2026-11-20",
             "sources": {source or "(unknown)": 2, f"{source} 2": 1}}
    messages = [help_text(stats, False), help_text(stats, True), latest_text([header] * 8),
                article_page(title, "2026-11-20", None, "Body text. " * 50, 0, 3500)[0]]
    try:
        query = parse_topic(topic[:200] + " harbour", 200)
    except TopicError:
        query = parse_topic("harbour", 200)
    messages.append(topics_text([Topic(n, 5, query) for n in range(1, 21)], 0.6))
    messages.append(alert_text(OutboxItem(id=1, chat_id=5, topic=query.raw, quote=title or "q", score=0.7,
                                          delivery="instant", attempts=0, article=header)))
    assert_telegram_accepts(messages)


@pytest.mark.stress
def test_a_flood_of_rejected_records_stays_bounded(tmp_path):
    import gzip

    from index.ingest import ingest_paths
    from index.models import MAX_REJECTIONS_PER_FILE

    flood = tmp_path / "flood.jsonl.gz"
    flood.write_bytes(gzip.compress(b"{}\n" * 200_000 + b"[]\n\n \n" * 50_000 + b'{"text": 5}\n' * 50_000))
    with SqliteStore(tmp_path / "flood.db") as store:
        report = ingest_paths(store, [flood], CONFIG)
        assert store.integrity_check() == []
    assert report.rejected_total == 300_000 and len(report.rejected) == MAX_REJECTIONS_PER_FILE


@pytest.mark.stress
@pytest.mark.timeout(120)
@pytest.mark.parametrize("paragraph", [
    " ".join(f"The council met on day {i} and voted on item {i * 7}." for i in range(100_000)),  # 5.5 MB
    "." * 3_000_000 + " A" + "?!" * 1_000_000 + " B",  # punctuation runs the regex must not rescan
    ("Mr. J. K. U.S. No. 5 \"Yes.\" " * 200_000),  # every candidate boundary is an exception
])
def test_a_one_paragraph_megabyte_file_is_saved(fuzz_store, paragraph):
    report = ingest_data(fuzz_store, ("Title\n\n" + paragraph).encode(), "one.txt", "fuzz:one.txt",
                         IngestConfig(max_file_bytes=20_000_000))
    assert accounted(report) == 1


CODINGS = st.lists(st.sampled_from(["gzip", "x-gzip", "deflate", "identity", "br", "GZIP", " ", "compress"]),
                   max_size=3).map(", ".join)


@FUZZ
@given(coding=CODINGS, layers=st.integers(0, 3), payload=st.binary(max_size=2000), repeat=st.integers(1, 5000))
def test_any_content_encoding_decodes_within_its_limit_or_is_refused(coding, layers, payload, repeat):
    """Stacked, unknown, lying or bomb-like encodings: never more than the limit, only FetchError."""
    import gzip

    from bot.fetch import BoundedDecoder, FetchError

    body = payload * repeat
    for _ in range(layers):
        body = gzip.compress(body)
    limit = 50_000
    try:
        decoder = BoundedDecoder(coding, limit)
        out = b"".join(decoder.feed(body[i:i + 4096]) for i in range(0, len(body), 4096))
    except FetchError:
        return
    assert len(out) <= limit


@FUZZ
@given(data=st.binary(max_size=5000), kind=st.sampled_from(["", "application/rss+xml", "application/json",
                                                            "text/html", "application/feed+json"]))
def test_any_bytes_served_as_a_feed_parse_or_are_refused_with_a_reason(data, kind):
    from index.feeds import FeedError, parse_feed

    try:
        feed = parse_feed(data, kind)
    except FeedError as exc:
        assert str(exc)
        return
    assert all(isinstance(e.key, str) and e.key for e in feed.entries)
