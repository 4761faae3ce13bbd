"""Which sentence of an article answers the question.

Questions name a topic (entities: "Huawei", "MTS", "5G") and ask about something happening to it
("sign", "deal"). A news sentence that answers often names the entities only through context
("The parties signed an agreement at the Kremlin on Wednesday."), so entity terms are looked for in
the sentence and the one before it, while the question's other terms must be in the sentence
itself. A sentence holding a *new* fact of the kind asked for (a name the question lacks for
"who"/"which X", a number for "how many", a day for "when": `answer_type`) gets a bonus — the
answer is what the question does not already say — and so does one in a passage retrieval ranked
high. A sentence that names its subject only by reference ("The company …") takes the bonus of the
sentence before it when that one names something of the asked kind, and is quoted with it; so does
one that describes the asked thing ("the wildly popular South Korean show" for "which show") when
the name before it is the more salient; and a sentence that sets the answer up ("it's a nostalgic
treat") is quoted with the next, when that one says a more salient new name ("the cheese Danish").
A stored question is not its own answer (`answer_key`). A question that opens with a statement
("King Charles III became Britain's new monarch … Who is next in line?") restates its story there:
those words found the story, and in choosing the sentence they count less than the question's own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .answer_key import answer_key, asked_at
from .answer_type import (NAME, NUMBER, REFERS_BACK, asked_kind, asked_nouns, asks_increment, holds_new,
                          new_name_tokens, numbers_near)
from .models import Article
from .retrieval import ArticleHit
from .timeparse import GENERIC
from .tokenize import tokenize

ENTITY_SHARE = 0.4
# A term said only in the question's preamble counts this much of its idf in a sentence's evidence:
# the preamble restates the story (its lede), the question proper asks what the answer adds.
PREAMBLE_WEIGHT = 0.3
ANSWER_TYPE_BONUS = 0.3
# "Which X …?" asks for the story's subject, which the story names again and again (and its headline
# names) while the question hides it: a new name's bonus grows with how often the article uses it.
SALIENCE_BONUS = 0.5
NAME_FLAT_BONUS = 0.15
OTHER_NUMBER_BONUS = 0.15  # a number, but not beside the thing counted
COUNTED_BONUS = 0.15  # the new number sits next to the thing counted ("850 permanent jobs")
PASSAGE_BONUS = 0.25
# A stored question holds the asked words without answering them (`answer_key`): quoted only when
# nothing better is found, unless a quiz's key gives its answer, which then leads.
ASKING_FACTOR = 0.3
KEY_BONUS = 0.3
# News is written as an inverted pyramid: the lede states the story's main fact. Measured on the
# pool_quick dev questions: answer-in-quote 0.690 without this prior, 0.751 with 0.2 × 0.8^i.
LEDE_BONUS = 0.2
LEDE_DECAY = 0.8


@dataclass(frozen=True)
class QuestionTerms:
    entities: frozenset[str]
    focus: frozenset[str]
    kind: str | None
    nouns: frozenset[str] = frozenset()  # the asked thing ("how many jobs" → jobs)
    increment: bool = False  # "how many more": a "180 more jobs" answers
    # words said only in a preamble before the question proper ("King Charles III became Britain's
    # new monarch … Who is next in line?"): they found the story, the question's own words find the
    # sentence that answers (PREAMBLE_WEIGHT)
    preamble: frozenset[str] = frozenset()

    @classmethod
    def of(cls, question: str) -> "QuestionTerms":
        words = question.split()
        # a capital at the start of the question says nothing about the word
        body = " ".join(words[1:]) if words else ""
        entities = set(tokenize(" ".join(_ENTITY_WORD.findall(body))))
        all_terms = set(tokenize(question))
        ask = asked_sentence(question)
        kind = asked_kind(ask) or asked_kind(question)
        preamble = frozenset(all_terms - set(tokenize(ask)) - entities) if ask != question else frozenset()
        return cls(frozenset(entities & all_terms), frozenset(all_terms - entities), kind,
                   asked_nouns(ask) if kind in (NUMBER, NAME) else frozenset(), asks_increment(ask), preamble)

    @property
    def tokens(self) -> frozenset[str]:
        return self.entities | self.focus


_ENTITY_WORD = re.compile(r"(?<![\w'])(?:[A-Z][\w'’.-]*|[\w'’-]*\d[\w'’-]*)")


# a sentence end inside a question: ". " before a capital, not after an initial or a title ("Dr.", "U.S.")
_QUESTION_BREAK = re.compile(r"(?<=[.!?…])[\"”’)]?\s+(?=[\"“‘(]?[A-Z])")
_ABBREVIATION = re.compile(r"(?:\b[A-Z]|\b(?:Mr|Mrs|Ms|Dr|St|Jr|Sr|Gov|Sen|Rep|Gen|Lt|Col|vs|No))\.$")


def asked_sentence(question: str) -> str:
    """The question proper: the last sentence that asks (ends with "?"), when a preamble of one or
    more statements comes first; otherwise the whole question."""
    parts: list[str] = []
    for part in _QUESTION_BREAK.split(question.strip()):
        if parts and _ABBREVIATION.search(parts[-1]):
            parts[-1] = f"{parts[-1]} {part}"
        else:
            parts.append(part)
    if len(parts) < 2:
        return question
    asking = [p for p in parts if p.rstrip().rstrip("\"”’)").endswith("?")]
    return asking[-1] if asking else question


def lede_prior(index: int) -> float:
    return LEDE_BONUS * LEDE_DECAY**index


# The lede is always a candidate (lede_prior); with the sentences of the passages retrieval found
# (and the one before each) it holds every quote chosen on both dev pools (README, Evaluation).
LEDE_SENTENCES = 3


def quotable_sentences(article: Article, hit: ArticleHit) -> list[int]:
    """The sentences worth scoring for a hit: its lede, and those of the passages retrieval found,
    with the sentence before each (a reference back quotes it). A long article (a live blog, a
    transcript: hundreds of sentences) is then read where the question found it, not whole. A
    hit without passages (a match on the article as a whole) gets every sentence."""
    n = len(article.sentences)
    if not hit.passages:
        return list(range(n))
    kept = set(range(min(LEDE_SENTENCES, n)))
    spans = {p.index: (p.start, p.end) for p in article.passages}
    for p_index, _ in hit.passages:
        if p_index in spans:
            start, end = spans[p_index]
            kept.update(range(max(0, start - 1), min(end, n)))
    return sorted(kept)


class ArticleTokens:
    """One article's tokens, worked out where they are asked for and then kept: a question that
    reads 30 sentences of a 1,700-sentence article tokenises those 30 (cold, each costs ~20 µs)."""

    def __init__(self, article: Article):
        self.title = article.title
        self.text = article.text
        self._texts = [s.text for s in article.sentences]
        self._sentences: list[set[str] | None] = [None] * len(self._texts)
        self._words: frozenset[str] | None = None

    def sentence(self, i: int) -> set[str]:
        found = self._sentences[i]
        if found is None:  # two threads may both fill it: with the same set
            found = self._sentences[i] = set(tokenize(self._texts[i]))
        return found

    def sentences(self) -> list[set[str]]:
        return [self.sentence(i) for i in range(len(self._texts))]

    def words(self) -> frozenset[str]:
        """The title's and the text's, in one pass over the whole text."""
        if self._words is None:
            self._words = frozenset(tokenize(f"{self.title}\n{self.text}"))
        return self._words


_TOKENS_CACHE: dict[tuple[str, str], ArticleTokens] = {}
TOKENS_CACHE_SIZE = 2_000  # articles whose tokens are kept (popular stories answer often)


def article_tokens(article: Article) -> ArticleTokens:
    """Cached by article: evidence, salience and coverage all read them."""
    key = (article.id, article.content_hash)
    cached = _TOKENS_CACHE.get(key)
    if cached is None:
        cached = ArticleTokens(article)
        if len(_TOKENS_CACHE) >= TOKENS_CACHE_SIZE:
            _TOKENS_CACHE.pop(next(iter(_TOKENS_CACHE)), None)
        _TOKENS_CACHE[key] = cached
    return cached


def sentence_tokens(article: Article) -> list[set[str]]:
    """Each sentence's token set (all of them)."""
    return article_tokens(article).sentences()


def coverage(article: Article, idf: dict[str, float], terms: QuestionTerms) -> float:
    """Share (0..1) of the question's idf-weighted terms the article holds anywhere (title or text)."""
    asked = terms.tokens - GENERIC  # "what happened", "news": how it is asked, not what about
    total = sum(idf.get(t, 0.0) for t in asked)
    if not total:
        return 0.0
    held = asked & article_tokens(article).words()
    return sum(idf.get(t, 0.0) for t in held) / total


def sentence_evidence(article: Article, idf: dict[str, float], terms: QuestionTerms,
                      kept: list[int] | None = None) -> list[float]:
    """Share (0..1) of the question's idf-weighted terms each sentence holds (entities in context);
    0 for a sentence outside `kept` (sorted indexes; None: all)."""
    preamble = terms.preamble

    def weight(ts) -> float:
        return sum(idf.get(t, 0.0) * (PREAMBLE_WEIGHT if t in preamble else 1.0) for t in ts)

    entity_total, focus_total = weight(terms.entities), weight(terms.focus)
    if entity_total and focus_total:
        entity_share = ENTITY_SHARE
    else:
        entity_share = 1.0 if entity_total else 0.0
    tokens = article_tokens(article)
    asked = terms.entities | terms.focus
    out = [0.0] * len(article.sentences)
    for i in range(len(out)) if kept is None else kept:
        held = tokens.sentence(i)
        if not asked & held:
            continue  # holds none of the question's words itself
        context = held | tokens.sentence(i - 1) if i else held
        entity = weight(terms.entities & context) / entity_total if entity_total else 0.0
        focus = weight(terms.focus & held) / focus_total if focus_total else 0.0
        out[i] = entity_share * entity + (1 - entity_share) * focus
    return out


def sentence_scores(article: Article, hit: ArticleHit, idf: dict[str, float], terms: QuestionTerms) -> list[float]:
    """Evidence plus the answer-type and passage bonuses; zero for a sentence with no evidence."""
    return [score for score, _, _ in sentence_spans(article, hit, idf, terms)]


def sentence_spans(article: Article, hit: ArticleHit, idf: dict[str, float],
                   terms: QuestionTerms, found_only: bool = False) -> list[tuple[float, int, int]]:
    """For each sentence i: (score, first, last sentence of its quote). The quote is sentence i
    alone; or i-1..i when sentence i names its subject only by reference ("The company …") and the
    sentence before names something of the asked kind: that pair is what answers (so too when sentence
    i describes the asked thing, "the wildly popular show", and the one before names it); or i..i+1 when
    the next sentence, no candidate itself (none of the question's words, or outside what was
    found), names a more salient new thing of the asked kind than sentence i (it says what sentence
    i sets up); or, for a quiz's
    question, its answer key's entry. `found_only`: only the `quotable_sentences` of the hit can
    score, unless none of them holds the question's words (an article found on meaning alone:
    its words are elsewhere, and the whole article is read). An alert's best quote reads the
    whole article."""
    passage_of = {i: p.index for p in article.passages for i in range(p.start, p.end)}
    passage_score: dict[int, float] = {}
    if hit.passages:
        best = hit.passages[0][1] or 1.0
        for p_index, score in hit.passages:
            passage_score.setdefault(p_index, score / best)
    texts = [s.text for s in article.sentences]
    asked = terms.tokens
    evidence = sentence_evidence(article, idf, terms, quotable_sentences(article, hit)) if found_only else []
    if not any(evidence):
        evidence = sentence_evidence(article, idf, terms)
    # only sentences with evidence (and the ones beside each: a reference back, a name said next)
    wanted = {j for i, e in enumerate(evidence) if e > 0 for j in (i - 1, i, i + 1) if 0 <= j < len(texts)}
    names = {i: new_name_tokens(texts[i], asked) for i in wanted} if terms.kind == NAME else {}
    has_new = {i: bool(names[i]) if terms.kind == NAME else holds_new(terms.kind, texts[i], asked)
               for i in wanted} if terms.kind else {}
    salience = _name_salience(article, names) if names else {}

    def name_bonus(j: int) -> float:
        return NAME_FLAT_BONUS + SALIENCE_BONUS * max((salience.get(t, 0.0) for t in names[j]), default=0.0)

    out = []
    for i, e in enumerate(evidence):
        if e <= 0:
            out.append((0.0, i, i))
            continue
        score = e + PASSAGE_BONUS * passage_score.get(passage_of.get(i, -1), 0.0)
        first = i
        if has_new.get(i):
            if terms.kind == NAME:
                before = name_bonus(i - 1) if i and has_new.get(i - 1) and _describes(texts[i], terms.nouns) else 0.0
                if before > name_bonus(i):  # "the wildly popular show": its name is said just before
                    score += before
                    first = i - 1
                else:
                    score += name_bonus(i)
            elif terms.nouns and terms.kind == NUMBER:
                # the count of the thing asked beats any other number ("850 permanent jobs" over
                # "120 electric buses", and over "180 more jobs" unless more are asked for)
                counted = numbers_near(texts[i], terms.nouns, asked, increment=terms.increment)
                score += ANSWER_TYPE_BONUS + COUNTED_BONUS if counted else OTHER_NUMBER_BONUS
            else:
                score += ANSWER_TYPE_BONUS
        elif terms.kind == NAME and i and has_new.get(i - 1) and (
                REFERS_BACK.match(texts[i]) or _describes(texts[i], terms.nouns)):
            score += name_bonus(i - 1)
            first = i - 1
        last = i
        if terms.kind == NAME and first == i and i + 1 < len(texts) and has_new.get(i + 1) and evidence[i + 1] <= 0:
            # "… a nostalgic treat from three decades ago." then "… bringing back the cheese Danish":
            # the sentence that holds the question's words sets up a name the next one says
            own = name_bonus(i) if has_new.get(i) else 0.0
            after = name_bonus(i + 1)
            if after > own:
                score += after - own
                last = i + 1
        out.append(_asking(texts, i, score, first, last))
    return out


def _asking(texts: list[str], i: int, score: float, first: int, last: int) -> tuple[float, int, int]:
    """A stored question (or a quiz item's statement before its question) is quoted by its answer
    key's entry when the quiz has one, and is otherwise a weak candidate."""
    q = asked_at(texts, i)
    if q is None:
        return score, first, last
    key = answer_key(texts, q)
    if key is None:
        return (score * ASKING_FACTOR, first, i) if q == i else (score, first, i)
    return score + KEY_BONUS, key[0], key[1]


def _describes(text: str, nouns: frozenset[str]) -> bool:
    """Whether `text` names the asked thing by description ("the wildly popular South Korean show"
    for "which show"): the answer's name is then in the sentence before."""
    words = text.split()
    for k, w in enumerate(words):
        if w.lower() in ("the", "this", "that") and set(tokenize(" ".join(words[k + 1 : k + 5]))) & nouns:
            return True
    return False


def _name_salience(article: Article, names: dict[int, set[str]]) -> dict[str, float]:
    """Each candidate name token's use count in the article (the headline counting twice), over the
    most used one's: 1.0 for the story's main new name."""
    candidates = set().union(*names.values())
    if not candidates:
        return {}
    counts = dict.fromkeys(candidates, 0)
    for token in tokenize(article.title):
        if token in counts:
            counts[token] += 2
    for tokens in sentence_tokens(article):  # a sentence counts once for a name it uses
        for token in candidates & tokens:
            counts[token] += 1
    top = max(counts.values()) or 1
    return {t: c / top for t, c in counts.items()}
