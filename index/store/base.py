"""The store interface that every backend satisfies, and its small value types."""

from __future__ import annotations

import re

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol

import numpy as np

from ..models import Article


class StoreError(RuntimeError):
    """The store cannot be opened or used; the message says why."""


_URL_PASSWORD = re.compile(r"(postgres(?:ql)?://[^:/@\s]*:)[^@\s]*@", re.IGNORECASE)
_PARAM_PASSWORD = re.compile(r"(\bpassword=)[^&\s'\"]*", re.IGNORECASE)


def redact(text: str) -> str:
    """`text` with any PostgreSQL password (in a URL's user part or a `password=` parameter)
    replaced by ***: store locations go into messages, stats and logs."""
    return _PARAM_PASSWORD.sub(r"\1***", _URL_PASSWORD.sub(r"\1***@", text))


def has_password(location: str) -> bool:
    return redact(location) != location


MIGRATING_KEY = "migration_in_progress"  # meta key set while `newsbot migrate` fills the store


def refuse_unfinished_migration(store) -> None:
    """Raise StoreError when `newsbot migrate` into this store never completed."""
    marker = store.migration_marker()
    if marker is not None:
        raise StoreError(f"a migration into {store.location()} ({marker}) did not complete; run the same "
                         "`newsbot migrate` again to start it over")


def now_iso() -> str:
    """UTC now as stored: second precision, `Z`, so that times compare as strings."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class SaveResult:
    id: str
    added: bool
    seq: int = 0  # the stored article's seq (the existing one's, for a duplicate)


@dataclass(frozen=True)
class ArticleHeader:
    seq: int
    id: str
    title: str
    date: str | None
    source: str
    url: str | None

    def as_dict(self) -> dict:
        return {"id": self.id, "title": self.title, "date": self.date, "source": self.source, "url": self.url}


@dataclass(frozen=True)
class ArticleText(ArticleHeader):
    """An article without its sentences and passages: all that telling stories apart, listing
    them and checking what they name needs. Answers load a dozen of these and the sentences of
    only the few they quote (loading sentences was most of an answer's time)."""

    text: str


@dataclass(frozen=True)
class TopicRow:
    id: int
    chat_id: int
    query: str
    delivery: str
    muted: bool
    threshold: float | None
    since_seq: int
    profile: bytes | None = None  # float32 bytes of the topic's profile vector (None: not calibrated)
    auto_threshold: float | None = None  # the threshold calibrated on the archive
    calibrated_on: int = 0  # archive articles the profile was derived from
    liked: int = 0  # the chat's judgements of the topic's alerts
    disliked: int = 0


class Store(Protocol):
    def save(self, article: Article) -> SaveResult:
        """Store the article whole or not at all; a known id, URL or text is a duplicate."""

    def get(self, article_id: str) -> Article | None: ...

    def articles_by_seq(self, seqs: list[int]) -> dict[int, Article]: ...

    def texts_by_seq(self, seqs: list[int]) -> dict[int, ArticleText]:
        """The articles of these seqs without their sentences and passages."""

    def headers(self) -> Iterator[ArticleHeader]: ...

    def headers_by_seq(self, seqs: list[int]) -> dict[int, ArticleHeader]: ...

    def latest(self, limit: int, now: str | None = None) -> list[ArticleHeader]:
        """The newest articles dated up to `now`, then undated ones (for /latest)."""

    def articles_after(self, seq: int, limit: int = 1000) -> list[Article]:
        """Full articles with seq > `seq`, oldest first: the change feed indexes catch up from."""

    def max_seq(self) -> int: ...

    def store_id(self) -> str:
        """A random id fixed when the store was created."""

    def passages_after(self, seq: int) -> int:
        """How many passages belong to articles with seq > `seq` (work an index has ahead)."""

    def stats(self) -> dict: ...

    def get_vectors(self, model: str, hashes: Iterable[str]) -> dict[str, np.ndarray]: ...

    def put_vectors(self, model: str, items: Iterable[tuple[str, np.ndarray]]) -> None: ...

    def known_article_ids(self, ids: list[str]) -> set[str]:
        """Which of these article ids are stored (feed items are checked before any work)."""

    def integrity_check(self) -> list[str]:
        """Problems found, empty when the store is sound."""

    def location(self) -> str:
        """Where the store is, fit to show (a PostgreSQL URL without its password)."""

    def schema_version(self) -> int: ...

    def close(self) -> None: ...

    # -- whole tables and meta (newsbot migrate) ---------------------------------------------
    def iter_vectors(self, batch: int = 2000) -> Iterator[list[tuple[str, str, bytes]]]: ...

    def dump_table(self, table: str, columns: tuple[str, ...]) -> list[tuple]: ...

    def load_rows(self, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None: ...

    def restart_identities(self) -> None:
        """After rows were loaded with their ids, new ids continue above them."""

    def set_meta(self, key: str, value: str) -> None: ...

    def delete_meta(self, key: str) -> None: ...

    def migration_marker(self) -> str | None: ...

    def clear_for_migration(self) -> None: ...

    # -- chats, topics and the alert outbox (index.store.sql_alerts documents them) -----------
    def upsert_chat(self, chat_id: int, kind: str = "private", title: str = "", now: str = "") -> None: ...

    def set_chat_active(self, chat_id: int, active: bool, reason: str = "") -> None: ...

    def chat_active(self, chat_id: int) -> bool | None: ...

    def migrate_chat(self, old_id: int, new_id: int) -> None: ...

    def add_topic(self, chat_id: int, query: str, delivery: str, since_seq: int, limit: int) -> tuple[int, bool]: ...

    def remove_topics(self, chat_id: int, topic_id: int | None = None) -> int: ...

    def update_topic(self, chat_id: int, topic_id: int, **changes) -> bool: ...

    def topics(self, chat_id: int | None = None) -> list[TopicRow]: ...

    def topics_version(self) -> int: ...

    def set_topic_profile(self, topic_id: int, profile: bytes, auto_threshold: float, calibrated_on: int) -> bool: ...

    def judge(self, topic_id: int, article_seq: int, verdict: int, now: str = "") -> None: ...

    def judgements(self, topic_id: int) -> list[tuple[int, int]]: ...

    def alert_item(self, outbox_id: int): ...

    def alerts_watermark(self) -> int: ...

    def record_alerts(self, alerts, watermark: int) -> int: ...

    def due_alerts(self, now: str, limit: int = 100, per_chat: int = 20) -> list: ...

    def claim_alerts(self, worker: str, now: str, lease_until: str, limit: int = 100, per_chat: int = 1) -> list:
        """Take due alerts for sending, with a lease (several workers never send one twice)."""

    def mark_sent(self, ids: Iterable[int], now: str = "") -> None: ...

    def retry_alerts(self, ids: Iterable[int], not_before: str, error: str, count_attempt: bool = True) -> None: ...

    def fail_alerts(self, ids: Iterable[int], error: str) -> None: ...

    def outbox_counts(self) -> dict[str, int]: ...

    def subscription_counts(self) -> dict[str, int]: ...

    # -- feeds the store polls (index.store.sql_feeds documents them) ------------------------
    def add_feed(self, url: str, title: str = "", interval: float | None = None, now: str = "") -> tuple: ...

    def feeds(self) -> list: ...

    def find_feed(self, key: str | int): ...

    def remove_feed(self, feed_id: int) -> bool: ...

    def set_feed_enabled(self, feed_id: int, enabled: bool, reason: str | None = None) -> bool: ...

    def claim_feeds(self, worker: str, now: str, lease_until: str, limit: int = 1000, every: bool = False) -> list:
        """Take due feeds for polling, with a lease (several workers poll each feed once)."""

    def record_poll(self, feed_id: int, worker: str, outcome, now: str = "") -> bool: ...

    def renew_feed_claim(self, feed_id: int, worker: str, lease_until: str) -> bool: ...

    def known_article_urls(self, urls: list[str]) -> set[str]: ...

    def feed_counts(self) -> dict[str, int]: ...
