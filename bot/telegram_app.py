"""The Telegram bot: one Application with thin handlers over the shared Engine.

`build_application` wires handlers and services; `start_services` / `stop_services` run as the
application's post_init / post_stop (tests call them the same way around a polling updater).
Updates are handled concurrently, so a slow question never holds up another chat.
"""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor

# python-telegram-bot 22 warns that RetryAfter.retry_after becomes a timedelta; opt in now (the
# sender reads both forms).
os.environ.setdefault("PTB_TIMEDELTA", "1")

from telegram import BotCommand, BotCommandScopeChat, BotCommandScopeDefault, Update
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from index.answer_pool import AnswerPool
from index.config import Config
from index.engine import Engine
from index.store import location_of

from . import admin, conversation, feed_admin, feedback, subscriptions
from .delivery import AlertSender
from .commands import COMMANDS as COMMAND_TABLE
from .messages import ADMIN_COMMANDS, COMMANDS
from .ratelimit import QuestionLimiter
from .services import CONTEXT_TYPES, NewsbotContext, Services, limited, services_of

log = logging.getLogger(__name__)
QUESTION_WORKERS = 4
SENDER_STOP_S = 15.0
CHATS_AND_CHANNELS = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST


def build_application(engine: Engine, config: Config, *, timeout_s: float = 10.0,
                      rate_limit_retries: int = 2, now=None) -> Application:
    t = config.telegram
    application = (
        ApplicationBuilder()
        .token(t.token)
        .base_url(t.base_url)
        .base_file_url(t.base_file_url)
        .rate_limiter(AIORateLimiter(max_retries=rate_limit_retries))
        .concurrent_updates(True)
        .connect_timeout(timeout_s)
        .read_timeout(timeout_s)
        .write_timeout(timeout_s)
        .get_updates_read_timeout(timeout_s + 30)
        .post_init(start_services)
        .post_stop(stop_services)
        .context_types(CONTEXT_TYPES)
        .build()
    )
    application.bot_data.services = Services(
        engine=engine, config=config, executor=ThreadPoolExecutor(QUESTION_WORKERS, thread_name_prefix="newsbot"),
        limiter=QuestionLimiter(t.questions_per_minute),
    )
    if now is not None:
        application.bot_data.services.now = lambda: now
    add_handlers(application, config.telegram.admins)
    return application


HANDLERS = {
    "start": conversation.start, "help": conversation.help_command, "latest": conversation.latest,
    "article": conversation.article, "timeline": conversation.timeline, "subscribe": subscriptions.subscribe,
    "topics": subscriptions.list_topics, "unsubscribe": subscriptions.unsubscribe, "why": feedback.why,
    "save": admin.save, "ingest": admin.ingest_folder, "feed": feed_admin.feed, "feeds": feed_admin.feeds,
    "reindex": admin.reindex, "stats": admin.stats,
}


def add_handlers(app: Application, admins: list[int]) -> None:
    new = filters.UpdateType.MESSAGE  # an edited old command must not run again
    private = filters.ChatType.PRIVATE
    for command in COMMAND_TABLE:  # every command of the table has its handler here (checked at start-up)
        app.add_handler(CommandHandler(command.name, limited(HANDLERS[command.name]),
                                       filters=CHATS_AND_CHANNELS if command.channels else new))
    app.add_handler(CallbackQueryHandler(limited(conversation.more), pattern=r"^more:"))
    app.add_handler(CallbackQueryHandler(limited(conversation.article_page_turn), pattern=r"^art:"))
    app.add_handler(CallbackQueryHandler(limited(subscriptions.topic_button), pattern=r"^t:"))
    app.add_handler(CallbackQueryHandler(limited(feedback.alert_button), pattern=r"^a:"))
    app.add_handler(CallbackQueryHandler(limited(feed_admin.feed_button), pattern=r"^fd:"))
    app.add_handler(CallbackQueryHandler(unknown_button))  # forged or stale data: answered, never spinning
    app.add_handler(ChatMemberHandler(subscriptions.membership, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, subscriptions.migrated))
    # an admin's forwarded post is saved; anyone else's forwarded text is a question like any other
    app.add_handler(MessageHandler(new & private & filters.FORWARDED & filters.User(user_id=admins),
                                   admin.save_forward))
    app.add_handler(MessageHandler(new & private & filters.Document.ALL, admin.save_file))
    app.add_handler(MessageHandler(new & filters.COMMAND, limited(unknown_command)))
    app.add_handler(MessageHandler(new & filters.TEXT & ~filters.COMMAND & AddressedToBot(), conversation.question))
    app.add_error_handler(on_error)


class AddressedToBot(filters.MessageFilter):
    """In private chats every text is a question; in groups only replies to the bot and mentions,
    so the bot does not answer every line of a group conversation."""

    def filter(self, message) -> bool:
        if message.chat.type == "private":
            return True
        bot = message.get_bot()
        replied = message.reply_to_message
        if replied is not None and replied.from_user is not None and replied.from_user.id == bot.id:
            return True
        return f"@{bot.username}".lower() in (message.text or "").lower()


async def unknown_command(update: Update, context: NewsbotContext) -> None:
    if update.effective_chat.type == "private":
        await update.effective_message.reply_text("I do not know that command. /help lists what I can do.")


async def unknown_button(update: Update, context: NewsbotContext) -> None:
    await update.callback_query.answer()


async def on_error(update: object, context: NewsbotContext) -> None:
    """Log the failure; a button press whose handler failed is still answered, so the client's
    spinner stops (a second answer to an answered query is refused, and that is fine)."""
    log.error("update %s failed: %s", getattr(update, "update_id", "?"), context.error, exc_info=context.error)
    if isinstance(update, Update) and update.callback_query is not None:
        try:
            await update.callback_query.answer("Sorry, that did not work.")
        except TelegramError:
            pass


async def start_services(app: Application) -> None:
    """Commands shown by clients, the alert sender, and the periodic check for articles saved
    by other processes (CLI ingest, another worker, the watched folder)."""
    s: Services = services_of(app)
    menus = [(BotCommandScopeDefault(), COMMANDS)]
    menus += [(BotCommandScopeChat(admin_id), COMMANDS + ADMIN_COMMANDS) for admin_id in s.config.telegram.admins]
    for scope, commands in menus:
        try:
            await app.bot.set_my_commands([BotCommand(n, d) for n, d in commands], scope=scope)
        except TelegramError as exc:  # the menu is a convenience: never a reason not to start
            log.warning("command menu not set (%s): %s", scope.type, exc)
    await s.run(s.engine.refresh)
    await _start_answer_workers(s)
    s.sender = AlertSender(app.bot, s.engine.store, s.config.alerts)
    s.sender_task = s.spawn(s.sender.run())
    if app.job_queue is not None:
        app.job_queue.run_repeating(_check_new_articles, interval=s.config.alerts.check_seconds, first=1.0,
                                    name="check-new-articles")
        if s.config.feeds.poll:
            app.job_queue.run_repeating(feed_admin.poll_due_feeds, interval=s.config.feeds.check_seconds, first=3.0,
                                        name="poll-feeds")
        if s.config.telegram.watch_folder and s.config.telegram.watch_seconds > 0:
            app.job_queue.run_repeating(_watch_folder, interval=s.config.telegram.watch_seconds, first=2.0,
                                        name="watch-folder")


async def _start_answer_workers(s: Services) -> None:
    """Workers that cannot start (no memory, a broken install) leave the bot answering in its
    own threads: a slower bot, never a bot that does not start."""
    processes = s.config.telegram.answer_processes
    if not processes:
        return
    location = location_of(s.engine.store)
    if location is None:
        log.warning("telegram.answer_processes ignored: a store in memory cannot be shared with workers")
        return
    pool = AnswerPool(s.config, location, processes, make_embedder=type(s.engine.embedder))
    log.info("starting %d answer worker(s)…", processes)
    try:
        await s.run(pool.start, s.engine.index.current.watermark)
    except Exception:  # noqa: BLE001 - logged with its trace
        log.exception("answer workers did not start; answering in the bot's process")
        await asyncio.to_thread(pool.close)
        return
    s.answers = pool


async def _check_new_articles(context: NewsbotContext) -> None:
    """Start a catch-up unless one is running: under load a catch-up can outlast the interval,
    and the next tick must neither queue up behind it nor count as a missed job."""
    s: Services = context.services
    if s.refresh_task is None or s.refresh_task.done():
        s.refresh_task = s.spawn(_refresh(s))


async def _refresh(s: Services) -> None:
    try:
        indexed, alerts = await s.run(s.engine.refresh)
    except Exception:  # noqa: BLE001 - logged; the next tick tries again
        log.exception("catching up with the store failed")
        return
    finally:
        s.refreshes += 1
    if indexed or alerts:
        log.info("caught up %d article(s), recorded %d alert(s)", indexed, alerts)
    if alerts:
        s.wake_sender()


async def _watch_folder(context: NewsbotContext) -> None:
    s: Services = context.services
    report = await s.run(s.engine.ingest_watched, s.config.telegram.watch_folder)
    if report.added:
        log.info("watched folder: %d new article(s)", len(report.added))
        await _refresh(s)


async def stop_services(app: Application) -> None:
    """Stop long work early, let the sender finish the message in hand (send, then mark), wait for
    running handlers' work; the caller then closes the store. Nothing is half-written: every
    store change is one transaction, and a stopped rebuild leaves the previous index in place."""
    s: Services = services_of(app)
    s.stopping.set()
    if s.sender is not None:
        s.sender.stop()
        done, _ = await asyncio.wait({s.sender_task}, timeout=SENDER_STOP_S)
        if not done:
            log.warning("alert sender did not stop within %s s; cancelled", SENDER_STOP_S)
            s.sender_task.cancel()
    if s.reindex_task is not None:
        await asyncio.wait({s.reindex_task}, timeout=SENDER_STOP_S)
    for task in list(s.background):
        if not task.done():
            task.cancel()
    await asyncio.to_thread(s.executor.shutdown, True, cancel_futures=True)
    if s.answers is not None:
        await asyncio.to_thread(s.answers.close)
