"""LocalBotApi behaves as Telegram does, seen through the real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import datetime as dtm
import struct
import time
import zlib
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from tests.support.botapi import LocalBotApi, Upload, parse_html
from telegram import (
    Bot,
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes
from telegram.request import HTTPXRequest

CHAT = 42


@pytest.fixture
def api() -> Iterator[LocalBotApi]:
    with LocalBotApi() as server:
        server.max_poll_seconds = 0.5
        yield server


def make_bot(api: LocalBotApi, **request: float) -> Bot:
    """A real PTB Bot pointed at the local server; request sets HTTPXRequest timeouts."""
    return Bot(
        api.token,
        base_url=api.base_url,
        base_file_url=api.base_file_url,
        request=HTTPXRequest(**request) if request else None,
    )


@pytest.fixture
async def bot(api: LocalBotApi) -> AsyncIterator[Bot]:
    async with make_bot(api) as client:
        yield client


def png(width: int, height: int) -> bytes:
    """A valid 8-bit greyscale PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(range(width)) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


# -- identity and routing ------------------------------------------------------------------------------------------


async def test_get_me_returns_the_configured_bot(api: LocalBotApi, bot: Bot) -> None:
    me = await bot.get_me()

    assert (me.id, me.username, me.is_bot) == (123456, "newsbot_test_bot", True)
    assert bot.username == "newsbot_test_bot"  # initialize() already asked
    assert [c.method for c in api.calls] == ["getMe", "getMe"]
    assert all(c.status == 200 for c in api.calls)


async def test_an_unknown_token_is_unauthorized(api: LocalBotApi) -> None:
    with pytest.raises(InvalidToken, match="was rejected by the server"):
        async with Bot("999:WRONG", base_url=api.base_url):
            pass

    assert api.calls[-1].status == 401


async def test_an_unknown_method_is_not_found(api: LocalBotApi, bot: Bot) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendTelepathy", api_kwargs={"chat_id": CHAT})

    assert api.calls[-1].method == "sendTelepathy" and api.calls[-1].status == 404


async def test_method_names_are_case_insensitive_like_telegram(api: LocalBotApi, bot: Bot) -> None:
    await bot.do_api_request("SENDMESSAGE", api_kwargs={"chat_id": CHAT, "text": "hi"})

    assert api.sent_texts(CHAT) == ["hi"]


# -- sending and recording ---------------------------------------------------------------------------------------------


async def test_send_message_is_recorded_with_decoded_params(api: LocalBotApi, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("More", callback_data="more:1")]])

    sent = await bot.send_message(
        CHAT, "123", reply_markup=keyboard, link_preview_options=LinkPreviewOptions(is_disabled=True)
    )

    (call,) = api.calls_to("sendMessage", chat_id=CHAT)
    assert call.params["chat_id"] == CHAT
    assert call.params["text"] == "123"  # text stays a string even when it looks like JSON
    assert call.params["reply_markup"] == {"inline_keyboard": [[{"text": "More", "callback_data": "more:1"}]]}
    assert call.params["link_preview_options"] == {"is_disabled": True}
    assert call.status == 200
    assert sent.text == "123" and sent.chat.id == CHAT and sent.from_user.id == 123456
    assert sent.reply_markup == keyboard


async def test_message_ids_count_per_chat(api: LocalBotApi, bot: Bot) -> None:
    first = await bot.send_message(CHAT, "one")
    second = await bot.send_message(CHAT, "two")
    other = await bot.send_message(7, "elsewhere")

    assert (first.message_id, second.message_id, other.message_id) == (1, 2, 1)
    assert api.sent_texts() == ["one", "two", "elsewhere"]
    assert api.sent_texts(CHAT) == ["one", "two"]


async def test_html_is_parsed_into_entities_with_utf16_offsets(bot: Bot) -> None:
    sent = await bot.send_message(
        CHAT, '😀 <b>bold</b> <a href="https://example.com/a?b=1&amp;c=2">link</a> &lt;x&gt;', parse_mode=ParseMode.HTML
    )

    assert sent.text == "😀 bold link <x>"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 3, 4), ("text_link", 8, 4)]
    assert sent.entities[1].url == "https://example.com/a?b=1&c=2"


@pytest.mark.parametrize(
    ("html", "description"),
    [
        ("Prices < 5 euros", 'Unsupported start tag "" at byte offset 7'),
        ("See <https://x.org>", 'Unsupported start tag "https://x.org" at byte offset 4'),
        ("<b>bold</i>", 'Unmatched end tag at byte offset 7, expected "</b>", found "</i>"'),
        ("<b>never closed", 'Can\'t find end tag corresponding to start tag "b"'),
        ("line<br>break", 'Unsupported start tag "br" at byte offset 4'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("é</i>", "Unexpected end tag at byte offset 2"),
    ],
)
async def test_malformed_html_is_refused_as_telegram_refuses_it(
    api: LocalBotApi, bot: Bot, html: str, description: str
) -> None:
    with pytest.raises(BadRequest) as refused:
        await bot.send_message(CHAT, html, parse_mode=ParseMode.HTML)

    (call,) = api.calls_to("sendMessage")
    assert (call.status, call.description) == (400, f"Bad Request: can't parse entities: {description}")
    assert refused.value.message.lower() == f"can't parse entities: {description}".lower()  # PTB recases it
    assert api.sent_texts() == []


async def test_a_bare_ampersand_passes_as_in_telegram(bot: Bot) -> None:
    sent = await bot.send_message(CHAT, "<i>AT&T</i> &nbsp;", parse_mode=ParseMode.HTML)

    assert sent.text == "AT&T &nbsp;"


def test_every_allowed_tag_parses() -> None:
    html = (
        "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s><strike>k</strike><del>d</del>"
        '<span class="tg-spoiler">p</span><tg-spoiler>t</tg-spoiler><a href="https://x.org">a</a><code>c</code>'
        '<pre><code class="language-py">x</code></pre><blockquote>q</blockquote><blockquote expandable>w</blockquote>'
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>'
    )

    text, entities = parse_html(html)

    assert text == "bsieunskdptacxqw👍"
    assert [e["type"] for e in entities] == [
        "bold", "bold", "italic", "italic", "underline", "underline", "strikethrough", "strikethrough",
        "strikethrough", "spoiler", "spoiler", "text_link", "code", "pre", "blockquote", "expandable_blockquote",
        "custom_emoji",
    ]  # fmt: skip
    assert entities[13]["language"] == "py"


async def test_the_length_limit_counts_visible_text(api: LocalBotApi, bot: Bot) -> None:
    await bot.send_message(CHAT, "<b>" + "x" * 4096 + "</b>", parse_mode=ParseMode.HTML)

    with pytest.raises(BadRequest, match="^Message is too long$"):
        await bot.send_message(CHAT, "x" * 4097)
    with pytest.raises(BadRequest, match="^Message is too long$"):
        await bot.send_message(CHAT, "&amp;" * 4097, parse_mode=ParseMode.HTML)
    assert [c.status for c in api.calls_to("sendMessage")] == [200, 400, 400]


@pytest.mark.parametrize("text", ["", "   \n", "<b></b>"])
async def test_empty_text_is_refused(bot: Bot, text: str) -> None:
    with pytest.raises(BadRequest, match="^Message text is empty$"):
        await bot.send_message(CHAT, text, parse_mode=ParseMode.HTML)


# -- editing, deleting, callbacks ------------------------------------------------------------------------------------


async def test_edit_message_text_returns_the_edited_message(bot: Bot) -> None:
    sent = await bot.send_message(CHAT, "draft")

    edited = await bot.edit_message_text("<b>final</b>", CHAT, sent.message_id, parse_mode=ParseMode.HTML)

    assert isinstance(edited, Message)
    assert (edited.message_id, edited.text, edited.entities[0].type) == (sent.message_id, "final", "bold")
    assert edited.edit_date is not None


async def test_an_identical_edit_is_not_modified(bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Go", callback_data="go")]])
    sent = await bot.send_message(CHAT, "same", reply_markup=keyboard)

    with pytest.raises(BadRequest, match="^Message is not modified: specified new message content"):
        await bot.edit_message_text("same", CHAT, sent.message_id, reply_markup=keyboard)
    # dropping the keyboard is a change
    edited = await bot.edit_message_text("same", CHAT, sent.message_id)
    assert edited.reply_markup is None


async def test_editing_an_unknown_message_is_refused(bot: Bot) -> None:
    with pytest.raises(BadRequest, match="^Message to edit not found$"):
        await bot.edit_message_text("x", CHAT, 999)


async def test_edit_reply_markup_and_delete(api: LocalBotApi, bot: Bot) -> None:
    sent = await bot.send_message(CHAT, "pick")
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]])

    edited = await bot.edit_message_reply_markup(CHAT, sent.message_id, reply_markup=keyboard)
    assert edited.reply_markup == keyboard
    with pytest.raises(BadRequest, match="not modified"):
        await bot.edit_message_reply_markup(CHAT, sent.message_id, reply_markup=keyboard)

    assert await bot.delete_message(CHAT, sent.message_id) is True
    with pytest.raises(BadRequest, match="^Message to delete not found$"):
        await bot.delete_message(CHAT, sent.message_id)
    assert [c.status for c in api.calls_to("deleteMessage", chat_id=CHAT)] == [200, 400]


async def test_a_callback_carries_the_bots_message_and_is_answered_once(api: LocalBotApi, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("More", callback_data="more")]])
    sent = await bot.send_message(CHAT, "results", reply_markup=keyboard)
    api.push_callback(CHAT, user_id=CHAT, data="more", message_id=sent.message_id)

    (update,) = await bot.get_updates(timeout=1)
    query = update.callback_query

    assert isinstance(query, CallbackQuery)
    assert (query.data, query.from_user.id, query.message.message_id) == ("more", CHAT, sent.message_id)
    assert query.message.text == "results" and query.message.reply_markup == keyboard
    assert await query.answer("ok") is True
    with pytest.raises(BadRequest, match="^Query is too old"):
        await query.answer()
    assert api.calls_to("answerCallbackQuery")[-1].description == (
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
    )


# -- updates -------------------------------------------------------------------------------------------------------


async def test_long_polling_returns_a_pushed_update_at_once(api: LocalBotApi, bot: Bot) -> None:
    api.max_poll_seconds = 5
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)

    pushed = api.push_message(CHAT, "hello")
    (update,) = await poll

    assert time.monotonic() - started < 2
    assert update.update_id == pushed["update_id"]
    assert (update.message.text, update.message.chat.id, update.message.from_user.id) == ("hello", CHAT, CHAT)
    assert update.message.chat.type == "private" and update.message.from_user.is_bot is False


async def test_offset_confirms_earlier_updates_and_limit_caps(api: LocalBotApi, bot: Bot) -> None:
    ids = [api.push_message(CHAT, f"m{i}")["update_id"] for i in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3

    assert [u.update_id for u in await bot.get_updates(limit=2)] == ids[:2]
    assert [u.update_id for u in await bot.get_updates(offset=ids[1])] == ids[1:]
    assert [u.update_id for u in await bot.get_updates()] == ids[1:]  # ids[0] was confirmed and dropped
    assert await bot.get_updates(offset=ids[2] + 1) == ()
    assert await bot.get_updates() == ()


async def test_an_empty_long_poll_waits_at_most_the_cap(api: LocalBotApi, bot: Bot) -> None:
    started = time.monotonic()

    assert await bot.get_updates(timeout=30, read_timeout=40) == ()

    assert 0.4 < time.monotonic() - started < 2


async def test_commands_carry_the_bot_command_entity(api: LocalBotApi, bot: Bot) -> None:
    api.push_message(CHAT, "/start")
    api.push_message(-100123, "/help@newsbot_test_bot now", user_id=5, chat_type="supergroup")

    first, second = await bot.get_updates()

    assert first.message.parse_entities() == {first.message.entities[0]: "/start"}
    assert second.message.entities[0].type == "bot_command"
    assert second.message.parse_entity(second.message.entities[0]) == "/help@newsbot_test_bot"
    assert (second.message.chat.type, second.message.chat.title) == ("supergroup", "Group -100123")
    assert second.message.from_user.id == 5


async def test_my_chat_member_kicked_in_private_means_blocked(api: LocalBotApi, bot: Bot) -> None:
    api.push_my_chat_member(CHAT, CHAT, new_status="kicked")

    (update,) = await bot.get_updates()
    change = update.my_chat_member

    assert (change.old_chat_member.status, change.new_chat_member.status) == ("member", "kicked")
    assert change.new_chat_member.user.id == 123456
    with pytest.raises(Forbidden):
        await bot.send_message(CHAT, "still there?")


async def test_update_objects_deserialize_in_ptb(api: LocalBotApi, bot: Bot) -> None:
    api.push_my_chat_member(-5, 1, new_status="administrator", old_status="left", chat_type="group")
    api.push_update({"message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}, "text": "raw"}})

    admin, raw = await bot.get_updates()

    assert isinstance(admin, Update) and admin.my_chat_member.new_chat_member.status == "administrator"
    assert raw.message.text == "raw" and raw.update_id == admin.update_id + 1


async def test_get_updates_conflicts_with_an_active_webhook(api: LocalBotApi, bot: Bot) -> None:
    assert await bot.set_webhook("https://example.com/hook")
    assert (await bot.get_webhook_info()).url == "https://example.com/hook"

    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    assert await bot.delete_webhook()
    assert await bot.get_updates() == ()


# -- files -----------------------------------------------------------------------------------------------------------


async def test_send_photo_records_the_uploaded_png(api: LocalBotApi, bot: Bot) -> None:
    image = png(3, 2)

    sent = await bot.send_photo(CHAT, image, caption="<b>chart</b>", parse_mode=ParseMode.HTML, filename="c.png")

    (call,) = api.calls_to("sendPhoto", chat_id=CHAT)
    upload = call.params["photo"]
    assert isinstance(upload, Upload)
    assert (upload.filename, upload.mime_type, upload.data, upload.size) == ("c.png", "image/png", image, len(image))
    assert (sent.photo[-1].width, sent.photo[-1].height) == (3, 2)
    assert sent.caption == "chart" and sent.caption_entities[0].type == "bold"


async def test_a_sent_document_round_trips_every_byte(api: LocalBotApi, bot: Bot) -> None:
    content = bytes(range(256)) * 4 + b"\r\n--boundary\r\n\r\n"

    sent = await bot.send_document(CHAT, content, filename="dump.bin")

    upload = api.calls_to("sendDocument")[0].params["document"]
    assert (upload.filename, upload.data) == ("dump.bin", content)
    assert (sent.document.file_name, sent.document.file_size) == ("dump.bin", len(content))
    downloaded = await (await bot.get_file(sent.document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == content


async def test_a_pushed_document_downloads_through_get_file(api: LocalBotApi, bot: Bot) -> None:
    content = "Zeitung — 12. März\n".encode() * 50
    api.push_document(CHAT, CHAT, "news.txt", content, caption="please index")

    (update,) = await bot.get_updates()
    document = update.message.document
    file = await document.get_file()

    assert (document.file_name, document.mime_type, update.message.caption) == (
        "news.txt",
        "text/plain",
        "please index",
    )
    assert file.file_path.startswith(api.base_file_url) and file.file_size == len(content)
    assert bytes(await file.download_as_bytearray()) == content


async def test_an_unknown_file_id_is_refused(bot: Bot) -> None:
    with pytest.raises(BadRequest, match="^Invalid file_id$"):
        await bot.get_file("nope")


# -- other methods ---------------------------------------------------------------------------------------------------


async def test_commands_are_stored_per_scope(bot: Bot) -> None:
    assert await bot.set_my_commands([BotCommand("ask", "Ask the news"), ("help", "How it works")])

    assert [(c.command, c.description) for c in await bot.get_my_commands()] == [
        ("ask", "Ask the news"),
        ("help", "How it works"),
    ]
    assert await bot.get_my_commands(language_code="de") == ()
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()


async def test_chat_action_and_get_chat(api: LocalBotApi, bot: Bot) -> None:
    api.push_message(-100777, "hi", user_id=3, chat_type="supergroup")

    assert await bot.send_chat_action(CHAT, "typing") is True
    chat = await bot.get_chat(-100777)

    assert (chat.id, chat.type, chat.title) == (-100777, "supergroup", "Group -100777")


async def test_params_arrive_as_json_or_query_string_too(api: LocalBotApi) -> None:
    async with httpx.AsyncClient(base_url=api.base_url + api.token) as client:
        as_json = await client.post("/sendMessage", json={"chat_id": CHAT, "text": "j", "reply_markup": {"a": 1}})
        as_query = await client.get("/sendMessage", params={"chat_id": "-5", "text": "q"})

    assert as_json.json()["result"]["text"] == "j" and as_query.json()["ok"] is True
    assert [c.params for c in api.calls_to("sendMessage")] == [
        {"chat_id": CHAT, "text": "j", "reply_markup": {"a": 1}},
        {"chat_id": -5, "text": "q"},
    ]


# -- faults ----------------------------------------------------------------------------------------------------------


async def test_429_raises_retry_after_with_telegrams_delay(
    api: LocalBotApi, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22's opt-in: retry_after as timedelta, no warning
    api.fail_next("sendMessage", "429", retry_after=2)

    with pytest.raises(RetryAfter) as refused:
        await bot.send_message(CHAT, "flood")
    await bot.send_message(CHAT, "later")

    assert refused.value.retry_after == dtm.timedelta(seconds=2)
    assert [c.status for c in api.calls_to("sendMessage")] == [429, 200]
    assert api.sent_texts() == ["later"]


@pytest.mark.parametrize("kind", ["500", "502"])
async def test_server_errors_raise_network_error(api: LocalBotApi, bot: Bot, kind: str) -> None:
    api.fail_next("sendMessage", kind)

    with pytest.raises(NetworkError) as failed:
        await bot.send_message(CHAT, "x")

    assert type(failed.value) is NetworkError
    assert api.calls_to("sendMessage")[0].status == int(kind)


async def test_a_held_request_times_out_on_the_client(api: LocalBotApi) -> None:
    api.fail_next("sendMessage", "timeout")
    async with make_bot(api, read_timeout=0.3) as bot:
        started = time.monotonic()
        with pytest.raises(TimedOut):
            await bot.send_message(CHAT, "slow")
        assert time.monotonic() - started < api.timeout_seconds
        await bot.send_message(CHAT, "fine")

    assert [c.status for c in api.calls_to("sendMessage")] == [0, 200]


async def test_a_reset_connection_raises_network_error(api: LocalBotApi, bot: Bot) -> None:
    api.fail_next("sendMessage", "reset", count=2)

    for _ in range(2):
        with pytest.raises(NetworkError):
            await bot.send_message(CHAT, "x")
    await bot.send_message(CHAT, "y")

    assert [c.status for c in api.calls_to("sendMessage")] == [0, 0, 200]


async def test_fault_rate_is_reproducible_and_spares_get_updates(api: LocalBotApi, bot: Bot) -> None:
    async def outcomes() -> list[bool]:
        results = []
        for _ in range(20):
            try:
                await bot.send_chat_action(CHAT, "typing")
                results.append(True)
            except NetworkError:
                results.append(False)
        return results

    api.fault_rate(0.5, kinds=["500"], seed=7)
    first = await outcomes()
    assert await bot.get_updates() == ()  # not faulted unless listed
    api.fault_rate(0.5, kinds=["500"], seed=7)
    second = await outcomes()
    api.fault_rate(0)
    third = await outcomes()

    assert first == second and 3 < first.count(False) < 17
    assert all(third)


async def test_fault_rate_can_target_methods(api: LocalBotApi, bot: Bot) -> None:
    api.fault_rate(1.0, kinds=["500"], methods=["getUpdates"])

    await bot.send_message(CHAT, "unaffected")
    with pytest.raises(NetworkError):
        await bot.get_updates()


async def test_a_blocked_chat_is_forbidden(api: LocalBotApi, bot: Bot) -> None:
    api.block_chat(CHAT)

    with pytest.raises(Forbidden, match="^Forbidden: bot was blocked by the user$"):
        await bot.send_message(CHAT, "hello?")
    await bot.send_message(CHAT + 1, "others still work")

    assert api.calls_to("sendMessage", chat_id=CHAT)[0].status == 403


async def test_a_migrated_chat_names_its_new_id(api: LocalBotApi, bot: Bot) -> None:
    api.migrate_chat(-5, -1005)

    with pytest.raises(ChatMigrated) as moved:
        await bot.send_message(-5, "news")
    sent = await bot.send_message(-1005, "news")

    assert moved.value.new_chat_id == -1005
    assert sent.chat.type == "supergroup"


def test_unknown_fault_kinds_are_rejected(api: LocalBotApi) -> None:
    with pytest.raises(ValueError, match="fault kinds"):
        api.fail_next("sendMessage", "418")


# -- a whole PTB application -------------------------------------------------------------------------------------


async def test_a_ptb_application_answers_a_command_over_long_polling(api: LocalBotApi) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text("hello <b>you</b>", parse_mode=ParseMode.HTML)

    app = ApplicationBuilder().token(api.token).base_url(api.base_url).base_file_url(api.base_file_url).build()
    app.add_handler(CommandHandler("start", start))
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=5)
        api.push_message(CHAT, "/start")
        await api.wait_for(lambda: api.sent_texts(CHAT) == ["hello <b>you</b>"], timeout=5)
        await app.updater.stop()
        await app.stop()

    assert [c.method for c in api.calls][:3] == ["getMe", "deleteWebhook", "getUpdates"]
    assert api.calls_to("getUpdates")[-1].params["offset"] > 1  # the handled update was confirmed


# -- waiting and stopping ------------------------------------------------------------------------------------------


async def test_wait_for_reports_recent_calls_on_timeout(api: LocalBotApi, bot: Bot) -> None:
    await bot.send_message(CHAT, "only this")

    def two_messages_sent() -> bool:
        return len(api.sent_texts()) >= 2

    with pytest.raises(AssertionError) as timed_out:
        await api.wait_for(two_messages_sent, timeout=0.2)

    report = str(timed_out.value)
    assert "two_messages_sent not met within 0.2s" in report
    assert "sendMessage -> 200" in report and "only this" in report


async def test_wait_for_returns_once_the_bot_acts(api: LocalBotApi, bot: Bot) -> None:
    async def later() -> None:
        await asyncio.sleep(0.1)
        await bot.send_message(CHAT, "done")

    task = asyncio.create_task(later())
    await api.wait_for(lambda: api.sent_texts() == ["done"], timeout=2)
    await task


def test_wait_for_sync_times_out_readably(api: LocalBotApi) -> None:
    with pytest.raises(AssertionError, match="not met within 0.1s; 0 calls"):
        api.wait_for_sync(lambda: False, timeout=0.1)


async def test_stop_releases_a_long_poll_and_a_held_request() -> None:
    api = LocalBotApi().start()
    api.max_poll_seconds = 30
    api.timeout_seconds = 30
    api.fail_next("sendMessage", "timeout")
    async with make_bot(api, read_timeout=40) as bot:
        poll = asyncio.create_task(bot.get_updates(timeout=30, read_timeout=40))
        held = asyncio.create_task(bot.send_message(CHAT, "held"))
        await asyncio.sleep(0.2)
        started = time.monotonic()

        await asyncio.to_thread(api.stop)
        results = await asyncio.gather(poll, held, return_exceptions=True)

        assert time.monotonic() - started < 2
        assert results[0] == () or isinstance(results[0], NetworkError)
        assert isinstance(results[1], NetworkError)
        with pytest.raises(NetworkError):
            await bot.get_me()
