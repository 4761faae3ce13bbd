"""Chats, topics and the alert outbox, in SQL both backends run (mixed into SqlStore).

Every change that must survive a crash together is one transaction: recording a batch of alerts
with the watermark that says they were matched, moving a migrated chat's topics and alerts.
`topics_version` in meta changes with every topic change, so a process holding topic matrices
knows when another process (or its own command) changed a subscription.

Sending is claimed, not just read: a worker marks the alerts it is about to send as `sending`
with a lease (PostgreSQL takes them FOR UPDATE SKIP LOCKED; SQLite's write transactions are
serial), so several workers sharing a store never send the same alert, and an alert claimed by a
worker that died is taken again once its lease ends.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..outbox import Alert, OutboxItem
from .base import ArticleHeader, TopicRow, now_iso

_ITEM_COLUMNS = ("o.id, o.chat_id, o.topic, o.quote, o.score, o.delivery, o.attempts, "
                 "a.seq, a.id, a.title, a.date, a.source, a.url")
_OPEN = "('pending', 'sending')"  # alerts not yet sent, failed or dropped


class SqlAlertsMixin:
    _claim_lock_clause = ""  # " FOR UPDATE SKIP LOCKED" where the backend has row locks

    # -- chats ------------------------------------------------------------------------------
    def upsert_chat(self, chat_id: int, kind: str = "private", title: str = "", now: str = "") -> None:
        with self._write():
            self._run(
                "INSERT INTO chats(chat_id, kind, title, active, updated_at) VALUES(?,?,?,1,?) "
                "ON CONFLICT(chat_id) DO UPDATE SET kind=excluded.kind, title=excluded.title, "
                "active=1, reason=NULL, updated_at=excluded.updated_at",
                (chat_id, kind, title, now or now_iso()),
            )

    def set_chat_active(self, chat_id: int, active: bool, reason: str = "") -> None:
        """Deactivating also drops the chat's unsent alerts: a chat that blocked the bot is not
        retried forever, and nothing stale arrives if it comes back."""
        with self._write():
            self._run("UPDATE chats SET active=?, reason=?, updated_at=? WHERE chat_id=?",
                      (int(active), reason or None, now_iso(), chat_id))
            if not active:
                self._run(f"UPDATE outbox SET status='dropped', last_error=? WHERE chat_id=? AND status IN {_OPEN}",
                          (reason or "chat deactivated", chat_id))

    def chat_active(self, chat_id: int) -> bool | None:
        row = self._one("SELECT active FROM chats WHERE chat_id=?", (chat_id,))
        return None if row is None else bool(row[0])

    def migrate_chat(self, old_id: int, new_id: int) -> None:
        """A group became a supergroup: its topics and unsent alerts move to the new id (where
        the new chat already has the same topic or article, the old one is dropped)."""
        with self._write():
            self._run(
                "INSERT INTO chats(chat_id, kind, title, active, updated_at) "
                "SELECT ?, 'supergroup', title, 1, ? FROM chats WHERE chat_id=? "
                "ON CONFLICT(chat_id) DO UPDATE SET active=1, reason=NULL",
                (new_id, now_iso(), old_id),
            )
            self._run("UPDATE topics SET chat_id=? WHERE chat_id=? AND query NOT IN "
                      "(SELECT query FROM topics WHERE chat_id=?)", (new_id, old_id, new_id))
            self._run(f"UPDATE outbox SET chat_id=?, status='pending', claimed_by=NULL, claimed_until=NULL "
                      f"WHERE chat_id=? AND status IN {_OPEN} AND article_seq NOT IN "
                      f"(SELECT article_seq FROM outbox WHERE chat_id=?)", (new_id, old_id, new_id))
            self._run(f"DELETE FROM outbox WHERE chat_id=? AND status IN {_OPEN}", (old_id,))
            self._run("DELETE FROM topics WHERE chat_id=?", (old_id,))
            self._run("UPDATE chats SET active=0, reason=?, updated_at=? WHERE chat_id=?",
                      (f"migrated to {new_id}", now_iso(), old_id))
            self._bump_topics_version()

    # -- topics -----------------------------------------------------------------------------
    def add_topic(self, chat_id: int, query: str, delivery: str, since_seq: int, limit: int) -> tuple[int, bool]:
        """(topic id, created). An existing topic of the same text is returned (delivery updated).
        Raises LookupError when the chat already has `limit` topics."""
        with self._write():
            row = self._run("SELECT id FROM topics WHERE chat_id=? AND query=?", (chat_id, query)).fetchone()
            if row:
                self._run("UPDATE topics SET delivery=?, muted=0 WHERE id=?", (delivery, row[0]))
                self._bump_topics_version()
                return row[0], False
            count = self._run("SELECT COUNT(*) FROM topics WHERE chat_id=?", (chat_id,)).fetchone()[0]
            if count >= limit:
                raise LookupError(f"chat {chat_id} has {count} topics (limit {limit})")
            topic_id = self._run(
                "INSERT INTO topics(chat_id, query, delivery, since_seq, created_at) VALUES(?,?,?,?,?) RETURNING id",
                (chat_id, query, delivery, since_seq, now_iso()),
            ).fetchone()[0]
            self._bump_topics_version()
            return topic_id, True

    def remove_topics(self, chat_id: int, topic_id: int | None = None) -> int:
        """Remove one topic of the chat, or all of them when `topic_id` is None."""
        with self._write():
            if topic_id is None:
                removed = self._run("DELETE FROM topics WHERE chat_id=?", (chat_id,)).rowcount
            else:
                removed = self._run("DELETE FROM topics WHERE chat_id=? AND id=?", (chat_id, topic_id)).rowcount
            if removed:
                self._bump_topics_version()
            return removed

    def update_topic(self, chat_id: int, topic_id: int, **changes) -> bool:
        allowed = {"muted", "delivery", "threshold"}
        if not changes or set(changes) - allowed:
            raise ValueError(f"topic fields that can change: {sorted(allowed)}")
        assignments = ", ".join(f"{name}=?" for name in changes)
        with self._write():
            changed = self._run(f"UPDATE topics SET {assignments} WHERE chat_id=? AND id=?",
                                (*changes.values(), chat_id, topic_id)).rowcount
            if changed:
                self._bump_topics_version()
            return bool(changed)

    def topics(self, chat_id: int | None = None) -> list[TopicRow]:
        """A chat's topics, or (chat_id None) every topic of every active chat."""
        sql = ("SELECT t.id, t.chat_id, t.query, t.delivery, t.muted, t.threshold, t.since_seq, t.profile, "
               "t.auto_threshold, t.calibrated_on, "
               "(SELECT COUNT(*) FROM judgements j WHERE j.topic_id=t.id AND j.verdict>0), "
               "(SELECT COUNT(*) FROM judgements j WHERE j.topic_id=t.id AND j.verdict<0) "
               "FROM topics t JOIN chats c ON c.chat_id=t.chat_id ")
        if chat_id is None:
            rows = self._rows(sql + "WHERE c.active=1 ORDER BY t.id")
        else:
            rows = self._rows(sql + "WHERE t.chat_id=? ORDER BY t.id", (chat_id,))
        return [TopicRow(r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6], None if r[7] is None else bytes(r[7]),
                         r[8], r[9] or 0, r[10], r[11]) for r in rows]

    def set_topic_profile(self, topic_id: int, profile: bytes, auto_threshold: float, calibrated_on: int) -> bool:
        """Store what the topic derived from the archive (and its judgements)."""
        with self._write():
            changed = self._run("UPDATE topics SET profile=?, auto_threshold=?, calibrated_on=? WHERE id=?",
                                (profile, auto_threshold, calibrated_on, topic_id)).rowcount
            if changed:
                self._bump_topics_version()
            return bool(changed)

    def judge(self, topic_id: int, article_seq: int, verdict: int, now: str = "") -> None:
        """A chat's verdict on one alert of a topic: 1 liked, -1 disliked (a second tap replaces it)."""
        if verdict not in (1, -1):
            raise ValueError("verdict is 1 (liked) or -1 (disliked)")
        with self._write():
            self._run("INSERT INTO judgements(topic_id, article_seq, verdict, created_at) VALUES(?,?,?,?) "
                      "ON CONFLICT(topic_id, article_seq) DO UPDATE SET verdict=excluded.verdict, "
                      "created_at=excluded.created_at", (topic_id, article_seq, verdict, now or now_iso()))

    def judgements(self, topic_id: int) -> list[tuple[int, int]]:
        """[(article seq, verdict)] of one topic, oldest first."""
        return [(r[0], r[1]) for r in self._rows(
            "SELECT article_seq, verdict FROM judgements WHERE topic_id=? ORDER BY created_at, article_seq",
            (topic_id,))]

    def alert_item(self, outbox_id: int) -> OutboxItem | None:
        """One recorded alert (whatever its status), with its article's header."""
        items = self._items([outbox_id])
        return items[0] if items else None

    def topics_version(self) -> int:
        return self._meta_int("topics_version")

    def _bump_topics_version(self) -> None:
        self._run("INSERT INTO meta(key, value) VALUES('topics_version', '1') "
                  "ON CONFLICT(key) DO UPDATE SET value=CAST(CAST(meta.value AS BIGINT) + 1 AS TEXT)")

    # -- outbox -----------------------------------------------------------------------------
    def alerts_watermark(self) -> int:
        return self._meta_int("alerts_watermark")

    def record_alerts(self, alerts: Iterable[Alert], watermark: int) -> int:
        """Record alerts and advance the watermark together; an alert for an article the chat has
        had (or has pending) is ignored. Returns how many were new."""
        added = 0
        with self._write():
            for a in alerts:
                added += len(self._run(
                    "INSERT INTO outbox(chat_id, article_seq, topic, quote, score, delivery, created_at, not_before) "
                    "VALUES(?,?,?,?,?,?,?,?) ON CONFLICT(chat_id, article_seq) DO NOTHING RETURNING id",
                    (a.chat_id, a.article_seq, a.topic, a.quote, a.score, a.delivery, now_iso(), a.not_before),
                ).fetchall())
            self._run(
                "INSERT INTO meta(key, value) VALUES('alerts_watermark', ?) ON CONFLICT(key) DO UPDATE "
                "SET value=excluded.value WHERE CAST(excluded.value AS BIGINT) > CAST(meta.value AS BIGINT)",
                (str(watermark),),
            )
        return added

    def _items(self, ids: list[int]) -> list[OutboxItem]:
        if not ids:
            return []
        rows = self._rows(
            f"SELECT {_ITEM_COLUMNS} FROM outbox o JOIN articles a ON a.seq=o.article_seq "
            f"WHERE o.id IN ({','.join('?' * len(ids))}) ORDER BY o.id", ids)
        return [OutboxItem(r[0], r[1], r[2], r[3], r[4], r[5], r[6], ArticleHeader(*r[7:])) for r in rows]

    def due_alerts(self, now: str, limit: int = 100, per_chat: int = 20) -> list[OutboxItem]:
        """Pending alerts due at `now` (a read; senders claim with claim_alerts)."""
        ids = [r[0] for r in self._rows(self._due_sql(claimable=False), (now, per_chat, limit))]
        return self._items(ids)

    def claim_alerts(self, worker: str, now: str, lease_until: str, limit: int = 100,
                     per_chat: int = 1) -> list[OutboxItem]:
        """Take due alerts for sending: oldest first, at most `per_chat` instant alerts of one chat
        (its daily digest items all together), none of a chat another worker is sending to, so a
        chat with a backlog does not hold up everyone else and a chat gets one message at a time."""
        with self._write():
            # the status test is repeated outside: under row locks it is re-checked on the row's
            # latest version, so an alert another worker claimed meanwhile is not taken twice
            ids = [r[0] for r in self._run(
                f"SELECT id FROM outbox WHERE id IN ({self._due_sql(claimable=True)}) AND "
                f"(status='pending' OR (status='sending' AND claimed_until<=?)) ORDER BY id"
                f"{self._claim_lock_clause}", (now, now, now, per_chat, limit, now)).fetchall()]
            if ids:
                self._run(f"UPDATE outbox SET status='sending', claimed_by=?, claimed_until=? "
                          f"WHERE id IN ({','.join('?' * len(ids))})", (worker, lease_until, *ids))
        return self._items(ids)

    @staticmethod
    def _due_sql(claimable: bool) -> str:
        """Ids of due alerts; parameters: now[, now, now], per_chat, limit."""
        if claimable:
            ready = ("((o.status='pending' AND o.not_before<=?) OR (o.status='sending' AND o.claimed_until<=?)) "
                     "AND NOT EXISTS (SELECT 1 FROM outbox b WHERE b.chat_id=o.chat_id AND b.status='sending' "
                     "AND b.claimed_until>?)")
        else:
            ready = "o.status='pending' AND o.not_before<=?"
        # the terminal chat's alerts are shown by the terminal, never sent to Telegram
        chats = "c.kind<>'terminal'" if claimable else "1=1"
        return (
            "SELECT id FROM (SELECT o.id, o.delivery, ROW_NUMBER() OVER (PARTITION BY o.chat_id, o.delivery "
            f"ORDER BY o.id) AS rank FROM outbox o JOIN chats c ON c.chat_id=o.chat_id WHERE c.active=1 AND {chats} "
            f"AND {ready}) r "
            "WHERE r.delivery='daily' OR r.rank<=? ORDER BY id LIMIT ?"
        )

    def mark_sent(self, ids: Iterable[int], now: str = "") -> None:
        with self._write():
            self._run_many(f"UPDATE outbox SET status='sent', sent_at=?, claimed_until=NULL "
                           f"WHERE id=? AND status IN {_OPEN}", [(now or now_iso(), i) for i in ids])

    def retry_alerts(self, ids: Iterable[int], not_before: str, error: str, count_attempt: bool = True) -> None:
        with self._write():
            self._run_many(
                f"UPDATE outbox SET status='pending', not_before=?, last_error=?, attempts=attempts+?, "
                f"claimed_by=NULL, claimed_until=NULL WHERE id=? AND status IN {_OPEN}",
                [(not_before, error[:500], int(count_attempt), i) for i in ids],
            )

    def fail_alerts(self, ids: Iterable[int], error: str) -> None:
        with self._write():
            self._run_many(f"UPDATE outbox SET status='failed', last_error=? WHERE id=? AND status IN {_OPEN}",
                           [(error[:500], i) for i in ids])

    def outbox_counts(self) -> dict[str, int]:
        counts = {"pending": 0, "sending": 0, "sent": 0, "failed": 0, "dropped": 0}
        counts.update(dict(self._rows("SELECT status, COUNT(*) FROM outbox GROUP BY status")))
        return counts

    def subscription_counts(self) -> dict[str, int]:
        chats, topics = self._one(
            "SELECT COUNT(DISTINCT c.chat_id), COUNT(t.id) FROM chats c JOIN topics t ON t.chat_id=c.chat_id "
            "WHERE c.active=1")
        return {"chats": chats, "topics": topics}
