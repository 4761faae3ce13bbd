"""Feed sources in SQL both backends run (mixed into SqlStore).

Polling is claimed like sending alerts: a worker takes due feeds with a lease (PostgreSQL locks
the rows FOR UPDATE SKIP LOCKED), so several workers sharing a store poll each feed once, and a
feed claimed by a worker that died is taken again when the lease ends. A poll's result (new
validators, the next poll time, health) is written only after its items are saved, and only by
the worker that still holds the claim, so a crash mid-poll makes the next poll read the same
items again — which ingestion's de-duplication turns into nothing.
"""

from __future__ import annotations

from ..feeds import FeedSource, PollOutcome
from .base import now_iso

_COLUMNS = ("id, url, title, site, etag, last_modified, interval_minutes, next_poll, failures, last_ok, "
            "last_error, items, enabled, disabled_reason, added_at, hint_minutes")


def _feed(row: tuple) -> FeedSource:
    return FeedSource(id=row[0], url=row[1], title=row[2], site=row[3], etag=row[4], last_modified=row[5],
                      interval=row[6], next_poll=row[7], failures=row[8], last_ok=row[9], last_error=row[10],
                      items=row[11], enabled=bool(row[12]), disabled_reason=row[13], added_at=row[14],
                      hint=row[15])


class SqlFeedsMixin:
    def add_feed(self, url: str, title: str = "", interval: float | None = None,
                 now: str = "") -> tuple[FeedSource, bool]:
        """(the feed, created). A known URL is returned as it is, re-enabled if it was disabled."""
        now = now or now_iso()
        with self._write():
            row = self._run(f"SELECT {_COLUMNS} FROM feeds WHERE url=?", (url,)).fetchone()
            if row:
                if not row[12] or (interval is not None and interval != row[6]):
                    self._run("UPDATE feeds SET enabled=1, disabled_reason=NULL, failures=0, next_poll=?, "
                              "interval_minutes=COALESCE(?, interval_minutes) WHERE id=?", (now, interval, row[0]))
                    row = self._run(f"SELECT {_COLUMNS} FROM feeds WHERE id=?", (row[0],)).fetchone()
                return _feed(row), False
            row = self._run(
                f"INSERT INTO feeds(url, title, interval_minutes, next_poll, added_at) VALUES(?,?,?,?,?) "
                f"RETURNING {_COLUMNS}", (url, title, interval, now, now)).fetchone()
            return _feed(row), True

    def feeds(self) -> list[FeedSource]:
        return [_feed(r) for r in self._rows(f"SELECT {_COLUMNS} FROM feeds ORDER BY id")]

    def find_feed(self, key: str | int) -> FeedSource | None:
        """By id (a number) or URL."""
        text = str(key).strip()
        if text.isdigit():
            row = self._one(f"SELECT {_COLUMNS} FROM feeds WHERE id=?", (int(text),))
        else:
            row = self._one(f"SELECT {_COLUMNS} FROM feeds WHERE url=?", (text,))
        return _feed(row) if row else None

    def remove_feed(self, feed_id: int) -> bool:
        """The feed stops being polled; the articles it brought stay in the store."""
        with self._write():
            return bool(self._run("DELETE FROM feeds WHERE id=?", (feed_id,)).rowcount)

    def set_feed_enabled(self, feed_id: int, enabled: bool, reason: str | None = None) -> bool:
        with self._write():
            return bool(self._run(
                "UPDATE feeds SET enabled=?, disabled_reason=?, failures=CASE WHEN ? = 1 THEN 0 ELSE failures END, "
                "next_poll=CASE WHEN ? = 1 THEN ? ELSE next_poll END WHERE id=?",
                (int(enabled), None if enabled else reason, int(enabled), int(enabled), now_iso(), feed_id)).rowcount)

    def claim_feeds(self, worker: str, now: str, lease_until: str, limit: int = 1000,
                    every: bool = False) -> list[FeedSource]:
        """Take enabled feeds that are due (`every`: all enabled feeds) and not claimed by a live
        worker, soonest due first."""
        due = "" if every else " AND next_poll<=?"
        params: tuple = (now,) if every else (now, now)
        with self._write():
            ids = [r[0] for r in self._run(
                f"SELECT id FROM feeds WHERE enabled=1 AND (claimed_until IS NULL OR claimed_until<=?){due} "
                f"ORDER BY next_poll, id LIMIT ?{self._claim_lock_clause}", (*params, limit)).fetchall()]
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            self._run(f"UPDATE feeds SET claimed_by=?, claimed_until=? WHERE id IN ({marks})",
                      (worker, lease_until, *ids))
            rows = self._run(f"SELECT {_COLUMNS} FROM feeds WHERE id IN ({marks}) ORDER BY next_poll, id",
                             ids).fetchall()
        return [_feed(r) for r in rows]

    def record_poll(self, feed_id: int, worker: str, outcome: PollOutcome, now: str = "") -> bool:
        """Write a poll's result and release the claim; False (nothing written) when the claim was
        lost meanwhile (the lease ran out and another worker took the feed)."""
        now = now or now_iso()
        with self._write():
            if outcome.ok:
                changed = self._run(
                    "UPDATE feeds SET etag=?, last_modified=?, next_poll=?, failures=0, last_ok=?, last_error=?, "
                    "items=items+?, title=CASE WHEN ? <> '' THEN ? ELSE title END, "
                    "site=CASE WHEN ? <> '' THEN ? ELSE site END, claimed_by=NULL, claimed_until=NULL, "
                    "hint_minutes=CASE WHEN ? = 1 THEN ? ELSE hint_minutes END "
                    "WHERE id=? AND claimed_by=?",
                    (outcome.etag, outcome.last_modified, outcome.next_poll, now,
                     f"warning: {outcome.warning}" if outcome.warning else None, outcome.items,
                     outcome.title or "", outcome.title or "", outcome.site or "", outcome.site or "",
                     int(outcome.read), outcome.hint, feed_id, worker)).rowcount
            else:
                changed = self._run(
                    "UPDATE feeds SET next_poll=?, failures=failures+1, last_error=?, claimed_by=NULL, "
                    "claimed_until=NULL WHERE id=? AND claimed_by=?",
                    (outcome.next_poll, outcome.error, feed_id, worker)).rowcount
            if changed and outcome.disable:
                self._run("UPDATE feeds SET enabled=0, disabled_reason=? WHERE id=?", (outcome.disable, feed_id))
            if changed and outcome.new_url:
                taken = self._run("SELECT id FROM feeds WHERE url=? AND id<>?", (outcome.new_url, feed_id)).fetchone()
                if taken:  # the feed moved to a URL the store already polls: one of them is enough
                    self._run("UPDATE feeds SET enabled=0, disabled_reason=? WHERE id=?",
                              (f"moved to {outcome.new_url}, already polled as feed {taken[0]}", feed_id))
                else:
                    self._run("UPDATE feeds SET url=? WHERE id=?", (outcome.new_url, feed_id))
        return bool(changed)

    def renew_feed_claim(self, feed_id: int, worker: str, lease_until: str) -> bool:
        """Extend a claim just before the feed is fetched (a round's politeness can outlast the first
        lease); False when the claim was lost meanwhile, and the feed is not fetched."""
        with self._write():
            return bool(self._run("UPDATE feeds SET claimed_until=? WHERE id=? AND claimed_by=?",
                                  (lease_until, feed_id, worker)).rowcount)

    def known_article_urls(self, urls: list[str]) -> set[str]:
        """Which of these (normalised) URLs an article already has: the same story in another feed."""
        return self._present("url", urls)

    def known_article_ids(self, ids: list[str]) -> set[str]:
        """Which of these article ids the store has (a feed's items are checked before any work)."""
        return self._present("id", ids)

    def _present(self, column: str, values: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(values), 500):
            chunk = values[start:start + 500]
            found.update(r[0] for r in self._rows(
                f"SELECT {column} FROM articles WHERE {column} IN ({','.join('?' * len(chunk))})", chunk))
        return found

    def feed_counts(self) -> dict[str, int]:
        enabled, disabled, failing = self._one(
            "SELECT COALESCE(SUM(enabled), 0), COALESCE(SUM(1 - enabled), 0), "
            "COALESCE(SUM(CASE WHEN enabled=1 AND failures>0 THEN 1 ELSE 0 END), 0) FROM feeds")
        return {"enabled": int(enabled), "disabled": int(disabled), "failing": int(failing)}
