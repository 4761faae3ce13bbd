"""The store's SQL, shared by SQLite and PostgreSQL: one implementation of every query.

Backends provide a connection, a write transaction, migrations and their integrity checks; all
SQL here is written with `?` placeholders in the dialect both speak (ON CONFLICT, RETURNING,
window functions, CAST). Keeping one copy of the queries is what keeps "same semantics on both
backends" true, and the store test-suite runs against both to hold it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import numpy as np

from ..models import Article, Passage, Sentence
from .base import MIGRATING_KEY, ArticleHeader, ArticleText, SaveResult, StoreError, now_iso, redact
from .sql_alerts import SqlAlertsMixin
from .sql_feeds import SqlFeedsMixin

CHUNK = 500  # ids per IN (...) list
ARTICLE_COLUMNS = "seq, id, title, date, source, url, text, content_hash, saved_at"


class SqlStore(SqlAlertsMixin, SqlFeedsMixin):
    """Backend hooks: _run, _run_many, _begin (a write transaction), _serialize_saves, and
    DRIVER_ERRORS, the driver's exception classes: they leave the store as StoreError, so callers
    (ingestion, the CLI, the bot) handle one error type whatever the backend."""

    path = None  # a file path where the store is one (the index is kept beside it)
    DRIVER_ERRORS: tuple[type[BaseException], ...] = ()

    def __init__(self) -> None:
        self._lock = threading.RLock()

    # -- backend hooks ----------------------------------------------------------------------
    def _run(self, sql: str, params: tuple | list = ()):
        """Execute one statement; returns a cursor (fetchall / fetchone / rowcount)."""
        raise NotImplementedError

    def _run_many(self, sql: str, rows: list) -> None:
        raise NotImplementedError

    def _begin(self):
        """Context manager: one write transaction, rolled back on any exception."""
        raise NotImplementedError

    def _serialize_saves(self) -> None:
        """Called first in a save transaction: article seqs must become visible in seq order,
        or a reader following the change feed could step over one still being written."""

    @contextmanager
    def _driver_errors(self):
        try:
            yield
        except self.DRIVER_ERRORS as exc:
            raise StoreError(f"store {redact(self.location())}: {redact(str(exc).strip())}") from exc

    @contextmanager
    def _write(self):
        with self._lock, self._driver_errors(), self._begin():  # a failed COMMIT is a StoreError too
            yield

    def _rows(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        with self._lock, self._driver_errors():
            return self._run(sql, params).fetchall()

    def _one(self, sql: str, params: tuple | list = ()):
        with self._lock, self._driver_errors():
            return self._run(sql, params).fetchone()

    # -- identity -----------------------------------------------------------------------------
    def store_id(self) -> str:
        """Random id made when the store was created: ties a saved index to this very store."""
        return self._one("SELECT value FROM meta WHERE key='store_id'")[0]

    def _meta_int(self, key: str) -> int:
        row = self._one("SELECT value FROM meta WHERE key=?", (key,))
        return int(row[0]) if row else 0

    # -- articles -------------------------------------------------------------------------------
    def save(self, article: Article) -> SaveResult:
        with self._write():
            self._serialize_saves()
            row = self._run(
                "SELECT id, seq FROM articles WHERE id=? OR content_hash=? OR (url IS NOT NULL AND url=?) LIMIT 1",
                (article.id, article.content_hash, article.url),
            ).fetchone()
            if row:
                return SaveResult(id=row[0], added=False, seq=row[1])
            seq = self._run(
                "INSERT INTO articles(id, title, date, source, url, text, content_hash, saved_at) "
                "VALUES(?,?,?,?,?,?,?,?) RETURNING seq",
                (article.id, article.title, article.date, article.source, article.url, article.text,
                 article.content_hash, article.saved_at or now_iso()),
            ).fetchone()[0]
            self._run_many(
                "INSERT INTO sentences(article_seq, idx, paragraph, text) VALUES(?,?,?,?)",
                [(seq, s.index, s.paragraph, s.text) for s in article.sentences],
            )
            self._run_many(
                "INSERT INTO passages(article_seq, idx, start, stop) VALUES(?,?,?,?)",
                [(seq, p.index, p.start, p.end) for p in article.passages],
            )
            return SaveResult(id=article.id, added=True, seq=seq)

    def get(self, article_id: str) -> Article | None:
        with self._lock:
            row = self._run(f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE id=?", (article_id,)).fetchone()
            return self._hydrate([row])[0] if row else None

    def articles_by_seq(self, seqs: list[int]) -> dict[int, Article]:
        found: dict[int, Article] = {}
        with self._lock:
            for chunk in _chunks([int(s) for s in seqs]):
                rows = self._run(f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE seq IN ({_marks(chunk)})",
                                 chunk).fetchall()
                found.update((a.seq, a) for a in self._hydrate(rows))
        return found

    def texts_by_seq(self, seqs: list[int]) -> dict[int, ArticleText]:
        found: dict[int, ArticleText] = {}
        with self._lock:
            for chunk in _chunks([int(s) for s in seqs]):
                rows = self._run(f"SELECT seq, id, title, date, source, url, text FROM articles "
                                 f"WHERE seq IN ({_marks(chunk)})", chunk).fetchall()
                found.update((r[0], ArticleText(*r)) for r in rows)
        return found

    def articles_after(self, seq: int, limit: int = 1000) -> list[Article]:
        with self._lock:
            rows = self._run(f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE seq>? ORDER BY seq LIMIT ?",
                             (seq, limit)).fetchall()
            return self._hydrate(rows)

    def _hydrate(self, rows: list[tuple]) -> list[Article]:
        if not rows:
            return []
        seqs = [r[0] for r in rows]
        sentences: dict[int, list[Sentence]] = {s: [] for s in seqs}
        for seq, idx, paragraph, text in self._run(
            f"SELECT article_seq, idx, paragraph, text FROM sentences WHERE article_seq IN ({_marks(seqs)}) "
            "ORDER BY article_seq, idx", seqs,
        ).fetchall():
            sentences[seq].append(Sentence(index=idx, paragraph=paragraph, text=text))
        passages: dict[int, list[Passage]] = {s: [] for s in seqs}
        for seq, idx, start, stop in self._run(
            f"SELECT article_seq, idx, start, stop FROM passages WHERE article_seq IN ({_marks(seqs)}) "
            "ORDER BY article_seq, idx", seqs,
        ).fetchall():
            text = " ".join(s.text for s in sentences[seq][start:stop])
            passages[seq].append(Passage(index=idx, start=start, end=stop, text=text))
        return [
            Article(seq=r[0], id=r[1], title=r[2], date=r[3], source=r[4], url=r[5], text=r[6],
                    content_hash=r[7], saved_at=r[8],
                    sentences=tuple(sentences[r[0]]), passages=tuple(passages[r[0]]))
            for r in rows
        ]

    def headers(self) -> Iterator[ArticleHeader]:
        rows = self._rows("SELECT seq, id, title, date, source, url FROM articles ORDER BY seq")
        for row in rows:
            yield ArticleHeader(*row)

    def _latest_sql(self, limit: int, now: str) -> tuple[str, tuple]:
        return ("SELECT seq, id, title, date, source, url FROM articles WHERE date IS NOT NULL AND date <= ? "
                "ORDER BY date DESC, seq DESC LIMIT ?", (now, int(limit)))

    def latest(self, limit: int, now: str | None = None) -> list[ArticleHeader]:
        """The `limit` newest articles dated up to `now` (UTC, `YYYY-MM-DDTHH:MM`), then undated ones,
        newest saved first. A few rows read along the date index, not a sort of every article;
        articles dated after `now` (a future date is a typo or an embargo) wait for their date."""
        now = now or now_iso()[:16]
        sql, params = self._latest_sql(limit, now)
        rows = self._rows(sql, params)
        if len(rows) < limit:
            rows += self._rows("SELECT seq, id, title, date, source, url FROM articles WHERE date IS NULL "
                               "ORDER BY seq DESC LIMIT ?", (int(limit) - len(rows),))
        return [ArticleHeader(*row) for row in rows]

    def headers_by_seq(self, seqs: list[int]) -> dict[int, ArticleHeader]:
        found: dict[int, ArticleHeader] = {}
        with self._lock:
            for chunk in _chunks([int(s) for s in seqs]):
                for row in self._run(f"SELECT seq, id, title, date, source, url FROM articles "
                                     f"WHERE seq IN ({_marks(chunk)})", chunk).fetchall():
                    found[row[0]] = ArticleHeader(*row)
        return found

    def passages_after(self, seq: int) -> int:
        return self._one("SELECT COUNT(*) FROM passages WHERE article_seq>?", (seq,))[0]

    def max_seq(self) -> int:
        return self._one("SELECT COALESCE(MAX(seq), 0) FROM articles")[0]

    def stats(self) -> dict:
        with self._lock:
            articles, first, last, undated = self._run(
                "SELECT COUNT(*), MIN(date), MAX(date), SUM(CASE WHEN date IS NULL THEN 1 ELSE 0 END) FROM articles"
            ).fetchone()
            sentences = self._run("SELECT COUNT(*) FROM sentences").fetchone()[0]
            passages = self._run("SELECT COUNT(*) FROM passages").fetchone()[0]
            sources = self._run(
                "SELECT source, COUNT(*) FROM articles GROUP BY source ORDER BY COUNT(*) DESC, source"
            ).fetchall()
        return {
            "articles": articles,
            "sentences": sentences,
            "passages": passages,
            "undated": int(undated or 0),
            "first_date": first,
            "last_date": last,
            "sources": {name or "(unknown)": n for name, n in sources},
            "schema_version": self.schema_version(),
            "store": self.location(),
        }

    def location(self) -> str:
        return str(self.path)

    # -- embeddings -------------------------------------------------------------------------
    def get_vectors(self, model: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for chunk in _chunks(list(hashes)):
                for text_hash, blob in self._run(
                    f"SELECT text_hash, vector FROM embeddings WHERE model=? AND text_hash IN ({_marks(chunk)})",
                    [model, *chunk],
                ).fetchall():
                    found[text_hash] = np.frombuffer(bytes(blob), dtype=np.float32)
        return found

    def put_vectors(self, model: str, items: Iterable[tuple[str, np.ndarray]]) -> None:
        rows = [(model, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in items]
        with self._write():
            self._run_many(
                "INSERT INTO embeddings(model, text_hash, vector) VALUES(?,?,?) "
                "ON CONFLICT(model, text_hash) DO UPDATE SET vector=excluded.vector",
                rows,
            )

    def iter_vectors(self, batch: int = 2000) -> Iterator[list[tuple[str, str, bytes]]]:
        """Every cached vector as (model, text hash, float32 bytes), in batches (for migrate)."""
        last = ("", "")
        while True:
            rows = self._rows(
                "SELECT model, text_hash, vector FROM embeddings WHERE model>? OR (model=? AND text_hash>?) "
                "ORDER BY model, text_hash LIMIT ?", (last[0], last[0], last[1], batch))
            if not rows:
                return
            yield [(m, h, bytes(v)) for m, h, v in rows]
            last = (rows[-1][0], rows[-1][1])

    # -- whole tables (newsbot migrate) ----------------------------------------------------------
    def dump_table(self, table: str, columns: tuple[str, ...]) -> list[tuple]:
        return self._rows(f"SELECT {', '.join(columns)} FROM {table} ORDER BY 1")

    def load_rows(self, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        marks = ",".join("?" * len(columns))
        with self._write():
            self._run_many(f"INSERT INTO {table}({', '.join(columns)}) VALUES({marks})", rows)

    def restart_identities(self) -> None:
        """After rows were loaded with their ids, new ids must continue above them (SQLite's
        AUTOINCREMENT does so by itself)."""

    def migration_marker(self) -> str | None:
        """What `newsbot migrate` wrote while filling this store, or None (a finished store)."""
        row = self._one("SELECT value FROM meta WHERE key=?", (MIGRATING_KEY,))
        return row[0] if row else None

    def clear_for_migration(self) -> None:
        """Empty what an interrupted migrate copied, to start over (cached vectors stay: they
        are keyed by their text and copied again as they are)."""
        with self._write():
            for table in ("feeds", "outbox", "judgements", "topics", "chats", "passages", "sentences", "articles"):
                self._run(f"DELETE FROM {table}")
            self._run("DELETE FROM meta WHERE key IN ('alerts_watermark', 'topics_version')")

    def delete_meta(self, key: str) -> None:
        with self._write():
            self._run("DELETE FROM meta WHERE key=?", (key,))

    def set_meta(self, key: str, value: str) -> None:
        with self._write():
            self._run("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                      (key, value))

    # -- maintenance ----------------------------------------------------------------------------
    def _orphans(self) -> list[str]:
        orphans = self._one(
            "SELECT COUNT(*) FROM articles a WHERE NOT EXISTS (SELECT 1 FROM passages p WHERE p.article_seq=a.seq)"
        )[0]
        return [f"{orphans} article(s) without passages"] if orphans else []

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _marks(values: list) -> str:
    return ",".join("?" * len(values))


def _chunks(values: list) -> Iterator[list]:
    for i in range(0, len(values), CHUNK):
        yield values[i : i + CHUNK]
