"""`newsbot migrate`: move a whole store to another backend (SQLite → PostgreSQL, or back).

Articles are saved into the target in their order (their seqs there are new, so every reference
to a seq is mapped: topics' since_seq, the outbox, the alerts watermark); cached vectors are
copied as they are, so nothing is re-embedded; chats, topics and the outbox (sent or not) come
along, so no subscriber is alerted twice after the move, and so do topics' profiles, their chats'
judgements and the feeds with their validators. The target must be empty.

The target is marked "migration in progress" before anything is copied and unmarked only once
everything is: a store opens only without the mark (index.store refuses it otherwise), so a
migrate killed halfway never leaves a store that looks valid but lacks its outbox (whose first
refresh would alert every subscriber again). Rerunning migrate on a marked target empties it and
starts over. The outbox and the alerts watermark are copied before the topics, so even the
copy's own order never has topics without the record of what they were sent.
"""

from __future__ import annotations

from collections.abc import Callable

from .base import MIGRATING_KEY, StoreError, now_iso

CHATS = ("chat_id", "kind", "title", "active", "reason", "updated_at")
TOPICS = ("id", "chat_id", "query", "delivery", "muted", "threshold", "since_seq", "created_at", "profile",
          "auto_threshold", "calibrated_on")
JUDGEMENTS = ("topic_id", "article_seq", "verdict", "created_at")
OUTBOX = ("id", "chat_id", "article_seq", "topic", "quote", "score", "delivery", "status", "created_at",
          "not_before", "attempts", "last_error", "sent_at")
FEEDS = ("id", "url", "title", "site", "etag", "last_modified", "interval_minutes", "next_poll", "failures",
         "last_ok", "last_error", "items", "enabled", "disabled_reason", "added_at", "hint_minutes")  # not claims
BATCH = 500


def migrate(source, target, progress: Callable[[str, int], None] = lambda stage, n: None) -> dict[str, int]:
    """Copy `source` into `target` (opened with allow_migrating=True, so an unfinished earlier
    migration into it can be started over); returns the counts copied."""
    if target.migration_marker() is not None:
        target.clear_for_migration()  # an earlier run was interrupted: start over
    elif target.max_seq() or target.topics() or sum(target.outbox_counts().values()):
        raise StoreError(f"the target store {target.location()} is not empty; migrate only into a new store")
    target.set_meta(MIGRATING_KEY, f"from {source.location()} since {now_iso()}")
    seq_map: dict[int, int] = {0: 0}
    last = 0
    while articles := source.articles_after(last, limit=BATCH):
        for article in articles:
            seq_map[article.seq] = target.save(article).seq
        last = articles[-1].seq
        progress("articles", len(articles))
    vectors = 0
    for batch in source.iter_vectors():
        by_model: dict[str, list] = {}
        for model, text_hash, blob in batch:
            by_model.setdefault(model, []).append((text_hash, blob))
        for model, items in by_model.items():
            target.put_vectors(model, [(h, _vector(b)) for h, b in items])
        vectors += len(batch)
        progress("vectors", len(batch))

    def mapped(seq: int) -> int:
        """A seq's new number; one that names no article (a watermark past a deleted one) maps to
        the new number of the newest article at or before it."""
        return seq_map.get(seq) or max((new for old, new in seq_map.items() if old <= seq), default=0)

    chats = source.dump_table("chats", CHATS)
    target.load_rows("chats", CHATS, chats)
    progress("chats", len(chats))
    outbox = [(*row[:2], seq_map[row[2]], *row[3:]) for row in source.dump_table("outbox", OUTBOX)]
    target.load_rows("outbox", OUTBOX, outbox)
    progress("outbox", len(outbox))
    target.set_meta("alerts_watermark", str(mapped(source.alerts_watermark())))
    progress("watermark", 1)
    topics = [(*row[:6], mapped(row[6]), row[7], None if row[8] is None else bytes(row[8]), *row[9:])
              for row in source.dump_table("topics", TOPICS)]
    target.load_rows("topics", TOPICS, topics)
    progress("topics", len(topics))
    judgements = [(row[0], seq_map[row[1]], *row[2:]) for row in source.dump_table("judgements", JUDGEMENTS)]
    target.load_rows("judgements", JUDGEMENTS, judgements)
    progress("judgements", len(judgements))
    feeds = source.dump_table("feeds", FEEDS)
    target.load_rows("feeds", FEEDS, feeds)
    progress("feeds", len(feeds))
    target.set_meta("topics_version", str(source.topics_version() + 1))
    target.restart_identities()
    target.delete_meta(MIGRATING_KEY)
    return {"articles": len(seq_map) - 1, "vectors": vectors, "chats": len(chats), "topics": len(topics),
            "alerts": len(outbox), "feeds": len(feeds)}


def _vector(blob: bytes):
    import numpy as np

    return np.frombuffer(blob, dtype=np.float32)
