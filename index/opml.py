"""OPML, the format feed readers import and export subscription lists in.

Outlines nest (folders of feeds); every outline with an `xmlUrl` is a feed, wherever it sits.
The file comes from users, so entity declarations are refused before parsing: an OPML list has no
use for them and they are how entity-expansion bombs begin.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from .feeds import declares



class OpmlError(ValueError):
    """Not an OPML subscription list; the message says why."""


@dataclass(frozen=True)
class OpmlFeed:
    url: str
    title: str = ""


def read_opml(data: bytes) -> list[OpmlFeed]:
    if declares(data, "DOCTYPE", "ENTITY"):
        raise OpmlError("the file declares a DOCTYPE or entities; refused (OPML needs neither)")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise OpmlError(f"not valid XML ({exc})") from exc
    if root.tag.lower() != "opml":
        raise OpmlError(f"not OPML (the root element is <{root.tag}>)")
    feeds, seen = [], set()
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if url and url not in seen:
            seen.add(url)
            title = (outline.get("title") or outline.get("text") or "").strip()
            feeds.append(OpmlFeed(url=url, title="" if title == url else title))
    return feeds


def write_opml(feeds: list[OpmlFeed], title: str = "newsbot feeds") -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<opml version="2.0">',
             f"  <head><title>{_text(title)}</title></head>", "  <body>"]
    for feed in feeds:
        name = quoteattr(feed.title or feed.url)
        lines.append(f'    <outline type="rss" text={name} title={name} xmlUrl={quoteattr(feed.url)}/>')
    lines += ["  </body>", "</opml>"]
    return "\n".join(lines) + "\n"


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
