"""Topic text: words to match, -words to exclude, "phrases" to require."""

import pytest

from index.outbox import next_digest, retry_delay
from index.topics import FilterText, TopicError, parse_topic


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
