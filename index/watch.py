"""The watched folder: files dropped into one folder are saved, each read once per version.

The bot reads its watch folder every `watch_seconds` and on /ingest. Re-reading every file each
tick made a folder of big or broken files cost the same work (and the same rejections) again and
again; a file is read again only when its size or modification time changes. The folder is the
boundary of what is read: a symbolic link that leads out of it (to a file or a folder elsewhere)
is skipped, so whoever can drop files there cannot make the bot read, say, its own config.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from .config import IngestConfig
from .ingest import ingest_paths
from .models import IngestReport
from .store import Store

log = logging.getLogger(__name__)
Signature = tuple[int, int]  # (size, mtime in ns)


class FolderWatch:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._seen: dict[Path, Signature] = {}
        self._lock = threading.Lock()  # /ingest and the periodic tick may overlap: one reads, one waits

    def _files(self) -> list[tuple[Path, Signature]]:
        """Visible files inside the folder (links only where they resolve inside it), sorted."""
        root = self.folder.resolve()
        found: list[tuple[Path, Signature]] = []
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in filenames:
                if name.startswith("."):
                    continue
                path = self.folder / Path(dirpath).relative_to(root) / name
                try:
                    real = path.resolve(strict=True)
                    if not real.is_relative_to(root):
                        log.warning("watched folder: %s leads out of the folder; skipped", path)
                        continue
                    info = real.stat()
                except (OSError, RuntimeError):  # a dangling or looping link, a file gone meanwhile
                    continue
                if real.is_file():
                    found.append((path, (info.st_size, info.st_mtime_ns)))
        return sorted(found)

    def changed(self) -> list[Path]:
        """Files not seen yet at their current size and modification time."""
        return [path for path, signature in self._files() if self._seen.get(path) != signature]

    def ingest(self, store: Store, config: IngestConfig) -> IngestReport:
        """Save the new and changed files; each is marked seen once read (a store error stops the
        batch and leaves the unread ones for the next tick)."""
        with self._lock:
            return self._ingest(store, config)

    def _ingest(self, store: Store, config: IngestConfig) -> IngestReport:
        files = [(p, s) for p, s in self._files() if self._seen.get(p) != s]
        report = IngestReport()
        for path, signature in files:
            part = ingest_paths(store, [path], config)
            self._seen[path] = signature
            report.added += part.added
            report.duplicates += part.duplicates
            report.files += part.files
            for rejection in part.rejected:
                report.reject(rejection.origin, rejection.reason, str(path))
            report.unlisted += part.unlisted
        if files:  # forget files that were removed, so the bookkeeping stays the folder's size
            present = {p for p, _ in self._files()}
            self._seen = {p: s for p, s in self._seen.items() if p in present}
        return report
