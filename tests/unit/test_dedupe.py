"""Near-identical stories: hashed word 5-grams of a story's opening, compared by containment."""

from __future__ import annotations

from index.dedupe import MAX_WORDS, containment, is_near_duplicate, shingles

STORY = ("The council voted on Tuesday to close the old harbour bridge for two years of repairs, "
         "officials said, and ferries will carry commuters across the bay until it reopens. ")


def test_wire_copy_with_a_new_headline_and_an_extra_paragraph_is_the_same_story():
    copy = "UPDATE: Harbour bridge to close\n\n" + STORY + "Local shops fear a drop in trade."
    assert is_near_duplicate(shingles(STORY), shingles(copy), 0.6)
    assert not is_near_duplicate(shingles(STORY), shingles("Rain flooded the valley road overnight, police said."), 0.6)


def test_only_the_opening_words_are_read():
    """A story is told by its opening; reading a long article's tail costs time and decides nothing."""
    opening = " ".join(f"w{i}" for i in range(MAX_WORDS))
    assert (shingles(opening + " the same tail " * 10_000) == shingles(opening + " another tail")).all()
    assert containment(shingles(opening), shingles(opening)) == 1.0


def test_case_and_punctuation_do_not_make_another_story():
    assert (shingles(STORY.upper().replace(",", " ;")) == shingles(STORY)).all()
