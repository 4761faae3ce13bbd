"""Article stores: one interface, SQLite by default (PostgreSQL satisfies the same interface)."""

from .base import ArticleHeader, SaveResult, Store, StoreError
from .sqlite import SqliteStore


def open_store(location: str) -> Store:
    """Open the store named by a path or a `sqlite:///path` URL."""
    if location.startswith("sqlite:///"):
        location = location[len("sqlite:///") :]
    elif "://" in location:
        raise StoreError(f"unsupported store URL {location!r}: use a file path or sqlite:///path")
    return SqliteStore(location)


__all__ = ["ArticleHeader", "SaveResult", "SqliteStore", "Store", "StoreError", "open_store"]
