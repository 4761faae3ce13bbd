"""End to end on real data from ../shared: a scraped RT page and the first records of the eval set."""

from __future__ import annotations

import gzip
import itertools
import json

import pytest

from index.articles import normalise_url
from index.ingest import ingest_paths

pytestmark = pytest.mark.slow

HEADLINE = "Huawei launches pilot 5G project with major Russian telecom firm amid US trade row"
N_RECORDS = 300


def test_scraped_rt_page(shared_dir, store, ingest_config):
    sample = shared_dir / "samples" / "rt-huawei-mts-5g-2019-06-06.txt"
    report = ingest_paths(store, [sample], ingest_config)
    assert report.rejected == [] and len(report.added) == 1

    article = store.get(report.added[0])
    assert article.title == HEADLINE
    assert article.date == "2019-06-06T08:22"
    assert article.source == "rt.com"
    assert article.text.startswith("Blacklisted in the US")
    for junk in ("icon", "Also on rt.com", "If you like this story"):
        assert junk not in article.text
    assert article.text.count(HEADLINE) == 0
    assert "The parties signed an agreement at the Kremlin on Wednesday." in [s.text for s in article.sentences]
    assert all(s.text in article.text for s in article.sentences)
    assert store.integrity_check() == []


@pytest.fixture
def eval_head(shared_dir, tmp_path):
    """The first N records of the eval articles, streamed into a small temporary .jsonl.gz."""
    source = shared_dir / "eval" / "articles.jsonl.gz"
    if not source.is_file():
        pytest.skip(f"../shared not present: {source} is missing")
    target = tmp_path / "head.jsonl.gz"
    records = []
    with gzip.open(source, "rb") as src, gzip.open(target, "wb") as dst:
        for line in itertools.islice(src, N_RECORDS):
            dst.write(line)
            records.append(json.loads(line))
    return target, records


def test_eval_records_keep_ids_and_dates(eval_head, store, ingest_config):
    path, records = eval_head
    assert len(records) == N_RECORDS
    by_id = {r["id"]: r for r in records}

    report = ingest_paths(store, [path], ingest_config)

    assert report.rejected == []
    assert len(report.added) + len(report.duplicates) == N_RECORDS
    assert store.stats()["articles"] == N_RECORDS - len(report.duplicates)
    assert all(i.startswith("rtqa-") and i in by_id for i in report.added)
    for article_id in report.added:
        article = store.get(article_id)
        assert article.date == by_id[article_id]["date"]
        assert article.url == normalise_url(by_id[article_id]["url"])
    assert store.integrity_check() == []

    again = ingest_paths(store, [path], ingest_config)
    assert again.added == [] and again.rejected == []
    assert len(again.duplicates) == N_RECORDS
    assert store.stats()["articles"] == N_RECORDS - len(report.duplicates)
