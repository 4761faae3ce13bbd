"""What the Telegram handlers share: the engine, the config, a thread pool and the alert sender.

Retrieval, ingestion and reindexing are CPU-bound and synchronous; handlers hand them to a
bounded thread pool so the event loop keeps receiving updates and answering other chats while
one question is being worked on.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, TypeVar

from telegram import Update
from telegram.ext import ContextTypes

from index.config import Config
from index.engine import Engine

from .ratelimit import QuestionLimiter

if TYPE_CHECKING:
    from .delivery import AlertSender
    from .feed_poller import FeedPoller

T = TypeVar("T")
KEY = "newsbot"


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
    now: Callable[[], date] = date.today  # the day questions are asked (`newsbot run --now`)

    async def within_limit(self, update: Update) -> bool:
        """False (after telling the user once) when the user asks faster than allowed."""
        user = update.effective_user
        if self.limiter is None or user is None or self.is_admin(update):
            return True
        verdict = self.limiter.check(user.id)
        if not verdict.allowed and verdict.tell and update.effective_message is not None:
            await update.effective_message.reply_text(
                f"You are asking faster than I can answer well. Please wait {verdict.retry_in_s:.0f} s.")
        return verdict.allowed
    background: set[asyncio.Task] = field(default_factory=set)

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


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    return context.application.bot_data[KEY]
