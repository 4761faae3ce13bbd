"""What the Telegram handlers share: the engine, the config, a thread pool and the alert sender.

Retrieval, ingestion and reindexing are CPU-bound and synchronous; handlers hand them to a
bounded thread pool so the event loop keeps receiving updates and answering other chats while
one question is being worked on.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, TypeVar

from telegram import Update
from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot

from index.answer_pool import AnswerPool
from index.answers import Answer
from index.config import Config
from index.engine import Engine

from .ratelimit import QuestionLimiter

if TYPE_CHECKING:
    from .delivery import AlertSender
    from .feed_poller import FeedPoller

T = TypeVar("T")
log = logging.getLogger(__name__)
STATS_TTL_S = 30.0  # /help's article count and sources may lag the store by this much


@dataclass
class Services:
    engine: Engine
    config: Config
    executor: ThreadPoolExecutor
    sender: AlertSender | None = None
    sender_task: asyncio.Task | None = None
    reindex_task: asyncio.Task | None = None
    refresh_task: asyncio.Task | None = None
    feeds_task: asyncio.Task | None = None  # the feed poll round in progress
    feed_poller: FeedPoller | None = None
    stopping: threading.Event = field(default_factory=threading.Event)  # shutdown: long work stops early
    limiter: QuestionLimiter | None = None
    answers: AnswerPool | None = None  # worker processes for questions (telegram.answer_processes)
    now: Callable[[], date] = date.today  # the day questions are asked (`newsbot run --now`)
    refreshes: int = 0  # catch-ups with the store finished (matching included)
    refused: int = 0  # updates refused by the per-user limit

    background: set[asyncio.Task] = field(default_factory=set)
    stats_cache: StatsCache = field(default_factory=lambda: StatsCache())

    async def within_limit(self, update: Update) -> bool:
        """False (after telling the user once) when the user asks faster than allowed. Every
        question, command and button press counts: each costs the store or the engine work, and
        a flood of cheap ones stalls everyone as surely as a flood of questions. A refused button
        press is still answered (with the wait), so it does not spin."""
        user = update.effective_user
        if self.limiter is None or user is None or self.is_admin(update):
            return True
        verdict = self.limiter.check(user.id)
        if verdict.allowed:
            return True
        self.refused += 1
        wait = f"You are asking faster than I can answer well. Please wait {verdict.retry_in_s:.0f} s."
        if update.callback_query is not None:
            await update.callback_query.answer(wait if verdict.tell else None)
        elif verdict.tell and update.effective_message is not None:
            await update.effective_message.reply_text(wait)
        return False

    async def store_stats(self) -> dict:
        """The store's stats for /help, computed at most once per STATS_TTL_S however many ask."""
        return await self.stats_cache.get(lambda: self.run(self.engine.store.stats))

    async def answer(self, question: str, more: int = 0) -> Answer:
        """The answer as of today, from a worker process when there are any. A question whose
        worker died is answered here instead (the pool starts new workers for the next one)."""
        now = self.now()
        if self.answers is not None and self.answers.running:
            watermark = self.engine.index.current.watermark  # what the workers index first
            try:
                return await asyncio.wrap_future(self.answers.submit(question, watermark, now, more=more))
            except BrokenProcessPool:
                log.warning("an answer worker died with a question; answering it in the bot's process")
        return await self.run(self.engine.answer, question, now=now, more=more)

    async def run(self, fn: Callable[..., T], *args, **kwargs) -> T:
        """Run blocking work in the pool and await its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))

    def is_admin(self, update: Update) -> bool:
        user = update.effective_user
        return user is not None and user.id in self.config.telegram.admins

    def wake_sender(self) -> None:
        if self.sender is not None:
            self.sender.wake()

    def spawn(self, coro) -> asyncio.Task:
        """A background task that is kept referenced until it ends (and cancelled on shutdown)."""
        task = asyncio.get_running_loop().create_task(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task


class StatsCache:
    """One computation of a value shared by all who ask while it runs or is fresh (the store's
    stats take a count and a group-by over every article: ~75 ms at 50k articles)."""

    def __init__(self, ttl_s: float = STATS_TTL_S, clock: Callable[[], float] = time.monotonic):
        self.ttl_s = ttl_s
        self.clock = clock
        self._value: dict | None = None
        self._at = 0.0
        self._lock: asyncio.Lock | None = None

    async def get(self, compute: Callable[[], Awaitable[dict]]) -> dict:
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            if self._value is None or self.clock() - self._at >= self.ttl_s:
                self._value = await compute()
                self._at = self.clock()
            return self._value


MAX_CALLBACK_INT = 2**53  # ids and pages in button data; larger is forged (and overflows SQLite)


def callback_fields(data: str | None, count: int) -> list[str] | None:
    """The `count` fields after the prefix of button data `prefix:a:b`, or None when malformed."""
    parts = (data or "").split(":")
    return parts[1:] if len(parts) == count + 1 else None


def callback_int(text: str) -> int | None:
    """A non-negative integer from button data, or None: clients can send any data they like."""
    if not text.isascii() or not text.isdigit() or len(text) > 16:
        return None
    value = int(text)
    return value if value < MAX_CALLBACK_INT else None


def limited(handler: Callable[[Update, NewsbotContext], Awaitable[None]]):
    """The handler behind the per-user limit (see Services.within_limit)."""
    @functools.wraps(handler)
    async def guarded(update: Update, context: NewsbotContext) -> None:
        if await context.services.within_limit(update):
            await handler(update, context)

    return guarded


class ChatData:
    """What a chat keeps between updates: the answers whose "More quotes" button is still live."""

    def __init__(self) -> None:
        self.more: dict[str, Answer] = {}  # message id → the answer whose extra quotes it can show


class BotData:
    """The application's own data: its Services, set once the application is built (python-
    telegram-bot makes this object itself, without arguments)."""

    def __init__(self) -> None:
        self.services: Services | None = None


class NewsbotContext(CallbackContext[ExtBot, dict, ChatData, BotData]):
    """The context every handler gets (python-telegram-bot's ContextTypes): typed chat and bot
    data instead of string keys into dicts."""

    @property
    def services(self) -> Services:
        return services_of(self.application)


CONTEXT_TYPES = ContextTypes(context=NewsbotContext, chat_data=ChatData, bot_data=BotData)


def services_of(application: Application) -> Services:
    found = application.bot_data.services
    if found is None:
        raise RuntimeError("the application was not built by build_application (no Services)")
    return found

