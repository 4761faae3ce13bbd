"""Fetching a page for /save: http(s) only, bounded in time and size, never into private networks.

A bot that fetches any URL it is sent is a proxy into the network it runs in, so hosts that
resolve to loopback, private, link-local or reserved addresses are refused (unless the config
allows them, e.g. for an intranet news source), and every redirect is checked the same way
instead of being followed blindly.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

MAX_REDIRECTS = 5


class FetchError(RuntimeError):
    """The page could not be fetched; the message is meant for the user."""


@dataclass(frozen=True)
class Page:
    url: str  # after redirects
    data: bytes
    content_type: str

    @property
    def name(self) -> str:
        """A file name whose extension tells the readers the format."""
        kind = self.content_type.split(";")[0].strip().lower()
        if kind in ("text/html", "application/xhtml+xml"):
            return "page.html"
        if kind in ("application/rss+xml", "application/atom+xml", "application/xml", "text/xml"):
            return "feed.xml"
        if kind == "application/json":
            return "page.json"
        return "page.txt"


def _refused(address: str) -> bool:
    return not ipaddress.ip_address(address.split("%")[0]).is_global


async def _check_host(url: str, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError("Only http:// and https:// links can be saved.")
    if allow_private:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(f"Cannot resolve {parts.hostname}.") from exc
    if any(_refused(info[4][0]) for info in infos):
        raise FetchError(f"{parts.hostname} is a private or local address; it is not fetched.")


def _check_peer(response: httpx.Response, allow_private: bool) -> None:
    """The address actually connected to: a name that resolved to a public address for the check
    and to a private one for the connection (DNS rebinding) is caught here, before any byte is read."""
    if allow_private:
        return
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if not peer or _refused(str(peer[0])):
        raise FetchError("The page is on a private or local address; it is not fetched.")


async def fetch(url: str, timeout_s: float, max_bytes: int, allow_private: bool = False) -> Page:
    """The page, or FetchError. `timeout_s` bounds the whole fetch, redirects included."""
    try:
        async with asyncio.timeout(timeout_s):
            return await _fetch(url, timeout_s, max_bytes, allow_private)
    except TimeoutError as exc:
        raise FetchError(f"The site did not answer within {timeout_s:g} s.") from exc


async def _fetch(url: str, timeout_s: float, max_bytes: int, allow_private: bool) -> Page:
    async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=False,
                                 headers={"User-Agent": "newsbot/0.1 (+article saver)"}) as client:
        for _ in range(MAX_REDIRECTS + 1):
            await _check_host(url, allow_private)
            try:
                async with client.stream("GET", url) as response:
                    _check_peer(response, allow_private)
                    if response.is_redirect and "location" in response.headers:
                        url = urljoin(url, response.headers["location"])
                        continue
                    if response.status_code != 200:
                        raise FetchError(f"The site answered {response.status_code} {response.reason_phrase}.")
                    try:
                        declared = int(response.headers.get("content-length") or 0)
                    except ValueError:
                        declared = 0
                    if declared > max_bytes:
                        raise FetchError(f"The page is {declared:,} bytes, over the limit of {max_bytes:,}.")
                    data = bytearray()
                    async for chunk in response.aiter_bytes():
                        data += chunk
                        if len(data) > max_bytes:
                            raise FetchError(f"The page is over the limit of {max_bytes:,} bytes.")
                    return Page(str(response.url), bytes(data), response.headers.get("content-type", ""))
            except httpx.TimeoutException as exc:
                raise FetchError(f"The site did not answer within {timeout_s:g} s.") from exc
            except httpx.HTTPError as exc:
                raise FetchError(f"Could not fetch the page ({type(exc).__name__}).") from exc
        raise FetchError("Too many redirects.")
