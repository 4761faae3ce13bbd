"""Sentence splitting for news prose.

Answers quote whole sentences verbatim, so a wrong split shows up as a broken quote in front of a
user. A rule-based splitter (as pysbd and Punkt are) tuned for news: titles and abbreviations
("Mr.", "U.S.", "Inc."), initials ("J. K. Rowling"), decimals, and quotes that close after the
full stop ('..." she said.') do not end a sentence. It is a few regexes rather than pysbd
because ingestion splits millions of sentences and pysbd runs about 100 times slower.
"""

from __future__ import annotations

import re

from .models import Sentence

_ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof sr jr st mt ft sen rep gov gen col lt sgt capt cmdr adm maj pres supt
    insp det rev fr hon messrs mme mlle
    inc corp co ltd llc plc bros dept univ assn est approx vs etc al fig vol vols op
    jan feb mar apr jun jul aug sep sept oct nov dec tue tues wed thu thur thurs fri
    ave blvd rd hwy calif colo conn fla ga kan ky la md mich minn mo mont neb
    nev okla ore pa tenn tex va vt wis wyo ariz ark
    e.g i.e a.m p.m u.s u.k u.n u.s.a e.u d.c n.y l.a
    """.split()
)
# Ordinary words that are abbreviations only when capitalised ("Ill.", "Mass.", "Sun.").
_CAPITALISED_ABBREVIATIONS = frozenset("Ill Ind Mass Miss Wash Del Mon Sat Sun".split())
# "No. 5", "Nos. 3 and 4": an abbreviation only before a number.
_NUMBER_ABBREVIATIONS = frozenset(("no", "nos"))
# Candidate boundary: terminal punctuation, optional closing quotes/brackets, then whitespace.
# Linear on any input: a match starts only at the first mark of a run (the lookbehind) and the
# runs are possessive, so a million dots or quotes are scanned once, not once per position.
_BOUNDARY = re.compile(r"""(?<![.!?…])([.!?…]++)(["'”’)\]]*+)(\s++)""")
_OPENERS = "\"'“‘(["
_WORD_BEFORE = re.compile(r"([\w.\-']+)$")


def _is_boundary(text: str, match: re.Match) -> bool:
    if match.end() >= len(text):
        return False
    nxt = text[match.end()]  # one character: copying the rest here made splitting quadratic
    if not (nxt.isupper() or nxt.isdigit() or nxt in _OPENERS):
        return False
    if match.group(1) != ".":
        return True  # ! ? … and runs like "?!" end sentences when a capital follows
    if match.group(2):
        return True  # period inside a closing quote: '... 5G."' followed by a capital
    before = _WORD_BEFORE.search(text[max(0, match.start() - 40) : match.start()])
    if not before:
        return True
    original = before.group(1).strip("'")
    word = original.lower()
    if word in _ABBREVIATIONS or original in _CAPITALISED_ABBREVIATIONS:
        return False
    if word in _NUMBER_ABBREVIATIONS and nxt.isdigit():
        return False
    if len(word) == 1 and word.isalpha():
        return False  # an initial: "J. K. Rowling", "George W. Bush"
    if "." in word and all(len(p) <= 2 and p.isalpha() for p in word.split(".") if p):
        return False  # dotted abbreviations such as "U.S." or "Ph.D", not decimals like 0.92
    return True


def split_paragraph(paragraph: str) -> list[str]:
    """Split one paragraph into sentences, keeping every character of the text verbatim."""
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(paragraph):
        if _is_boundary(paragraph, match):
            end = match.end(2)
            piece = paragraph[start:end].strip()
            if piece:
                sentences.append(piece)
            start = match.end()
    tail = paragraph[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def split_sentences(paragraphs: list[str]) -> list[Sentence]:
    """Sentences never cross paragraph boundaries; a paragraph break always ends one."""
    out: list[Sentence] = []
    for p_index, paragraph in enumerate(paragraphs):
        for text in split_paragraph(paragraph):
            out.append(Sentence(index=len(out), paragraph=p_index, text=text))
    return out
