"""Sending the outbox: every recorded alert reaches its chat once, at Telegram's pace.

Each round claims due alerts (one message's worth per chat; see index/store/sql_alerts.py), sends
them, and marks each message's alerts sent right after Telegram accepts it. The mark is one
store write on the sender's own thread, never queued behind questions, so the moment in which a
crash can duplicate an alert stays that one write. Alerts Telegram accepted but the store could
not mark are remembered and never sent again by this process; while marking fails, nothing more
is sent. Failures are sorted by what they mean:
- RetryAfter (flood control): the alert waits the time Telegram asked for, and so does the sender;
- Forbidden (the bot was blocked or removed): the chat is deactivated and its alerts dropped;
- ChatMigrated (a group became a supergroup): its topics and alerts move to the new id;
- other Bad Requests: the alert is marked failed (retrying would fail the same way);
- timeouts and network errors: retried with exponential backoff, up to alerts.max_attempts. A
  timed-out send may still have been delivered (the Bot API has no idempotency key), so a retry
  after a timeout is the one other way an alert can arrive twice.
Telegram asks for at most ~30 messages/s overall (the application's rate limiter) and one per
second per chat: a chat gets at most one message per round and one per second.

Claims carry a lease, so several workers sharing a PostgreSQL store each send different alerts,
and alerts claimed by a worker that died go out from another once the lease ends.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from telegram import Bot, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError

from index.config import AlertsConfig
from index.outbox import OutboxItem, retry_delay, utc_iso
from index.store import Store

from .feedback import alert_markup
from .messages import alert_text, digest_parts

log = logging.getLogger(__name__)
BATCH = 100
PER_CHAT_INTERVAL_S = 1.0
PACED = "paced: one message a second per chat"


def _seconds(value) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _later(seconds: float) -> str:
    return utc_iso(datetime.now(timezone.utc) + timedelta(seconds=seconds))


class AlertSender:
    def __init__(self, bot: Bot, store: Store, config: AlertsConfig, idle_s: float = 1.0, worker: str = ""):
        self.bot = bot
        self.store = store
        self.config = config
        self.idle_s = idle_s  # how often due digests and retries are looked for when nothing wakes us
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}"  # names its claims in the outbox
        self._wake = asyncio.Event()
        self._stopping = False
        self._last_sent: dict[int, float] = {}
        self._unmarked: set[int] = set()  # accepted by Telegram, not yet marked in the store
        self._flood_until = 0.0  # Telegram's RetryAfter: nothing is sent before this (monotonic)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="outbox")
        self.sent = 0
        self.rounds = 0  # rounds finished: a test waits for one to prove nothing more was due

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def _store(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._thread, functools.partial(fn, *args))

    async def run(self) -> None:
        try:
            while not self._stopping:
                try:
                    busy = await self.send_due()
                except Exception:  # noqa: BLE001 - a store hiccup must not end delivery for good
                    log.exception("alert delivery round failed")
                    busy = False
                self.rounds += 1
                if busy:
                    await asyncio.sleep(0)
                    continue
                await self._pause(self.idle_s)
        finally:
            self._thread.shutdown(wait=True)

    async def send_due(self) -> bool:
        """One round. True when alerts were due, so the next round follows at once."""
        if time.monotonic() < self._flood_until:
            return False
        if self._unmarked and not await self._mark(list(self._unmarked)):
            return False  # the store cannot take marks: sending more would only make more to mark
        now = datetime.now(timezone.utc)
        lease = timedelta(seconds=self.config.claim_lease_s)
        items = await self._store(self.store.claim_alerts, self.worker, utc_iso(now), utc_iso(now + lease), BATCH)
        if not items:
            return False
        by_chat: dict[int, list[OutboxItem]] = defaultdict(list)
        for item in items:
            by_chat[item.chat_id].append(item)
        for chat_id, chat_items in by_chat.items():
            await self._send_one_message(chat_id, chat_items)
        return True

    async def _send_one_message(self, chat_id: int, items: list[OutboxItem]) -> None:
        """Send one message's worth of the chat's claimed alerts; hand the rest back for later."""
        now = time.monotonic()
        wait = max(self._last_sent.get(chat_id, 0.0) + PER_CHAT_INTERVAL_S, self._flood_until) - now
        if self._stopping or wait > 0:  # hand them back: due again once this chat (or Telegram) allows
            await self._store(self.store.retry_alerts, [i.id for i in items], _later(max(wait, 1.0)), PACED, False)
            return
        digest = [i for i in items if i.delivery == "daily"]
        markup = None
        if digest:
            text, carried = digest_parts(digest)[0]
        else:  # a single alert carries its 👍 / 👎 / why buttons
            text, carried, markup = alert_text(items[0]), [items[0]], alert_markup(items[0].id)
        rest = [i.id for i in items if i not in carried]
        if rest:
            await self._store(self.store.retry_alerts, rest, _later(1), PACED, False)
        await self._deliver(chat_id, text, carried, markup)

    async def _deliver(self, chat_id: int, text: str, items: list[OutboxItem], markup=None) -> None:
        ids = [i.id for i in items]
        if set(ids) <= self._unmarked:
            await self._mark(ids)  # delivered before; only the mark was missing
            return
        try:
            await self.bot.send_message(chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup,
                                        link_preview_options=LinkPreviewOptions(is_disabled=True))
        except RetryAfter as exc:
            delay = _seconds(exc.retry_after)
            log.warning("flood control: waiting %.0f s", delay)
            self._flood_until = time.monotonic() + delay
            await self._store(self.store.retry_alerts, ids, _later(delay), f"RetryAfter {delay:g}", False)
            return
        except ChatMigrated as exc:
            log.info("chat %s migrated to %s", chat_id, exc.new_chat_id)
            await self._store(self.store.migrate_chat, chat_id, exc.new_chat_id)
            return
        except Forbidden as exc:
            log.info("chat %s deactivated: %s", chat_id, exc.message)
            await self._store(self.store.set_chat_active, chat_id, False, exc.message)
            return
        except BadRequest as exc:
            if "chat not found" in exc.message.lower():
                await self._store(self.store.set_chat_active, chat_id, False, exc.message)
            else:
                log.warning("alert(s) %s to chat %s refused: %s", ids, chat_id, exc.message)
                await self._store(self.store.fail_alerts, ids, exc.message)
            return
        except (NetworkError, TelegramError) as exc:  # TimedOut is a NetworkError
            await self._retry_later(items, exc)
            return
        self._last_sent[chat_id] = time.monotonic()
        self._unmarked.update(ids)
        await self._mark(ids)

    async def _mark(self, ids: list[int]) -> bool:
        try:
            await self._store(self.store.mark_sent, ids)
        except Exception:  # noqa: BLE001 - kept in _unmarked, marked before anything else is sent
            log.exception("alert(s) %s were delivered but could not be marked sent", ids)
            return False
        self._unmarked.difference_update(ids)
        self.sent += len(ids)
        return True

    async def _pause(self, seconds: float) -> None:
        """Send nothing for `seconds`, unless woken by new alerts (idle waits) or asked to stop."""
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            pass
        self._wake.clear()

    async def _retry_later(self, items: list[OutboxItem], exc: Exception) -> None:
        attempts = max(i.attempts for i in items) + 1
        error = f"{type(exc).__name__}: {exc}"
        ids = [i.id for i in items]
        if attempts >= self.config.max_attempts:
            log.warning("alert(s) %s given up after %d attempts: %s", ids, attempts, error)
            await self._store(self.store.fail_alerts, ids, error)
            return
        delay = retry_delay(attempts, self.config.retry_base_s)
        await self._store(self.store.retry_alerts, ids, _later(delay), error)
