"""Turn scraped page text into clean paragraphs, a title and a dateline.

Saved pages carry the site around the story: icon-font names run together ("icon bookmark-bicon
bookmark…"), the headline printed two or three times, "Also on rt.com …" cross-links, share and
newsletter banners, cookie notices. Retrieval would index that noise and answers would quote it,
so it is dropped here, once, at ingestion. The rules are line-level and conservative: a paragraph
is dropped only when it is junk as a whole, never trimmed mid-sentence.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .dates import parse_date_line

_JUNK_PATTERNS = [
    r"^also on (?:[a-z0-9-]+\.)+[a-z]{2,}\b(?!\.)",
    r"^(read|see) (more|also)\b.{0,200}$",
    r"^related( (articles?|stories|coverage))?:",
    r"^if you (like|liked|enjoyed) this (story|article)",
    r"^share (this|on|via)\b.{0,120}$",
    r"^(please )?share (it|this)( story| article)? with (a|your) friends?",
    r"^(sign up|subscribe)\b.{0,200}(newsletter|inbox|updates|email|daily|free)",
    r"^(click|tap) here\b.{0,150}$",
    r"^follow (us|@\w+|\w+) on\b.{0,120}$",
    r"^(we|this (web)?site) uses? cookies\b",
    r"^by (clicking|continuing|using this site)\b.{0,200}(cookies|terms|privacy)",
    r"^(accept|manage) (all )?cookies\b",
    r"^advertisement$",
    r"^(story )?continues below( advertisement)?$",
    r"^(comments?|print|email|facebook|twitter|whatsapp|copy link)$",
    r"^(all rights reserved|©|\(c\) ?\d{4}|copyright ©?)\b.{0,150}$",
    r"^(skip to (main )?content|jump to|back to top|menu|home)$",
    r"^(photo|image|video)( credit)?:.{0,150}$",
    r"^trending( now| stories)?:?$",
    r"^you (may|might) also (like|be interested in)\b.{0,150}$",
]
_JUNK = re.compile("|".join(f"(?:{p})" for p in _JUNK_PATTERNS), re.IGNORECASE)
# C0/C1 controls (terminal escapes), zero-width and bidi-override characters
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\ufeff\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r"[ \t\u00a0\u2009\u202f]+")
_TITLE_MAX_WORDS = 30
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s*$")


@dataclass(frozen=True)
class CleanText:
    title: str
    dateline: str | None
    paragraphs: list[str]
    site: str = ""  # a site named by its own cross-links ("Also on rt.com"), when there is one


def normalise(text: str) -> str:
    """Unicode NFC, no control characters, single spaces, Unix newlines."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))


def _hard_wrapped(lines: list[str]) -> bool:
    """Lines of a block broken at a fixed width (e-mail style) rather than one line a paragraph."""
    if len(lines) < 3 or max(len(line) for line in lines) > 100:
        return False
    ends = sum(bool(_SENTENCE_END.search(line)) for line in lines[:-1])
    return ends < 0.5 * (len(lines) - 1)


def split_paragraphs(text: str) -> list[str]:
    """Every line is a paragraph, except inside a block that was hard-wrapped at a fixed width."""
    paragraphs: list[str] = []
    for block in re.split(r"\n\s*\n", normalise(text)):
        lines = [line for line in block.split("\n") if line.strip()]
        if not lines:
            continue
        if _hard_wrapped(lines):
            paragraphs.append(" ".join(" ".join(lines).split()))
        else:
            paragraphs.extend(" ".join(line.split()) for line in lines)
    return paragraphs


def is_junk(paragraph: str) -> bool:
    icons = paragraph.lower().count("icon")
    if icons >= 5 and icons >= 0.2 * len(paragraph.split()):
        return True  # icon-font class names run together: "icon bookmark-bicon cameraicon …"
    return bool(_JUNK.search(paragraph))


def _key(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


def _looks_like_title(paragraph: str) -> bool:
    words = paragraph.split()
    return 0 < len(words) <= _TITLE_MAX_WORDS and not paragraph.endswith((".", ":", ";", ","))


# A wire dateline set apart from the story ("New York CNN Business —", "LONDON (Reuters) -"): where
# the text comes from, never its headline; it opens the story's head and is dropped with it.
_DATELINE_MARK = re.compile(r"^[\w().,'’ &/-]{1,60}\s[—–-]+$")


def _is_dateline_mark(paragraph: str) -> bool:
    return len(paragraph.split()) <= 6 and bool(_DATELINE_MARK.match(paragraph.strip()))


_ALSO_ON = re.compile(r"^also on ((?:[a-z0-9-]+\.)+[a-z]{2,})\b(?!\.)", re.IGNORECASE)


def clean(text: str, title: str = "") -> CleanText:
    """Drop junk, find the title and the dateline in the page head, drop repeated headlines."""
    all_paragraphs = split_paragraphs(text)
    paragraphs = [p for p in all_paragraphs if not is_junk(p)]
    site = next((m.group(1).lower() for p in all_paragraphs if (m := _ALSO_ON.match(p))), "")
    dateline = None
    head_end = min(len(paragraphs), 6)
    body_start = 0
    found_title = normalise(title).strip() if title else ""
    # The page head: date lines and the headline before the first real paragraph.
    for i in range(head_end):
        p = paragraphs[i]
        date = parse_date_line(p)
        if date and dateline is None:
            dateline = date
            body_start = i + 1
            continue
        if _is_dateline_mark(p):
            body_start = i + 1
            continue
        if not found_title and _looks_like_title(p):
            found_title = p
            body_start = i + 1
            continue
        if found_title and _key(p) == _key(found_title):
            body_start = i + 1
            continue
        break
    title_key = _key(found_title)
    seen: set[str] = set()
    body: list[str] = []
    for p in paragraphs[body_start:]:
        key = _key(p)
        if not key or key == title_key or key in seen:
            continue  # repeated headline or a paragraph printed twice
        seen.add(key)
        body.append(p)
    return CleanText(title=found_title, dateline=dateline, paragraphs=body, site=site)
