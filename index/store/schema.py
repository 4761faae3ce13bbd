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

MIGRATIONS.append(
    # 2: chats, their topics, and the alert outbox (an alert is recorded before it is sent)
    [
        """CREATE TABLE chats (
            chat_id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL DEFAULT 'private',
            title TEXT NOT NULL DEFAULT '',
            active INTEGER NOT NULL DEFAULT 1,
            reason TEXT,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE topics (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            chat_id INTEGER NOT NULL REFERENCES chats(chat_id) ON DELETE CASCADE,
            query TEXT NOT NULL,
            delivery TEXT NOT NULL DEFAULT 'instant',
            muted INTEGER NOT NULL DEFAULT 0,
            threshold REAL,
            since_seq INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (chat_id, query)
        )""",
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            chat_id INTEGER NOT NULL,
            article_seq INTEGER NOT NULL REFERENCES articles(seq) ON DELETE CASCADE,
            topic TEXT NOT NULL,
            quote TEXT NOT NULL,
            score REAL NOT NULL,
            delivery TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            created_at TEXT NOT NULL,
            not_before TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            sent_at TEXT,
            UNIQUE (chat_id, article_seq)
        )""",
        "CREATE INDEX outbox_due ON outbox(status, not_before)",
        # articles already stored when alerts arrive are not news to anyone
        "INSERT INTO meta(key, value) SELECT 'alerts_watermark', CAST(COALESCE(MAX(seq), 0) AS TEXT) FROM articles",
    ]
)

MIGRATIONS.append(
    # 3: claims, so that several workers sharing a store send each alert once
    [
        "ALTER TABLE outbox ADD COLUMN claimed_by TEXT",
        "ALTER TABLE outbox ADD COLUMN claimed_until TEXT",
    ]
)

MIGRATIONS.append(
    # 4: feed sources the store polls, with their validators, schedule, health and claims
    [
        """CREATE TABLE feeds (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            url TEXT NOT NULL UNIQUE,
            title TEXT NOT NULL DEFAULT '',
            site TEXT NOT NULL DEFAULT '',
            etag TEXT,
            last_modified TEXT,
            interval_minutes REAL,
            next_poll TEXT NOT NULL,
            failures INTEGER NOT NULL DEFAULT 0,
            last_ok TEXT,
            last_error TEXT,
            items INTEGER NOT NULL DEFAULT 0,
            enabled INTEGER NOT NULL DEFAULT 1,
            disabled_reason TEXT,
            claimed_by TEXT,
            claimed_until TEXT,
            added_at TEXT NOT NULL
        )""",
        "CREATE INDEX feeds_due ON feeds(enabled, next_poll)",
    ]
)

MIGRATIONS.append(
    # 5: what a topic learns: its profile from the archive (vector and calibrated threshold) and
    # its chat's judgements of its alerts (one per topic and article, the latest tap wins)
    [
        "ALTER TABLE topics ADD COLUMN profile BLOB",
        "ALTER TABLE topics ADD COLUMN auto_threshold REAL",
        "ALTER TABLE topics ADD COLUMN calibrated_on INTEGER NOT NULL DEFAULT 0",
        """CREATE TABLE judgements (
            topic_id INTEGER NOT NULL REFERENCES topics(id) ON DELETE CASCADE,
            article_seq INTEGER NOT NULL REFERENCES articles(seq) ON DELETE CASCADE,
            verdict INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (topic_id, article_seq)
        )""",
    ]
)

# The same schema for PostgreSQL, step by step (the numbers match: a store's version means the
# same tables on both). Times stay ISO text, so both backends compare and return them alike.
POSTGRES_MIGRATIONS: list[list[str]] = [
    [
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE articles (
            seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
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
            article_seq BIGINT NOT NULL REFERENCES articles(seq) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            paragraph INTEGER NOT NULL,
            text TEXT NOT NULL,
            PRIMARY KEY (article_seq, idx)
        )""",
        """CREATE TABLE passages (
            article_seq BIGINT NOT NULL REFERENCES articles(seq) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            start INTEGER NOT NULL,
            stop INTEGER NOT NULL,
            PRIMARY KEY (article_seq, idx)
        )""",
        """CREATE TABLE embeddings (
            model TEXT NOT NULL,
            text_hash TEXT NOT NULL,
            vector BYTEA NOT NULL,
            PRIMARY KEY (model, text_hash)
        )""",
    ],
    [
        """CREATE TABLE chats (
            chat_id BIGINT PRIMARY KEY,
            kind TEXT NOT NULL DEFAULT 'private',
            title TEXT NOT NULL DEFAULT '',
            active INTEGER NOT NULL DEFAULT 1,
            reason TEXT,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE topics (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            chat_id BIGINT NOT NULL REFERENCES chats(chat_id) ON DELETE CASCADE,
            query TEXT NOT NULL,
            delivery TEXT NOT NULL DEFAULT 'instant',
            muted INTEGER NOT NULL DEFAULT 0,
            threshold DOUBLE PRECISION,
            since_seq BIGINT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (chat_id, query)
        )""",
        """CREATE TABLE outbox (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            chat_id BIGINT NOT NULL,
            article_seq BIGINT NOT NULL REFERENCES articles(seq) ON DELETE CASCADE,
            topic TEXT NOT NULL,
            quote TEXT NOT NULL,
            score DOUBLE PRECISION NOT NULL,
            delivery TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            created_at TEXT NOT NULL,
            not_before TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            sent_at TEXT,
            UNIQUE (chat_id, article_seq)
        )""",
        "CREATE INDEX outbox_due ON outbox(status, not_before)",
        "INSERT INTO meta(key, value) SELECT 'alerts_watermark', CAST(COALESCE(MAX(seq), 0) AS TEXT) FROM articles",
    ],
    [
        "ALTER TABLE outbox ADD COLUMN claimed_by TEXT",
        "ALTER TABLE outbox ADD COLUMN claimed_until TEXT",
    ],
    [
        """CREATE TABLE feeds (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            url TEXT NOT NULL UNIQUE,
            title TEXT NOT NULL DEFAULT '',
            site TEXT NOT NULL DEFAULT '',
            etag TEXT,
            last_modified TEXT,
            interval_minutes DOUBLE PRECISION,
            next_poll TEXT NOT NULL,
            failures INTEGER NOT NULL DEFAULT 0,
            last_ok TEXT,
            last_error TEXT,
            items INTEGER NOT NULL DEFAULT 0,
            enabled INTEGER NOT NULL DEFAULT 1,
            disabled_reason TEXT,
            claimed_by TEXT,
            claimed_until TEXT,
            added_at TEXT NOT NULL
        )""",
        "CREATE INDEX feeds_due ON feeds(enabled, next_poll)",
    ],
    [
        "ALTER TABLE topics ADD COLUMN profile BYTEA",
        "ALTER TABLE topics ADD COLUMN auto_threshold DOUBLE PRECISION",
        "ALTER TABLE topics ADD COLUMN calibrated_on BIGINT NOT NULL DEFAULT 0",
        """CREATE TABLE judgements (
            topic_id BIGINT NOT NULL REFERENCES topics(id) ON DELETE CASCADE,
            article_seq BIGINT NOT NULL REFERENCES articles(seq) ON DELETE CASCADE,
            verdict INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (topic_id, article_seq)
        )""",
    ],
]
