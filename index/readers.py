"""Readers: one input file in, raw documents out.

Each format has a well-kept library where one exists (trafilatura for HTML main text, feedparser
for RSS/Atom); JSON exports and scraped plain text are read here. A reader raises `Unreadable` for
a file it cannot use at all, and yields `Unreadable` objects for single bad records inside a file it
can otherwise read, so that one broken line never loses the rest of an export.
"""

from __future__ import annotations

import gzip
import io
from html import unescape as html_unescape
import json
import re
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path

from .dates import from_epoch, from_struct_time
from .models import RawDocument

_PUBLISHED_META = re.compile(
    rb"""<meta[^>]+(?:property|name|itemprop)\s*=\s*["'](?:article:published_time|datePublished|"""
    rb"""pubdate|publishdate|date|dc\.date|og:published_time|sailthru\.date)["'][^>]*>""",
    re.IGNORECASE,
)
_CONTENT_ATTR = re.compile(rb"""content\s*=\s*["']([^"']{6,40})["']""", re.IGNORECASE)
_JSON_FIELDS = {
    "title": ("title", "headline", "name"),
    "date": ("date", "published", "published_at", "publishedAt", "pubDate", "datePublished", "time"),
    "url": ("url", "link", "href"),
    "text": ("text", "body", "content", "article", "articleBody", "description"),
    "source": ("source", "site", "publisher", "outlet"),
}


class Unreadable(ValueError):
    """A file or record that cannot be read; the message is the report line."""


def read_path(path: Path, max_bytes: int) -> Iterator[RawDocument | Unreadable]:
    """Dispatch on name and content. Raises Unreadable when the file as a whole is unusable."""
    name = path.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")):
        yield from _read_jsonl(path, max_bytes)
        return
    yield from read_data(_read_bytes(path, name, max_bytes), name, str(path), max_bytes)


def read_data(data: bytes, name: str, origin: str, max_bytes: int) -> Iterator[RawDocument | Unreadable]:
    """Documents in bytes already read (a file, a download, a fetched page); `name` hints the format."""
    name = name.lower()
    if name.endswith((".csv", ".csv.gz", ".tsv", ".tsv.gz")):
        yield from _read_csv(data, origin, max_bytes, "\t" if ".tsv" in name else ",")
        return
    if name.endswith(".json") or name.endswith(".json.gz"):
        yield from _read_json(data, origin, max_bytes)
        return
    head = data[:1024].lstrip().lower()
    if name.endswith((".rss", ".atom", ".xml")) or head.startswith((b"<?xml", b"<rss", b"<feed")):
        if b"<rss" in data[:4096].lower() or b"<feed" in data[:4096].lower() or b"<rdf" in data[:4096].lower():
            yield from _read_feed(data, origin)
            return
    if name.endswith((".html", ".htm")) or head.startswith((b"<!doctype html", b"<html")):
        yield _read_html(data, origin)
        return
    yield RawDocument(origin=origin, text=_decode_text(data))


def _read_bytes(path: Path, name: str, max_bytes: int) -> bytes:
    size = path.stat().st_size
    if size == 0:
        raise Unreadable("empty file")
    if size > max_bytes:
        raise Unreadable(f"file is {size:,} bytes, over the limit of {max_bytes:,} (ingest.max_file_bytes)")
    if not name.endswith(".gz"):
        return path.read_bytes()
    try:  # GzipFile reads every member of a multi-member file and stops at the limit
        with gzip.open(path, "rb") as handle:
            out = handle.read(max_bytes + 1)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise Unreadable(f"truncated or broken gzip file ({exc})") from exc
    if len(out) > max_bytes:
        raise Unreadable(f"decompressed size is over the limit of {max_bytes:,} bytes (ingest.max_file_bytes)")
    return out


def _decode_text(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise Unreadable("binary file (contains NUL bytes), not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Unreadable(
            f"not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at offset {exc.start}); save it as UTF-8"
        ) from exc


def _pick(record: dict, field: str) -> str | None:
    for key in _JSON_FIELDS[field]:
        value = record.get(key)
        if isinstance(value, str) and value.strip():
            return value
        if field == "source" and isinstance(value, dict) and isinstance(value.get("name"), str):
            return value["name"]
        if field == "text" and isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return "\n\n".join(value)  # paragraphs as a list
        if field == "date" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return from_epoch(value)
    return None


def _misshapen_text(record: dict) -> str | None:
    """Why a record that has a text field cannot use it (for the report), or None."""
    for key in _JSON_FIELDS["text"]:
        if key in record and not isinstance(record[key], str):
            return f'its "{key}" field holds {type(record[key]).__name__}, not text'
    return None


def record_to_document(record: object, origin: str, max_bytes: int) -> RawDocument:
    if not isinstance(record, dict):
        raise Unreadable(f"{origin}: expected a JSON object, got {type(record).__name__}")
    text = _pick(record, "text")
    if not text:
        reason = _misshapen_text(record) or "record has no text field (text/body/content)"
        raise Unreadable(f"{origin}: {reason}")
    if len(text.encode("utf-8", "replace")) > max_bytes:
        raise Unreadable(f"{origin}: text is over the limit of {max_bytes:,} bytes (ingest.max_file_bytes)")
    raw_id = record.get("id")
    return RawDocument(
        origin=origin,
        text=text,
        title=_pick(record, "title") or "",
        date=_pick(record, "date"),
        url=_pick(record, "url"),
        source=_pick(record, "source") or "",
        id=str(raw_id) if isinstance(raw_id, (str, int)) and str(raw_id).strip() else None,
    )


def _read_jsonl(path: Path, max_bytes: int) -> Iterator[RawDocument | Unreadable]:
    if path.stat().st_size == 0:
        raise Unreadable("empty file")
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            for number, line in enumerate(_lines(handle, max_bytes), start=1):
                origin = f"{path}:{number}"
                if isinstance(line, Unreadable):
                    yield Unreadable(f"{origin}: {line}")
                    continue
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    yield record_to_document(record, origin, max_bytes)
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    yield Unreadable(f"{origin}: not valid JSON ({exc.__class__.__name__}: {exc})")
                except RecursionError:
                    yield Unreadable(f"{origin}: JSON nested too deeply to be an article")
                except Unreadable as exc:
                    yield exc
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        yield Unreadable(f"{path}: truncated or broken gzip data after the records read so far ({exc})")


def _lines(handle: io.BufferedIOBase, max_bytes: int) -> Iterator[bytes | Unreadable]:
    """Lines of at most max_bytes; a longer one is skipped (and reported) without being held whole."""
    while True:
        line = handle.readline(max_bytes + 1)
        if not line:
            return
        if len(line) > max_bytes and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):
                line = handle.readline(max_bytes + 1)
            yield Unreadable(f"line is over the limit of {max_bytes:,} bytes (ingest.max_file_bytes)")
            continue
        yield line


def _read_json(data: bytes, origin: str, max_bytes: int) -> Iterator[RawDocument | Unreadable]:
    try:
        payload = json.loads(data.decode("utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Unreadable(f"not valid JSON ({exc.__class__.__name__}: {exc}); truncated?") from exc
    except RecursionError as exc:  # a hostile or broken export: [[[[… thousands deep
        raise Unreadable("JSON nested too deeply to be an article export") from exc
    if isinstance(payload, dict):
        for key in ("articles", "items", "data", "results"):
            if isinstance(payload.get(key), list):
                payload = payload[key]
                break
    records = payload if isinstance(payload, list) else [payload]
    for index, record in enumerate(records):
        try:
            yield record_to_document(record, f"{origin}[{index}]", max_bytes)
        except Unreadable as exc:
            yield exc


def _read_csv(data: bytes, origin: str, max_bytes: int, delimiter: str) -> Iterator[RawDocument | Unreadable]:
    """A spreadsheet export: a header row naming the columns (title, date, url, text, source, or
    the other names JSON records use), then one article per row."""
    import csv

    text = _decode_text(data)
    csv.field_size_limit(max_bytes)
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
        columns = {(c or "").strip().lower(): c for c in reader.fieldnames or []}
    except csv.Error as exc:
        raise Unreadable(f"not a readable CSV file ({exc})") from exc
    if not any(name.lower() in columns for name in _JSON_FIELDS["text"]):
        raise Unreadable(f"CSV without a text column (its header is {', '.join(list(columns)[:8]) or 'empty'}; "
                         "expected columns such as title, date, url, text)")
    try:
        for number, row in enumerate(reader, start=2):
            record = {key: row.get(original) for key, original in columns.items()}
            try:
                yield record_to_document(record, f"{origin}:{number}", max_bytes)
            except Unreadable as exc:
                yield exc
    except csv.Error as exc:
        yield Unreadable(f"{origin}: CSV broken after the rows read so far ({exc})")


def _read_html(data: bytes, origin: str) -> RawDocument:
    import trafilatura

    if b"\x00" in data[:8192]:
        raise Unreadable("binary file (contains NUL bytes), not HTML")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        doc = trafilatura.bare_extraction(data, with_metadata=True, include_comments=False)
    if doc is None or not (doc.text or "").strip():
        raise Unreadable("no main text found in the HTML page")
    return RawDocument(
        origin=origin,
        text=doc.text,
        title=doc.title or "",
        date=_published_meta(data) or doc.date,
        url=doc.url,
        source=doc.sitename or _site_name_meta(data) or doc.hostname or "",
    )


_SITE_META = re.compile(
    rb"""<meta[^>]+(?:property|name)\s*=\s*["'](?:og:site_name|application-name)["'][^>]*>""", re.IGNORECASE)
_CONTENT_TEXT = re.compile(rb"""content\s*=\s*["']([^"']{1,200})["']""", re.IGNORECASE)


def _site_name_meta(data: bytes) -> str | None:
    """The site's own name where trafilatura missed it (`<meta name="og:site_name">`, not `property`)."""
    for tag in _SITE_META.findall(data[:200_000]):
        content = _CONTENT_TEXT.search(tag)
        if content:
            return html_unescape(content.group(1).decode("utf-8", "replace")).strip() or None
    return None


def _published_meta(data: bytes) -> str | None:
    """trafilatura keeps only the day; the page's own meta tag often has the time too."""
    for tag in _PUBLISHED_META.findall(data[:200_000]):
        content = _CONTENT_ATTR.search(tag)
        if content:
            return content.group(1).decode("ascii", "ignore")
    return None


def _read_feed(data: bytes, origin: str) -> Iterator[RawDocument | Unreadable]:
    import feedparser

    feed = feedparser.parse(data)
    if not feed.entries:
        reason = getattr(feed, "bozo_exception", None)
        raise Unreadable(f"feed has no entries{f' ({reason})' if reason else ''}")
    source = feed.feed.get("title", "") if hasattr(feed, "feed") else ""
    for index, entry in enumerate(feed.entries):
        item_origin = f"{origin}#{index + 1}"
        body = ""
        if entry.get("content"):
            body = entry.content[0].get("value", "")
        body = body or entry.get("summary", "")
        text = html_to_text(body)
        if not text.strip():
            yield Unreadable(f"{item_origin}: feed item has no text")
            continue
        date = from_struct_time(entry.get("published_parsed") or entry.get("updated_parsed"))
        yield RawDocument(
            origin=item_origin,
            text=text,
            title=entry.get("title", ""),
            date=date,
            url=entry.get("link"),
            source=source,
        )


def html_to_text(fragment: str) -> str:
    """Feed bodies are HTML fragments: keep paragraphs, drop tags."""
    if "<" not in fragment:
        return fragment
    import lxml.html

    try:
        tree = lxml.html.fromstring(f"<div>{fragment}</div>")
    except Exception:  # lxml raises several unrelated types on garbage
        return re.sub(r"<[^>]+>", " ", fragment)
    for br in tree.iter("br"):
        br.tail = "\n" + (br.tail or "")
    blocks = []
    for element in tree.iter("p", "li", "h1", "h2", "h3", "blockquote"):
        blocks.append(element.text_content().strip())
    text = "\n\n".join(b for b in blocks if b)
    return text or tree.text_content()
