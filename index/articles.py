"""From a raw document to a clean, identified Article with its sentences and passages."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .cleaning import clean, normalise
from .dates import parse_date
from .models import Article, Passage, RawDocument, Sentence
from .sentences import split_sentences

MIN_WORDS = 5
_TRACKING = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|ref|cmpid|ocid)$", re.IGNORECASE)


class Unusable(ValueError):
    """The input holds no article worth storing; the message is the report line."""


def normalise_url(url: str | None) -> str | None:
    """One spelling per page: lower-case host, no fragment, no tracking parameters."""
    if not url or not url.strip():
        return None
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return url.strip()
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if not _TRACKING.match(k)])
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, query, ""))


def content_hash(text: str) -> str:
    """Same words in the same order, whatever the spacing, case or punctuation: same hash."""
    key = " ".join(re.findall(r"\w+", text.lower()))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def stable_id(url: str | None, digest: str) -> str:
    if url:
        return "u-" + hashlib.sha1(url.encode("utf-8")).hexdigest()[:16]
    return "c-" + digest[:16]


def make_passages(sentences: list[Sentence], target_words: int) -> list[Passage]:
    """Group whole sentences into passages of about `target_words` words.

    A passage ends at the sentence that reaches the target, so no sentence is ever cut and every
    quote can be traced to exactly one passage.
    """
    passages: list[Passage] = []
    start, words = 0, 0
    for s in sentences:
        words += len(s.text.split())
        if words >= target_words:
            passages.append(_passage(len(passages), sentences, start, s.index + 1))
            start, words = s.index + 1, 0
    if start < len(sentences):
        if passages and words < target_words // 3:
            last = passages.pop()  # fold a short tail into the previous passage
            start = last.start
        passages.append(_passage(len(passages), sentences, start, len(sentences)))
    return passages


def _passage(index: int, sentences: list[Sentence], start: int, end: int) -> Passage:
    return Passage(index=index, start=start, end=end, text=" ".join(s.text for s in sentences[start:end]))


TITLE_CHARS = 120


def _lede_title(lede: str) -> str:
    """A page with no headline is titled by its first sentence, cut at a word with an ellipsis."""
    if len(lede) <= TITLE_CHARS:
        return lede
    return lede[:TITLE_CHARS].rsplit(" ", 1)[0].rstrip(",;:—–- ") + "…"


def build_article(raw: RawDocument, passage_words: int, saved_at: str = "") -> Article:
    cleaned = clean(raw.text, title=raw.title)
    text = "\n\n".join(cleaned.paragraphs)
    if len(text.split()) < MIN_WORDS:
        raise Unusable("no article text found (empty or only navigation/boilerplate)")
    sentences = split_sentences(cleaned.paragraphs)
    digest = content_hash(text)
    url = normalise_url(normalise(raw.url).replace("\n", "") if raw.url else None)
    date = parse_date(raw.date) if raw.date else None
    date = date or cleaned.dateline
    title = cleaned.title or _lede_title(sentences[0].text)
    return Article(
        id=(raw.id or stable_id(url, digest)).strip(),
        title=normalise(title).replace("\n", " ").strip(),
        date=date,
        source=normalise(raw.source).strip() or _source_from_url(url) or cleaned.site,
        url=url,
        text=text,
        content_hash=digest,
        sentences=tuple(sentences),
        passages=tuple(make_passages(sentences, passage_words)),
        saved_at=saved_at,
    )


def _source_from_url(url: str | None) -> str:
    if not url:
        return ""
    host = urlsplit(url).netloc.lower()
    return host[4:] if host.startswith("www.") else host
