"""Handlers for reading the news: questions, /start, /help, /latest, /article, /timeline, "More"."""

from __future__ import annotations

import asyncio
import logging
import re
from contextlib import asynccontextmanager

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Message, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, NetworkError, TelegramError

from index.answers import Answer
from index.topics import TopicError

from .chart import chart_caption, timeline_png, timeline_text
from .messages import LATEST_STORIES, article_page, help_text, latest_text
from .render import render_html, short
from .services import NewsbotContext, callback_fields, callback_int

log = logging.getLogger(__name__)
MORE_QUOTES = 6  # held back per answer for the "More" button
KEPT_ANSWERS = 20  # answers per chat whose further quotes are kept for "More"
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
TYPING_AFTER_S = 1.0  # quicker answers arrive before "typing…" would show; and every chat action
# counts against the bot's 30 requests/s like a message (AIORateLimiter): one per question
# halved the questions per second the bot could answer (README, Reliability: Load)
TYPING_EVERY_S = 4.0
REPLY_ATTEMPTS = 3
REPLY_RETRY_S = 0.5


async def send_html(message: Message, texts: list[str], markup: InlineKeyboardMarkup | None = None) -> None:
    """Reply with each text in turn; the buttons go under the last one. A network error is retried
    a couple of times (flood control is the rate limiter's): an answer worked out is worth a retry,
    and a timed-out reply that did arrive is only a repeated answer."""
    for i, text in enumerate(texts):
        last = i == len(texts) - 1
        for attempt in range(1, REPLY_ATTEMPTS + 1):
            try:
                await message.reply_html(text, link_preview_options=NO_PREVIEW,
                                         reply_markup=markup if last else None, do_quote=False)
                break
            except BadRequest:  # a NetworkError subclass in python-telegram-bot, but final
                raise
            except NetworkError:
                if attempt == REPLY_ATTEMPTS:
                    raise
                await asyncio.sleep(REPLY_RETRY_S * attempt)


async def _typing(update: Update, context: NewsbotContext) -> None:
    try:
        await context.bot.send_chat_action(update.effective_chat.id, ChatAction.TYPING)
    except TelegramError:  # cosmetic: never let it stop the answer
        pass


@asynccontextmanager
async def typing(update: Update, context: NewsbotContext):
    """"typing…" once the work has taken TYPING_AFTER_S, for as long as it takes (Telegram shows
    one chat action for ~5 s)."""
    async def keep_up() -> None:
        await asyncio.sleep(TYPING_AFTER_S)
        while True:
            await _typing(update, context)
            await asyncio.sleep(TYPING_EVERY_S)

    task = asyncio.get_running_loop().create_task(keep_up())
    try:
        yield
    finally:
        task.cancel()


async def start(update: Update, context: NewsbotContext) -> None:
    await help_command(update, context)


async def help_command(update: Update, context: NewsbotContext) -> None:
    s = context.services
    stats = await s.store_stats()
    await send_html(update.effective_message, [help_text(stats, s.is_admin(update))])


def without_mention(text: str, username: str | None) -> str:
    """The question without "@thebot" (how groups address it): the bot's name is no search term."""
    if username:
        text = re.sub(rf"(?<!\w)@{re.escape(username)}\b", " ", text, flags=re.IGNORECASE)
    return " ".join(text.split())


async def question(update: Update, context: NewsbotContext) -> None:
    message = update.effective_message
    text = without_mention(message.text or "", context.bot.username)
    if not text:
        return
    s = context.services
    if not await s.within_limit(update):
        return
    try:
        async with typing(update, context):
            answer = await s.answer(text, more=MORE_QUOTES)
    except Exception:  # noqa: BLE001 - the user gets a reply, the log gets the trace
        log.exception("answering failed")
        await message.reply_text("Sorry, something went wrong while answering that. Please try again.")
        return
    await send_answer(message, context, answer)


async def send_answer(message: Message, context: NewsbotContext, answer: Answer) -> None:
    markup = None
    if answer.more:
        kept = context.chat_data.more
        token = str(message.message_id)
        kept[token] = answer
        while len(kept) > KEPT_ANSWERS:
            kept.pop(next(iter(kept)))
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("More quotes", callback_data=f"more:{token}")]])
    await send_html(message, render_html(answer), markup)


async def more(update: Update, context: NewsbotContext) -> None:
    query = update.callback_query
    token = query.data.partition(":")[2]
    answer: Answer | None = context.chat_data.more.pop(token, None)
    if answer is None:
        await query.answer("That answer is no longer kept; please ask again.", show_alert=False)
        return
    await query.answer()
    try:
        await query.edit_message_reply_markup(reply_markup=None)
    except TelegramError:
        pass
    follow_up = Answer(answer.question, False, answer.more)
    await send_html(query.message, render_html(follow_up))


async def latest(update: Update, context: NewsbotContext) -> None:
    s = context.services
    topic = " ".join(context.args or [])
    if topic:
        async with typing(update, context):
            answer = await s.answer(f"latest {topic}")
        await send_html(update.effective_message, render_html(answer))
        return
    headers = await s.run(s.engine.store.latest, LATEST_STORIES)
    await send_html(update.effective_message, [latest_text(headers)])


def _page_buttons(seq: int, page: int, pages: int) -> InlineKeyboardMarkup | None:
    row = []
    if page > 0:
        row.append(InlineKeyboardButton("◀ Previous", callback_data=f"art:{seq}:{page - 1}"))
    if page < pages - 1:
        row.append(InlineKeyboardButton("Next ▶", callback_data=f"art:{seq}:{page + 1}"))
    return InlineKeyboardMarkup([row]) if row else None


async def article(update: Update, context: NewsbotContext) -> None:
    s = context.services
    article_id = " ".join(context.args or [])
    if not article_id:
        await update.effective_message.reply_text("Which article? Send /article ID (ids are shown by /latest).")
        return
    found = await s.run(s.engine.store.get, article_id)
    if found is None:
        await update.effective_message.reply_text(f"No article with id {short(article_id, 100)!r}.")
        return
    text, pages = article_page(found.title, found.date, found.url, found.text, 0, s.config.telegram.article_page_chars)
    await send_html(update.effective_message, [text], _page_buttons(found.seq, 0, pages))


async def article_page_turn(update: Update, context: NewsbotContext) -> None:
    query = update.callback_query
    s = context.services
    fields = callback_fields(query.data, 2)
    seq, page = (callback_int(fields[0]), callback_int(fields[1])) if fields else (None, None)
    found = None
    if seq is not None and page is not None:
        found = (await s.run(s.engine.store.articles_by_seq, [seq])).get(seq)
    if found is None:
        await query.answer("That article is no longer in the store.")
        return
    await query.answer()
    text, pages = article_page(found.title, found.date, found.url, found.text, page,
                               s.config.telegram.article_page_chars)
    page = min(page, pages - 1)
    await query.edit_message_text(text, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW,
                                  reply_markup=_page_buttons(found.seq, page, pages))


async def timeline(update: Update, context: NewsbotContext) -> None:
    s = context.services
    topic = " ".join(context.args or [])
    if not topic:
        await update.effective_message.reply_text("Which topic? e.g. /timeline rail strike")
        return
    try:
        async with typing(update, context):
            result = await s.run(s.engine.timeline, topic)
            png = await s.run(timeline_png, result) if result.peak is not None else b""
    except TopicError as exc:
        await update.effective_message.reply_text(str(exc))
        return
    if not png:
        await update.effective_message.reply_text(timeline_text(result))
        return
    await update.effective_message.reply_photo(photo=png, caption=chart_caption(result), do_quote=False)
