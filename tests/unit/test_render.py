"""Rendering answers: dates, HTML escaping of every piece of article text, Telegram's size limit."""

from __future__ import annotations

import random

import pytest

from bot.render import TELEGRAM_LIMIT, format_date, render_html, render_text, split_messages
from index.answers import Answer, Quote

NASTY = '<b>x</b> & "y"'


def quote(text="The parties signed an agreement at the Kremlin on Wednesday.", **fields) -> Quote:
    values = dict(article_id="a-1", title="Huawei and MTS sign 5G deal", date="2019-06-06T08:22",
                  url="https://example.com/huawei-mts", score=0.5)
    values.update(fields)
    return Quote(text=text, **values)


def answer(*quotes: Quote) -> Answer:
    return Answer(question="When?", no_answer=False, quotes=list(quotes), articles=[q.article_id for q in quotes])


@pytest.mark.parametrize(("iso", "shown"), [
    ("2019-06-06T08:22", "6 Jun 2019 08:22"),
    ("2019-06-06", "6 Jun 2019"),
    ("2026-11-24", "24 Nov 2026"),
    ("2026-01-05T06:30:00", "5 Jan 2026 06:30"),
    (None, "date unknown"),
    ("", "date unknown"),
])
def test_format_date(iso, shown):
    assert format_date(iso) == shown


def test_format_date_keeps_what_it_cannot_read():
    assert format_date("sometime in June") == "sometime in June"


def test_render_html_escapes_quote_title_and_url():
    q = quote(text=NASTY, title="<i>Title</i> & <script>alert(1)</script>",
              url='https://example.com/a?x=1&y=<2>&z="3"')
    (message,) = render_html(answer(q))
    assert "<b>x</b>" not in message and "<script>" not in message and "<i>Title</i>" not in message
    assert "&lt;b&gt;x&lt;/b&gt; &amp; &quot;y&quot;" in message
    assert "&lt;i&gt;Title&lt;/i&gt; &amp; &lt;script&gt;" in message
    assert 'href="https://example.com/a?x=1&amp;y=&lt;2&gt;&amp;z=&quot;3&quot;"' in message
    # what remains unescaped is only the markup render_html adds itself
    stripped = message
    for tag in ("<blockquote>", "</blockquote>", "<b>", "</b>", "<i>", "</i>", "</a>"):
        stripped = stripped.replace(tag, "")
    stripped = stripped.replace('<a href="', "", 1)
    assert "<" not in stripped and ">" not in stripped.replace('">', "", 1)


def test_render_html_shows_the_date_and_links_only_web_urls():
    (message,) = render_html(answer(quote(url="javascript:alert(1)", date=None)))
    assert "javascript:" not in message and "<a " not in message
    assert "date unknown" in message
    (message,) = render_html(answer(quote()))
    assert '<a href="https://example.com/huawei-mts">' in message
    assert "6 Jun 2019 08:22" in message


def test_render_html_escapes_suggestions():
    miss = Answer(question="banana bread?", no_answer=True, suggestions=["<b>Bread</b> & butter"])
    (message,) = render_html(miss)
    assert "&lt;b&gt;Bread&lt;/b&gt; &amp; butter" in message and "<b>Bread" not in message


def test_render_text_lists_the_quotes_with_sources():
    text = render_text(answer(quote(), quote(text="Second.", article_id="a-2", title="Other", date=None, url=None)))
    assert "“The parties signed an agreement at the Kremlin on Wednesday.”" in text
    assert "Huawei and MTS sign 5G deal · 6 Jun 2019 08:22 · https://example.com/huawei-mts" in text
    assert "Other · date unknown" in text


def test_render_text_of_no_answer_lists_suggestions():
    miss = Answer(question="What is the recipe for banana bread?", no_answer=True,
                  suggestions=["Storm surge floods Port Alder harbour", "Hosepipe ban lifted"])
    text = render_text(miss)
    assert "Nothing in the store answers that." in text
    assert "Storm surge floods Port Alder harbour" in text and "Hosepipe ban lifted" in text
    assert render_text(Answer(question="", no_answer=True)).startswith("Ask me")


def test_split_messages_packs_whole_blocks():
    blocks = ["a" * 1000, "b" * 2000, "c" * 1000, "d" * 4096, "e" * 10]
    messages = split_messages(blocks)
    assert all(len(m) <= TELEGRAM_LIMIT for m in messages)
    assert messages == ["a" * 1000 + "\n\n" + "b" * 2000 + "\n\n" + "c" * 1000, "d" * 4096, "e" * 10]


def test_split_messages_cuts_an_oversized_block_at_a_line_or_space():
    block = "\n".join(" ".join(["word"] * 30) for _ in range(100))  # ~15 000 chars
    messages = split_messages([block])
    assert len(messages) > 1
    assert all(0 < len(m) <= TELEGRAM_LIMIT for m in messages)
    assert all(not m.startswith((" ", "\n")) and not m.endswith(" wo") for m in messages)
    assert "".join(messages).replace("\n", "").replace(" ", "") == block.replace("\n", "").replace(" ", "")
    assert split_messages(["x" * 5000]) == ["x" * 4096, "x" * 904]


def test_split_messages_random_blocks_never_exceed_the_limit_or_split_a_fitting_block():
    rng = random.Random(5)
    for _ in range(200):
        blocks = []
        for _ in range(rng.randint(1, 12)):
            size = rng.choice([rng.randint(1, 300), rng.randint(300, 4096), rng.randint(4097, 9000)])
            words, length = [], 0
            while length < size:
                words.append("y" * rng.randint(1, 12) if rng.random() > 0.05 else "\n")
                length += len(words[-1]) + 1
            blocks.append(" ".join(words)[:size].strip() or "z")
        messages = split_messages(blocks)
        assert all(0 < len(m) <= TELEGRAM_LIMIT for m in messages)
        for block in blocks:
            if len(block) <= TELEGRAM_LIMIT:
                # whole, and bounded by message edges or the block separator
                assert any(
                    m == block or m.startswith(block + "\n\n") or m.endswith("\n\n" + block)
                    or ("\n\n" + block + "\n\n") in m
                    for m in messages
                ), len(block)


def test_render_html_splits_many_long_quotes_between_quotes():
    long = quote(text="word " * 540)  # ~2 700 chars each: one blockquote, one message each
    messages = render_html(answer(long, long, long))
    assert len(messages) == 3
    assert all(m.startswith("<blockquote>") and m.count("</blockquote>") == 1 for m in messages)
    assert all(len(m) <= TELEGRAM_LIMIT for m in messages)


def test_render_html_oversized_quote_keeps_every_message_well_formed():
    messages = render_html(answer(quote(text="word & " * 900)))  # ~6 300 chars once escaped
    assert all(len(m) <= TELEGRAM_LIMIT for m in messages)
    for m in messages:
        assert m.count("<blockquote>") == m.count("</blockquote>"), m[:40] + " … " + m[-40:]
        assert m.count("<b>") == m.count("</b>") and m.count("<i>") == m.count("</i>")


def test_a_note_is_said_before_the_quotes_in_text_and_html():
    """Also where nothing answers as asked and the quote is what the store has instead."""
    noted = Answer(question="What happened with the rail strike this week?", no_answer=True, quotes=[quote()],
                   articles=["a-1"], note="Nothing on that from 17 Nov 2026 to 24 Nov 2026. The latest I have:")
    assert render_text(noted).startswith("Nothing on that from 17 Nov 2026 to 24 Nov 2026. The latest I have:\n\n“")
    (message,) = render_html(noted)
    assert message.startswith("Nothing on that from 17 Nov 2026 to 24 Nov 2026. The latest I have:\n\n<blockquote>")


def test_a_note_replaces_the_nothing_line_when_a_window_is_empty():
    empty = Answer(question="What happened in December 2025?", no_answer=True,
                   note="No stories from 1 Dec 2025 to 31 Dec 2025 in the store.")
    assert render_text(empty) == "No stories from 1 Dec 2025 to 31 Dec 2025 in the store."
    assert render_html(empty) == ["No stories from 1 Dec 2025 to 31 Dec 2025 in the store."]
