"""/save's fetcher: http(s) only, bounded, and never into private networks unless allowed."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.fetch import FetchError, fetch


class Site(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        routes = {
            "/page": (200, {"Content-Type": "text/html"}, b"<html><body><p>Hello</p></body></html>"),
            "/big": (200, {"Content-Type": "text/plain"}, b"x" * 5000),
            "/liar": (200, {"Content-Type": "text/plain", "Content-Length": "abc"}, b"short"),
            "/to-page": (302, {"Location": "/page"}, b""),
            "/missing": (404, {}, b""),
        }
        status, headers, body = routes.get(self.path, (404, {}, b""))
        if self.path == "/slow":
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(50):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    threading.Event().wait(0.1)
            except OSError:  # the client gave up, as it should
                pass
            return
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_a_page_is_fetched_following_redirects(site):
    page = await fetch(f"{site}/to-page", 5, 10_000, allow_private=True)
    assert page.url.endswith("/page") and b"Hello" in page.data and page.name == "page.html"


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "http://localhost/x", "http://10.1.2.3/x",
                                 "http://[::1]/x", "http://169.254.169.254/latest/meta-data"])
async def test_private_and_local_addresses_are_refused_by_default(url):
    with pytest.raises(FetchError, match="private or local"):
        await fetch(url, 5, 10_000)


@pytest.mark.parametrize("url", ["ftp://example.org/a", "file:///etc/passwd", "javascript:alert(1)"])
async def test_only_http_and_https_are_fetched(url):
    with pytest.raises(FetchError, match="Only http"):
        await fetch(url, 5, 10_000)


async def test_size_status_and_time_limits(site):
    with pytest.raises(FetchError, match="over the limit"):
        await fetch(f"{site}/big", 5, 1000, allow_private=True)
    with pytest.raises(FetchError, match="404"):
        await fetch(f"{site}/missing", 5, 1000, allow_private=True)
    with pytest.raises(FetchError, match="within 1 s"):
        await fetch(f"{site}/slow", 1, 10_000, allow_private=True)  # trickling bytes: the whole fetch is bounded
    with pytest.raises(FetchError, match="Could not fetch"):  # a malformed response is a clear refusal
        await fetch(f"{site}/liar", 5, 1000, allow_private=True)


@pytest.mark.parametrize("address,refused", [
    ("93.184.216.34", False), ("2606:2800:220:1:248:1893:25c8:1946", False),
    ("::ffff:127.0.0.1", True),  # IPv4-mapped loopback
    ("::127.0.0.1", True),  # IPv4-compatible
    ("64:ff9b::10.0.0.1", True), ("64:ff9b::93.184.216.34", False),  # NAT64 of a private / a public address
    ("2002:0a00:0001::1", True), ("2002:5db8:d822::1", False),  # 6to4 of 10.0.0.1 / of a public address
    ("2001:0:4136:e378:8000:63bf:f5ff:fffe", True),  # Teredo whose client is 10.0.0.1
    ("fec0::1", True),  # deprecated site-local
])
def test_ipv6_forms_are_judged_by_the_ipv4_address_they_carry(address, refused):
    from bot.fetch import refused_address

    assert refused_address(address) is refused


def test_a_checked_http_request_goes_to_the_checked_address_with_the_original_host():
    from bot.fetch import _pinned

    assert _pinned("http://news.example:8080/a?b=1", "93.184.216.34") == (
        "http://93.184.216.34:8080/a?b=1", {"Host": "news.example:8080"})
    assert _pinned("http://news.example/x", "2606:2800:220:1::1") == (
        "http://[2606:2800:220:1::1]/x", {"Host": "news.example"})
    assert _pinned("http://trusted.example/x", None) == ("http://trusted.example/x", {})
    # https keeps its name (certificate and TLS session per site); the peer is checked after the handshake
    assert _pinned("https://news.example/a", "93.184.216.34") == ("https://news.example/a", {})


async def test_stacked_encodings_are_refused_and_a_bomb_stops_at_the_limit():
    import gzip

    from tests.support.feed_server import FeedServer, Reply

    with FeedServer() as server:
        server.routes["/stacked"] = lambda r: Reply(200, {"Content-Encoding": "gzip, gzip"},
                                                    gzip.compress(gzip.compress(b"x" * 1000)))
        server.routes["/bomb"] = lambda r: Reply(200, {"Content-Encoding": "gzip"}, gzip.compress(b"\0" * 50_000_000))
        server.routes["/fine"] = lambda r: Reply(200, {"Content-Encoding": "gzip", "Content-Type": "text/plain"},
                                                 gzip.compress(b"hello " * 100))
        with pytest.raises(FetchError, match="Stacked content encodings"):
            await fetch(server.url("/stacked"), 5, 1_000_000, allow_private=True)
        with pytest.raises(FetchError, match="over the limit of 1,000,000"):
            await fetch(server.url("/bomb"), 5, 1_000_000, allow_private=True)
        assert (await fetch(server.url("/fine"), 5, 1_000_000, allow_private=True)).data == b"hello " * 100


async def test_proxy_variables_are_ignored(site, monkeypatch):
    """The address check must see the real peer: through a proxy it would see the proxy."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    page = await fetch(f"{site}/page", 5, 10_000, allow_private=True)
    assert b"Hello" in page.data


def test_multi_member_gzip_raw_deflate_and_trailing_bytes_decode():
    import gzip
    import zlib

    from bot.fetch import BoundedDecoder

    assert BoundedDecoder("gzip", 100).feed(gzip.compress(b"first ") + gzip.compress(b"second") + b"\0\0") == \
        b"first second"
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert BoundedDecoder("deflate", 100).feed(raw.compress(b"raw deflate") + raw.flush()) == b"raw deflate"
    assert BoundedDecoder("deflate", 100).feed(zlib.compress(b"zlib wrapped")) == b"zlib wrapped"


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/x", "http://" + "a" * 70 + ".example/x"])
async def test_a_url_that_cannot_be_fetched_is_a_clear_refusal(url):
    with pytest.raises(FetchError):
        await fetch(url, 5, 10_000)
