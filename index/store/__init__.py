"""Article stores: one interface, SQLite by default (PostgreSQL satisfies the same interface)."""

import os

from .base import ArticleHeader, SaveResult, Store, StoreError, TopicRow
from .sqlite import SqliteStore


def open_store(location: str | os.PathLike) -> Store:
    """Open the store named by a path or a `sqlite:///path` URL."""
    location = os.fspath(location)
    if location.startswith("sqlite:///"):
        location = location[len("sqlite:///") :]
    elif "://" in location:
        raise StoreError(f"unsupported store URL {location!r}: use a file path or sqlite:///path")
    return SqliteStore(location)


__all__ = ["ArticleHeader", "SaveResult", "SqliteStore", "Store", "StoreError", "TopicRow", "open_store"]
