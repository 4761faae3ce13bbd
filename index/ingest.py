"""Ingestion: paths in, articles in the store, a report out.

Every input is isolated: whatever one file or record does wrong (bad bytes, broken JSON, no text,
a bug of ours) becomes one line in the report and the batch goes on. Each article is saved in its
own transaction, so a crash mid-batch keeps everything saved before it and nothing half-written.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from datetime import datetime, timedelta, timezone
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from .articles import Unusable, build_article
from .attribution import fetched_source, fetched_url
from .config import IngestConfig
from .dates import parse_date
from .models import IngestReport, RawDocument, Rejection
from .readers import Unreadable, read_data, read_path
from .store import Store, StoreError

log = logging.getLogger(__name__)
Progress = Callable[[int], None]


def iter_files(paths: Iterable[str | Path]) -> Iterator[Path | Rejection]:
    """Files under the given paths in a stable order; hidden files and folders are skipped."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = False
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path)
                if child.is_file() and not any(part.startswith(".") for part in rel.parts):
                    found = True
                    yield child
            if not found:
                yield Rejection(str(path), "empty folder: no files to read (hidden files are skipped)")
        elif path.is_file():
            yield path
        else:
            yield Rejection(str(path), "no such file or folder")


def total_bytes(paths: Iterable[str | Path]) -> int:
    return sum(p.stat().st_size for p in iter_files(paths) if isinstance(p, Path))


def save_document(store: Store, raw: RawDocument, config: IngestConfig, report: IngestReport,
                  file: str | None = None) -> None:
    try:
        article = build_article(raw, config.passage_words)
    except Unusable as exc:
        report.reject(raw.origin, str(exc), file)
        return
    result = store.save(article)
    (report.added if result.added else report.duplicates).append(result.id)
    if result.added and raw.date and not parse_date(raw.date):
        report.warn(f"{raw.origin}: date {raw.date[:60]!r} not understood; saved "
                    + (f"with the date in its text ({article.date})" if article.date else "without a date"))
    if result.added and article.date and article.date > _tomorrow():
        report.future.append(result.id)
        log.warning("%s (%s) is dated %s, in the future: kept out of /latest until then",
                    result.id, raw.origin, article.date)


def _tomorrow() -> str:
    """Dates after this are in the future wherever the article was written (time zones)."""
    return (datetime.now(timezone.utc) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")


def ingest_documents(store: Store, documents: Iterable[RawDocument], config: IngestConfig) -> IngestReport:
    """Save already-read documents (from Telegram, a fetched URL, a test)."""
    report = IngestReport()
    for raw in documents:
        _guarded(raw.origin, report, lambda raw=raw: save_document(store, raw, config, report))
    return report


def ingest_data(store: Store, data: bytes, name: str, origin: str, config: IngestConfig,
                url: str | None = None) -> IngestReport:
    """Save the documents in downloaded bytes (a Telegram document, a fetched page). `url`, where
    the bytes came from, is the article URL unless the content's canonical URL is on the same site
    (index.attribution)."""
    report = IngestReport()
    if len(data) > config.max_file_bytes:
        report.reject(origin, f"{len(data):,} bytes, over the limit of {config.max_file_bytes:,}")
        return report

    def fetched(item: RawDocument) -> RawDocument:
        """The page's own claims are believed only where the address it came from bears them out."""
        return dataclasses.replace(item, url=fetched_url(url, item.url), source=fetched_source(url, item.source))

    _save_read(store, lambda: read_data(data, name, origin, config.max_file_bytes), origin, config, report,
               fetched if url else None)
    return report


def ingest_paths(
    store: Store,
    paths: Iterable[str | Path],
    config: IngestConfig,
    progress: Progress | None = None,
) -> IngestReport:
    report = IngestReport()
    for item in iter_files(paths):
        if isinstance(item, Rejection):
            report.reject(item.origin, item.reason)
            continue
        _guarded(str(item), report, lambda item=item: _ingest_file(store, item, config, report), str(item))
        if progress:
            _guarded(str(item), report, lambda item=item: progress(item.stat().st_size), str(item))
    return report


def _ingest_file(store: Store, path: Path, config: IngestConfig, report: IngestReport) -> None:
    _save_read(store, lambda: read_path(path, config.max_file_bytes), str(path), config, report)


def _save_read(store: Store, read: Callable[[], Iterable[RawDocument | Unreadable]], file: str,
               config: IngestConfig, report: IngestReport,
               adjust: Callable[[RawDocument], RawDocument] | None = None) -> None:
    """Save what a reader yields from one input: a bad record is one line of the report, a file
    unreadable as a whole another, and the rest goes on."""
    report.files += 1
    try:
        for item in read():
            if isinstance(item, Unreadable):
                report.reject(*record_origin(file, str(item)), file)
                continue
            if adjust is not None:
                item = adjust(item)
            _guarded(item.origin, report, lambda item=item: save_document(store, item, config, report, file), file)
    except Unreadable as exc:
        report.reject(file, str(exc), file)


_RECORD = re.compile(r"((?::\d+|\[\d+\]|#\d+)?): (.*)", re.S)


def record_origin(file: str, message: str) -> tuple[str, str]:
    """(origin, reason) of a reader's message: "a.jsonl:3: no text" is record a.jsonl:3, reason
    "no text" — the file is named once in the report, not twice."""
    if message.startswith(file):
        match = _RECORD.fullmatch(message[len(file):])
        if match:
            return file + match.group(1), match.group(2)
    return file, message


def _guarded(origin: str, report: IngestReport, work: Callable[[], None], file: str | None = None) -> None:
    """Run one unit of work; an unexpected error (a bug of ours included) is reported against its
    input, not raised. Store errors are raised: a store that cannot write must stop the batch."""
    try:
        work()
    except (Unreadable, Unusable) as exc:
        report.reject(origin, str(exc), file)
    except (StoreError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001
        log.exception("ingest failed for %s", origin)
        report.reject(origin, f"{exc.__class__.__name__}: {exc}", file)
