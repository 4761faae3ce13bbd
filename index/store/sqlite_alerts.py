"""Chats, topics and the alert outbox in SQLite (mixed into SqliteStore: one connection, one lock).

Every change that must survive a crash together happens in one transaction: recording a batch of
alerts with the watermark that says they were matched, moving a migrated chat's topics and alerts.
`topics_version` in meta changes with every topic change, so a process holding topic matrices
knows when another process (or its own command) changed a subscription.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..outbox import Alert, OutboxItem
from .base import ArticleHeader, TopicRow, now_iso as _now


class SqliteAlertsMixin:
    # -- chats ------------------------------------------------------------------------------
    def upsert_chat(self, chat_id: int, kind: str = "private", title: str = "", now: str = "") -> None:
        with self._lock, self._transaction():
            self._db.execute(
                "INSERT INTO chats(chat_id, kind, title, active, updated_at) VALUES(?,?,?,1,?) "
                "ON CONFLICT(chat_id) DO UPDATE SET kind=excluded.kind, title=excluded.title, "
                "active=1, reason=NULL, updated_at=excluded.updated_at",
                (chat_id, kind, title, now or _now()),
            )

    def set_chat_active(self, chat_id: int, active: bool, reason: str = "") -> None:
        """Deactivating also drops the chat's unsent alerts: a chat that blocked the bot is not
        retried forever, and nothing stale arrives if it comes back."""
        with self._lock, self._transaction():
            self._db.execute(
                "UPDATE chats SET active=?, reason=?, updated_at=? WHERE chat_id=?",
                (int(active), reason or None, _now(), chat_id),
            )
            if not active:
                self._db.execute(
                    "UPDATE outbox SET status='dropped', last_error=? WHERE chat_id=? AND status='pending'",
                    (reason or "chat deactivated", chat_id),
                )

    def chat_active(self, chat_id: int) -> bool | None:
        with self._lock:
            row = self._db.execute("SELECT active FROM chats WHERE chat_id=?", (chat_id,)).fetchone()
        return None if row is None else bool(row[0])

    def migrate_chat(self, old_id: int, new_id: int) -> None:
        """A group became a supergroup: its topics and unsent alerts move to the new id."""
        with self._lock, self._transaction():
            self._db.execute(
                "INSERT INTO chats(chat_id, kind, title, active, updated_at) "
                "SELECT ?, 'supergroup', title, 1, ? FROM chats WHERE chat_id=? "
                "ON CONFLICT(chat_id) DO NOTHING",
                (new_id, _now(), old_id),
            )
            self._db.execute("UPDATE OR IGNORE topics SET chat_id=? WHERE chat_id=?", (new_id, old_id))
            self._db.execute("UPDATE OR IGNORE outbox SET chat_id=? WHERE chat_id=?", (new_id, old_id))
            self._db.execute("DELETE FROM outbox WHERE chat_id=? AND status='pending'", (old_id,))
            self._db.execute("DELETE FROM topics WHERE chat_id=?", (old_id,))
            self._db.execute(
                "UPDATE chats SET active=0, reason=?, updated_at=? WHERE chat_id=?",
                (f"migrated to {new_id}", _now(), old_id),
            )
            self._bump_topics_version()

    # -- topics -----------------------------------------------------------------------------
    def add_topic(self, chat_id: int, query: str, delivery: str, since_seq: int, limit: int) -> tuple[int, bool]:
        """(topic id, created). An existing topic of the same text is returned (delivery updated).
        Raises LookupError when the chat already has `limit` topics."""
        with self._lock, self._transaction():
            row = self._db.execute(
                "SELECT id FROM topics WHERE chat_id=? AND query=?", (chat_id, query)
            ).fetchone()
            if row:
                self._db.execute("UPDATE topics SET delivery=?, muted=0 WHERE id=?", (delivery, row[0]))
                self._bump_topics_version()
                return row[0], False
            count = self._db.execute("SELECT COUNT(*) FROM topics WHERE chat_id=?", (chat_id,)).fetchone()[0]
            if count >= limit:
                raise LookupError(f"chat {chat_id} has {count} topics (limit {limit})")
            cur = self._db.execute(
                "INSERT INTO topics(chat_id, query, delivery, since_seq, created_at) VALUES(?,?,?,?,?)",
                (chat_id, query, delivery, since_seq, _now()),
            )
            self._bump_topics_version()
            return cur.lastrowid, True

    def remove_topics(self, chat_id: int, topic_id: int | None = None) -> int:
        """Remove one topic of the chat, or all of them when `topic_id` is None."""
        with self._lock, self._transaction():
            if topic_id is None:
                cur = self._db.execute("DELETE FROM topics WHERE chat_id=?", (chat_id,))
            else:
                cur = self._db.execute("DELETE FROM topics WHERE chat_id=? AND id=?", (chat_id, topic_id))
            if cur.rowcount:
                self._bump_topics_version()
            return cur.rowcount

    def update_topic(self, chat_id: int, topic_id: int, **changes) -> bool:
        allowed = {"muted", "delivery", "threshold"}
        if not changes or set(changes) - allowed:
            raise ValueError(f"topic fields that can change: {sorted(allowed)}")
        assignments = ", ".join(f"{name}=?" for name in changes)
        with self._lock, self._transaction():
            cur = self._db.execute(
                f"UPDATE topics SET {assignments} WHERE chat_id=? AND id=?",
                (*changes.values(), chat_id, topic_id),
            )
            if cur.rowcount:
                self._bump_topics_version()
            return bool(cur.rowcount)

    def topics(self, chat_id: int | None = None) -> list[TopicRow]:
        """A chat's topics, or (chat_id None) every topic of every active chat."""
        sql = ("SELECT t.id, t.chat_id, t.query, t.delivery, t.muted, t.threshold, t.since_seq "
               "FROM topics t JOIN chats c ON c.chat_id=t.chat_id ")
        with self._lock:
            if chat_id is None:
                rows = self._db.execute(sql + "WHERE c.active=1 ORDER BY t.id").fetchall()
            else:
                rows = self._db.execute(sql + "WHERE t.chat_id=? ORDER BY t.id", (chat_id,)).fetchall()
        return [TopicRow(r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6]) for r in rows]

    def topics_version(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key='topics_version'").fetchone()
        return int(row[0]) if row else 0

    def _bump_topics_version(self) -> None:
        self._db.execute(
            "INSERT INTO meta(key, value) VALUES('topics_version', '1') "
            "ON CONFLICT(key) DO UPDATE SET value=CAST(CAST(value AS INTEGER) + 1 AS TEXT)"
        )

    # -- outbox -----------------------------------------------------------------------------
    def alerts_watermark(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key='alerts_watermark'").fetchone()
        return int(row[0]) if row else 0

    def record_alerts(self, alerts: Iterable[Alert], watermark: int) -> int:
        """Record alerts and advance the watermark together; an alert for an article the chat has
        had (or has pending) is ignored. Returns how many were new."""
        rows = [(a.chat_id, a.article_seq, a.topic, a.quote, a.score, a.delivery, _now(), a.not_before)
                for a in alerts]
        with self._lock, self._transaction():
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO outbox(chat_id, article_seq, topic, quote, score, delivery, "
                "created_at, not_before) VALUES(?,?,?,?,?,?,?,?)",
                rows,
            )
            added = self._db.total_changes - before
            self._db.execute(
                "INSERT INTO meta(key, value) VALUES('alerts_watermark', ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value "
                "WHERE CAST(excluded.value AS INTEGER) > CAST(meta.value AS INTEGER)",
                (str(watermark),),
            )
            return added

    def due_alerts(self, now: str, limit: int = 100, per_chat: int = 20) -> list[OutboxItem]:
        """Oldest first, at most `per_chat` of one chat, so a chat with a backlog (sent at one
        message a second) does not hold up everyone else's alerts."""
        with self._lock:
            rows = self._db.execute(
                "SELECT o.id, o.chat_id, o.topic, o.quote, o.score, o.delivery, o.attempts, "
                "a.seq, a.id, a.title, a.date, a.source, a.url "
                "FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY chat_id ORDER BY id) AS rank FROM outbox "
                "      WHERE status='pending' AND not_before<=?) o "
                "JOIN articles a ON a.seq=o.article_seq JOIN chats c ON c.chat_id=o.chat_id "
                "WHERE c.active=1 AND o.rank<=? ORDER BY o.id LIMIT ?",
                (now, per_chat, limit),
            ).fetchall()
        return [OutboxItem(r[0], r[1], r[2], r[3], r[4], r[5], r[6], ArticleHeader(*r[7:])) for r in rows]

    def mark_sent(self, ids: Iterable[int], now: str = "") -> None:
        ids = list(ids)
        with self._lock, self._transaction():
            self._db.executemany(
                "UPDATE outbox SET status='sent', sent_at=? WHERE id=? AND status='pending'",
                [(now or _now(), i) for i in ids],
            )

    def retry_alerts(self, ids: Iterable[int], not_before: str, error: str, count_attempt: bool = True) -> None:
        with self._lock, self._transaction():
            self._db.executemany(
                "UPDATE outbox SET not_before=?, last_error=?, attempts=attempts+? WHERE id=? AND status='pending'",
                [(not_before, error[:500], int(count_attempt), i) for i in ids],
            )

    def fail_alerts(self, ids: Iterable[int], error: str) -> None:
        with self._lock, self._transaction():
            self._db.executemany(
                "UPDATE outbox SET status='failed', last_error=? WHERE id=? AND status='pending'",
                [(error[:500], i) for i in ids],
            )

    def outbox_counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall()
        counts = {"pending": 0, "sent": 0, "failed": 0, "dropped": 0}
        counts.update(dict(rows))
        return counts

    def subscription_counts(self) -> dict[str, int]:
        with self._lock:
            chats, topics = self._db.execute(
                "SELECT COUNT(DISTINCT c.chat_id), COUNT(t.id) FROM chats c "
                "JOIN topics t ON t.chat_id=c.chat_id WHERE c.active=1"
            ).fetchone()
        return {"chats": chats, "topics": topics}
