"""Ingestion: every bad input is one report line, and the batch always goes on."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest

from index.config import IngestConfig
from index.ingest import ingest_documents, ingest_paths, iter_files
from index.models import RawDocument, Rejection

GOOD_TEXT = (
    "Storm hits coast\n\n"
    "June 6, 2019\n\n"
    "A storm hit the northern coast on Thursday, cutting power to thousands of homes.\n\n"
    "Emergency services said no one had been seriously hurt."
)


def record(n: int, **extra) -> dict:
    words = ["storm", "council", "budget", "river", "market", "court", "energy", "vote", "bridge"]
    rng = random.Random(n)  # incompressible enough that a cut gzip really loses records
    text = " ".join(f"{rng.choice(words)}{rng.randint(0, 9999)}" for _ in range(120))
    base = {"id": f"rec-{n}", "title": f"Story {n}", "date": f"2020-01-{n + 1:02d}", "text": f"Story {n}: {text}."}
    base.update(extra)
    return base


def write_jsonl(path: Path, records: list[dict]) -> Path:
    data = "".join(json.dumps(r) + "\n" for r in records).encode()
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


@pytest.fixture
def good_file(tmp_path) -> Path:
    path = tmp_path / "zz-good.txt"
    path.write_text(GOOD_TEXT, encoding="utf-8")
    return path


def _empty(tmp_path):
    p = tmp_path / "empty.txt"
    p.write_bytes(b"")
    return p


def _empty_jsonl(tmp_path):
    p = tmp_path / "empty.jsonl"
    p.write_bytes(b"")
    return p


def _binary(tmp_path):
    p = tmp_path / "image.txt"
    p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    return p


def _latin1(tmp_path):
    p = tmp_path / "latin1.txt"
    p.write_bytes("Le café a ouvert à Zürich. Les clients étaient très contents du résultat.".encode("latin-1"))
    return p


def _truncated_json(tmp_path):
    p = tmp_path / "export.json"
    full = json.dumps([record(0), record(1)])
    p.write_text(full[: len(full) // 2], encoding="utf-8")
    return p


def _boilerplate_only(tmp_path):
    p = tmp_path / "nav.txt"
    p.write_text("Home\n\nSkip to main content\n\nAccept all cookies\n\nAdvertisement\n", encoding="utf-8")
    return p


BAD_INPUTS = {
    "empty file": (_empty, "empty"),
    "empty jsonl": (_empty_jsonl, "empty"),
    "binary file": (_binary, "binary"),
    "non-UTF-8 text": (_latin1, "UTF-8"),
    "truncated JSON": (_truncated_json, "JSON"),
    "only boilerplate": (_boilerplate_only, "no article text"),
}


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_a_bad_file_is_one_report_line_and_the_batch_goes_on(name, tmp_path, store, ingest_config, good_file):
    make, reason_word = BAD_INPUTS[name]
    bad = make(tmp_path)
    report = ingest_paths(store, [bad, good_file], ingest_config)
    assert len(report.rejected) == 1, report.rejected
    assert report.rejected[0].origin == str(bad)
    assert reason_word.lower() in report.rejected[0].reason.lower()
    assert len(report.added) == 1  # the good file after it was still ingested
    assert store.stats()["articles"] == 1


def test_truncated_gzip_jsonl_keeps_the_records_before_the_cut(tmp_path, store, ingest_config):
    records = [record(n) for n in range(8)]
    data = gzip.compress("".join(json.dumps(r) + "\n" for r in records).encode())
    path = tmp_path / "export.jsonl.gz"
    path.write_bytes(data[: int(len(data) * 0.6)])

    report = ingest_paths(store, [path], ingest_config)

    assert len(report.rejected) == 1
    assert "truncated" in report.rejected[0].reason
    assert 1 <= len(report.added) < len(records)
    assert report.added == [f"rec-{n}" for n in range(len(report.added))]  # earlier records, in order
    assert store.stats()["articles"] == len(report.added)


def test_jsonl_with_one_broken_line_keeps_the_good_ones(tmp_path, store, ingest_config):
    path = tmp_path / "export.jsonl"
    lines = [json.dumps(record(0)), '{"id": "broken", "text": "cut off here', json.dumps(record(2)), "",
             json.dumps(record(3))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    report = ingest_paths(store, [path], ingest_config)

    assert report.added == ["rec-0", "rec-2", "rec-3"]
    assert len(report.rejected) == 1
    assert report.rejected[0].origin.endswith(":2") and "JSON" in report.rejected[0].reason


def test_jsonl_records_without_text_or_not_objects_are_reported_one_each(tmp_path, store, ingest_config):
    path = tmp_path / "export.jsonl"
    write_jsonl(path, [record(0)])
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"id": "x", "title": "no text"}) + "\n")
        handle.write(json.dumps(["not", "an", "object"]) + "\n")
    report = ingest_paths(store, [path], ingest_config)
    assert report.added == ["rec-0"]
    assert len(report.rejected) == 2


def test_a_file_over_max_file_bytes_is_rejected(tmp_path, store, good_file):
    big = tmp_path / "big.txt"
    big.write_text("A storm hit the coast on Thursday. " * 100, encoding="utf-8")
    report = ingest_paths(store, [big, good_file], IngestConfig(max_file_bytes=1000))
    assert len(report.rejected) == 1
    assert report.rejected[0].origin == str(big)
    assert "max_file_bytes" in report.rejected[0].reason
    assert len(report.added) == 1


def test_a_gzip_that_decompresses_over_the_limit_is_rejected(tmp_path, store):
    bomb = tmp_path / "export.json.gz"
    bomb.write_bytes(gzip.compress(json.dumps([record(n) for n in range(20)]).encode()))
    report = ingest_paths(store, [bomb], IngestConfig(max_file_bytes=1000))
    assert len(report.rejected) == 1 and "limit" in report.rejected[0].reason
    assert report.added == []


def test_a_dateless_article_is_kept_without_a_date(tmp_path, store, ingest_config):
    path = tmp_path / "nodate.txt"
    path.write_text(
        "Bridge reopens\n\nThe old bridge reopened to traffic after two years of repairs, the council said.",
        encoding="utf-8",
    )
    report = ingest_paths(store, [path], ingest_config)
    article = store.get(report.added[0])
    assert article.date is None
    assert article.title == "Bridge reopens"
    assert store.stats()["undated"] == 1


def test_a_plain_text_file_gets_title_and_dateline(store, ingest_config, good_file):
    report = ingest_paths(store, [good_file], ingest_config)
    article = store.get(report.added[0])
    assert article.title == "Storm hits coast"
    assert article.date == "2019-06-06"
    assert article.text.startswith("A storm hit the northern coast")


def test_json_export_records_keep_id_title_date(tmp_path, store, ingest_config):
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"articles": [record(0, url="https://example.com/0"), record(1)]}), encoding="utf-8")
    report = ingest_paths(store, [path], ingest_config)
    assert report.added == ["rec-0", "rec-1"]
    first = store.get("rec-0")
    assert (first.title, first.date, first.url, first.source) == (
        "Story 0", "2020-01-01", "https://example.com/0", "example.com")


HTML = """<!DOCTYPE html>
<html><head><title>Storm hits coast | Example News</title>
<meta property="article:published_time" content="2019-06-06T08:22:00+00:00">
</head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/world">World news menu</a></li></ul></nav>
<article>
<h1>Storm hits coast</h1>
<p>A powerful storm hit the northern coast on Thursday, cutting power to thousands of homes and closing the main harbour for the day.</p>
<p>Emergency services said no one had been seriously hurt, but several roads remained closed while crews cleared fallen trees.</p>
<p>The mayor said the town would open two shelters for residents whose homes were damaged by the wind and the rain.</p>
</article>
<footer><p>Copyright 2019 Example News. All rights reserved. Privacy policy and terms of use.</p></footer>
</body></html>"""


def test_html_page(tmp_path, store, ingest_config):
    path = tmp_path / "storm.html"
    path.write_text(HTML, encoding="utf-8")
    report = ingest_paths(store, [path], ingest_config)
    assert report.rejected == []
    article = store.get(report.added[0])
    assert article.title == "Storm hits coast"
    assert article.date == "2019-06-06T08:22"  # the meta tag's time, not only trafilatura's day
    assert article.text.startswith("A powerful storm hit the northern coast on Thursday")
    assert "shelters for residents" in article.text
    assert "World news menu" not in article.text
    assert "All rights reserved" not in article.text


def test_html_page_without_main_text_is_rejected(tmp_path, store, ingest_config):
    path = tmp_path / "empty.html"
    path.write_text("<!DOCTYPE html><html><head><title>x</title></head><body></body></html>", encoding="utf-8")
    report = ingest_paths(store, [path], ingest_config)
    assert len(report.rejected) == 1 and report.added == []


RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Example Feed</title><link>https://example.com/</link><description>News</description>
<item><title>Council approves budget</title><link>https://example.com/news/budget</link>
<pubDate>Thu, 06 Jun 2019 08:22:00 GMT</pubDate>
<description>&lt;p&gt;The city council approved the budget for next year on Thursday after a long debate.&lt;/p&gt;</description></item>
<item><title>River floods farmland</title><link>https://example.com/news/river</link>
<pubDate>Fri, 07 Jun 2019 10:00:00 +0200</pubDate>
<description>The river burst its banks on Friday and flooded farmland across the valley, farmers said.</description></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Example Atom</title><id>urn:x</id><updated>2019-06-07T10:00:00Z</updated>
<entry><title>Bridge reopens</title><link href="https://example.org/bridge"/><id>urn:1</id>
<published>2019-06-06T08:22:00Z</published><updated>2019-06-06T08:22:00Z</updated>
<content type="html">&lt;p&gt;The old bridge reopened to traffic on Thursday after two years of repairs.&lt;/p&gt;&lt;p&gt;Drivers welcomed the news.&lt;/p&gt;</content></entry>
<entry><title>Library extends hours</title><link href="https://example.org/library"/><id>urn:2</id>
<published>2019-06-07T10:00:00+02:00</published><updated>2019-06-07T10:00:00+02:00</updated>
<summary>The central library will stay open until nine in the evening from next month, the council said.</summary></entry>
</feed>"""


def _headers(store):
    return [(h.title, h.date, h.url, h.source) for h in store.headers()]


def test_rss_feed(tmp_path, store, ingest_config):
    path = tmp_path / "feed.rss"
    path.write_text(RSS, encoding="utf-8")
    report = ingest_paths(store, [path], ingest_config)
    assert report.rejected == [] and len(report.added) == 2
    assert _headers(store) == [
        ("Council approves budget", "2019-06-06T08:22", "https://example.com/news/budget", "Example Feed"),
        ("River floods farmland", "2019-06-07T08:00", "https://example.com/news/river", "Example Feed"),
    ]
    assert "<p>" not in store.get(report.added[0]).text


def test_atom_feed(tmp_path, store, ingest_config):
    path = tmp_path / "feed.xml"
    path.write_text(ATOM, encoding="utf-8")
    report = ingest_paths(store, [path], ingest_config)
    assert report.rejected == [] and len(report.added) == 2
    assert _headers(store) == [
        ("Bridge reopens", "2019-06-06T08:22", "https://example.org/bridge", "Example Atom"),
        ("Library extends hours", "2019-06-07T08:00", "https://example.org/library", "Example Atom"),
    ]
    bridge = store.get(report.added[0])
    assert bridge.text == (
        "The old bridge reopened to traffic on Thursday after two years of repairs.\n\nDrivers welcomed the news."
    )


def test_a_folder_of_mixed_files(tmp_path, store, ingest_config):
    folder = tmp_path / "inbox"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text(GOOD_TEXT, encoding="utf-8")
    (folder / "b.rss").write_text(RSS, encoding="utf-8")
    write_jsonl(folder / "sub" / "c.jsonl.gz", [record(0), record(1)])
    (folder / "d.json").write_text(json.dumps(record(2)), encoding="utf-8")
    (folder / "e.html").write_text(HTML, encoding="utf-8")
    (folder / "f.bin").write_bytes(b"\x00\x01\x02" * 100)

    report = ingest_paths(store, [folder], ingest_config)

    assert len(report.added) == 1 + 2 + 2 + 1 + 1
    assert [r.origin for r in report.rejected] == [str(folder / "f.bin")]
    assert store.stats()["articles"] == 7


def test_hidden_files_and_folders_are_skipped(tmp_path, store, ingest_config):
    folder = tmp_path / "inbox"
    (folder / ".git").mkdir(parents=True)
    (folder / "story.txt").write_text(GOOD_TEXT, encoding="utf-8")
    (folder / ".hidden.txt").write_text("Hidden story about a river that flooded the valley.", encoding="utf-8")
    (folder / ".git" / "notes.txt").write_text("A git note that should never be ingested at all.", encoding="utf-8")

    assert list(iter_files([folder])) == [folder / "story.txt"]
    report = ingest_paths(store, [folder], ingest_config)
    assert len(report.added) == 1 and report.rejected == []


def test_a_nonexistent_path_is_rejected(tmp_path, store, ingest_config, good_file):
    missing = tmp_path / "missing.txt"
    report = ingest_paths(store, [missing, good_file], ingest_config)
    assert report.rejected == [Rejection(str(missing), "no such file or folder")]
    assert len(report.added) == 1


def test_reingesting_adds_nothing(tmp_path, store, ingest_config, good_file):
    first = ingest_paths(store, [good_file], ingest_config)
    second = ingest_paths(store, [good_file], ingest_config)
    assert len(first.added) == 1
    assert second.added == [] and second.duplicates == first.added


def test_progress_is_reported_in_bytes(store, ingest_config, good_file):
    seen = []
    ingest_paths(store, [good_file], ingest_config, progress=seen.append)
    assert seen == [good_file.stat().st_size]


def test_ingest_documents(store, ingest_config):
    docs = [
        RawDocument(origin="chat:1", text="Storm hits coast\n\nA storm hit the coast on Thursday, officials said."),
        RawDocument(origin="chat:2", text="Too short."),
    ]
    report = ingest_documents(store, docs, ingest_config)
    assert len(report.added) == 1
    assert [r.origin for r in report.rejected] == ["chat:2"]


def test_a_flood_of_bad_records_is_counted_not_kept(tmp_path, ingest_config):
    """A few kilobytes of `{}` lines must not become a rejection object (and an output line) per
    line: the report keeps the first few per file and counts the rest."""
    from index.models import MAX_REJECTIONS_PER_FILE
    from index.store import SqliteStore

    flood = tmp_path / "flood.jsonl.gz"
    flood.write_bytes(gzip.compress(b"{}\n" * 30_000 + b"\n" * 30_000))
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2, 3]", encoding="utf-8")
    with SqliteStore(tmp_path / "s.db") as store:
        report = ingest_paths(store, [flood, bad], ingest_config)
    assert report.rejected_total == 30_003
    assert len([r for r in report.rejected if r.origin.startswith(str(flood))]) == MAX_REJECTIONS_PER_FILE
    assert [r.reason for r in report.rejected if r.origin.startswith(str(bad))][:1]  # the next file still listed
    assert report.as_dict()["rejected_total"] == 30_003
    assert len(report.as_dict()["rejected"]) <= 2 * MAX_REJECTIONS_PER_FILE


def test_the_watched_folder_reads_only_new_or_changed_files(tmp_path, ingest_config, good_file):
    """Each tick of the watched folder reads only files it has not seen at their size and mtime,
    instead of re-reading (and re-rejecting) the whole folder."""
    import os

    from index.store import SqliteStore
    from index.watch import FolderWatch

    folder = tmp_path / "inbox"
    folder.mkdir()
    first = write_jsonl(folder / "a.jsonl", [record(1), record(2)])
    (folder / "junk.json").write_text("not json", encoding="utf-8")
    watch = FolderWatch(folder)
    with SqliteStore(tmp_path / "s.db") as store:
        assert sorted(p.name for p in watch.changed()) == ["a.jsonl", "junk.json"]
        report = watch.ingest(store, ingest_config)
        assert (len(report.added), report.rejected_total, report.files) == (2, 1, 2)
        again = watch.ingest(store, ingest_config)
        assert (again.files, again.rejected_total) == (0, 0)
        write_jsonl(first, [record(1), record(2), record(3)])
        os.utime(first, ns=(first.stat().st_atime_ns, first.stat().st_mtime_ns + 10**9))
        write_jsonl(folder / "b.jsonl", [record(4)])
        changed = watch.ingest(store, ingest_config)
        assert (changed.files, len(changed.added), len(changed.duplicates)) == (2, 2, 2)


def test_the_watched_folder_does_not_follow_links_out_of_itself(tmp_path, ingest_config):
    from index.watch import FolderWatch

    outside = tmp_path / "secret.txt"
    outside.write_text(GOOD_TEXT, encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    write_jsonl(elsewhere / "x.jsonl", [record(1)])
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "link.txt").symlink_to(outside)
    (folder / "dir").symlink_to(elsewhere, target_is_directory=True)
    write_jsonl(folder / "own.jsonl", [record(2)])
    (folder / "inner.jsonl").symlink_to(folder / "own.jsonl")
    assert sorted(p.name for p in FolderWatch(folder).changed()) == ["inner.jsonl", "own.jsonl"]


def test_an_article_dated_in_the_future_is_flagged_at_ingest(tmp_path, ingest_config):
    from index.store import SqliteStore

    docs = [RawDocument(origin="t1", text=GOOD_TEXT.replace("June 6, 2019", "January 1, 2100"), id="far"),
            RawDocument(origin="t2", text=GOOD_TEXT.replace("storm", "flood"), id="past")]
    with SqliteStore(tmp_path / "s.db") as store:
        report = ingest_documents(store, docs, ingest_config)
    assert report.added == ["far", "past"] and report.future == ["far"]
    assert report.as_dict()["future"] == ["far"]


def test_an_export_record_with_no_title_and_a_dateline_mark_is_titled_by_its_lede(tmp_path, store, ingest_config):
    lede = ("Families are spreading marigold petals across the old town square, lighting candles for their "
            "loved ones and painting their faces for the two days of the festival.")
    path = tmp_path / "export.jsonl"
    path.write_text(json.dumps({"id": "cnn-1", "title": "", "date": "2021-11-02",
                                "text": f"New York CNN —\n\n{lede}\n\nThe festival ends on Tuesday night."}),
                    encoding="utf-8")
    ingest_paths(store, [path], ingest_config)
    article = store.get("cnn-1")
    # cut at a word, within 120 characters, with an ellipsis
    assert article.title.endswith(" painting…") and len(article.title) <= 121
    assert lede.startswith(article.title[:-1] + " ")
    assert article.text.startswith("Families are spreading")  # the dateline mark is not story text
