"""Domain objects shared by ingestion, the store, retrieval and the adapters.

Dates are kept as ISO 8601 strings (`2019-06-06` or `2019-06-06T08:22`) so that a date-only
article never pretends to know its time, sorting stays lexicographic, and both SQL backends
store them the same way. `None` means the publication date is unknown; it is never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RawDocument:
    """What a reader found in one input, before cleaning. `origin` names the file (and record)."""

    origin: str
    text: str
    title: str = ""
    date: str | None = None
    url: str | None = None
    source: str = ""
    id: str | None = None


@dataclass(frozen=True)
class Sentence:
    index: int
    paragraph: int
    text: str


@dataclass(frozen=True)
class Passage:
    """A run of whole sentences, the unit of retrieval. `start`/`end` are sentence indexes."""

    index: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    date: str | None
    source: str
    url: str | None
    text: str
    content_hash: str
    sentences: tuple[Sentence, ...] = ()
    passages: tuple[Passage, ...] = ()
    saved_at: str = ""
    seq: int = 0


@dataclass(frozen=True)
class Rejection:
    origin: str
    reason: str


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "added": len(self.added),
            "duplicates": len(self.duplicates),
            "rejected": [{"origin": r.origin, "reason": r.reason} for r in self.rejected],
            "added_ids": self.added,
        }
