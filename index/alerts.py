"""Topic subscriptions, and matching newly saved articles against them into the outbox.

Matching follows the store's change feed (article seq) from a watermark kept in the store, not
the code path that saved the article: a CLI ingest, a /save in the bot and a watched folder all
produce alerts the same way, and articles saved while the bot was down are matched when it
starts. Only indexed articles are matched (their passage vectors are cached by then, so matching
never embeds article text a second time).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from .config import Config
from .embedding import Embedder, ensure_vectors, text_hash
from .models import Article
from .outbox import Alert, next_digest, utc_iso
from .retrieval import ArticleHit
from .index_manager import IndexManager
from .search_index import passage_text, passage_tokens
from .sentence_choice import QuestionTerms, lede_prior, sentence_scores
from .tokenize import tokenize
from .topic_match import Topic, TopicMatch, TopicMatcher, fuse
from .topic_profile import ProfileSettings, TopicProfile, build_profile
from .topics import DELIVERIES, TopicError, TopicQuery, article_screen, parse_topic

MATCH_BATCH = 200
THRESHOLD_STEP = 0.05


def best_quote(article: Article, match: TopicMatch, idf: dict[str, float]) -> str:
    """The sentence that holds most of the topic, as answers choose quotes; a match on meaning
    alone (no topic word in any sentence) quotes the first sentence of the best passage."""
    terms = QuestionTerms.of(match.topic.query.text)
    hit = ArticleHit(seq=article.seq, score=match.score, passages=[(match.passage, match.score)])
    scores = [s + lede_prior(i) if s > 0 else 0.0
              for i, s in enumerate(sentence_scores(article, hit, idf, terms))]
    if scores and max(scores) > 0:
        return article.sentences[int(np.argmax(scores))].text
    passage = article.passages[match.passage] if match.passage < len(article.passages) else article.passages[0]
    return article.sentences[passage.start].text


@dataclass(frozen=True)
class Judged:
    """What a 👍 / 👎 did: the topic (as it is now, its profile updated) and its judgement counts."""
    topic: Topic
    verdict: int


@dataclass(frozen=True)
class Explanation:
    """Why an article alerted (or would alert) for a topic: what a user needs to rephrase it."""
    topic: Topic
    found: tuple[str, ...]  # topic words the best passage holds
    missing: tuple[str, ...]  # topic words it lacks
    passage: str  # the best matching passage, verbatim
    score: float
    cosine: float  # the passage's similarity to the topic's profile
    coverage: float  # share of the topic's word weight the passage holds
    threshold: float
    title: str


def profile_bytes(profile: TopicProfile) -> bytes:
    return np.asarray(profile.vector, np.float32).tobytes()


class Alerts:
    def __init__(self, store, index: IndexManager, embedder: Embedder, config: Config,
                 profile_settings: ProfileSettings | None = None):
        self.store = store
        self.index = index
        self.embedder = embedder
        self.config = config
        self.profile_settings = profile_settings or ProfileSettings()
        self._match_lock = threading.Lock()
        self._matcher: TopicMatcher | None = None
        self._matcher_version = -1

    # -- subscriptions ----------------------------------------------------------------------
    def subscribe(self, chat_id: int, text: str, delivery: str = "instant", kind: str = "private",
                  title: str = "") -> tuple[Topic, bool]:
        """(the topic, whether it is new). Raises TopicError with a message for the user."""
        if delivery not in DELIVERIES:
            raise TopicError(f"Delivery is {' or '.join(DELIVERIES)}.")
        query = parse_topic(text, self.config.alerts.max_topic_chars)
        self.store.upsert_chat(chat_id, kind, title)
        limit = self.config.alerts.max_topics_per_chat
        try:
            topic_id, created = self.store.add_topic(chat_id, query.raw, delivery, self.store.max_seq(), limit)
        except LookupError:
            raise TopicError(f"This chat already follows {limit} topics, the most allowed. "
                             "Remove one with /unsubscribe first.") from None
        # Embedded once the cap let it in (a refused topic caches no vector), and now, so that
        # matching never waits for the encoder; should this fail, matching embeds it instead.
        self._topic_vectors([query])
        topic = self._topic(topic_id, chat_id)
        if created or not topic.calibrated_on:  # a topic from before profiles learns on re-subscribing
            topic = self.calibrate(topic)
        return topic, created

    # -- what a topic learns ----------------------------------------------------------------
    def calibrate(self, topic: Topic) -> Topic:
        """Derive the topic's profile from the archive (and its chat's judgements) and store it.
        A store too small to have a score distribution leaves the topic as typed."""
        index = self.index.current
        if index is None:
            return topic
        judged = self.store.judgements(topic.id)
        vector = self._topic_vectors([topic.query])[0]
        with index.reading():
            if index.size == 0:
                return topic
            coverage = index.bm25.coverage(topic.query.terms)
            profile = build_profile(
                vector, coverage, index.vectors, index.article_seq.view.copy(), self.config.retrieval,
                self.profile_settings, self.config.alerts.threshold,
                liked=[seq for seq, v in judged if v > 0], disliked=[seq for seq, v in judged if v < 0])
        if not profile.learned:
            return topic
        self.store.set_topic_profile(topic.id, profile_bytes(profile), round(profile.threshold, 4), profile.archive)
        return self._topic(topic.id, topic.chat_id)

    def judge(self, chat_id: int, outbox_id: int, verdict: int) -> Judged | None:
        """A chat's 👍 (1) or 👎 (-1) on one of its alerts: stored, and the topic re-derived from
        the archive with every judgement so far. None when the alert is not the chat's or its topic
        is no longer followed."""
        topic, item = self._alert_topic(chat_id, outbox_id)
        if topic is None:
            return None
        self.store.judge(topic.id, item.article.seq, verdict)
        return Judged(self.calibrate(topic), verdict)

    def explain(self, chat_id: int, outbox_id: int) -> Explanation | None:
        """/why on an alert: the topic words its best passage holds and lacks, and that passage."""
        topic, item = self._alert_topic(chat_id, outbox_id)
        if topic is None:
            return None
        article = self.store.articles_by_seq([item.article.seq]).get(item.article.seq)
        index = self.index.current
        if article is None or index is None or not article.passages:
            return None
        titles = self.index.shape.titles
        texts = [passage_text(article, p.index, titles) for p in article.passages]
        vectors = ensure_vectors(self.store, self.embedder, {text_hash(t): t for t in texts})
        with index.reading():
            idf = index.bm25.term_weights(topic.query.terms)
        total = sum(idf.values()) or 1.0
        profile = self._topic_vectors_of([topic])[0]
        best = None
        for j, text in enumerate(texts):
            present = set(tokenize(text))
            coverage = sum(w for t, w in idf.items() if t in present) / total
            cosine = float(vectors[text_hash(text)] @ profile)
            score = float(fuse(np.array([coverage]), np.array([cosine]), self.config.retrieval)[0])
            if best is None or score > best[0]:
                best = (score, j, coverage, cosine, present)
        score, j, coverage, cosine, present = best
        passage = article.passages[j]
        return Explanation(
            topic=topic, found=tuple(t for t in topic.query.terms if t in present),
            missing=tuple(t for t in topic.query.terms if t not in present),
            passage=passage.text,
            score=score, cosine=cosine, coverage=coverage,
            threshold=topic.threshold_or(self.config.alerts.threshold), title=article.title)

    def _alert_topic(self, chat_id: int, outbox_id: int):
        item = self.store.alert_item(outbox_id)
        if item is None or item.chat_id != chat_id:
            return None, None
        topic = next((t for t in self.topics(chat_id) if t.query.raw == item.topic), None)
        return topic, item

    def unsubscribe(self, chat_id: int, text: str) -> int:
        """Remove the topic named (by its text or its number in /topics), or all of them."""
        text = " ".join(text.split())
        if text.lower() == "all":
            return self.store.remove_topics(chat_id)
        for position, topic in enumerate(self.topics(chat_id), start=1):
            if topic.query.raw.lower() == text.lower() or text == str(position):
                return self.store.remove_topics(chat_id, topic.id)
        return 0

    def topics(self, chat_id: int) -> list[Topic]:
        return [self._from_row(r) for r in self.store.topics(chat_id)]

    def set_muted(self, chat_id: int, topic_id: int, muted: bool) -> bool:
        return self.store.update_topic(chat_id, topic_id, muted=int(muted))

    def set_delivery(self, chat_id: int, topic_id: int, delivery: str) -> bool:
        if delivery not in DELIVERIES:
            raise TopicError(f"Delivery is {' or '.join(DELIVERIES)}.")
        return self.store.update_topic(chat_id, topic_id, delivery=delivery)

    def adjust_threshold(self, chat_id: int, topic_id: int, steps: int) -> float | None:
        """Fewer (steps > 0) or more (steps < 0) alerts for one topic; the new threshold."""
        topic = next((t for t in self.topics(chat_id) if t.id == topic_id), None)
        if topic is None:
            return None
        current = self.threshold_of(topic)
        value = round(min(max(current + steps * THRESHOLD_STEP, 0.2), 0.95), 2)
        self.store.update_topic(chat_id, topic_id, threshold=value)
        return value

    def threshold_of(self, topic: Topic) -> float:
        return topic.threshold_or(self.config.alerts.threshold)

    def _topic(self, topic_id: int, chat_id: int) -> Topic:
        return next(t for t in self.topics(chat_id) if t.id == topic_id)

    @staticmethod
    def _from_row(row) -> Topic:
        return Topic(id=row.id, chat_id=row.chat_id, query=parse_topic(row.query, max_chars=10_000),
                     delivery=row.delivery, muted=row.muted, threshold=row.threshold, since_seq=row.since_seq,
                     auto_threshold=row.auto_threshold, profile=row.profile, calibrated_on=row.calibrated_on,
                     liked=row.liked, disliked=row.disliked)

    def _topic_vectors(self, queries: list[TopicQuery]) -> np.ndarray:
        texts = {text_hash(q.text): q.text for q in queries}
        vectors = ensure_vectors(self.store, self.embedder, texts)
        if not queries:
            return np.zeros((0, self.embedder.dimension), np.float32)
        return np.vstack([vectors[text_hash(q.text)] for q in queries])

    def _topic_vectors_of(self, topics: list[Topic]) -> np.ndarray:
        """What the matcher scores each topic with: its profile where it has one, else its text's vector."""
        if not topics:
            return np.zeros((0, self.embedder.dimension), np.float32)
        texts = self._topic_vectors([t.query for t in topics if t.profile is None])
        out, plain = [], iter(texts)
        for t in topics:
            out.append(np.frombuffer(t.profile, np.float32) if t.profile is not None else next(plain))
        return np.vstack(out).astype(np.float32)

    # -- matching ---------------------------------------------------------------------------
    def matcher(self) -> TopicMatcher:
        """Topic matrices, rebuilt only when a subscription changed (in any process)."""
        version = self.store.topics_version()
        if self._matcher is None or version != self._matcher_version:
            topics = [self._from_row(r) for r in self.store.topics()]
            vectors = self._topic_vectors_of(topics)
            self._matcher = TopicMatcher(topics, vectors, self.config.retrieval, self.config.alerts.threshold)
            self._matcher_version = version
        return self._matcher

    def match_new(self, now: datetime | None = None) -> int:
        """Match articles indexed since the last call; returns how many alerts were recorded."""
        index = self.index.current
        if index is None:
            return 0
        recorded = 0
        with self._match_lock:
            watermark = self.store.alerts_watermark()
            while watermark < index.watermark:
                articles = [a for a in self.store.articles_after(watermark, limit=MATCH_BATCH)
                            if a.seq <= index.watermark]
                if not articles:
                    break
                alerts = self._alerts_for(articles, now or datetime.now(timezone.utc))
                watermark = articles[-1].seq
                recorded += self.store.record_alerts(alerts, watermark)
        return recorded

    def _alerts_for(self, articles: list[Article], now: datetime) -> list[Alert]:
        matcher = self.matcher()
        if not matcher.topics:
            return []
        index = self.index.current
        with index.reading():
            idf = index.bm25.term_weights(matcher.vocab)
        titles = self.index.shape.titles
        texts = {}
        for article in articles:
            for p in article.passages:
                text = passage_text(article, p.index, titles)
                texts[text_hash(text)] = text
        vectors = ensure_vectors(self.store, self.embedder, texts)
        digest_at = utc_iso(next_digest(now, self.config.alerts.digest_hour_utc))
        alerts: list[Alert] = []
        for article in articles:
            passage_texts = [passage_text(article, p.index, titles) for p in article.passages]
            tokens = passage_tokens(article, titles)
            matches = matcher.match(
                article.seq,
                tokens,
                np.vstack([vectors[text_hash(t)] for t in passage_texts]),
                idf,
                article_screen(article.title, article.text, [p.text for p in article.passages], tokens),
            )
            best: dict[int, TopicMatch] = {}
            for m in matches:  # one alert per chat: the topic that matched best names it
                if m.topic.chat_id not in best or m.score > best[m.topic.chat_id].score:
                    best[m.topic.chat_id] = m
            for chat_id, m in best.items():
                daily = m.topic.delivery == "daily"
                alerts.append(Alert(
                    chat_id=chat_id, article_seq=article.seq, topic=m.topic.query.raw,
                    quote=best_quote(article, m, idf), score=round(m.score, 4),
                    delivery=m.topic.delivery, not_before=digest_at if daily else utc_iso(now),
                ))
        return alerts
