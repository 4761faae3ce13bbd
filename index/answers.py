"""From retrieved articles to an answer: verbatim quoted sentences with title, date and link.

Nothing here writes text: every quote is one stored sentence, or a run of consecutive ones,
unchanged. Sentences are chosen by how much of the question's evidence (idf-weighted query terms)
they hold and whether they add a fact of the kind asked (`sentence_choice`, `answer_type`), helped
by the score of the passage they sit in, so the first quote is the sentence that answers rather than
the one that restates the question. Near-identical stories from several outlets are shown once.
When the best match is weak, the answer says so and offers the closest headlines instead of
padding with unrelated quotes. A question with no topic beyond its time ("what happened last
week?") gets the window's newest stories; a topic whose window is empty gets its latest story.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

import numpy as np

from .answer_type import NUMBER, counts_change, numbers_near
from .config import RetrievalConfig
from .dedupe import is_near_duplicate, shingles
from .models import Article
from .retrieval import ArticleHit, Retriever, SearchResult
from .sentence_choice import (QuestionTerms, coverage, lede_prior, quotable_sentences, sentence_evidence,
                              sentence_spans)
from .store.base import ArticleText
from .timeparse import TimeScope, future_marks, is_broad, names_any, parse_time

MIN_ARTICLES = 10
QUOTED_ARTICLES = 3  # quotes are chosen among the sentences of this many top articles
LOAD_BATCH = 12  # articles loaded at a time while looking for MIN_ARTICLES distinct stories
SHINGLE_CACHE = 20_000  # articles whose shingles are kept between questions
RELEVANT_SHARE = 0.5  # "the latest on a topic": the newest article scoring at least this share of the best
# "The latest I have" needs the best story and the newest close to it, not a ranking: each method's
# best LATEST_DEPTH passages instead of retrieval.candidates let BM25 prune more (its dense pass
# reuses the first search's sign-code distances). At 1M passages, newsbot bench's questions,
# every answer the same as at full depth (README, Benchmarks).
LATEST_DEPTH = 100


def _window_words(scope: TimeScope) -> str:
    """"from 17 Nov 2026 to 24 Nov 2026", "on 24 Nov 2026", "since 1 Mar 2026", "before 1 Jan 2020"."""
    def day(d: date) -> str:
        return f"{d.day} {d:%b %Y}"
    if scope.start and scope.end:
        return f"on {day(scope.start)}" if scope.start == scope.end else f"from {day(scope.start)} to {day(scope.end)}"
    if scope.start:
        return f"since {day(scope.start)}"
    if scope.end:
        return f"before {day(scope.end + timedelta(days=1))}"
    return "in the store"


@dataclass(frozen=True)
class Quote:
    text: str
    article_id: str
    title: str
    date: str | None
    url: str | None
    score: float


@dataclass(frozen=True)
class Answer:
    question: str
    no_answer: bool
    quotes: list[Quote] = field(default_factory=list)
    articles: list[str] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)  # close headlines when nothing answers
    window: tuple[str | None, str | None] = (None, None)
    newest_first: bool = False
    more: list[Quote] = field(default_factory=list)  # the next best quotes, for a "More" button
    note: str = ""  # said before the quotes: "The newest stories from last week:", "Nothing on that …"

    def as_dict(self) -> dict:
        return {
            "question": self.question,
            "no_answer": self.no_answer,
            "quotes": [asdict(q) for q in self.quotes],
            "articles": self.articles,
            "suggestions": self.suggestions,
            "note": self.note,
        }


# a search already made and what it loaded: the result, its distinct stories, their texts, and
# the whole articles of the first few
Searched = tuple[SearchResult, list[ArticleHit], dict[int, ArticleText], dict[int, Article]]


def _untimed(stage: str) -> AbstractContextManager:
    return nullcontext()


class Answerer:
    def __init__(self, store, retriever: Retriever, config: RetrievalConfig):
        self.store = store
        self.retriever = retriever
        self.config = config
        self._shingle_cache: dict[int, np.ndarray] = {}
        self._shingle_lock = threading.Lock()
        # stage(name) is a context manager around each stage of an answer: a benchmark sets a
        # clock here ("search", "sentences"); answering itself never needs it
        self.stage: Callable[[str], AbstractContextManager] = _untimed

    def answer(self, question: str, now: date | None = None, mode: str = "hybrid", more: int = 0) -> Answer:
        question = " ".join(question.split())
        if not question:
            return Answer(question="", no_answer=True)
        scope = parse_time(question, now or date.today())
        if is_broad(scope):
            return self._window_stories(question, scope, now)
        with self.stage("search"):
            result = self.retriever.search(question, now=now, mode=mode, k=max(MIN_ARTICLES * 3, 30))
        hits, stories = self._distinct_stories(result.hits)
        articles = self._quotable(hits)
        with self.stage("sentences"):
            answer = self.compose(question, result, hits, stories, articles, mode, more)
        today = now or date.today()
        ahead = scope.start is not None and scope.start > today  # a window after now: plans made before it
        marks = future_marks(question, scope, today)
        if marks and not answer.no_answer:
            return self._about_future(answer, marks, stories)
        if scope.bounded and not ahead and (answer.no_answer or result.window_empty):
            # an empty window was searched without it already: that search is the one to reuse
            found = (result, hits, stories, articles) if result.window_empty else None
            return (self._before_window(answer, scope, now, mode, found, result.query_vector)
                    or self._nothing_in_window(answer, scope))
        return answer

    @staticmethod
    def _about_future(answer: Answer, marks: frozenset[str], articles: dict[int, ArticleText]) -> Answer:
        """A question about a time after now ("in 2031", "the 2034 World Cup") is answered only by
        articles that name that time: what was announced for then. Others are about something
        else (today's price for "the price of gold in December 2029"), so without one, nothing
        answers."""
        speaking = {a.id for a in articles.values() if names_any(f"{a.title}\n{a.text}", marks)}
        kept = [q for q in answer.quotes if q.article_id in speaking]
        if kept:
            return dataclasses.replace(answer, quotes=kept, more=[q for q in answer.more if q.article_id in speaking])
        when = " or ".join(sorted(marks))
        return dataclasses.replace(
            answer, no_answer=True, quotes=[], more=[], suggestions=list(dict.fromkeys(q.title for q in answer.quotes)),
            note=f"Nothing in the store says what happens in {when}.")

    @staticmethod
    def _nothing_in_window(answer: Answer, scope: TimeScope) -> Answer:
        """An answer found only outside the question's (empty) window is no answer to it."""
        if answer.no_answer:
            return answer
        return dataclasses.replace(answer, no_answer=True, quotes=[], more=[],
                                   suggestions=list(dict.fromkeys(q.title for q in answer.quotes)),
                                   note=f"Nothing on that {_window_words(scope)}.")

    def _window_stories(self, question: str, scope: TimeScope, now: date | None) -> Answer:
        """A question with no topic beyond its time ("latest news", "what happened last week"):
        the window's newest stories, newest first, each quoted by its lede, near-duplicates once."""
        hits, stories = self._distinct_stories(self.retriever.newest(scope, now, LOAD_BATCH * 3))
        hits = hits[: self.config.max_quotes]
        articles = self.store.articles_by_seq([h.seq for h in hits])
        window = (scope.start.isoformat() if scope.start else None, scope.end.isoformat() if scope.end else None)
        if not hits:
            return Answer(question, True, window=window, newest_first=True,
                          note=f"No stories {_window_words(scope)} in the store.")
        quotes = []
        for hit in hits:
            a = articles.get(hit.seq)
            if a is not None and a.sentences:
                quotes.append(Quote(text=a.sentences[0].text, article_id=a.id, title=a.title, date=a.date,
                                    url=a.url, score=1.0))
        return Answer(question, False, quotes, [stories[h.seq].id for h in hits], [], window, True,
                      note=f"The newest stories {_window_words(scope)}:")

    def _before_window(self, missed: Answer, scope: TimeScope, now: date | None, mode: str,
                       found: Searched | None = None,
                       encoded: tuple[str, np.ndarray] | None = None) -> Answer | None:
        """A topic question whose window holds nothing on the topic (or no story at all): when
        older stories do, say so and quote the latest of them (its date shows how old it is). It
        stays a "nothing answers that": the quote is what the store has instead, not an answer
        about the window (a 2022 question of a 1987 wire gets no 1987 story as its answer)."""
        if found is None:
            result = self.retriever.search(scope.text, now=now, mode=mode, k=max(MIN_ARTICLES * 3, 30),
                                           encoded=encoded, depth=min(LATEST_DEPTH, self.config.candidates))
            hits, stories = self._distinct_stories(result.hits)
            articles: dict[int, Article] = {}
        else:
            result, hits, stories, articles = found
        if not hits:
            return None
        floor = RELEVANT_SHARE * max(h.score for h in hits)  # the first ranked is not always the strongest
        latest = max((h for h in hits if h.score >= floor), key=lambda h: h.day)
        missing = [s for s in {hits[0].seq, latest.seq} if s not in articles]
        if missing:  # a reused search loaded the first few already: only what they lack is read
            articles = {**articles, **self.store.articles_by_seq(missing)}
        if not self._relevant(hits[0], articles.get(hits[0].seq), result, mode):
            return None
        quotes, _ = self._quotes([latest], articles, result)
        return dataclasses.replace(
            missed, no_answer=True, quotes=quotes[:1], more=[], articles=[stories[h.seq].id for h in hits],
            suggestions=[], note=f"Nothing on that {_window_words(scope)}. The latest I have:")

    def compose(self, question: str, result: SearchResult, hits: list[ArticleHit], stories: dict[int, ArticleText],
                articles: dict[int, Article], mode: str = "hybrid", more: int = 0) -> Answer:
        """The answer from retrieval's distinct stories and the whole articles of the first few
        (`_quotable`; apart from `answer` so that sentence choice can be measured over one
        retrieval run)."""
        ranked_ids = [stories[h.seq].id for h in hits]
        window = (
            result.scope.start.isoformat() if result.scope.start else None,
            result.scope.end.isoformat() if result.scope.end else None,
        )
        if not hits or not self._relevant(hits[0], articles.get(hits[0].seq), result, mode):
            suggestions = [stories[h.seq].title for h in hits[:3] if h.seq in stories]
            return Answer(question, True, [], ranked_ids, suggestions, window, result.scope.recent)
        quotes, extra = self._quotes(hits, articles, result, more)
        if result.scope.recent:
            quotes.sort(key=lambda q: q.date or "", reverse=True)
        return Answer(question, False, quotes, ranked_ids, [], window, result.scope.recent, extra)

    def _relevant(self, top: ArticleHit, article: Article | None, result: SearchResult, mode: str) -> bool:
        """Whether the best article answers at all. Calibrated (README, Evaluation) on the dev
        questions against an unanswerable set: the dev questions asked of a 1987 wire store and
        general-knowledge and future questions. A close meaning counts only when the article also
        holds a share of the question's idf-weighted terms: most of them (weak_coverage) at a
        cosine between min_relevance and close_relevance, some (min_coverage) above. A 1987 story
        about "capital increases" is close in meaning to "What is the capital of Mongolia?" but
        holds neither Mongolia nor much else. A sentence holding most of the question's evidence
        counts on its own."""
        if article is None:
            return False
        total = sum(result.idf.get(t, 0.0) for t in set(result.tokens))
        if not total:
            return False
        terms = QuestionTerms.of(result.scope.text)
        cfg = self.config
        if mode != "bm25" and top.dense >= cfg.min_relevance:
            needed = cfg.min_coverage if top.dense >= cfg.close_relevance else cfg.weak_coverage
            if coverage(article, result.idf, terms) >= needed:
                return True
        needed = 0.5 if mode == "bm25" else 0.75
        found = quotable_sentences(article, top)  # where retrieval found it first: usually enough
        if max(sentence_evidence(article, result.idf, terms, found), default=0.0) >= needed:
            return True
        return len(found) < len(article.sentences) and max(
            sentence_evidence(article, result.idf, terms), default=0.0) >= needed

    def _distinct_stories(self, hits: list[ArticleHit]) -> tuple[list[ArticleHit], dict[int, ArticleText]]:
        """The best MIN_ARTICLES hits that are distinct stories, and their texts. Texts are loaded a
        few at a time, best first, and stop loading once enough stories are found; sentences are
        loaded only for the articles quoted (`_quotable`)."""
        kept: list[ArticleHit] = []
        kept_shingles: list[np.ndarray] = []
        stories: dict[int, ArticleText] = {}
        for start in range(0, len(hits), LOAD_BATCH):
            batch = hits[start : start + LOAD_BATCH]
            stories.update(self.store.texts_by_seq([h.seq for h in batch]))
            for hit in batch:
                story = stories.get(hit.seq)
                if story is None:
                    continue
                sh = self._shingles(story)
                if any(is_near_duplicate(sh, other, self.config.duplicate_threshold) for other in kept_shingles):
                    continue
                kept.append(hit)
                kept_shingles.append(sh)
                if len(kept) == MIN_ARTICLES:
                    return kept, stories
        return kept, stories

    def _quotable(self, hits: list[ArticleHit]) -> dict[int, Article]:
        """The whole articles (sentences, passages) of the hits quotes are chosen from."""
        return self.store.articles_by_seq([h.seq for h in hits[:QUOTED_ARTICLES]])

    def _shingles(self, article: ArticleText) -> np.ndarray:
        """Cached per article: popular stories come up in many answers."""
        cached = self._shingle_cache.get(article.seq)
        if cached is None:
            cached = shingles(article.text)
            with self._shingle_lock:  # answers run in worker threads
                self._shingle_cache[article.seq] = cached
                if len(self._shingle_cache) > SHINGLE_CACHE:
                    self._shingle_cache.pop(next(iter(self._shingle_cache)))
        return cached

    def _quotes(self, hits: list[ArticleHit], articles: dict[int, Article], result: SearchResult,
                more: int = 0) -> tuple[list[Quote], list[Quote]]:
        """The best sentences of the best few articles, pooled: a sentence's score is scaled by its
        article's retrieval score relative to the top one, so a clearly better article can give
        all the quotes, and close runners-up each give their best (measured: README). The best quote
        comes first (unless it counts the asked thing only by a change: `_total_first`) and quotes
        from one article stay together. The `more` next best follow apart."""
        terms = QuestionTerms.of(result.scope.text)
        top_score = max(h.score for h in hits[:QUOTED_ARTICLES]) or 1.0
        pool: list[tuple[float, int, int, int, Article]] = []
        for rank, hit in enumerate(hits[:QUOTED_ARTICLES]):
            article = articles.get(hit.seq)
            if article is None:
                continue
            weight = hit.score / top_score
            spans = sentence_spans(article, hit, result.idf, terms, found_only=True)
            candidates = [(score * weight + lede_prior(i), rank, first, last, article)
                          for i, (score, first, last) in enumerate(spans) if score > 0]
            if result.scope.recent:  # "latest": one quote from each of the newest relevant stories
                candidates = sorted(candidates, key=lambda c: -c[0])[:1]
            pool += candidates
        pool.sort(key=lambda c: (-c[0], c[1], c[3]))
        _total_first(pool, terms)
        chosen: list = []
        used: dict[int, set[int]] = {}  # article rank → sentences already quoted
        n = self.config.max_quotes
        for c in pool:
            span = set(range(c[2], c[3] + 1))
            if span & used.get(c[1], set()):
                continue  # a span overlapping one already chosen would quote a sentence twice
            used.setdefault(c[1], set()).update(span)
            chosen.append(c)
            if len(chosen) == n + more:
                break
        return self._grouped(chosen[:n]), self._grouped(chosen[n:])

    @staticmethod
    def _grouped(chosen: list) -> list[Quote]:
        first_seen: dict[int, int] = {}
        for c in chosen:
            first_seen.setdefault(c[1], len(first_seen))
        chosen = sorted(chosen, key=lambda c: first_seen[c[1]])  # best first, an article's quotes together
        return [
            Quote(text=_span_text(article, first, last), article_id=article.id,
                  title=article.title, date=article.date, url=article.url, score=round(value, 6))
            for value, _, first, last, article in chosen
        ]


def _span_text(article: Article, first: int, last: int) -> str:
    """A quote's text: the article's sentences first..last, verbatim, as one run."""
    return " ".join(s.text for s in article.sentences[first : last + 1])


def _total_first(pool: list, terms: QuestionTerms) -> None:
    """"How many jobs will the factory create?" asks for a total. When the best candidate counts
    the asked thing only by a change ("creating 180 more jobs": the newest story, on a second
    shift), the best candidate counting it as a total ("850 permanent jobs", the older story that
    announced the factory) leads instead. Sorted by score, the change won on its article's rank and
    its words. Putting a candidate of the asked kind first for every typed question cost answers
    on both dev pools (README, Evaluation); this order changes only a change put for a total."""
    def text(c) -> str:
        return _span_text(c[4], c[2], c[3])

    if terms.kind != NUMBER or not terms.nouns or terms.increment:
        return  # not "how many <thing>", or it asks "how many more"
    if not pool or not counts_change(text(pool[0]), terms.nouns, terms.tokens):
        return
    total = next((c for c in pool if numbers_near(text(c), terms.nouns, terms.tokens)), None)
    if total is not None:
        pool.remove(total)
        pool.insert(0, total)
