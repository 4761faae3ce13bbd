"""The store interface that every backend satisfies, and its small value types."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..models import Article


class StoreError(RuntimeError):
    """The store cannot be opened or used; the message says why."""


@dataclass(frozen=True)
class SaveResult:
    id: str
    added: bool


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


class Store(Protocol):
    def save(self, article: Article) -> SaveResult:
        """Store the article whole or not at all; a known id, URL or text is a duplicate."""

    def get(self, article_id: str) -> Article | None: ...

    def articles_by_seq(self, seqs: list[int]) -> dict[int, Article]: ...

    def headers(self) -> Iterator[ArticleHeader]: ...

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

    def integrity_check(self) -> list[str]:
        """Problems found, empty when the store is sound."""

    def close(self) -> None: ...
