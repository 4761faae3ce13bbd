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


MAX_REJECTIONS_PER_FILE = 100  # listed per input file; the rest are only counted
MAX_REJECTIONS_LISTED = 1000  # listed per report, whatever the number of files


@dataclass
class IngestReport:
    """What a batch did. Rejections are listed up to a bound (per file and per report) and
    counted beyond it: a small file of millions of bad lines must not become millions of objects
    in memory and of lines in the output."""

    added: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    unlisted: int = 0  # rejections counted but not kept in `rejected`
    files: int = 0  # input files read
    future: list[str] = field(default_factory=list)  # saved with a date after tomorrow: out of /latest till then
    warnings: list[str] = field(default_factory=list)  # saved, but something was not understood (a date)
    _per_file: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def reject(self, origin: str, reason: str, file: str | None = None) -> None:
        """Record a rejection of `origin` (a file, or a record in `file`)."""
        if len(self.rejected) >= MAX_REJECTIONS_LISTED:
            self.unlisted += 1
            return
        key = file or origin
        seen = self._per_file.get(key, 0)
        self._per_file[key] = seen + 1
        if seen < MAX_REJECTIONS_PER_FILE:
            self.rejected.append(Rejection(origin, reason))
        else:
            self.unlisted += 1

    def warn(self, message: str) -> None:
        if len(self.warnings) < MAX_REJECTIONS_LISTED:
            self.warnings.append(message)

    @property
    def rejected_total(self) -> int:
        return len(self.rejected) + self.unlisted

    def as_dict(self) -> dict:
        return {
            "added": len(self.added),
            "duplicates": len(self.duplicates),
            "rejected_total": self.rejected_total,
            "future": self.future,
            "rejected": [{"origin": r.origin, "reason": r.reason} for r in self.rejected],
            "added_ids": self.added,
            "duplicate_ids": self.duplicates,
            "warnings": self.warnings,
        }
