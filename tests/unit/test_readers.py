"""HTML pages: the extractor is installed with the package, the site's name is found, and a fetched
page's claims about who published it are believed only where its address bears them out."""

from __future__ import annotations

import pytest

from index.attribution import fetched_source, fetched_url, same_site
from index.ingest import ingest_data
from index.readers import read_data

PAGE = """<!doctype html><html><head><title>Storm hits coast</title>{meta}</head><body><article>
<h1>Storm hits coast</h1><p>A storm hit the coast on Monday, flooding roads and cutting power to thousands
of homes along the shore, officials said.</p><p>Crews worked through the night to restore power.</p>
</article></body></html>"""


def test_the_html_extractor_imports_with_what_the_package_declares():
    """trafilatura needs lxml.html.clean, which lxml ships apart (lxml_html_clean)."""
    import lxml.html.clean  # noqa: F401
    import trafilatura

    assert trafilatura.extract(PAGE.format(meta=""))


@pytest.mark.parametrize("meta", ['<meta property="og:site_name" content="Coast Gazette">',
                                  '<meta name="og:site_name" content="Coast Gazette">',
                                  '<meta name="application-name" content="Coast Gazette">'])
def test_the_sites_own_name_is_the_source(meta):
    [doc] = read_data(PAGE.format(meta=meta).encode(), "page.html", "test", 10_000_000)
    assert doc.source == "Coast Gazette"


def test_sites_are_the_same_across_www_and_subdomains_only():
    assert same_site("https://www.coast.example/a", "https://coast.example/b")
    assert same_site("https://news.coast.example/a", "https://coast.example/b")
    assert not same_site("https://coast.example.evil.test/a", "https://coast.example/b")
    assert not same_site("https://evil.test/a", "https://coast.example/a")


def test_a_fetched_page_keeps_its_address_unless_the_canonical_is_on_the_same_site():
    assert fetched_url("https://evil.test/copy", "https://coast.example/storm") == "https://evil.test/copy"
    assert fetched_url("https://coast.example/storm?ref=x", "https://www.coast.example/storm") == \
        "https://www.coast.example/storm"
    assert fetched_source("https://www.coastgazette.example/a", "Coast Gazette") == "Coast Gazette"
    assert fetched_source("https://evil.test/a", "Coast Gazette") == "Coast Gazette (evil.test)"
    assert fetched_source("https://evil.test/a", "") == "evil.test"


def test_a_saved_page_claiming_another_sites_story_is_stored_under_its_own_address(store, ingest_config):
    meta = ('<link rel="canonical" href="https://coastgazette.example/storm">'
            '<meta property="og:site_name" content="Coast Gazette">')
    report = ingest_data(store, PAGE.format(meta=meta).encode(), "page.html", "https://evil.test/storm",
                         ingest_config, url="https://evil.test/storm")
    article = store.get(report.added[0])
    assert (article.url, article.source) == ("https://evil.test/storm", "Coast Gazette (evil.test)")
