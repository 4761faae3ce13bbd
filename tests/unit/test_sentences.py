"""Sentence splitting: answers quote whole sentences verbatim, so splits must be right."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.models import Sentence
from index.sentences import split_paragraph, split_sentences


@pytest.mark.parametrize(
    ("paragraph", "expected"),
    [
        (
            "Mr. Smith met Dr. Jones in the U.S. on Monday. They talked for an hour.",
            ["Mr. Smith met Dr. Jones in the U.S. on Monday.", "They talked for an hour."],
        ),
        ("Apple Inc. said profits rose. Shares fell.", ["Apple Inc. said profits rose.", "Shares fell."]),
        ("The U.S. Senate voted on Friday. It passed.", ["The U.S. Senate voted on Friday.", "It passed."]),
        ("Mrs. Brown and Prof. Green of Acme Corp. agreed. Talks ended.",
         ["Mrs. Brown and Prof. Green of Acme Corp. agreed.", "Talks ended."]),
    ],
)
def test_abbreviations_do_not_end_sentences(paragraph, expected):
    assert split_paragraph(paragraph) == expected


@pytest.mark.parametrize(
    ("paragraph", "expected"),
    [
        ("Author J. K. Rowling spoke on Monday. Fans cheered.", ["Author J. K. Rowling spoke on Monday.", "Fans cheered."]),
        ("George W. Bush arrived. He waved.", ["George W. Bush arrived.", "He waved."]),
    ],
)
def test_initials_do_not_end_sentences(paragraph, expected):
    assert split_paragraph(paragraph) == expected


def test_decimals_do_not_end_sentences():
    assert split_paragraph("Growth was 3.5 percent last year. It slowed.") == [
        "Growth was 3.5 percent last year.",
        "It slowed.",
    ]


def test_a_sentence_ending_in_a_decimal_number_ends():
    assert split_paragraph("The euro fell to 0.92. Traders blamed the central bank.") == [
        "The euro fell to 0.92.",
        "Traders blamed the central bank.",
    ]


def test_ordinary_words_that_are_also_abbreviations_end_sentences():
    assert split_paragraph("Two people fell ill. Officials said the water was safe.") == [
        "Two people fell ill.",
        "Officials said the water was safe.",
    ]


@pytest.mark.parametrize(
    ("paragraph", "expected"),
    [
        ("“Very happy,” he said. Then he left.", ["“Very happy,” he said.", "Then he left."]),
        ('He said "yes." Then he left.', ['He said "yes."', "Then he left."]),
        ("“We are very happy.” He smiled.", ["“We are very happy.”", "He smiled."]),
        ("He said ‘no.’ She left.", ["He said ‘no.’", "She left."]),
    ],
)
def test_quotes_closing_after_the_full_stop_stay_with_their_sentence(paragraph, expected):
    assert split_paragraph(paragraph) == expected


def test_question_and_exclamation_marks_end_sentences():
    assert split_paragraph("Is it over? Yes! It is.") == ["Is it over?", "Yes!", "It is."]
    assert split_paragraph("What?! No way. OK.") == ["What?!", "No way.", "OK."]


def test_a_full_stop_before_a_lowercase_word_does_not_end_a_sentence():
    assert split_paragraph("The talks ended. and then nothing happened.") == [
        "The talks ended. and then nothing happened."
    ]


def test_text_without_final_punctuation_is_one_sentence():
    assert split_paragraph("Ends with no punctuation") == ["Ends with no punctuation"]
    assert split_paragraph("   ") == []
    assert split_paragraph("") == []


HUAWEI = (
    "Huawei will assist Russian telecom company MTS in “the pilot launch of fifth-generation networks "
    "in 2019 and 2020,” MTS said in a statement. The parties signed an agreement at the Kremlin on "
    "Wednesday. Russian President Vladimir Putin and his Chinese counterpart, Xi Jinping, also attended "
    "the ceremony, as the latter is in Russia on an official three-day visit."
)


def test_every_sentence_is_a_verbatim_substring_of_its_paragraph():
    sentences = split_paragraph(HUAWEI)
    assert len(sentences) == 3
    assert sentences[1] == "The parties signed an agreement at the Kremlin on Wednesday."
    position = 0
    for sentence in sentences:
        found = HUAWEI.find(sentence, position)
        assert found >= position, sentence
        position = found + len(sentence)


def test_sentences_never_cross_paragraphs():
    paragraphs = ["He works at Apple Inc.", "The company is based in California.", "Shares rose 3.5"]
    sentences = split_sentences(paragraphs)
    assert sentences == [
        Sentence(index=0, paragraph=0, text="He works at Apple Inc."),
        Sentence(index=1, paragraph=1, text="The company is based in California."),
        Sentence(index=2, paragraph=2, text="Shares rose 3.5"),
    ]


def test_split_sentences_numbers_sentences_across_paragraphs():
    sentences = split_sentences(["One. Two.", "", "Three."])
    assert [(s.index, s.paragraph, s.text) for s in sentences] == [
        (0, 0, "One."),
        (1, 0, "Two."),
        (2, 2, "Three."),
    ]


_NEWSY = st.text(
    alphabet=st.sampled_from(list("abcXYZ019 .,!?…\"'“”‘’()[]\n\t\u00a0-")) | st.characters(),
    max_size=200,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_NEWSY)
def test_splitting_loses_and_adds_no_text(text):
    sentences = split_paragraph(text)
    assert " ".join(" ".join(sentences).split()) == " ".join(text.split())
    for sentence in sentences:
        assert sentence and sentence == sentence.strip()
        assert sentence in text


class _CountingText(str):
    """A paragraph that counts the characters every slice of it copies."""

    copied = 0

    def __getitem__(self, key):
        piece = str.__getitem__(self, key)
        if isinstance(key, slice):
            _CountingText.copied += len(piece)
        return piece


def test_splitting_copies_each_character_a_bounded_number_of_times():
    """Linear, not quadratic: looking at a candidate boundary must not copy the rest of the text
    (that made 100k sentences take seconds and a one-paragraph megabyte never finish)."""
    paragraph = _CountingText(" ".join(f"Sentence number {i} ends here." for i in range(20_000)))
    _CountingText.copied = 0
    sentences = split_paragraph(paragraph)
    assert len(sentences) == 20_000
    assert _CountingText.copied <= 3 * len(paragraph)


@pytest.mark.timeout(60)
def test_a_five_megabyte_paragraph_of_hostile_punctuation_splits():
    """Runs of dots, closing quotes and spaces must not make the boundary regex backtrack over
    the run at every position."""
    hostile = "." * 1_000_000 + "A" + "?" * 500_000 + "'" * 500_000 + "x" + ". " + '"' * 500_000
    ordinary = " ".join(f"Line {i} is fine." for i in range(150_000))
    paragraph = hostile + " " + ordinary
    assert len(paragraph) > 5_000_000
    sentences = split_paragraph(paragraph)
    assert "".join(sentences).replace(" ", "") == paragraph.replace(" ", "")
    assert len(sentences) == 150_000  # the hostile head has no boundary before "Line 0"
