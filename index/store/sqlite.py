"""SQLite article store (WAL), the embedded default.

WAL lets the bot read while an ingest writes; every save is one transaction, so a crash leaves
either the whole article (with its sentences and passages) or nothing. One connection guarded by a
lock is shared across threads, which is what the bot's worker threads need and SQLite handles well
at this scale.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from ..models import Article, Passage, Sentence
from .base import ArticleHeader, SaveResult, StoreError, now_iso
from .schema import MIGRATIONS
from .sqlite_alerts import SqliteAlertsMixin


class SqliteStore(SqliteAlertsMixin):
    def __init__(self, path: str | Path):
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open store {path}: {exc}") from exc
        self._lock = threading.RLock()
        try:
            self._migrate()
        except BaseException:
            self._db.close()
            raise

    # -- schema ---------------------------------------------------------------------------
    def schema_version(self) -> int:
        row = self._db.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name='meta'"
        ).fetchone()
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
                raise StoreError(
                    f"{self.path} has schema version {current}, newer than this newsbot knows "
                    f"({len(MIGRATIONS)}); upgrade newsbot"
                )
            for version in range(current + 1, len(MIGRATIONS) + 1):
                with self._transaction():
                    if self.schema_version() >= version:
                        continue  # another process migrated it meanwhile
                    for statement in MIGRATIONS[version - 1]:
                        self._db.execute(statement)
                    self._db.execute(
                        "INSERT INTO meta(key, value) VALUES('schema_version', ?) "
                        "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                        (str(version),),
                    )
            with self._transaction():
                self._db.execute(
                    "INSERT OR IGNORE INTO meta(key, value) VALUES('store_id', ?)", (uuid.uuid4().hex,)
                )

    def store_id(self) -> str:
        """Random id made when the store was created: ties a saved index to this very store."""
        with self._lock:
            return self._db.execute("SELECT value FROM meta WHERE key='store_id'").fetchone()[0]

    def _transaction(self):
        return _Transaction(self._db)

    # -- articles -------------------------------------------------------------------------
    def save(self, article: Article) -> SaveResult:
        with self._lock, self._transaction():
            row = self._db.execute(
                "SELECT id FROM articles WHERE id=? OR content_hash=? OR (url IS NOT NULL AND url=?) LIMIT 1",
                (article.id, article.content_hash, article.url),
            ).fetchone()
            if row:
                return SaveResult(id=row[0], added=False)
            cur = self._db.execute(
                "INSERT INTO articles(id, title, date, source, url, text, content_hash, saved_at) "
                "VALUES(?,?,?,?,?,?,?,?)",
                (
                    article.id,
                    article.title,
                    article.date,
                    article.source,
                    article.url,
                    article.text,
                    article.content_hash,
                    article.saved_at or now_iso(),
                ),
            )
            seq = cur.lastrowid
            self._db.executemany(
                "INSERT INTO sentences(article_seq, idx, paragraph, text) VALUES(?,?,?,?)",
                [(seq, s.index, s.paragraph, s.text) for s in article.sentences],
            )
            self._db.executemany(
                "INSERT INTO passages(article_seq, idx, start, stop) VALUES(?,?,?,?)",
                [(seq, p.index, p.start, p.end) for p in article.passages],
            )
            return SaveResult(id=article.id, added=True)

    def get(self, article_id: str) -> Article | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id=?", (article_id,)).fetchone()
            return self._hydrate([row])[0] if row else None

    def articles_by_seq(self, seqs: list[int]) -> dict[int, Article]:
        with self._lock:
            found: dict[int, Article] = {}
            for i in range(0, len(seqs), 500):
                chunk = [int(s) for s in seqs[i : i + 500]]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE seq IN ({marks})", chunk
                ).fetchall()
                found.update((a.seq, a) for a in self._hydrate(rows))
            return found

    def articles_after(self, seq: int, limit: int = 1000) -> list[Article]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE seq>? ORDER BY seq LIMIT ?", (seq, limit)
            ).fetchall()
            return self._hydrate(rows)

    def _hydrate(self, rows: list[tuple]) -> list[Article]:
        if not rows:
            return []
        seqs = [r[0] for r in rows]
        marks = ",".join("?" * len(seqs))
        sentences: dict[int, list[Sentence]] = {s: [] for s in seqs}
        for seq, idx, paragraph, text in self._db.execute(
            f"SELECT article_seq, idx, paragraph, text FROM sentences WHERE article_seq IN ({marks}) "
            "ORDER BY article_seq, idx",
            seqs,
        ):
            sentences[seq].append(Sentence(index=idx, paragraph=paragraph, text=text))
        passages: dict[int, list[Passage]] = {s: [] for s in seqs}
        for seq, idx, start, stop in self._db.execute(
            f"SELECT article_seq, idx, start, stop FROM passages WHERE article_seq IN ({marks}) "
            "ORDER BY article_seq, idx",
            seqs,
        ):
            text = " ".join(s.text for s in sentences[seq][start:stop])
            passages[seq].append(Passage(index=idx, start=start, end=stop, text=text))
        return [
            Article(
                seq=r[0], id=r[1], title=r[2], date=r[3], source=r[4], url=r[5], text=r[6],
                content_hash=r[7], saved_at=r[8],
                sentences=tuple(sentences[r[0]]), passages=tuple(passages[r[0]]),
            )
            for r in rows
        ]

    def headers(self) -> Iterator[ArticleHeader]:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, id, title, date, source, url FROM articles ORDER BY seq"
            ).fetchall()
        for row in rows:
            yield ArticleHeader(*row)

    def headers_by_seq(self, seqs: list[int]) -> dict[int, ArticleHeader]:
        found: dict[int, ArticleHeader] = {}
        with self._lock:
            for i in range(0, len(seqs), 500):
                chunk = [int(s) for s in seqs[i : i + 500]]
                marks = ",".join("?" * len(chunk))
                for row in self._db.execute(
                    f"SELECT seq, id, title, date, source, url FROM articles WHERE seq IN ({marks})", chunk
                ):
                    found[row[0]] = ArticleHeader(*row)
        return found

    def passages_after(self, seq: int) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM passages WHERE article_seq>?", (seq,)).fetchone()[0]

    def max_seq(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM articles").fetchone()[0]

    def stats(self) -> dict:
        with self._lock:
            articles, first, last, undated = self._db.execute(
                "SELECT COUNT(*), MIN(date), MAX(date), SUM(date IS NULL) FROM articles"
            ).fetchone()
            sentences = self._db.execute("SELECT COUNT(*) FROM sentences").fetchone()[0]
            passages = self._db.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
            sources = self._db.execute(
                "SELECT source, COUNT(*) FROM articles GROUP BY source ORDER BY COUNT(*) DESC, source"
            ).fetchall()
        return {
            "articles": articles,
            "sentences": sentences,
            "passages": passages,
            "undated": undated or 0,
            "first_date": first,
            "last_date": last,
            "sources": {name or "(unknown)": n for name, n in sources},
            "schema_version": self.schema_version(),
            "store": str(self.path),
        }

    # -- embeddings -----------------------------------------------------------------------
    def get_vectors(self, model: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        hashes = list(hashes)
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for i in range(0, len(hashes), 500):
                chunk = hashes[i : i + 500]
                marks = ",".join("?" * len(chunk))
                for text_hash, blob in self._db.execute(
                    f"SELECT text_hash, vector FROM embeddings WHERE model=? AND text_hash IN ({marks})",
                    [model, *chunk],
                ):
                    found[text_hash] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_vectors(self, model: str, items: Iterable[tuple[str, np.ndarray]]) -> None:
        rows = [(model, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in items]
        with self._lock, self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO embeddings(model, text_hash, vector) VALUES(?,?,?)", rows
            )

    # -- maintenance ----------------------------------------------------------------------
    def integrity_check(self) -> list[str]:
        with self._lock:
            problems = [r[0] for r in self._db.execute("PRAGMA integrity_check") if r[0] != "ok"]
            problems += [f"foreign key violation: {r}" for r in self._db.execute("PRAGMA foreign_key_check")]
            orphans = self._db.execute(
                "SELECT COUNT(*) FROM articles a WHERE NOT EXISTS "
                "(SELECT 1 FROM passages p WHERE p.article_seq=a.seq)"
            ).fetchone()[0]
        if orphans:
            problems.append(f"{orphans} article(s) without passages")
        return problems

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "SqliteStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_ARTICLE_COLUMNS = "seq, id, title, date, source, url, text, content_hash, saved_at"


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
