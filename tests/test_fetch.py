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
