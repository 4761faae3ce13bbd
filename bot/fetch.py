"""Fetching pages and feeds: http(s) only, bounded in time and size, never into private networks.

A bot that fetches any URL it is sent is a proxy into the network it runs in, so hosts that
resolve to loopback, private, link-local or reserved addresses are refused (unless the config
allows them, e.g. for an intranet news source), a plain-http request goes to the very address that
was checked (no second lookup a rebinding DNS server could answer differently), IPv6 forms that embed an IPv4 address are judged
by that address, proxy variables of the environment are ignored (the check must see the real
peer), and every redirect is checked the same way instead of being followed blindly.

Bodies are decompressed here, not by httpx, so that the size limit bounds what is inflated, not
just what arrived: a few kilobytes of gzip can expand to gigabytes, and stacked encodings
(`gzip, gzip`) multiply that, so they are refused.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import zlib
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

MAX_REDIRECTS = 5
PERMANENT = (301, 308)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")


class FetchError(RuntimeError):
    """The page could not be fetched; the message is meant for the user."""


@dataclass(frozen=True)
class FetchPolicy:
    timeout_s: float = 15.0  # the whole fetch, redirects and body included
    max_bytes: int = 5_000_000  # after decompression
    allow_private: bool = False
    user_agent: str = "newsbot/0.1 (+article saver)"
    trusted: frozenset[str] = frozenset()  # "host:port"s exempt from the address check (tests, one intranet host)


@dataclass(frozen=True)
class Response:
    url: str  # after redirects
    status: int
    headers: httpx.Headers
    data: bytes  # the decompressed body of a 200; empty otherwise
    permanent_url: str | None = None  # where only permanent redirects (301/308) led, when they did

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


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


def refused_address(address: str) -> bool:
    """Not a public unicast address, judging IPv6 forms that carry an IPv4 address by that address
    (IPv4-mapped, IPv4-compatible, 6to4, Teredo, NAT64) and refusing deprecated site-local ones."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if ip.version == 6:
        if ip in _SITE_LOCAL:
            return True
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is None and int(ip) >> 32 == 0 and int(ip) > 1:  # ::a.b.c.d, IPv4-compatible
            embedded = ipaddress.IPv4Address(int(ip))
        if embedded is not None and not embedded.is_global:
            return True
    return not ip.is_global


def _trusted(url: str, policy: FetchPolicy) -> bool:
    parts = urlsplit(url)
    return policy.allow_private or f"{parts.hostname}:{parts.port or _default_port(parts.scheme)}" in policy.trusted


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


async def _checked_address(url: str, policy: FetchPolicy) -> str | None:
    """The address to connect to, checked; None where the host is trusted (httpx resolves it)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError("Only http:// and https:// links can be fetched.")
    if _trusted(url, policy):
        return None
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(f"Cannot resolve {parts.hostname}.") from exc
    if not infos or any(refused_address(info[4][0]) for info in infos):
        raise FetchError(f"{parts.hostname} is a private or local address; it is not fetched.")
    return infos[0][4][0]


def _pinned(url: str, address: str | None) -> tuple[str, dict]:
    """A plain-http request aimed at the checked address itself, so a name that resolves again to
    another (DNS rebinding) never receives it: the URL carries the address, the Host header the
    original host. https is left to the name: no request byte is sent before the TLS handshake,
    which a private server cannot complete with a valid certificate for a public name, and the
    peer is checked right after it (pinning there would make connections of different sites on
    one CDN address share a TLS session meant for one of them)."""
    parts = urlsplit(url)
    if address is None or parts.scheme != "http":
        return url, {}
    host = f"[{address}]" if ":" in address else address
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc)), {"Host": parts.netloc.rsplit("@", 1)[-1]}


def _check_peer(response: httpx.Response, url: str, policy: FetchPolicy) -> None:
    """The address actually connected to: a name that resolved to a public address for the check
    and to a private one for the connection (DNS rebinding) is caught here, before any byte of the
    body is read."""
    if _trusted(url, policy):
        return
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if not peer or refused_address(str(peer[0])):
        raise FetchError("The page is on a private or local address; it is not fetched.")


class BoundedDecoder:
    """Content-Encoding undone chunk by chunk, never inflating past `limit` bytes."""

    def __init__(self, content_encoding: str, limit: int):
        codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1:
            raise FetchError(f"Stacked content encodings ({', '.join(codings)}) are refused.")
        coding = codings[0] if codings else ""
        self._wbits = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS,
                       "deflate": zlib.MAX_WBITS | 32}.get(coding)  # deflate: zlib- or gzip-wrapped
        self._raw_fallback = coding == "deflate"  # some servers send raw deflate under that name
        if self._wbits is not None:
            self._z = zlib.decompressobj(self._wbits)
        elif not coding:
            self._z = None
        else:
            raise FetchError(f"Unsupported content encoding {coding!r}.")
        self.limit = limit
        self.size = 0
        self._next_member = self._done = False

    def feed(self, chunk: bytes) -> bytes:
        if self._z is None:
            return self._count(chunk)
        out = []
        while chunk and not self._done:
            try:
                out.append(self._count(self._z.decompress(chunk, self.limit - self.size + 1)))
            except zlib.error as exc:
                if self._raw_fallback and self.size == 0:
                    self._raw_fallback = False
                    self._z = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                if self._next_member:  # bytes after the last member that start no other: ignored
                    self._done = True
                    break
                raise FetchError(f"The response is not valid compressed data ({exc}).") from exc
            self._raw_fallback = self._next_member = False
            if self._z.unconsumed_tail:
                chunk = self._z.unconsumed_tail
            elif self._z.eof and self._z.unused_data:  # the next member of a multi-member gzip
                chunk = self._z.unused_data
                self._z = zlib.decompressobj(self._wbits)
                self._next_member = True
            else:
                chunk = b""
        return b"".join(out)

    def _count(self, data: bytes) -> bytes:
        self.size += len(data)
        if self.size > self.limit:
            raise FetchError(f"The response is over the limit of {self.limit:,} bytes.")
        return data


def new_client(policy: FetchPolicy, connections: int = 10) -> httpx.AsyncClient:
    """One client per round of fetches (connections are reused); environment proxies are ignored."""
    return httpx.AsyncClient(
        timeout=policy.timeout_s, follow_redirects=False, trust_env=False,
        headers={"User-Agent": policy.user_agent, "Accept-Encoding": "gzip, deflate"},
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


async def get(client: httpx.AsyncClient, url: str, policy: FetchPolicy, headers: dict | None = None) -> Response:
    """GET with every hop checked; any HTTP status is returned (a body only with 200), transport
    and policy failures raise FetchError. `policy.timeout_s` bounds the whole of it."""
    try:
        async with asyncio.timeout(policy.timeout_s):
            return await _get(client, url, policy, headers or {})
    except TimeoutError as exc:
        raise FetchError(f"The site did not answer within {policy.timeout_s:g} s.") from exc
    except (ValueError, UnicodeError, httpx.InvalidURL, httpx.StreamError) as exc:  # a port of 99999, a label too long
        raise FetchError(f"Not a URL that can be fetched ({type(exc).__name__}).") from exc


async def _get(client: httpx.AsyncClient, url: str, policy: FetchPolicy, headers: dict) -> Response:
    seen = {url}
    permanent: str | None = None
    only_permanent = True
    for _ in range(MAX_REDIRECTS + 1):
        target_url, host = _pinned(url, await _checked_address(url, policy))
        try:
            async with client.stream("GET", target_url, headers={**headers, **host}) as response:
                _check_peer(response, url, policy)
                if response.is_redirect and "location" in response.headers:
                    target = urljoin(url, response.headers["location"])
                    if target in seen:
                        raise FetchError("The site redirects in a loop.")
                    seen.add(target)
                    only_permanent = only_permanent and response.status_code in PERMANENT
                    if only_permanent:
                        permanent = target
                    url = target
                    continue
                data = await _body(response, policy.max_bytes) if response.status_code == 200 else b""
                return Response(url, response.status_code, response.headers, data,
                                permanent if only_permanent else None)
        except httpx.TimeoutException as exc:
            raise FetchError(f"The site did not answer within {policy.timeout_s:g} s.") from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"Could not fetch the page ({type(exc).__name__}).") from exc
    raise FetchError("Too many redirects.")


async def _body(response: httpx.Response, max_bytes: int) -> bytes:
    try:
        declared = int(response.headers.get("content-length") or 0)
    except ValueError:
        declared = 0
    if declared > max_bytes:
        raise FetchError(f"The response is {declared:,} bytes, over the limit of {max_bytes:,}.")
    decoder = BoundedDecoder(response.headers.get("content-encoding", ""), max_bytes)
    data = bytearray()
    received = 0
    async for chunk in response.aiter_raw():
        received += len(chunk)
        if received > max_bytes:
            raise FetchError(f"The response is over the limit of {max_bytes:,} bytes.")
        data += decoder.feed(chunk)
    return bytes(data)


async def fetch(url: str, timeout_s: float, max_bytes: int, allow_private: bool = False) -> Page:
    """One page for /save, or FetchError."""
    policy = FetchPolicy(timeout_s=timeout_s, max_bytes=max_bytes, allow_private=allow_private)
    async with new_client(policy, connections=1) as client:
        response = await get(client, url, policy)
    if response.status != 200:
        reason = httpx.codes.get_reason_phrase(response.status)
        raise FetchError(f"The site answered {response.status} {reason}.".replace("  ", " "))
    return Page(response.url, response.data, response.content_type)
