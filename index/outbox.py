"""Alerts on their way to a chat: what is recorded, when it may go, and how often it is retried.

An alert is written to the store's outbox in the same transaction that advances the matching
watermark, and marked sent only after Telegram accepted it. So a crash anywhere loses nothing: on
restart unmatched articles are matched again (the outbox's unique (chat, article) key makes that
idempotent) and unsent alerts are sent. The one duplicate left possible is a crash between
Telegram's acceptance and the mark, a window of one local SQLite write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the store imports this module
    from .store.base import ArticleHeader

MAX_RETRY_DELAY_S = 3600.0


@dataclass(frozen=True)
class Alert:
    chat_id: int
    article_seq: int
    topic: str  # the topic as its subscriber typed it
    quote: str  # the article's best matching sentence, verbatim
    score: float
    delivery: str  # instant | daily
    not_before: str  # UTC ISO time it may be sent (the digest hour for daily topics)


@dataclass(frozen=True)
class OutboxItem:
    id: int
    chat_id: int
    topic: str
    quote: str
    score: float
    delivery: str
    attempts: int
    article: ArticleHeader


def utc_iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def next_digest(now: datetime, hour_utc: int) -> datetime:
    """The next digest moment strictly after `now` (daily topics collect until then)."""
    now = now.astimezone(timezone.utc)
    moment = now.replace(hour=hour_utc, minute=0, second=0, microsecond=0)
    return moment if moment > now else moment + timedelta(days=1)


def retry_delay(attempts: int, base_s: float = 5.0) -> float:
    """Seconds before the next try after `attempts` failed ones: `base_s` doubling, capped at an hour."""
    return min(base_s * 2 ** max(attempts - 1, 0), MAX_RETRY_DELAY_S)
