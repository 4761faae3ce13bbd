"""SQLite article store (WAL), the embedded default.

WAL lets the bot read while an ingest writes; every save is one transaction, so a crash leaves
either the whole article (with its sentences and passages) or nothing. One connection guarded by a
lock is shared across threads, which is what the bot's worker threads need and SQLite handles well
at this scale. Write transactions start with BEGIN IMMEDIATE: writers queue up front instead of
failing halfway, and each one sees every earlier commit (the outbox claims rely on it).
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

from .base import StoreError, refuse_unfinished_migration
from .schema import MIGRATIONS
from .sql_store import SqlStore


class SqliteStore(SqlStore):
    DRIVER_ERRORS = (sqlite3.Error,)

    def __init__(self, path: str | Path, *, allow_migrating: bool = False, read_only: bool = False):
        """`read_only` (stats, list, show): the file is opened with SQLite's mode=ro, so nothing
        is written to it (no WAL switch, no migration); a missing file is created as usual. A
        file that holds another application's tables is refused before anything touches it."""
        super().__init__()
        self.path = Path(path)
        memory = str(path) == ":memory:"
        read_only = read_only and not memory and self.path.exists()
        if not memory and not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            if read_only:
                self._db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                           check_same_thread=False, isolation_level=None, timeout=30)
            else:
                self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open store {path}: {exc}") from exc
        try:
            self._refuse_foreign()
            if read_only:
                self._refuse_outdated()
            else:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            if not read_only:
                self._migrate()
            if not allow_migrating:
                refuse_unfinished_migration(self)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StoreError(f"cannot open store {path}: {exc}") from exc
        except BaseException:
            self._db.close()
            raise

    def _refuse_foreign(self) -> None:
        """A file with tables but no newsbot schema belongs to someone else: leave it alone."""
        try:
            if self.schema_version():
                return
            tables = [r[0] for r in self._db.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a newsbot store: {exc}") from exc
        if tables:
            shown = ", ".join(tables[:5]) + (f" and {len(tables) - 5} more" if len(tables) > 5 else "")
            raise StoreError(f"{self.path} is not a newsbot store (it holds other tables: {shown}); "
                             "left untouched")

    def _refuse_outdated(self) -> None:
        current = self.schema_version()
        if current != len(MIGRATIONS):
            raise StoreError(f"{self.path} has schema version {current}, this newsbot reads {len(MIGRATIONS)}; "
                             "a command that writes (ingest, reindex, run) upgrades it")

    # -- backend hooks ----------------------------------------------------------------------
    def _run(self, sql: str, params=()):
        with self._driver_errors():
            return self._db.execute(sql, params)

    def _run_many(self, sql: str, rows: list) -> None:
        with self._driver_errors():
            self._db.executemany(sql, rows)

    def _begin(self):
        return _Transaction(self._db)

    # -- schema ---------------------------------------------------------------------------
    def schema_version(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
            if not row:
                return 0
            row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            return int(row[0]) if row else 0

    def _migrate(self) -> None:
        with self._lock:
            try:
                current = self.schema_version()
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"{self.path} is not a newsbot store: {exc}") from exc
            if current > len(MIGRATIONS):
                raise StoreError(f"{self.path} has schema version {current}, newer than this newsbot knows "
                                 f"({len(MIGRATIONS)}); upgrade newsbot")
            for version in range(current + 1, len(MIGRATIONS) + 1):
                with self._write():
                    if self.schema_version() >= version:
                        continue  # another process migrated it meanwhile
                    for statement in MIGRATIONS[version - 1]:
                        self._db.execute(statement)
                    self._db.execute(
                        "INSERT INTO meta(key, value) VALUES('schema_version', ?) "
                        "ON CONFLICT(key) DO UPDATE SET value=excluded.value", (str(version),))
            with self._write():
                self._db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES('store_id', ?)", (uuid.uuid4().hex,))

    # -- maintenance ----------------------------------------------------------------------
    def integrity_check(self) -> list[str]:
        with self._lock:
            problems = [r[0] for r in self._db.execute("PRAGMA integrity_check") if r[0] != "ok"]
            problems += [f"foreign key violation: {r}" for r in self._db.execute("PRAGMA foreign_key_check")]
        return problems + self._orphans()

    def close(self) -> None:
        with self._lock:
            self._db.close()


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any exception (autocommit connection)."""

    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def __enter__(self):
        self._db.execute("BEGIN IMMEDIATE")
        return self._db

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            try:
                self._db.execute("COMMIT")
                return False
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        if self._db.in_transaction:  # SQLite may have rolled back by itself (I/O error, full disk)
            self._db.execute("ROLLBACK")
        return False
