"""A real HTTP server on 127.0.0.1 serving feeds and article pages for the feed tests and the
feed benchmark (standard library only).

Each path is a `Route`: a feed with an ETag and a Last-Modified (answering conditional GETs with
304), or any canned reply (a status, headers, a body, a body dripped byte by byte). Every request
is recorded with its headers, so tests can check what the poller sent.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import format_datetime
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    drip_s: float = 0.0  # seconds between bytes: a server that drips its answer


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    at: float


Route = Callable[[Request], Reply]


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        """A client that hung up (a poller giving up on a slow or huge answer) is not news."""


class FeedRoute:
    """A feed document that changes when `body` is set; validators change with it."""

    def __init__(self, body: bytes, content_type: str = "application/rss+xml", extra: dict | None = None):
        self.content_type = content_type
        self.extra = extra or {}
        self.version = 0
        self.set(body)

    def set(self, body: bytes) -> None:
        self.body = body
        self.version += 1
        self.etag = f'"v{self.version}-{len(body)}"'
        self.modified = format_datetime(datetime(2026, 11, 1, tzinfo=timezone.utc).replace(minute=self.version % 60),
                                        usegmt=True)

    def __call__(self, request: Request) -> Reply:
        validators = {"ETag": self.etag, "Last-Modified": self.modified}
        if request.headers.get("if-none-match") == self.etag:
            return Reply(304, validators)
        return Reply(200, {"Content-Type": self.content_type, **validators, **self.extra}, self.body)


class FeedServer:
    def __init__(self, host: str = "127.0.0.1", latency_s: float = 0.0, record: bool = True):
        self.latency_s = latency_s  # every answer waits this long first: a server across a network
        self.record = record  # keep every request (tests read them; a benchmark's memory must not grow)
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - the standard library's name
                request = Request(self.path, {k.lower(): v for k, v in self.headers.items()}, time.monotonic())
                if server.record:
                    with server._lock:
                        server.requests.append(request)
                if server.latency_s:
                    time.sleep(server.latency_s)
                route = server.routes.get(self.path.split("?")[0])
                reply = route(request) if route else Reply(404, {"Content-Type": "text/plain"}, b"not found")
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    if "Content-Length" not in reply.headers:
                        self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    if reply.drip_s:
                        for i in range(len(reply.body)):
                            self.wfile.write(reply.body[i:i + 1])
                            self.wfile.flush()
                            time.sleep(reply.drip_s)
                    else:
                        self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args) -> None:
                pass

        self._server = _QuietServer((host, 0), Handler)
        self._server.daemon_threads = True
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def netloc(self) -> str:
        return f"{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return f"http://{self.netloc}{path}"

    def hits(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path.split("?")[0] == path]

    def __enter__(self) -> "FeedServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


# -- documents -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Item:
    guid: str
    title: str
    text: str
    link: str | None = None
    date: str | None = "Mon, 30 Nov 2026 08:00:00 GMT"  # RFC 822 for RSS


def rss(items: list[Item], title: str = "Test Wire", ttl: int | None = None, extra_channel: str = "") -> bytes:
    parts = [f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
             f'xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel>'
             f"<title>{escape(title)}</title><link>http://wire.test/</link><description>d</description>"]
    if ttl:
        parts.append(f"<ttl>{ttl}</ttl>")
    parts.append(extra_channel)
    for item in items:
        parts.append("<item>")
        parts.append(f'<guid isPermaLink="false">{escape(item.guid)}</guid><title>{escape(item.title)}</title>')
        if item.link:
            parts.append(f"<link>{escape(item.link)}</link>")
        if item.date:
            parts.append(f"<pubDate>{item.date}</pubDate>")
        parts.append(f"<description>{escape(item.text)}</description></item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")


def atom(items: list[Item], title: str = "Atom Wire") -> bytes:
    parts = ['<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">',
             f"<title>{escape(title)}</title><id>urn:atom-wire</id><updated>2026-11-30T08:00:00Z</updated>"]
    for item in items:
        parts.append(f"<entry><id>{escape(item.guid)}</id><title>{escape(item.title)}</title>"
                     f"<updated>2026-11-30T09:30:00Z</updated><published>2026-11-30T09:30:00Z</published>")
        if item.link:
            parts.append(f'<link rel="alternate" href="{escape(item.link)}"/>')
        parts.append(f'<content type="html">{escape("<p>" + item.text + "</p>")}</content></entry>')
    parts.append("</feed>")
    return "".join(parts).encode("utf-8")


def json_feed(items: list[Item], title: str = "JSON Wire") -> bytes:
    return json.dumps({
        "version": "https://jsonfeed.org/version/1.1", "title": title, "home_page_url": "http://json.test/",
        "items": [{"id": i.guid, "url": i.link, "title": i.title, "content_text": i.text,
                   "date_published": "2026-11-30T10:15:00Z"} for i in items],
    }).encode("utf-8")


def article_page(title: str, paragraphs: list[str], published: str = "2026-11-29T07:45:00Z") -> bytes:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (f"<!doctype html><html><head><title>{escape(title)}</title>"
            f'<meta property="article:published_time" content="{published}">'
            f"</head><body><article><h1>{escape(title)}</h1>{body}</article></body></html>").encode("utf-8")


def gzipped(data: bytes, layers: int = 1) -> bytes:
    for _ in range(layers):
        data = gzip.compress(data)
    return data


STORY_WORDS = ("The regional council approved the new harbour plan after a long debate on Tuesday, and the "
               "builders said the first works would start within weeks, with the port authority paying for most "
               "of the dredging while the city covers the new quay walls and the roads leading to them.")


def story(n: int, topic: str = "harbour") -> Item:
    """A distinct, article-sized item (enough words to be stored)."""
    return Item(guid=f"item-{n}", title=f"{topic.title()} story number {n}",
                text=f"Story {n} about the {topic}. " + STORY_WORDS + f" Reporter note {n}.",
                link=f"http://wire.test/{topic}/{n}")
