"""Schema migrations, oldest first. A store records the number it has applied in meta.

Migrations only ever get appended: a store written by an older newsbot upgrades in place, each
step in its own transaction. Plain SQL shared by SQLite and PostgreSQL where the types allow.
"""

MIGRATIONS: list[list[str]] = [
    # 1: articles, their sentences and passages, cached embeddings
    [
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE articles (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            title TEXT NOT NULL,
            date TEXT,
            source TEXT NOT NULL,
            url TEXT UNIQUE,
            text TEXT NOT NULL,
            content_hash TEXT NOT NULL UNIQUE,
            saved_at TEXT NOT NULL
        )""",
        "CREATE INDEX articles_date ON articles(date)",
        """CREATE TABLE sentences (
            article_seq INTEGER NOT NULL REFERENCES articles(seq) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            paragraph INTEGER NOT NULL,
            text TEXT NOT NULL,
            PRIMARY KEY (article_seq, idx)
        )""",
        """CREATE TABLE passages (
            article_seq INTEGER NOT NULL REFERENCES articles(seq) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            start INTEGER NOT NULL,
            stop INTEGER NOT NULL,
            PRIMARY KEY (article_seq, idx)
        )""",
        """CREATE TABLE embeddings (
            model TEXT NOT NULL,
            text_hash TEXT NOT NULL,
            vector BLOB NOT NULL,
            PRIMARY KEY (model, text_hash)
        )""",
    ],
]
