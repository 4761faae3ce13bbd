"""Sentence choice: the sentence that answers holds new content of the kind asked, not the question's words."""

from __future__ import annotations

from index.answer_type import NAME, NUMBER, WHEN, asked_kind, asked_nouns, new_names, numbers_near
from index.retrieval import ArticleHit
from index.sentence_choice import QuestionTerms, sentence_spans
from index.tokenize import tokenize


def spans(article, question):
    terms = QuestionTerms.of(question)
    idf = {t: 1.0 for t in tokenize(article.text + " " + question)}
    hit = ArticleHit(seq=0, score=1.0, passages=[(p.index, 1.0) for p in article.passages])
    return sentence_spans(article, hit, idf, terms)


def best(article, question) -> tuple[int, int]:
    scored = spans(article, question)
    i = max(range(len(scored)), key=lambda k: scored[k][0])
    return scored[i][1], i


def test_the_kind_of_fact_asked():
    assert asked_kind("Which company is being accused of turning off the AC in its stores?") == NAME
    assert asked_kind("Who won the election for mayor of Port Alder?") == NAME
    assert asked_kind("Where was the stolen painting found?") == NAME
    assert asked_kind("What country elected its first-ever leftist leader this week?") == NAME
    assert asked_kind("How many jobs will the factory create?") == NUMBER
    assert asked_kind("What is the fine for breaking the hosepipe ban?") == NUMBER
    assert asked_kind("What interest rate did the bank set?") == NUMBER
    assert asked_kind("When did Kestrel Mobile sign the deal?") == WHEN
    assert asked_kind("What did the governor say about the rate cut?") is None


def test_names_count_only_when_the_question_does_not_hold_them():
    asked = frozenset(tokenize("Which wildly popular show was green lit for a new season?"))
    assert new_names("Squid Game will return for a second season.", asked) == ["Squid Game"]
    assert new_names("The show was green lit for a new season.", asked) == []


def test_a_number_next_to_the_thing_counted_and_not_an_increment():
    question = "How many jobs will the battery factory create?"
    nouns, asked = asked_nouns(question), frozenset(tokenize(question))
    assert nouns == {"job"}
    assert numbers_near("The factory would create 850 permanent jobs.", nouns, asked)
    assert not numbers_near("The factory will add a second shift, creating 180 more jobs.", nouns, asked)
    assert numbers_near("It is creating 180 more jobs.", nouns, asked, increment=True)
    assert not numbers_near("The order was for 120 electric buses.", nouns, asked)


def test_the_sentence_naming_the_answer_beats_the_one_restating_the_question(make_article):
    article = make_article(
        "In the fourth quarter, sales fell again.\n\n"
        "The retailer is accused of turning off the air conditioning in its stores to save money, "
        "staff said.\n\nHarwick Stores denied turning off the air conditioning to save money.",
        title="Retailer struggles")
    first, last = best(article, "Which retailer is accused of turning off the air conditioning to save money?")
    assert (first, last) == (2, 2)  # names Harwick Stores and holds the question's topic


def test_a_sentence_that_refers_back_is_quoted_with_the_one_naming_its_subject(make_article):
    article = make_article(
        "Shoppers at Harwick Stores found the aisles unusually warm this summer.\n\n"
        "The company is accused of turning off the air conditioning in its stores to save money.",
        title="Warm aisles")
    first, last = best(article, "Which company is accused of turning off the air conditioning in its stores?")
    assert (first, last) == (0, 1)  # "The company …" needs the sentence before it: a two-sentence quote


def test_how_many_prefers_the_count_of_the_thing_asked(make_article):
    article = make_article(
        "Brightline said the order for 120 electric buses was worth 95 million crowns.\n\n"
        "Brightline said the factory would create 850 permanent jobs.",
        title="Factory")
    assert best(article, "How many jobs will the Brightline factory create?") == (1, 1)
