"""Article stores: one interface, SQLite by default, PostgreSQL for several workers sharing one."""

import os
from pathlib import Path

from .base import ArticleHeader, SaveResult, Store, StoreError, TopicRow
from .sqlite import SqliteStore

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def require_existing(location: str | os.PathLike) -> None:
    """Commands that only read refuse a store that is not there: a mistyped path would otherwise
    become a new, empty store that answers "nothing" to everything."""
    location = os.fspath(location)
    if location.startswith(POSTGRES_SCHEMES) or location == ":memory:":
        return
    path = location[len("sqlite:///"):] if location.startswith("sqlite:///") else location
    if not os.path.exists(path):
        raise StoreError(f"no store at {path}: `newsbot --store {path} ingest FILE…` (or `feeds add URL`) creates "
                         f"one there; or pass --store PATH of an existing store")


def location_of(store: Store) -> str | None:
    """Where another process opens the same store (open_store's argument); None for a store in
    memory, which no other process can reach."""
    url = getattr(store, "url", None)
    if url:
        return url
    path = getattr(store, "path", None)
    return None if path is None or str(path) == ":memory:" else str(Path(path).resolve())


def open_store(location: str | os.PathLike, *, allow_migrating: bool = False, read_only: bool = False) -> Store:
    """Open the store named by a path, a `sqlite:///path` URL or a `postgresql://…` URL. A store
    that `newsbot migrate` has not finished filling is refused unless `allow_migrating`.
    `read_only` opens a SQLite file without writing to it (PostgreSQL stores ignore it: their
    schema is only ever migrated under an advisory lock, and a foreign one is refused)."""
    location = os.fspath(location)
    if location.startswith(POSTGRES_SCHEMES):
        from .postgres import PostgresStore  # psycopg is only needed by those who use it

        return PostgresStore(location, allow_migrating=allow_migrating)
    if location.startswith("sqlite:///"):
        location = location[len("sqlite:///") :]
    elif "://" in location:
        raise StoreError(f"unsupported store URL {location!r}: use a path, sqlite:///path or postgresql://…")
    return SqliteStore(location, allow_migrating=allow_migrating, read_only=read_only)


__all__ = ["ArticleHeader", "SaveResult", "SqliteStore", "Store", "StoreError", "TopicRow", "open_store",
           "require_existing"]
