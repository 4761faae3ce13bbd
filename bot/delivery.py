"""Sending the outbox: every recorded alert reaches its chat once, at Telegram's pace.

The loop reads due alerts from the store, sends each, and marks it sent right after Telegram
accepts it (one small SQLite write: the only moment in which a crash can duplicate an alert).
Failures are sorted by what they mean:
- RetryAfter (flood control): the alert waits the time Telegram asked for, and so does the loop;
- Forbidden (the bot was blocked or removed): the chat is deactivated and its alerts dropped;
- ChatMigrated (a group became a supergroup): its topics and alerts move to the new id;
- other Bad Requests: the alert is marked failed (retrying would fail the same way);
- timeouts and network errors: retried with exponential backoff, up to alerts.max_attempts. A
  timed-out send may still have been delivered (the Bot API has no idempotency key), so a retry
  after a timeout is the one other way an alert can arrive twice.
Telegram asks for at most ~30 messages/s overall (the application's rate limiter) and one per
second per chat, which the loop keeps by sending a chat at most one message per round.

Alerts are claimed before they are sent (see index/store/sql_alerts.py), so several workers
sharing a PostgreSQL store each send different alerts, and alerts claimed by a worker that died
go out from another one once the claim's lease ends.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone

from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError

from index.outbox import OutboxItem, retry_delay, utc_iso

from .messages import alert_text, digest_texts
from .services import Services

log = logging.getLogger(__name__)
BATCH = 100
PER_CHAT_INTERVAL_S = 1.0
LEASE = timedelta(minutes=2)  # a claim outlives any send with its retries; then another worker may take it


def _seconds(value) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class AlertSender:
    def __init__(self, bot: Bot, services: Services, idle_s: float = 1.0, worker: str = ""):
        self.bot = bot
        self.s = services
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}"  # names its claims in the outbox
        self.idle_s = idle_s  # how often due digests and retries are looked for when nothing wakes us
        self._wake = asyncio.Event()
        self._stopping = False
        self._last_sent: dict[int, float] = {}
        self.sent = 0

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping:
            try:
                busy = await self.send_due()
            except Exception:  # noqa: BLE001 - a store hiccup must not end delivery for good
                log.exception("alert delivery round failed")
                busy = False
            if busy:
                await asyncio.sleep(0)
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.idle_s)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()

    async def send_due(self) -> bool:
        """One round: claim due alerts (one message's worth per chat) and send them. True when
        anything was due, so the next round follows at once."""
        store = self.s.engine.store
        now = datetime.now(timezone.utc)
        items = await self.s.run(store.claim_alerts, self.worker, utc_iso(now), utc_iso(now + LEASE), BATCH)
        if not items:
            return False
        by_chat: dict[int, list[OutboxItem]] = defaultdict(list)
        for item in items:
            by_chat[item.chat_id].append(item)
        for chat_id, chat_items in by_chat.items():
            wait = self._last_sent.get(chat_id, 0.0) + PER_CHAT_INTERVAL_S - time.monotonic()
            if self._stopping or wait > 0:  # hand it back: due again in a second
                later = utc_iso(datetime.now(timezone.utc) + timedelta(seconds=1))
                await self.s.run(store.retry_alerts, [i.id for i in chat_items], later,
                                 "paced: one message a second per chat", False)
                continue
            digest = [i for i in chat_items if i.delivery == "daily"]
            instant = [i for i in chat_items if i.delivery != "daily"]
            if digest:
                await self._deliver(chat_id, digest_texts(digest), digest)
            for item in instant:
                await self._deliver(chat_id, [alert_text(item)], [item])
        return True

    async def _deliver(self, chat_id: int, texts: list[str], items: list[OutboxItem]) -> bool:
        store = self.s.engine.store
        ids = [i.id for i in items]
        try:
            for text in texts:
                await self.bot.send_message(chat_id, text, parse_mode=ParseMode.HTML,
                                            link_preview_options=LinkPreviewOptions(is_disabled=True))
                self._last_sent[chat_id] = time.monotonic()
        except RetryAfter as exc:
            delay = _seconds(exc.retry_after)
            log.warning("flood control: waiting %.0f s", delay)
            later = utc_iso(datetime.now(timezone.utc) + timedelta(seconds=delay))
            await self.s.run(store.retry_alerts, ids, later, f"RetryAfter {delay:g}", False)
            await self._pause(delay)
            return False
        except ChatMigrated as exc:
            log.info("chat %s migrated to %s", chat_id, exc.new_chat_id)
            await self.s.run(store.migrate_chat, chat_id, exc.new_chat_id)
            return False
        except Forbidden as exc:
            log.info("chat %s deactivated: %s", chat_id, exc.message)
            await self.s.run(store.set_chat_active, chat_id, False, exc.message)
            return False
        except BadRequest as exc:
            if "chat not found" in exc.message.lower():
                await self.s.run(store.set_chat_active, chat_id, False, exc.message)
            else:
                log.warning("alert(s) %s to chat %s refused: %s", ids, chat_id, exc.message)
                await self.s.run(store.fail_alerts, ids, exc.message)
            return False
        except (NetworkError, TelegramError) as exc:  # TimedOut is a NetworkError
            await self._retry_later(items, exc)
            return False
        await self.s.run(store.mark_sent, ids)
        self.sent += len(ids)
        return True

    async def _pause(self, seconds: float) -> None:
        """Send nothing for `seconds` (flood control), unless asked to stop."""
        deadline = time.monotonic() + seconds
        while not self._stopping and (left := deadline - time.monotonic()) > 0:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=left)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()

    async def _retry_later(self, items: list[OutboxItem], exc: Exception) -> None:
        store = self.s.engine.store
        attempts = max(i.attempts for i in items) + 1
        error = f"{type(exc).__name__}: {exc}"
        ids = [i.id for i in items]
        if attempts >= self.s.config.alerts.max_attempts:
            log.warning("alert(s) %s given up after %d attempts: %s", ids, attempts, error)
            await self.s.run(store.fail_alerts, ids, error)
            return
        later = utc_iso(datetime.now(timezone.utc) + timedelta(seconds=retry_delay(attempts)))
        await self.s.run(store.retry_alerts, ids, later, error)
