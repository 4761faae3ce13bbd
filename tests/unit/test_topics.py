"""Topic text: words to match, -words to exclude, "phrases" to require."""

import pytest

from index.articles import build_article
from index.models import RawDocument
from index.outbox import next_digest, retry_delay
from index.tokenize import tokenize
from index.topics import FilterText, TopicError, article_screen, parse_topic


def test_plain_words_are_the_scored_terms():
    q = parse_topic("  Huawei   5G in Russia ")
    assert q.raw == "Huawei 5G in Russia"
    assert q.terms == ("huawei", "5g", "russia")
    assert q.excluded == () and q.phrases == ()


def test_minus_words_are_excluded_and_not_scored():
    q = parse_topic("rail strike -football -Cup")
    assert q.terms == ("rail", "strike")
    assert q.excluded == ("footbal", "cup")  # stemmed like the article text they are checked against
    assert q.admits("The rail strike goes on.")
    assert not q.admits("A strike in the Cup final.")


def test_quoted_phrases_are_required_verbatim_and_scored():
    q = parse_topic('"interest rate" Valdoria')
    assert q.phrases == ("interest rate",)
    assert q.terms == ("interest", "rate", "valdoria")
    assert q.admits("The bank held its Interest  Rate at 3.75 percent.")
    assert not q.admits("Rates of interest were held.")
    assert not q.admits("The interest rates were held.")  # whole words: "rate" is not "rates"


def test_one_prepared_article_text_filters_every_topic_as_the_text_itself_does():
    """Matching one article against thousands of topics prepares its text once (lower-cased and
    tokenised), not once per topic; the verdicts are the same."""
    topics = [parse_topic(t) for t in ('"interest rate" Valdoria', "rail strike -football", "harbour levy")]
    for text in ("The bank held its Interest  Rate.", "A football strike.", "The rail strike goes on."):
        screen = FilterText(text)
        assert [q.admits(screen) for q in topics] == [q.admits(text) for q in topics]
    untouched = FilterText("Any text")
    assert topics[2].admits(untouched) and "lowered" not in vars(untouched)  # no filters: nothing prepared


STORY = RawDocument(origin="t", title="Harbour levy: what changes", text=(
    "The port's new levy starts on Monday. Dock workers, who struck in May, say the U.S.-built cranes "
    "will not be covered.\n\nMr. O'Brien, the harbour master, said fees rise 4.5% – the first rise "
    "since 2019. Fishermen’s groups object."))


def test_an_articles_filter_view_takes_its_tokens_from_its_passages():
    """Alerts tokenise an article's passages to match it; the filters' view reuses those tokens
    (the text's words are the passages' words) instead of tokenising the whole text again."""
    article = build_article(STORY, passage_words=12)
    assert len(article.passages) > 1
    passage_tokens = [tokenize(p.text) for p in article.passages]
    screen = article_screen(article.title, article.text, [p.text for p in article.passages], passage_tokens)
    whole = f"{article.title}\n{article.text}"
    assert screen.text == whole
    assert "tokens" in vars(screen)  # prepared from the passages
    assert screen.tokens == FilterText(whole).tokens
    for topic in ("harbour -football", "harbour -fishermen", "levy -changes", '"harbour master" -crane'):
        assert parse_topic(topic).admits(screen) == parse_topic(topic).admits(whole)


def test_passages_that_do_not_hold_the_text_leave_the_filters_reading_the_text():
    """A passage list that lost a sentence (a store written by another version, say) must not let
    an excluded word through: the view then tokenises the text itself."""
    article = build_article(STORY, passage_words=12)
    kept = article.passages[:-1]
    screen = article_screen(article.title, article.text, [p.text for p in kept], [tokenize(p.text) for p in kept])
    assert "tokens" not in vars(screen)
    assert not parse_topic("harbour -fishermen").admits(screen)  # "Fishermen’s" is in the last passage only


def test_a_lone_minus_or_unclosed_quote_is_read_as_a_word():
    q = parse_topic('strike - "unclosed')
    assert q.terms == ("strike", "unclos")
    assert q.excluded == ()


@pytest.mark.parametrize("text", ["", "   ", "the of and", "-football", '""'])
def test_topics_without_searchable_words_are_refused(text):
    with pytest.raises(TopicError):
        parse_topic(text)


def test_overlong_topics_are_refused():
    with pytest.raises(TopicError, match="at most 20"):
        parse_topic("word " * 10, max_chars=20)


def test_the_next_digest_is_later_today_or_tomorrow():
    from datetime import datetime, timezone

    morning = datetime(2026, 11, 25, 7, 30, tzinfo=timezone.utc)
    assert next_digest(morning, 8) == datetime(2026, 11, 25, 8, 0, tzinfo=timezone.utc)
    at_eight = datetime(2026, 11, 25, 8, 0, tzinfo=timezone.utc)
    assert next_digest(at_eight, 8) == datetime(2026, 11, 26, 8, 0, tzinfo=timezone.utc)


def test_retries_back_off_exponentially_up_to_an_hour():
    delays = [retry_delay(n) for n in range(1, 12)]
    assert delays[:4] == [5, 10, 20, 40]
    assert delays == sorted(delays) and delays[-1] == 3600
