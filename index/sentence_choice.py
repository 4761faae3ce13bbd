"""Which sentence of an article answers the question.

Questions name a topic (entities: "Huawei", "MTS", "5G") and ask about something happening to it
("sign", "deal"). A news sentence that answers often names the entities only through context
("The parties signed an agreement at the Kremlin on Wednesday."), so entity terms are looked for in
the sentence and the one before it, while the question's other terms must be in the sentence
itself. A sentence holding the kind of fact asked for (a day for "when", a number for "how many")
gets a bonus, and so does one in a passage retrieval ranked high.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .models import Article
from .retrieval import ArticleHit
from .timeparse import WHEN_QUESTION
from .tokenize import tokenize

ENTITY_SHARE = 0.4
ANSWER_TYPE_BONUS = 0.3
PASSAGE_BONUS = 0.25
# News is written as an inverted pyramid: the lede states the story's main fact. Measured on the
# pool_quick dev questions: answer-in-quote 0.690 without this prior, 0.751 with 0.2 × 0.8^i.
LEDE_BONUS = 0.2
LEDE_DECAY = 0.8
_SPECIFIC_TIME = re.compile(
    r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|yesterday|tonight|"
    r"(?:jan|feb|march|april|may|june|july|aug|sept?|oct|nov|dec)[a-z]*\.? \d{1,2}\b|"
    r"\d{1,2} (?:jan|feb|march|april|may|june|july|aug|sept?|oct|nov|dec)|\d{1,2}:\d\d|"
    r"(?:last|this|next) (?:week|month|year)|(?:\w+) (?:days?|weeks?|months?|years?) (?:ago|earlier|later)|"
    r"in (?:19|20)\d\d|since (?:19|20)\d\d)",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
    r"fifty|hundred|thousand|million|billion|trillion|dozen|half|percent)\b",
    re.IGNORECASE,
)
_KINDS = (
    ("when", WHEN_QUESTION),
    ("number", re.compile(
        r"\bhow (?:many|much|long|old|far|big|large|high)\b|"
        r"\bwhat (?:percent|percentage|number|amount|share|price|age)\b", re.I)),
)
_ENTITY_WORD = re.compile(r"(?<![\w'])(?:[A-Z][\w'’.-]*|[\w'’-]*\d[\w'’-]*)")


def question_kind(question: str) -> str | None:
    for kind, pattern in _KINDS:
        if pattern.search(question):
            return kind
    return None


@dataclass(frozen=True)
class QuestionTerms:
    entities: frozenset[str]
    focus: frozenset[str]
    kind: str | None

    @classmethod
    def of(cls, question: str) -> "QuestionTerms":
        words = question.split()
        # a capital at the start of the question says nothing about the word
        body = " ".join(words[1:]) if words else ""
        entities = set(tokenize(" ".join(_ENTITY_WORD.findall(body))))
        all_terms = set(tokenize(question))
        return cls(frozenset(entities & all_terms), frozenset(all_terms - entities), question_kind(question))


def _type_bonus(kind: str | None, text: str) -> float:
    if kind == "when" and _SPECIFIC_TIME.search(text):
        return ANSWER_TYPE_BONUS
    if kind == "number" and _NUMBER.search(text):
        return ANSWER_TYPE_BONUS
    return 0.0


def lede_prior(index: int) -> float:
    return LEDE_BONUS * LEDE_DECAY**index


def sentence_evidence(article: Article, idf: dict[str, float], terms: QuestionTerms) -> list[float]:
    """Share (0..1) of the question's idf-weighted terms each sentence holds (entities in context)."""
    def weight(ts) -> float:
        return sum(idf.get(t, 0.0) for t in ts)

    entity_total, focus_total = weight(terms.entities), weight(terms.focus)
    if entity_total and focus_total:
        entity_share = ENTITY_SHARE
    else:
        entity_share = 1.0 if entity_total else 0.0
    tokens = [set(tokenize(s.text)) for s in article.sentences]
    out = []
    for i in range(len(tokens)):
        if not (terms.entities | terms.focus) & tokens[i]:
            out.append(0.0)  # holds none of the question's words itself
            continue
        context = tokens[i] | (tokens[i - 1] if i else set())
        entity = weight(terms.entities & context) / entity_total if entity_total else 0.0
        focus = weight(terms.focus & tokens[i]) / focus_total if focus_total else 0.0
        out.append(entity_share * entity + (1 - entity_share) * focus)
    return out


def sentence_scores(article: Article, hit: ArticleHit, idf: dict[str, float], terms: QuestionTerms) -> list[float]:
    """Evidence plus the answer-type and passage bonuses; zero for a sentence with no evidence."""
    passage_of = {i: p.index for p in article.passages for i in range(p.start, p.end)}
    passage_score: dict[int, float] = {}
    if hit.passages:
        best = hit.passages[0][1] or 1.0
        for p_index, score in hit.passages:
            passage_score.setdefault(p_index, score / best)
    scores = []
    for i, evidence in enumerate(sentence_evidence(article, idf, terms)):
        if evidence <= 0:
            scores.append(0.0)
            continue
        score = evidence + PASSAGE_BONUS * passage_score.get(passage_of.get(i, -1), 0.0)
        scores.append(score + _type_bonus(terms.kind, article.sentences[i].text))
    return scores
