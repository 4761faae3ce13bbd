"""Who published a fetched page: the fetched address is the evidence, the page's claims are not.

A page can claim any canonical URL and any `og:site_name`; taken at face value, a page on one host
could be stored as another site's story. So a fetched page keeps the URL it was fetched from,
unless its canonical URL is on the same site (a `www.` or other subdomain of one another), and a
claimed site name that the host does not bear out is shown with the host beside it.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit


def _host(url: str | None) -> str:
    host = (urlsplit(url).hostname or "").lower() if url else ""
    return host[4:] if host.startswith("www.") else host


def same_site(a: str | None, b: str | None) -> bool:
    """Same host, or one a subdomain of the other (news.example.org and example.org)."""
    ha, hb = _host(a), _host(b)
    if not ha or not hb:
        return False
    return ha == hb or ha.endswith("." + hb) or hb.endswith("." + ha)


def fetched_url(fetched: str, claimed: str | None) -> str:
    return claimed if claimed and same_site(fetched, claimed) else fetched


def fetched_source(fetched: str, claimed_name: str) -> str:
    """The claimed site name where the host bears it out ("Coast Gazette" on coastgazette.example),
    else the name with the host beside it, and the host alone where the page names no site."""
    host = _host(fetched)
    name = " ".join(claimed_name.split())
    if not name or name.lower() == host:
        return host or name
    letters = re.sub(r"[^a-z0-9]", "", name.lower())
    if letters and letters in re.sub(r"[^a-z0-9]", "", host):
        return name
    return f"{name} ({host})" if host else name
