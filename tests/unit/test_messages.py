"""The bot's own texts: alerts, digests, topic lists and article pages escape what they quote."""

import html
import re

from bot.messages import alert_text, article_page, digest_parts, latest_text, paginate, topics_text
from bot.render import PLAIN
from index.outbox import OutboxItem
from index.store.base import ArticleHeader
from index.topic_match import Topic
from index.topics import parse_topic


def item(n=1, title="Rates <cut> & more", quote="The bank said <b>no</b> & left.", url="https://x.example/a?b=1&c=2"):
    return OutboxItem(id=n, chat_id=5, topic="rates & <banks>", quote=quote, score=0.7, delivery="instant",
                      attempts=0, article=ArticleHeader(n, f"a{n}", title, "2026-11-05", "src", url))


def test_an_alert_quotes_the_sentence_and_escapes_everything_from_the_store():
    text = alert_text(item())
    assert "<blockquote>The bank said &lt;b&gt;no&lt;/b&gt; &amp; left.</blockquote>" in text
    assert "Rates &lt;cut&gt; &amp; more" in text and "rates &amp; &lt;banks&gt;" in text
    assert 'href="https://x.example/a?b=1&amp;c=2"' in text and "5 Nov 2026" in text


def test_an_alert_never_links_a_non_web_url():
    assert "href" not in alert_text(item(url="javascript:alert(1)"))


def test_a_long_digest_is_split_between_items_under_the_limit():
    items = [item(n, quote="A long sentence about the rates. " * 15) for n in range(40)]
    parts = digest_parts(items)
    texts = [text for text, _ in parts]
    assert len(texts) > 1 and all(len(t) <= 4096 for t in texts)
    assert texts[0].startswith("📰 Your daily digest: 40 new articles")
    assert [i.id for _, carried in parts for i in carried] == [i.id for i in items]
    assert all(t.count("<blockquote>") == len(carried) == t.count("</blockquote>") for t, carried in parts)


def test_a_very_long_title_is_shortened_so_an_alert_fits_one_message():
    text = alert_text(item(title="Headline " * 2000, quote="Q " * 2000))
    assert len(text) < 4096 and "…" in text


def test_topic_lists_show_delivery_mute_and_a_changed_threshold():
    topics = [Topic(1, 5, parse_topic("rail <strike>"), "daily", True, 0.7), Topic(2, 5, parse_topic("ferries"))]
    text = topics_text(topics, default_threshold=0.6)
    assert "1. rail &lt;strike&gt; <i>(daily, muted, threshold 0.70)</i>" in text
    assert "2. ferries <i>(instant)</i>" in text


def test_article_pages_break_between_paragraphs_and_number_themselves():
    text = "\n\n".join(f"Paragraph {n} " + "word " * 150 for n in range(12))
    pages = paginate(text, 2000)
    assert len(pages) > 1 and all(len(p) <= 2000 for p in pages)
    assert all(p.startswith("Paragraph") for p in pages)
    html_page, count = article_page("T <x>", "2026-01-05", None, text, 1, 2000)
    assert count == len(pages) and f"page 2 of {count}" in html_page and "T &lt;x&gt;" in html_page


# -- every piece of stored text is bounded (issue 14, item 3) -------------------------------------

HUGE = "Valdoria <Wire> & Co " * 300  # ~6,000 characters, and escaping makes it longer


def test_help_fits_one_message_whatever_the_source_names():
    from bot.messages import help_text

    stats = {"articles": 50_000, "first_date": "2019-01-01", "last_date": "2100-01-01",
             "sources": {f"{n} {HUGE}": 100 - n for n in range(40)}}
    for is_admin in (False, True):
        text = help_text(stats, is_admin)
        assert len(text) <= 4096 and "and 35 more" in text and "&lt;Wire&gt; &amp;" in text


def test_latest_lines_are_bounded_whatever_the_titles():
    from bot.messages import latest_text

    headers = [ArticleHeader(n, f"id-{n}-" + "x" * 500, HUGE, "2026-11-0{n}", HUGE, None) for n in range(1, 9)]
    text = latest_text(headers)
    assert len(text) <= 4096 and text.count("•") == 8 and "…" in text


def test_a_full_topic_list_of_long_topics_fits_one_message():
    topics = [Topic(n, 5, parse_topic((f'{n} "quoted & <marked>" ' * 9)[:200])) for n in range(1, 21)]
    text = topics_text(topics, default_threshold=0.6)
    assert len(text) <= 4096 and text.count("<i>(instant)</i>") == 20


def test_no_answer_suggestions_and_unreadable_dates_are_bounded():
    from bot.render import format_date, render_html
    from index.answers import Answer

    [message] = render_html(Answer("q", True, [], [], [HUGE, HUGE, HUGE]))
    assert len(message) <= 4096 and message.count("•") == 3
    assert len(format_date("not a date " * 1000)) <= 40


def test_article_pages_fit_a_message_even_when_escaping_multiplies_the_text():
    """Pages are cut on the raw text; `&`, `<` and `"` grow five- or sixfold when escaped."""
    from tests.support.botapi import parse_html

    text = "\n\n".join(('Fish & chips <cheap> "deal" ' * 40) for _ in range(30))
    first, count = article_page("&" * 1000, "2026-01-05", None, text, 0, 3500)
    pages = [article_page("&" * 1000, "2026-01-05", None, text, n, 3500)[0] for n in range(count)]
    assert count > 1 and all(len(p) <= 4096 for p in pages) and pages[0] == first
    assert all(parse_html(p) for p in pages)
    visible = "".join(html.unescape(p.split("\n\n", 1)[1].rsplit("\n\n<i>page", 1)[0]) for p in pages)
    assert visible.replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(" ", "")


def test_an_article_page_with_the_largest_page_size_a_long_title_and_url_fits():
    url = "https://example.org/?" + "a=1&" * 240
    text = "Fish & chips <cheap>. " * 2000
    _, count = article_page("T&" * 400, "2026-01-05", url, text, 0, 4000)
    for n in range(count):
        assert len(article_page("T&" * 400, "2026-01-05", url, text, n, 4000)[0]) <= 4096


def test_the_terminal_gets_the_same_words_in_plain_text():
    """One wording for both chats: the plain text is the HTML with its tags dropped and its
    escapes undone (a blockquote shows as curly quotes), so the terminal never drifts from Telegram."""
    def words(markup: str) -> str:
        return html.unescape(re.sub(r"</?(?:b|i|code|a)\b[^>]*>", "", markup)
                             .replace("<blockquote>", "“").replace("</blockquote>", "”"))

    topics = [Topic(1, 5, parse_topic("rates & <banks>"), muted=True)]
    headers = [ArticleHeader(1, "a1", "Rates <cut> & more", "2026-11-05", "src", None)]
    pairs = [(alert_text(item()), alert_text(item(), PLAIN)),
             (digest_parts([item(1), item(2)])[0][0], digest_parts([item(1), item(2)], PLAIN)[0][0]),
             (topics_text(topics, 0.6), topics_text(topics, 0.6, PLAIN)),
             (topics_text([], 0.6), topics_text([], 0.6, PLAIN)),
             (latest_text(headers), latest_text(headers, PLAIN))]
    for telegram, terminal in pairs:
        assert "<" not in terminal.replace("<cut>", "").replace("<banks>", "").replace("<b>no</b>", "")
        assert words(telegram) == terminal
