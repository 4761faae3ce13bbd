"""Cleaning: site noise goes, the story stays whole, the head gives a title and a dateline."""

from __future__ import annotations

import pytest

from index.cleaning import clean, is_junk, normalise, split_paragraphs

ICONS = (
    "icon bookmark-bicon bookmarkicon cameraicon checkicon chevron downicon chevron lefticon "
    "chevron righticon chevron upicon closeicon v-compressicon downloadicon editicon fbicon fileicon"
)
BODY_1 = "A storm hit the northern coast on Thursday, cutting power to thousands of homes, officials said."
BODY_2 = "Emergency services said no one had been seriously hurt, but several roads remained closed."


def page(*paragraphs: str) -> str:
    return "\n\n".join(paragraphs)


def test_icon_font_junk_is_dropped():
    assert is_junk(ICONS)
    cleaned = clean(page(ICONS, "Storm hits coast", BODY_1, BODY_2))
    assert cleaned.paragraphs == [BODY_1, BODY_2]


def test_a_paragraph_mentioning_icons_once_is_kept():
    text = "The singer, a pop icon of the 1980s, returned to the stage on Friday night in London."
    assert not is_junk(text)


def test_also_on_cross_links_are_dropped_and_name_the_site():
    cross_link = "Also on rt.com Chinese tech titan Huawei buys Russian facial recognition technology"
    cleaned = clean(page("Storm hits coast", BODY_1, cross_link, BODY_2))
    assert cleaned.paragraphs == [BODY_1, BODY_2]
    assert cleaned.site == "rt.com"


def test_no_site_without_cross_links():
    assert clean(page("Storm hits coast", BODY_1, BODY_2)).site == ""


def test_a_story_paragraph_starting_with_also_on_us_soil_is_kept():
    paragraph = "Also on U.S. soil, two more cases of the virus were confirmed by health officials on Friday."
    cleaned = clean(page("Virus spreads", BODY_1, paragraph))
    assert cleaned.paragraphs == [BODY_1, paragraph]
    assert cleaned.site == ""


@pytest.mark.parametrize(
    "line",
    [
        "If you like this story, share it with a friend!",
        "If you enjoyed this article, please share it.",
        "Share this article",
        "Sign up for our daily newsletter",
        "Subscribe to our free newsletter to get updates",
        "Sign up to our 10 Things You Need to Know Today newsletter",
        "We use cookies to improve your experience. By continuing you agree to our use of cookies.",
        "This website uses cookies to ensure you get the best experience.",
        "By continuing to use this site you agree to our use of cookies.",
        "Accept all cookies",
        "Advertisement",
        "Story continues below advertisement",
        "Follow us on Twitter",
        "Read more: why the storm was so strong",
        "Skip to main content",
    ],
)
def test_boilerplate_lines_are_dropped(line):
    assert is_junk(line)
    cleaned = clean(page("Storm hits coast", BODY_1, line, BODY_2))
    assert cleaned.paragraphs == [BODY_1, BODY_2]


@pytest.mark.parametrize(
    "paragraph",
    [
        "The bakery sold 500 cookies on Monday, and customers were asked to share photos online.",
        "Shareholders will share the profits, the company said on Tuesday.",
        "Readers who sign up for the library's reading scheme get a free book, the council said.",
        "He said he would share the prize with his team.",
        "Related coverage of the storm was broadcast on the evening news.",
    ],
)
def test_story_paragraphs_that_mention_boilerplate_words_are_kept(paragraph):
    assert not is_junk(paragraph)
    cleaned = clean(page("Storm hits coast", BODY_1, paragraph))
    assert cleaned.paragraphs == [BODY_1, paragraph]


def test_title_comes_from_the_head_and_repeated_headlines_are_removed():
    headline = "Huawei launches pilot 5G project with major Russian telecom firm"
    cleaned = clean(page(ICONS, "6 Jun, 2019 08:22", headline, headline, BODY_1, headline, BODY_2))
    assert cleaned.title == headline
    assert cleaned.dateline == "2019-06-06T08:22"
    assert cleaned.paragraphs == [BODY_1, BODY_2]


def test_a_given_title_is_kept_and_its_repeats_removed():
    cleaned = clean(page("STORM HITS COAST!", BODY_1, BODY_2), title="Storm hits coast")
    assert cleaned.title == "Storm hits coast"
    assert cleaned.paragraphs == [BODY_1, BODY_2]


def test_dateline_is_found_in_the_head():
    cleaned = clean(page("Storm hits coast", "June 6, 2019", BODY_1, BODY_2))
    assert cleaned.dateline == "2019-06-06"
    assert cleaned.title == "Storm hits coast"
    assert cleaned.paragraphs == [BODY_1, BODY_2]


@pytest.mark.parametrize("mark", ["CNN —", "New York CNN Business —", "LONDON (Reuters) -", "Washington CNN –"])
def test_a_wire_dateline_mark_is_neither_title_nor_text(mark):
    cleaned = clean(page(mark, BODY_1, BODY_2))
    assert cleaned.title == ""  # the article's title then comes from its first sentence
    assert cleaned.paragraphs == [BODY_1, BODY_2]
    assert clean(page("Storm hits coast", mark, BODY_1)).title == "Storm hits coast"


def test_no_dateline_when_the_head_has_none():
    assert clean(page("Storm hits coast", BODY_1, BODY_2)).dateline is None


def test_a_date_inside_the_story_is_not_a_dateline():
    later = "The storm was the worst since June 6, 2019, when the harbour was closed for a week."
    cleaned = clean(page("Storm hits coast", BODY_1, later))
    assert cleaned.dateline is None
    assert cleaned.paragraphs == [BODY_1, later]


def test_a_short_lede_with_a_date_stays_in_the_text():
    lede = "The summit opened in Osaka on June 6, 2019."
    cleaned = clean(page("Summit opens in Osaka", lede, BODY_2))
    assert cleaned.paragraphs == [lede, BODY_2]


def test_a_paragraph_printed_twice_is_kept_once():
    cleaned = clean(page("Storm hits coast", BODY_1, BODY_2, BODY_1))
    assert cleaned.paragraphs == [BODY_1, BODY_2]


def test_hard_wrapped_blocks_are_joined():
    wrapped = (
        "The city council met on Tuesday to discuss the new\n"
        "budget for the coming year and heard from dozens of\n"
        "residents who were worried about cuts to the library\n"
        "and to the bus service that many of them rely on."
    )
    assert split_paragraphs(wrapped) == [" ".join(wrapped.split())]


def test_one_line_per_paragraph_text_keeps_its_paragraphs():
    text = (
        "The council met on Tuesday.\n"
        "It discussed the budget for the coming year.\n"
        "Residents spoke about the library.\n"
        "The vote is next week."
    )
    assert split_paragraphs(text) == text.split("\n")


def test_one_line_per_paragraph_quotes_in_single_curly_quotes_keep_their_paragraphs():
    text = "He said: ‘We will win.’\nShe said: ‘We will see.’\nThey said: ‘Nobody knows.’\nIt ended."
    assert split_paragraphs(text) == text.split("\n")


def test_blank_lines_separate_paragraphs_and_spacing_is_normalised():
    text = "First  paragraph\u00a0here.\r\n\r\n\r\nSecond\tparagraph.\x00\n"
    assert split_paragraphs(text) == ["First paragraph here.", "Second paragraph."]


def test_normalise():
    assert normalise("Cafe\u0301 \u200b ok\r\nnext ") == "Café ok\nnext"
