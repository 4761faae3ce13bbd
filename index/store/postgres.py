"""PostgreSQL article store (psycopg 3), for several bot workers and writers sharing one store.

The queries are SqlStore's, shared with SQLite; what differs is here:
- saves take a transaction-scoped advisory lock, so article seqs commit in seq order and a worker
  following the change feed never steps over an article that another writer is still saving;
- outbox claims lock rows FOR UPDATE SKIP LOCKED, so workers never wait on or take each other's;
- migrations run under an advisory lock, so workers starting together migrate once.
One connection per store object, guarded by a lock, as with SQLite; each worker process has its own.
"""

from __future__ import annotations

import re
import uuid
from functools import lru_cache

import psycopg

from .base import StoreError, redact, refuse_unfinished_migration
from .schema import POSTGRES_MIGRATIONS
from .sql_store import SqlStore

SAVE_LOCK = 0x6E657773  # advisory lock keys ("news", "migr")
MIGRATION_LOCK = 0x6D696772


@lru_cache(maxsize=512)
def _dialect(sql: str) -> str:
    """`?` placeholders (shared SQL) to psycopg's `%s` (no literal % or ? in our SQL)."""
    return re.sub(r"\?", "%s", sql)


def redacted(url: str) -> str:
    """The URL without its password, for messages and stats."""
    return redact(url)


class PostgresStore(SqlStore):
    DRIVER_ERRORS = (psycopg.Error,)
    _claim_lock_clause = " FOR UPDATE SKIP LOCKED"

    def __init__(self, url: str, *, allow_migrating: bool = False):
        super().__init__()
        self.url = url
        try:
            self._db = psycopg.connect(url, autocommit=True)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to {redacted(url)}: {redact(str(exc).strip())}") from exc
        try:
            self._migrate()
            if not allow_migrating:
                refuse_unfinished_migration(self)
        except BaseException:
            self._db.close()
            raise

    def location(self) -> str:
        return redacted(self.url)

    # -- backend hooks ----------------------------------------------------------------------
    def _run(self, sql: str, params=()):
        with self._driver_errors():
            return self._db.execute(_dialect(sql), params)

    def _run_many(self, sql: str, rows: list) -> None:
        if rows:
            with self._driver_errors(), self._db.cursor() as cursor:
                cursor.executemany(_dialect(sql), rows)

    def _begin(self):
        return self._db.transaction()

    def _serialize_saves(self) -> None:
        self._db.execute("SELECT pg_advisory_xact_lock(%s)", (SAVE_LOCK,))

    # -- schema ---------------------------------------------------------------------------
    def schema_version(self) -> int:
        with self._lock:
            if self._db.execute("SELECT to_regclass('meta')").fetchone()[0] is None:
                return 0
            row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            return int(row[0]) if row else 0

    def _migrate(self) -> None:
        with self._write():
            self._db.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            current = self.schema_version()
            if current > len(POSTGRES_MIGRATIONS):
                raise StoreError(f"{self.location()} has schema version {current}, newer than this newsbot "
                                 f"knows ({len(POSTGRES_MIGRATIONS)}); upgrade newsbot")
            if current == 0 and self._db.execute("SELECT to_regclass('articles')").fetchone()[0] is not None:
                raise StoreError(f"{self.location()} has an 'articles' table that is not a newsbot store's")
            for version in range(current + 1, len(POSTGRES_MIGRATIONS) + 1):
                with self._db.transaction():  # a savepoint per step
                    for statement in POSTGRES_MIGRATIONS[version - 1]:
                        self._db.execute(statement)
                    self._db.execute(
                        "INSERT INTO meta(key, value) VALUES('schema_version', %s) "
                        "ON CONFLICT(key) DO UPDATE SET value=excluded.value", (str(version),))
            self._db.execute("INSERT INTO meta(key, value) VALUES('store_id', %s) ON CONFLICT(key) DO NOTHING",
                             (uuid.uuid4().hex,))

    def restart_identities(self) -> None:
        with self._write():
            for table, column in (("articles", "seq"), ("topics", "id"), ("outbox", "id"), ("feeds", "id")):
                top = f"(SELECT MAX({column}) FROM {table})"
                self._db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                                 f"GREATEST({top}, 1), {top} IS NOT NULL)")

    # -- maintenance ----------------------------------------------------------------------
    def integrity_check(self) -> list[str]:
        problems = []
        dangling = self._one("SELECT COUNT(*) FROM passages p WHERE NOT EXISTS "
                             "(SELECT 1 FROM articles a WHERE a.seq=p.article_seq)")[0]
        if dangling:
            problems.append(f"{dangling} passage(s) of missing articles")
        return problems + self._orphans()

    def close(self) -> None:
        with self._lock:
            self._db.close()
