"""Sentence choice: the sentence that answers holds new content of the kind asked, not the question's words."""

from __future__ import annotations

from index.answer_type import (NAME, NUMBER, SAID, WHEN, asked_kind, asked_nouns, counts_change, holds_new, new_names,
                               numbers_near)
from index.retrieval import ArticleHit
from index.sentence_choice import (_TOKENS_CACHE, ArticleTokens, QuestionTerms, article_tokens, asked_sentence,
                                   quotable_sentences, sentence_spans, sentence_tokens)
from index.tokenize import tokenize


def spans(article, question):
    terms = QuestionTerms.of(question)
    idf = {t: 1.0 for t in tokenize(article.text + " " + question)}
    hit = ArticleHit(seq=0, score=1.0, passages=[(p.index, 1.0) for p in article.passages])
    return sentence_spans(article, hit, idf, terms)


def best(article, question) -> tuple[int, int]:
    scored = spans(article, question)
    i = max(range(len(scored)), key=lambda k: scored[k][0])
    return scored[i][1], scored[i][2]


def test_the_kind_of_fact_asked():
    assert asked_kind("Which company is being accused of turning off the AC in its stores?") == NAME
    assert asked_kind("Who won the election for mayor of Port Alder?") == NAME
    assert asked_kind("Where was the stolen painting found?") == NAME
    assert asked_kind("What country elected its first-ever leftist leader this week?") == NAME
    assert asked_kind("How many jobs will the factory create?") == NUMBER
    assert asked_kind("What is the fine for breaking the hosepipe ban?") == NUMBER
    assert asked_kind("What interest rate did the bank set?") == NUMBER
    assert asked_kind("When did Kestrel Mobile sign the deal?") == WHEN
    assert asked_kind("What did the governor say about the rate cut?") == SAID
    assert asked_kind("What happened at the harbour?") is None
    assert asked_kind("The most infectious variant yet has arrived. What is it called?") == NAME
    assert asked_kind("What is her name?") == NAME
    assert asked_kind("What is the rule called?") == NAME
    assert asked_kind("What is the capital of Valdoria?") is None  # not a name asked in so many words


def test_what_someone_said_is_answered_by_their_words():
    asked = frozenset(tokenize("What did the governor say about the rate cut?"))
    assert holds_new(SAID, "“This is a careful first step,” said the governor.", asked)
    assert not holds_new(SAID, "Two board members voted to keep rates unchanged.", asked)


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


def test_a_change_in_the_thing_counted_is_told_from_its_total():
    question = "How many jobs will the battery factory create?"
    nouns, asked = asked_nouns(question), frozenset(tokenize(question))
    assert counts_change("The factory will add a second shift, creating 180 more jobs.", nouns, asked)
    assert not counts_change("The factory would create 850 permanent jobs.", nouns, asked)
    assert not counts_change("It adds 180 more jobs to the 850 jobs promised.", nouns, asked)  # the total is there
    assert not counts_change("The order was for 120 more electric buses.", nouns, asked)  # not the thing counted


def test_a_total_leads_where_the_best_quote_counts_only_a_change(make_article):
    """The pool of candidate quotes, best first: (score, article rank, first, last sentence, article)."""
    from index.answers import _total_first

    newest = make_article("The plant will add a second shift, creating 180 more jobs. Orders rose.", title="Second shift")
    oldest = make_article("The plant opened in April. It would create 850 permanent jobs.", title="Plant opens")
    terms = QuestionTerms.of("How many jobs will the plant create?")
    pool = [(1.4, 0, 0, 0, newest), (1.0, 0, 1, 1, newest), (0.9, 1, 1, 1, oldest), (0.5, 1, 0, 0, oldest)]
    _total_first(pool, terms)
    assert [(c[0], c[1]) for c in pool] == [(0.9, 1), (1.4, 0), (1.0, 0), (0.5, 1)]

    unchanged = [(1.4, 0, 0, 0, newest), (1.0, 0, 1, 1, newest)]  # no total anywhere: the order stays
    _total_first(unchanged, terms)
    assert [c[0] for c in unchanged] == [1.4, 1.0]
    led = [(1.2, 1, 1, 1, oldest), (1.1, 0, 0, 0, newest)]  # the total leads already
    _total_first(led, terms)
    assert [c[0] for c in led] == [1.2, 1.1]


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


# laid out as quiz pages are scraped: each option a paragraph, the next item's number stuck to the
# last option, and each answer-key entry in the paragraph of its number
QUIZ = (
    "Test yourself on the week's news.\n\n"
    "Which city voted to ban rental bicycles?\n\nLisbon\n\nOslo\n\nGhent 2. "
    "How many lanterns were lit at the Harrow festival?\n\n300\n\n1,200\n\n4,000\n\n9,500 1. Oslo\n\n"
    "Rental bicycles will be outlawed in the Norwegian capital after a vote last week.\n\n2. 4,000\n\n"
    "Organisers of the Harrow festival lit 4,000 paper lanterns along the river."
)


def test_a_quiz_question_is_answered_by_its_answer_key_not_restated(make_article):
    article = make_article(QUIZ, title="Quiz of the week")
    texts = [s.text for s in article.sentences]
    first, last = best(article, "Which city voted to ban rental bicycles?")
    assert texts[first : last + 1] == ["Oslo", "Rental bicycles will be outlawed in the Norwegian capital after a vote last week."]
    first, last = best(article, "How many lanterns were lit at the Harrow festival?")
    assert texts[first] == "4,000"


def test_answer_key_needs_options_and_one_repeated_option():
    from index.answer_key import answer_key, asked_at, options_after

    texts = ["Which city voted to ban rental bicycles?", "Lisbon", "Oslo", "Ghent 2.", "What else?",
             "1.", "Oslo", "Bicycles are banned there."]
    assert options_after(texts, 0) == ["Lisbon", "Oslo", "Ghent"]
    assert answer_key(texts, 0) == (6, 7)
    assert asked_at(["A gardener was attacked while mowing.", "What attacked her?", "A hawk", "A fox 2."], 0) == 1
    # a key that repeats two of the options says nothing about which one is right
    assert answer_key(texts[:5] + ["1.", "Oslo", "2.", "Lisbon"], 0) is None
    # an explainer's question has no options: no key
    assert answer_key(["What is the harbour levy?", "The harbour levy is a fee charged on every cruise ship."], 0) is None


def test_a_stored_question_is_not_quoted_as_its_own_answer(make_article):
    article = make_article(
        "What is the harbour levy and who pays it?\n\n"
        "The levy is a fee of 12 euros charged on every cruise passenger landing in Port Alder, the council said.",
        title="Harbour levy explained")
    first, last = best(article, "What is the harbour levy in Port Alder?")
    assert (first, last) == (1, 1)


def test_a_sentence_describing_the_asked_thing_is_quoted_with_the_one_naming_it(make_article):
    article = make_article(
        "“Harbour Lights” is officially coming back.\n\n"
        "The streaming service Tidewave said on Sunday that the much-loved Danish drama is renewed for a "
        "second season.\n\nThe first season of Harbour Lights drew 40 million viewers.",
        title="A second season")
    texts = [s.text for s in article.sentences]
    first, last = best(article, "Which much-loved drama was renewed for a second season?")
    assert texts[first].startswith("“Harbour Lights” is officially coming back.")
    assert last == first + 1


def test_a_sentence_setting_up_the_answer_is_quoted_with_the_next_one_naming_it(make_article):
    article = make_article(
        "Merrow Bakeries said its autumn menu would skip the usual pumpkin flavours.\n\n"
        "Instead, its new treat for the autumn is an old favourite from the 1980s.\n\n"
        "From Monday the chain is bringing back the Alder Twist, a honey pastry. The Alder Twist sold "
        "out within weeks when it was first made.\n\nThe Alder Twist costs two crowns.",
        title="Merrow Bakeries revives a pastry")
    texts = [s.text for s in article.sentences]
    first, last = best(article, "Which new treat did Merrow Bakeries add for the autumn?")
    assert texts[first].startswith("Instead, its new treat")  # holds the question's words
    assert "Alder Twist" in texts[last] and last == first + 1  # and is quoted with the name it sets up


def test_a_sentence_that_names_the_answer_itself_is_quoted_alone(make_article):
    article = make_article(
        "The Alder Twist is the new treat Merrow Bakeries added for the autumn.\n\n"
        "Sales of the Alder Twist and of the Merrow Loaf rose in the first week.",
        title="A pastry returns")
    assert best(article, "Which new treat did Merrow Bakeries add for the autumn?") == (0, 0)


def test_the_question_proper_is_the_last_sentence_that_asks():
    worst = "Which district was hit worst?"
    assert asked_sentence(f"The harbour flooded on Monday. {worst}") == worst
    assert asked_sentence(worst) == worst
    assert asked_sentence("Dr. Vasko spoke in the U.S. capital. What did she say?") == "What did she say?"
    assert asked_sentence("Ms. Vasko met Mr. Rask. Who spoke first?") == "Who spoke first?"
    no_question = "Tell me about the harbour flood. It was bad."
    assert asked_sentence(no_question) == no_question


def test_a_preamble_names_the_story_and_the_question_proper_asks_what_the_answer_adds():
    terms = QuestionTerms.of("Golfer Kara Whitlow died at age 83 while celebrating with family. "
                             "How many wins did she accumulate?")
    assert {"die", "age", "celebr", "famili"} <= terms.preamble  # the story, already known
    assert not {"win", "accumul"} & terms.preamble  # what is asked
    assert not {"kara", "whitlow"} & terms.preamble  # names keep their weight: they anchor the topic
    assert terms.kind == NUMBER and terms.nouns == {"win"}


def test_the_sentence_restating_the_preamble_gives_way_to_the_one_answering(make_article):
    article = make_article(
        "Kara Whitlow, the professional golfer, died at age 83 while celebrating with family and friends, "
        "her partner said.\n\n"
        "Whitlow is considered one of the greatest golfers of all time. She had 88 wins on the tour.",
        title="Golf great Kara Whitlow dies at 83")
    texts = [s.text for s in article.sentences]
    first, last = best(article, "Kara Whitlow, the professional golfer, died at age 83 while celebrating with "
                                "family. How many wins did she accumulate?")
    assert "88 wins" in " ".join(texts[first : last + 1])


def _long_article(make_article):
    """A live blog of 60 paragraphs, each a passage of its own (passages never cross paragraphs)."""
    paragraphs = [f"Update {n}: crews cleared fallen trees on road {n} in the valley." for n in range(60)]
    paragraphs[40] = "Update 40: the Marrow dam spillway opened at noon, the water board said."
    return make_article("\n\n".join(paragraphs), title="Storm live blog")


def test_quotable_sentences_are_the_lede_and_the_passages_found_with_the_one_before_each(make_article):
    article = _long_article(make_article)
    found = next(p for p in article.passages if "Marrow" in p.text)
    hit = ArticleHit(seq=0, score=1.0, passages=[(found.index, 1.0)])
    assert quotable_sentences(article, hit) == [0, 1, 2, *range(found.start - 1, found.end)]
    assert quotable_sentences(article, ArticleHit(seq=0, score=1.0)) == list(range(len(article.sentences)))


def test_an_answer_reads_a_long_article_only_where_retrieval_found_it(make_article):
    article = _long_article(make_article)
    _TOKENS_CACHE.pop((article.id, article.content_hash), None)  # as if seen for the first time
    found = next(p for p in article.passages if "Marrow" in p.text)
    hit = ArticleHit(seq=0, score=1.0, passages=[(found.index, 1.0)])
    question = "When did the Marrow dam spillway open?"
    terms = QuestionTerms.of(question)
    idf = {t: 1.0 for t in tokenize(article.text + " " + question)}
    kept = quotable_sentences(article, hit)

    found_only = sentence_spans(article, hit, idf, terms, found_only=True)
    tokenised = [i for i, t in enumerate(article_tokens(article)._sentences) if t is not None]
    assert tokenised == kept  # 6 of 60 sentences
    everywhere = sentence_spans(article, hit, idf, terms)
    assert [found_only[i] for i in kept] == [everywhere[i] for i in kept]
    assert all(score == 0 for i, (score, _, _) in enumerate(found_only) if i not in kept)
    assert max(found_only)[1] == found.start  # the spillway sentence still leads
    assert sentence_tokens(article) == ArticleTokens(article).sentences()  # kept sets are the whole read's
