"""The Telegram bot, end to end: the real python-telegram-bot Application long-polls a real local
Bot API server over HTTP (tests/support/botapi.py); tests push updates and read what the bot sent."""

from __future__ import annotations

import asyncio
import dataclasses
import html
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from tests.support.bot_harness import running, settled
from tests.support.botapi import LocalBotApi
from bot.services import services_of
from tests.support.demo import demo_documents

from index.config import AlertsConfig, Config, TelegramConfig
from index.models import RawDocument

ADMIN = 4242
USER = 777
GROUP = -1001
RAIL = {"demo-019", "demo-020", "demo-023", "demo-025"}
pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def api():
    with LocalBotApi() as server:
        yield server


@pytest.fixture
def engine(api, fresh_engine):
    """The demo store without the rail strike stories (tests save those to trigger alerts)."""
    config = Config(
        telegram=TelegramConfig(token=api.token, admins=[ADMIN], base_url=api.base_url,
                                base_file_url=api.base_file_url, allow_private_urls=True),
        alerts=AlertsConfig(check_seconds=0.3, retry_base_s=0.2),
    )
    engine = fresh_engine(config=config)
    engine.save_documents(demo_documents({d.id for d in demo_documents()} - RAIL))
    engine.open_index()
    return engine


@pytest.fixture
async def bot(engine, api):
    async with running(engine) as app:
        yield app


def texts_to(api, chat_id):
    return [c.params["text"] for c in api.calls_to("sendMessage", chat_id) if c.status == 200]


async def reply_to(api, chat_id, text, user_id=None, contains="", **extra):
    """Push a message and wait for a new successful reply (containing `contains`) to that chat."""
    before = len(texts_to(api, chat_id))
    api.push_message(chat_id, text, user_id=user_id or chat_id, **extra)
    await api.wait_for(lambda: any(contains in t for t in texts_to(api, chat_id)[before:]), timeout=20)
    return [t for t in texts_to(api, chat_id)[before:] if contains in t][0]


def quotes_in(text):
    return [html.unescape(q) for q in re.findall(r"<blockquote>(.*?)</blockquote>", text, re.S)]


# -- conversation ---------------------------------------------------------------------------

async def test_a_question_is_answered_with_verbatim_quotes_titles_and_dates(bot, api, engine):
    reply = await reply_to(api, USER, "When did Kestrel Mobile sign the 5G deal with Orvane?", contains="<blockquote>")
    article = engine.store.get("demo-005")
    assert "12 Mar 2026" in reply and html.escape(article.title) in reply
    sentences = {s.text for s in article.sentences} | {
        s.text for a in engine.store.articles_by_seq(list(range(1, 60))).values() for s in a.sentences}
    assert quotes_in(reply) and all(q in sentences for q in quotes_in(reply))
    [call] = [c for c in api.calls_to("sendMessage", USER) if c.params["text"] == reply]
    assert call.params["parse_mode"] == "HTML"
    assert call.params["link_preview_options"]["is_disabled"] is True
    assert api.calls_to("sendChatAction", USER) == []  # a quick answer: no "typing…" to count against the limit


async def test_a_slow_answer_shows_typing_while_it_is_worked_out(bot, api, engine, monkeypatch):
    import bot.conversation as conversation

    monkeypatch.setattr(conversation, "TYPING_AFTER_S", 0.2)
    monkeypatch.setattr(conversation, "TYPING_EVERY_S", 0.5)
    quick = engine.answer

    def slow(*args, **kwargs):
        threading.Event().wait(1.3)
        return quick(*args, **kwargs)

    engine.answer = slow
    await reply_to(api, USER, "When did Kestrel Mobile sign the 5G deal with Orvane?", contains="<blockquote>")
    engine.answer = quick
    actions = [c.params["action"] for c in api.calls_to("sendChatAction", USER)]
    assert actions and set(actions) == {"typing"} and 2 <= len(actions) <= 3  # at 0.2 s, 0.7 s, 1.2 s


async def test_article_text_that_looks_like_html_is_escaped(bot, api, engine):
    engine.save_documents([RawDocument(
        origin="test", title="Zorblax <b>merger</b> & <script>alert(1)</script>", date="2026-11-20",
        text="Zorblax agreed to buy Quaffle for <i>12</i> billion crowns & more, the <a href=x>board</a> said on "
             "Friday. The Zorblax deal still needs the regulator's approval.")])
    reply = await reply_to(api, USER, "What did Zorblax agree to buy?", contains="Zorblax")
    assert "&lt;script&gt;" in reply and "&lt;i&gt;12&lt;/i&gt;" in reply
    assert "<script>" not in reply and "<i>12</i>" not in reply
    assert all(c.status == 200 for c in api.calls_to("sendMessage", USER))  # the server parsed every entity


async def test_a_question_nothing_answers_says_so(bot, api):
    reply = await reply_to(api, USER, "Who won the Formula One title on Mars?", contains="")
    assert "Nothing in the store answers that" in reply


async def test_start_and_help_say_what_the_bot_knows_and_admins_see_their_commands(bot, api, engine):
    stats = engine.store.stats()
    user_help = await reply_to(api, USER, "/start", contains="Commands")
    assert f"<b>{stats['articles']:,}</b> articles" in user_help and "/subscribe" in user_help
    assert "/reindex" not in user_help
    admin_help = await reply_to(api, ADMIN, "/help", contains="Commands")
    assert "/reindex" in admin_help


async def test_commands_are_registered_for_everyone_and_admins(bot, api):
    calls = api.calls_to("setMyCommands")
    default = next(c for c in calls if c.params.get("scope", {}).get("type", "default") == "default")
    names = [c["command"] for c in default.params["commands"]]
    assert {"help", "subscribe", "timeline", "topics"} <= set(names) and "reindex" not in names


async def test_more_quotes_come_on_the_button(bot, api):
    reply = await reply_to(api, USER, "What happened at Port Alder harbour?", contains="<blockquote>")
    [call] = [c for c in api.calls_to("sendMessage", USER) if c.params["text"] == reply]
    button = call.params["reply_markup"]["inline_keyboard"][0][0]
    assert button["text"] == "More quotes"
    before = len(texts_to(api, USER))
    api.push_callback(USER, USER, button["callback_data"], api.bot_message_id(USER, quotes_in(reply)[-1][:40]))
    await api.wait_for(lambda: len(texts_to(api, USER)) > before)
    more = texts_to(api, USER)[-1]
    assert quotes_in(more) and not set(quotes_in(more)) & set(quotes_in(reply))


async def test_an_article_is_read_page_by_page(bot, api, engine):
    long_text = "\n\n".join(f"Paragraph {n} of the long Fennick report says the tide rose by {n} cm." * 8
                            for n in range(30))
    engine.save_documents([RawDocument(origin="t", id="long-1", title="The long Fennick report", text=long_text,
                                       date="2026-11-01")])
    first = await reply_to(api, USER, "/article long-1", contains="Fennick")
    assert "page 1 of" in first
    [call] = [c for c in api.calls_to("sendMessage", USER) if c.params["text"] == first]
    next_button = call.params["reply_markup"]["inline_keyboard"][0][-1]
    assert next_button["text"].startswith("Next")
    api.push_callback(USER, USER, next_button["callback_data"], api.bot_message_id(USER, "page 1 of"))
    await api.wait_for(lambda: any(c.status == 200 for c in api.calls_to("editMessageText", USER)))
    edited = [c for c in api.calls_to("editMessageText", USER) if c.status == 200][-1]
    assert "page 2 of" in edited.params["text"]


async def test_timeline_sends_a_chart(bot, api):
    api.push_message(USER, "/timeline harbour flood")
    await api.wait_for(lambda: api.calls_to("sendPhoto", USER))
    [photo] = api.calls_to("sendPhoto", USER)
    assert photo.status == 200 and photo.params["photo"].data.startswith(b"\x89PNG")
    assert "harbour flood" in photo.params["caption"]


async def test_group_chatter_is_not_answered_but_mentions_are(bot, api):
    api.push_message(GROUP, "anyone seen the harbour news?", user_id=USER, chat_type="supergroup")
    reply = await reply_to(api, GROUP, "@newsbot_test_bot what happened at Port Alder harbour?", user_id=USER,
                           chat_type="supergroup", contains="<blockquote>")
    assert reply and len(texts_to(api, GROUP)) == 1


# -- alerts ---------------------------------------------------------------------------------

async def test_subscribe_then_a_matching_article_gives_exactly_one_alert(bot, api, engine):
    confirmation = await reply_to(api, USER, "/subscribe rail strike", contains="Subscribed")
    assert "<b>rail strike</b>" in confirmation
    await asyncio.to_thread(engine.save_documents, demo_documents({"demo-019"}))  # e.g. a CLI ingest
    alert = await reply_to(api, USER, "/help", contains="New on")  # waits for the alert as well
    assert "Northwind Rail drivers and conductors vote to strike" in alert and "28 Sep 2026" in alert
    assert quotes_in(alert)[0] in {s.text for s in engine.store.get("demo-019").sentences}
    await api.wait_for(lambda: engine.store.outbox_counts()["sent"] == 1)
    await settled(api, bot)  # further checks find nothing new
    assert sum("New on" in t for t in texts_to(api, USER)) == 1


async def test_an_alert_recorded_before_a_restart_is_sent_once_after_it(engine, api):
    engine.alerts.subscribe(USER, "rail strike")
    engine.save_documents(demo_documents({"demo-020"}))
    assert engine.refresh()[1] == 1  # recorded, never sent: the process died here
    async with running(engine):
        await api.wait_for(lambda: any("New on" in t for t in texts_to(api, USER)))
    async with running(engine) as app:  # and a second restart sends nothing again
        await settled(api, app)
    assert sum("New on" in t for t in texts_to(api, USER)) == 1
    assert engine.store.outbox_counts() == {"pending": 0, "sending": 0, "sent": 1, "failed": 0, "dropped": 0}


async def test_flood_control_delays_but_neither_loses_nor_repeats(bot, api, engine):
    engine.alerts.subscribe(USER, "rail strike")
    api.fail_next("sendMessage", "429", count=1, retry_after=1)
    await asyncio.to_thread(engine.save_documents, demo_documents({"demo-023"}))
    await api.wait_for(lambda: any("New on" in t for t in texts_to(api, USER)), timeout=20)
    assert [c.status for c in api.calls_to("sendMessage", USER)] == [429, 200]
    reply = await reply_to(api, USER, "What is the rail strike about?", contains="<blockquote>")
    assert reply


async def test_a_chat_that_blocked_the_bot_is_deactivated_not_retried(bot, api, engine):
    engine.alerts.subscribe(USER, "rail strike")
    api.block_chat(USER)
    await asyncio.to_thread(engine.save_documents, demo_documents({"demo-019", "demo-020"}))
    await api.wait_for(lambda: engine.store.chat_active(USER) is False)
    await settled(api, bot)
    assert len(api.calls_to("sendMessage", USER)) == 1  # one refusal, never retried
    # the second article may be matched before or after the chat was deactivated
    assert engine.store.outbox_counts()["dropped"] >= 1 and engine.store.outbox_counts()["sent"] == 0


async def test_a_migrated_group_gets_its_alerts_at_the_new_id(bot, api, engine):
    engine.alerts.subscribe(GROUP, "rail strike", kind="group", title="Rail fans")
    api.migrate_chat(GROUP, -1002)
    await asyncio.to_thread(engine.save_documents, demo_documents({"demo-025"}))
    await api.wait_for(lambda: any("New on" in t for t in texts_to(api, -1002)))
    assert [t.query.raw for t in engine.alerts.topics(-1002)] == ["rail strike"]


async def test_removing_the_bot_from_a_chat_deactivates_it(bot, api, engine):
    engine.alerts.subscribe(GROUP, "rail strike", kind="group")
    api.push_my_chat_member(GROUP, USER, "left", chat_type="group")
    await api.wait_for(lambda: engine.store.chat_active(GROUP) is False)


async def test_topics_buttons_mute_and_remove(bot, api, engine):
    await reply_to(api, USER, "/subscribe Quillnest -football", contains="Subscribed")
    listing = await reply_to(api, USER, "/topics", contains="Your topics")
    assert "Quillnest -football" in listing
    [call] = [c for c in api.calls_to("sendMessage", USER) if c.params["text"] == listing]
    mute = call.params["reply_markup"]["inline_keyboard"][0][0]
    api.push_callback(USER, USER, mute["callback_data"], api.bot_message_id(USER, "Your topics"))
    await api.wait_for(lambda: engine.alerts.topics(USER)[0].muted)
    await api.wait_for(lambda: any("muted" in c.params["text"] for c in api.calls_to("editMessageText", USER)))
    await reply_to(api, USER, "/unsubscribe all", contains="Unsubscribed")
    assert engine.alerts.topics(USER) == []


async def test_only_group_admins_change_a_groups_topics(bot, api, engine):
    reply = await reply_to(api, GROUP, "/subscribe rail strike", user_id=USER, chat_type="group",
                           contains="administrators")
    assert reply and engine.alerts.topics(GROUP) == []
    api.set_member_status(GROUP, USER, "administrator")
    await reply_to(api, GROUP, "/subscribe rail strike", user_id=USER, chat_type="group", contains="Subscribed")
    assert [t.query.raw for t in engine.alerts.topics(GROUP)] == ["rail strike"]


# -- admin ----------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["/reindex", "/save some text", "/stats", "/ingest"])
async def test_admin_commands_refuse_everyone_else(bot, api, engine, command, caplog):
    articles = engine.store.stats()["articles"]
    reply = await reply_to(api, USER, command, contains="only for the bot's admins")
    assert reply
    assert f"refused admin command {command.split()[0]} from user {USER}" in caplog.text
    assert engine.store.stats()["articles"] == articles


async def test_stats_for_an_admin(bot, api, engine):
    engine.store.add_feed("https://wire.example/rss")
    reply = await reply_to(api, ADMIN, "/stats", contains="Outbox")
    assert f"articles {engine.store.stats()['articles']:,}" in reply
    assert "<b>Feeds</b>\npolled 1 · failing 0 · disabled 0" in reply


async def test_reindex_runs_in_the_background_while_questions_are_answered(bot, api, engine):
    gate = threading.Event()
    real_reindex = engine.reindex

    def held_reindex(progress=None, stop=None):  # the rebuild is under way (its index half filled) until released
        def held_progress(n):
            gate.wait(30)
            progress(n)
        real_reindex(held_progress, stop)

    engine.reindex = held_reindex
    await reply_to(api, ADMIN, "/reindex", contains="Reindexing")
    refusal = await reply_to(api, ADMIN, "/reindex", contains="already running")
    assert refusal
    answer = await reply_to(api, USER, "When did Kestrel Mobile sign the 5G deal with Orvane?",
                            contains="<blockquote>")
    assert "12 Mar 2026" in answer
    gate.set()
    await api.wait_for(lambda: any("Reindex done" in c.params["text"] for c in api.calls_to("editMessageText", ADMIN)))
    assert engine.index.current.size == engine.store.stats()["passages"]


async def test_questions_go_to_answer_workers_and_a_reindex_gives_them_the_new_index(api, engine):
    engine.config = dataclasses.replace(
        engine.config, telegram=dataclasses.replace(engine.config.telegram, answer_processes=1))

    def not_here(*args, **kwargs):
        raise AssertionError("answered in the bot's process")

    async with running(engine, timeout_s=30.0) as app:
        s = services_of(app)
        assert s.answers is not None and s.answers.running
        first = set(s.answers._executor._processes)
        in_process, engine.answer = engine.answer, not_here
        reply = await reply_to(api, USER, "When did Kestrel Mobile sign the 5G deal with Orvane?",
                               contains="<blockquote>")
        assert "12 Mar 2026" in reply and html.escape(engine.store.get("demo-005").title) in reply
        await reply_to(api, ADMIN, "/reindex", contains="Reindexing")
        await api.wait_for(lambda: any("Reindex done" in c.params["text"]
                                       for c in api.calls_to("editMessageText", ADMIN)), timeout=60)
        assert set(s.answers._executor._processes).isdisjoint(first)
        again = await reply_to(api, USER, "When did Kestrel Mobile sign the 5G deal with Orvane?",
                               contains="<blockquote>")
        assert again == reply
        engine.answer = in_process


async def test_an_admin_saves_text_a_file_and_a_url(bot, api, engine):
    reply = await reply_to(api, ADMIN, "/save The Ostrava tram line reopened on Monday after a year of works.",
                           contains="Saved")
    assert "Saved 1 new article" in reply

    api.push_document(ADMIN, ADMIN, "harbour.txt",
                      b"Harbour pilots in Port Alder begin a two-day strike\n\nPilots said the strike starts Friday.")
    await api.wait_for(lambda: sum("Saved 1 new" in t for t in texts_to(api, ADMIN)) == 2)

    page = (b"<html><head><title>Glass bridge opens</title>"
            b'<meta property="article:published_time" content="2026-11-21T10:00:00Z"></head><body><article>'
            b"<h1>Glass bridge opens in Kessa Valley</h1><p>The glass footbridge over the Kessa gorge opened to "
            b"walkers on Saturday after three years of construction, the valley council said.</p>"
            b"<p>Tickets cost 5 crowns and the bridge is open from dawn to dusk every day of the year.</p>"
            b"</article></body></html>")
    with _serving(page) as url:
        await reply_to(api, ADMIN, f"/save {url}", contains="Saved 1 new")
    assert engine.store.stats()["articles"] == 32 + 3
    answer = await reply_to(api, USER, "When did the glass footbridge over the Kessa gorge open?",
                            contains="<blockquote>")
    assert "glass footbridge" in answer


async def test_save_refuses_private_addresses_unless_allowed(api, engine):
    strict = dataclasses.replace(engine.config, telegram=dataclasses.replace(engine.config.telegram,
                                                                             allow_private_urls=False))
    engine.config = strict
    async with running(engine):
        reply = await reply_to(api, ADMIN, "/save http://127.0.0.1:9/secret", contains="Not saved")
    assert "private or local address" in reply


class _Page(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):  # noqa: N802 - http.server's naming
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


class _serving:
    def __init__(self, body: bytes):
        self.handler = type("Handler", (_Page,), {"body": body})

    def __enter__(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/news/glass-bridge"

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


async def test_a_forwarded_channel_post_is_saved_with_its_channel_and_date(bot, api, engine):
    origin = {"type": "channel", "date": 1795000000, "message_id": 88,
              "chat": {"id": -100777, "type": "channel", "title": "Valdoria Wire", "username": "valdoriawire"}}
    api.push_message(ADMIN, "Ferry operator Saltwren Lines orders two electric ferries for the Gull Island "
                            "route, the company said on Tuesday.", forward_origin=origin)
    await api.wait_for(lambda: any("Saved 1 new" in t for t in texts_to(api, ADMIN)))
    [saved] = [h for h in engine.store.headers() if h.source == "Valdoria Wire"]
    assert saved.url == "https://t.me/valdoriawire/88" and saved.date.startswith("2026-11-18")


async def test_ingest_reads_the_watched_folder(api, engine, tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "one.txt").write_text("Kessa Valley vineyard wins gold\n\nThe Kessa Valley vineyard Orrin Hill won a "
                                    "gold medal for its white wine on Sunday, the judges said.")
    (folder / "broken.json").write_text("{not json")
    engine.config = dataclasses.replace(engine.config, telegram=dataclasses.replace(engine.config.telegram,
                                                                                   watch_folder=str(folder)))
    async with running(engine):
        api.push_message(ADMIN, "/ingest")
        await api.wait_for(lambda: any("Saved 1 new" in c.params.get("text", "")
                                       for c in api.calls_to("editMessageText", ADMIN)))
    [edit] = [c for c in api.calls_to("editMessageText", ADMIN) if "Saved 1 new" in c.params["text"]]
    assert "1 rejected" in edit.params["text"] and "broken.json" in edit.params["text"]


async def test_flood_control_reaching_the_sender_waits_and_sends_once(api, engine):
    engine.alerts.subscribe(USER, "rail strike")
    async with running(engine, rate_limit_retries=0):  # RetryAfter reaches the outbox sender itself
        api.fail_next("sendMessage", "429", count=1, retry_after=1)
        await asyncio.to_thread(engine.save_documents, demo_documents({"demo-023"}))
        await api.wait_for(lambda: any("New on" in t for t in texts_to(api, USER)), timeout=20)
    statuses = [c.status for c in api.calls_to("sendMessage", USER)]
    assert statuses == [429, 200]
    assert api.calls_to("sendMessage", USER)[1].at - api.calls_to("sendMessage", USER)[0].at >= 0.9
    assert engine.store.outbox_counts()["sent"] == 1


async def test_network_errors_are_retried_until_the_alert_is_delivered_once(bot, api, engine):
    engine.alerts.subscribe(USER, "rail strike")
    api.fail_next("sendMessage", "500", count=2)
    await asyncio.to_thread(engine.save_documents, demo_documents({"demo-020"}))
    await api.wait_for(lambda: any("New on" in t for t in texts_to(api, USER)), timeout=20)
    assert [c.status for c in api.calls_to("sendMessage", USER)] == [500, 500, 200]
    await api.wait_for(lambda: engine.store.outbox_counts()["sent"] == 1)  # marked right after acceptance


async def test_daily_alerts_arrive_as_one_digest(bot, api, engine):
    from index.outbox import Alert

    engine.store.upsert_chat(USER)
    engine.save_documents(demo_documents(RAIL))
    seqs = [engine.store.get(i).seq for i in sorted(RAIL)]
    engine.store.record_alerts([Alert(USER, seq, "rail strike", f"Quote {seq}.", 0.8, "daily", "2026-01-01T08:00:00Z")
                                for seq in seqs], engine.store.alerts_watermark())
    await api.wait_for(lambda: any("daily digest" in t for t in texts_to(api, USER)))
    [digest] = [t for t in texts_to(api, USER) if "daily digest" in t]
    assert "4 new articles" in digest and digest.count("<blockquote>") == 4
    await api.wait_for(lambda: engine.store.outbox_counts()["sent"] == 4)


async def test_a_user_asking_too_fast_is_told_once_to_wait(api, engine):
    engine.config = dataclasses.replace(engine.config, telegram=dataclasses.replace(engine.config.telegram,
                                                                                   questions_per_minute=2))
    async with running(engine) as app:
        for _ in range(2):
            await reply_to(api, USER, "What happened at Port Alder harbour?", contains="<blockquote>")
        refusal = await reply_to(api, USER, "And the rail strike?", contains="faster")
        assert "Please wait" in refusal
        api.push_message(USER, "And the ferry?")
        await reply_to(api, ADMIN, "What happened at Port Alder harbour?", contains="<blockquote>")  # admins exempt
        await api.wait_for(lambda: services_of(app).refused == 2)  # the fourth question was handled: refused
    assert len(texts_to(api, USER)) == 3  # two answers and one refusal: the fourth question got silence


async def test_a_file_from_someone_else_is_refused_and_their_forwarded_text_is_a_question(bot, api, engine, caplog):
    articles = engine.store.stats()["articles"]
    api.push_document(USER, USER, "story.txt", b"Harbour pilots strike\n\nPilots in Port Alder began a strike.")
    await api.wait_for(lambda: any("only for the bot's admins" in t for t in texts_to(api, USER)))
    origin = {"type": "user", "date": 1795000000, "sender_user": {"id": 9, "is_bot": False, "first_name": "Eve"}}
    answer = await reply_to(api, USER, "What happened at Port Alder harbour?", contains="<blockquote>",
                            forward_origin=origin)
    assert answer and engine.store.stats()["articles"] == articles
    assert f"from user {USER}" in caplog.text


# -- hardening (issue 14) ----------------------------------------------------------------------

async def test_a_huge_title_and_source_break_neither_help_nor_latest_and_the_future_waits(bot, api, engine):
    """One saved feed with a 6,000-character channel title must not make /help and /latest "too
    long" for everyone; a story dated 2100 does not sit on top of /latest."""
    huge = "Valdoria <Wire> & Co " * 300
    engine.save_documents([
        RawDocument(origin="t", id="huge-1", title=huge, source=huge, date="2026-11-20",
                    text="The Fennick ferry sailed on time for the first time this month, the operator said."),
        RawDocument(origin="t", id="typo-2100", title="Harbour reopens", source="Typo Times", date="2100-01-01",
                    text="The harbour at Fennick reopened after the storm, the port authority said on Monday."),
    ])
    help_reply = await reply_to(api, USER, "/help", contains="Commands")
    assert "&lt;Wire&gt; &amp; Co" in help_reply and len(help_reply) <= 4096
    latest = await reply_to(api, USER, "/latest", contains="Newest stories")
    assert "huge-1" in latest and "typo-2100" not in latest and len(latest) <= 4096


async def test_every_command_counts_against_the_per_user_limit(api, engine):
    """/help and /latest cost the store work: a user sending them in a flood is told once to wait,
    then ignored, while another user is answered at once."""
    engine.config = dataclasses.replace(engine.config, telegram=dataclasses.replace(engine.config.telegram,
                                                                                   questions_per_minute=3))
    async with running(engine) as app:
        for command in ("/help", "/latest", "/topics"):
            await reply_to(api, USER, command)
        refusal = await reply_to(api, USER, "/help", contains="Please wait")
        for command in ("/latest", "/help", "/article x", "/subscribe ferries"):
            api.push_message(USER, command)
        await reply_to(api, 555, "/help", contains="Commands")
        await api.wait_for(lambda: services_of(app).refused == 5)  # every one of the flood was handled
    assert "faster" in refusal and len(texts_to(api, USER)) == 4
    assert engine.alerts.topics(USER) == []


async def test_help_reads_the_store_stats_once_for_many_users(api, engine):
    calls = []
    stats = engine.store.stats

    def counted():
        calls.append(1)
        return stats()

    engine.store.stats = counted
    async with running(engine):
        for user in range(1000, 1010):
            await reply_to(api, user, "/help", contains="Commands")
    assert len(calls) == 1


async def test_a_refused_subscribe_embeds_nothing(api, engine):
    """The per-chat cap is checked before the topic is embedded and its vector cached."""
    engine.config = dataclasses.replace(engine.config, alerts=dataclasses.replace(engine.config.alerts,
                                                                                 max_topics_per_chat=1))
    engine.alerts.config = engine.config
    engine.alerts.subscribe(USER, "ferries")
    before = engine.store._one("SELECT COUNT(*) FROM embeddings")[0]
    async with running(engine):
        for n in range(3):
            await reply_to(api, USER, f"/subscribe harbour number {n} pilots", contains="most allowed")
    assert engine.store._one("SELECT COUNT(*) FROM embeddings")[0] == before


@pytest.mark.parametrize("data", ["art:99999999999999999999999:0", "art:1:abc", "art:", "more", "more:nothing",
                                  "t:mute:99999999999999999999999", "t:", "garbage", "x" * 64])
async def test_every_button_press_is_answered_even_with_forged_data(bot, api, data):
    """Malformed callback data must neither raise nor leave the button spinning."""
    update = api.push_callback(USER, USER, data, 1)
    query_id = update["callback_query"]["id"]
    await api.wait_for(lambda: any(c.params.get("callback_query_id") == query_id and c.status == 200
                                   for c in api.calls_to("answerCallbackQuery")))


# -- alerts that learn ------------------------------------------------------------------------
async def _alert_with_buttons(api, engine, article="demo-019"):
    await reply_to(api, USER, "/subscribe rail strike", contains="Subscribed")
    await asyncio.to_thread(engine.save_documents, demo_documents({article}))
    await api.wait_for(lambda: any("New on" in c.params["text"] for c in api.calls_to("sendMessage", USER)
                                   if c.status == 200), timeout=20)
    [call] = [c for c in api.calls_to("sendMessage", USER) if c.status == 200 and "New on" in c.params["text"]]
    return call.params["reply_markup"]["inline_keyboard"][0], api.bot_message_id(USER, "New on")


async def test_an_alert_carries_like_dislike_and_why_buttons_and_a_like_is_answered_in_place(bot, api, engine):
    buttons, message_id = await _alert_with_buttons(api, engine)
    assert [b["text"] for b in buttons] == ["👍", "👎", "❔ why"]
    assert all(len(b["callback_data"].encode()) < 64 for b in buttons)
    api.push_callback(USER, USER, buttons[0]["callback_data"], message_id)
    await api.wait_for(lambda: api.calls_to("editMessageReplyMarkup", USER))
    edited = api.calls_to("editMessageReplyMarkup", USER)[-1].params["reply_markup"]["inline_keyboard"][0]
    assert edited[0]["text"] == "👍 ✓"
    [topic] = engine.alerts.topics(USER)
    assert (topic.liked, topic.disliked) == (1, 0)
    listing = await reply_to(api, USER, "/topics", contains="Your topics")
    assert "1 👍 0 👎" in listing


async def test_a_disliked_story_no_longer_reaches_its_topic(bot, api, engine):
    buttons, message_id = await _alert_with_buttons(api, engine)
    item = engine.store.alert_item(int(buttons[1]["callback_data"].rsplit(":", 1)[1]))
    api.push_callback(USER, USER, buttons[1]["callback_data"], message_id)
    await api.wait_for(lambda: engine.alerts.topics(USER)[0].disliked == 1)
    before = item.score
    now = engine.alerts.explain(USER, item.id)  # the story scored against the topic as it is now
    assert now.score < now.threshold <= before
    listing = await reply_to(api, USER, "/topics", contains="Your topics")
    assert "0 👍 1 👎" in listing and "learned threshold" in listing


async def test_why_shows_the_topic_words_found_and_the_passage_that_matched(bot, api, engine):
    buttons, message_id = await _alert_with_buttons(api, engine)
    api.push_callback(USER, USER, buttons[2]["callback_data"], message_id)
    await api.wait_for(lambda: any("Why this matched" in t for t in texts_to(api, USER)))
    why = next(t for t in texts_to(api, USER) if "Why this matched" in t)
    assert "Topic words found: rail, strike" in why
    passage = quotes_in(why)[0]
    assert passage.split(". ")[0] in engine.store.get("demo-019").text
    # the same as a reply to the alert
    alert = api._messages[(USER, message_id)]
    before = sum("Why this matched" in t for t in texts_to(api, USER))
    api.push_message(USER, "/why", reply_to_message=alert)
    await api.wait_for(lambda: sum("Why this matched" in t for t in texts_to(api, USER)) == before + 1)
    hint = await reply_to(api, USER, "/why", contains="Reply /why")
    assert "❔" in hint


def test_the_bots_mention_is_no_part_of_the_question():
    from bot.conversation import without_mention

    assert without_mention("@newsbot_test_bot what happened at Port Alder harbour?", "newsbot_test_bot") \
        == "what happened at Port Alder harbour?"
    assert without_mention("What did @NewsBot_Test_Bot say?", "newsbot_test_bot") == "What did say?"
    assert without_mention("mail me@newsbot_test_bot.example", "newsbot_test_bot") == "mail me@newsbot_test_bot.example"
    assert without_mention("  no mention  ", None) == "no mention"
