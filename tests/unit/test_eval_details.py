"""`newsbot eval --details`: one record per question and mode, saying where the gold article ranked
and which of the answer counts the reply met, so that a miss can be read."""

from __future__ import annotations

from datetime import date

from bench.evaluation import Question, question_record, unanswerable_record
from index.answers import Answer, Quote

QUESTION = Question(qid="q1", question="Which company opened the factory?", answer="Brightgrid",
                    gold=frozenset({"a2"}), asked=date(2026, 9, 20), answer_in_gold_text=True)


def quote(text: str, article_id: str, title: str = "A headline") -> Quote:
    return Quote(text=text, article_id=article_id, title=title, date="2026-09-15", url=None, score=1.0)


def test_an_answer_in_the_second_quote_counts_for_three_quotes_not_the_first():
    answer = Answer(QUESTION.question, False, [quote("The plant opened on Tuesday.", "a1"),
                                               quote("Brightgrid opened it.", "a2")], articles=["a1", "a2", "a3"])
    record = question_record(QUESTION, "hybrid", answer, rank=2)
    assert (record["first_quote"], record["in_quotes"], record["in_reply"]) == (False, True, True)
    assert record["rank"] == 2 and record["mode"] == "hybrid" and record["asked"] == "2026-09-20"
    assert record["set"] == "dev"
    assert [q["article_id"] for q in record["quotes"]] == ["a1", "a2"]


def test_an_answer_only_in_a_title_counts_for_the_reply_alone():
    answer = Answer(QUESTION.question, False, [quote("The plant opened on Tuesday.", "a2", "Brightgrid opens plant")])
    record = question_record(QUESTION, "bm25", answer, rank=1)
    assert (record["first_quote"], record["in_quotes"], record["in_reply"]) == (False, False, True)


def test_nothing_said_is_recorded_with_no_quotes_and_no_rank():
    record = question_record(QUESTION, "dense", Answer(QUESTION.question, True), rank=None)
    assert record["no_answer"] is True and record["quotes"] == [] and record["rank"] is None
    assert not record["in_reply"]


def test_an_unanswerable_question_given_quotes_is_recorded_as_a_false_answer():
    answer = Answer("What is the capital of Mongolia?", False, [quote("A capital increase was approved.", "w1")])
    record = unanswerable_record("wire", answer.question, date(2022, 6, 1), "hybrid", answer)
    assert record["set"] == "unanswerable:wire" and record["no_answer"] is False
    assert [q["text"] for q in record["quotes"]] == ["A capital increase was approved."]
