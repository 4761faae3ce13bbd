"""What `newsbot ingest` tells an operator: each problem once, with its record, and nothing saved
in silence that was not understood."""

from __future__ import annotations

import gzip
import json

from bot.cli import main
from index.dates import parse_date
from index.ingest import ingest_paths, record_origin
from index.readers import record_to_document

WORDS = "Seven words of text in this article here, and some more words for good measure."


def test_a_rejected_record_names_its_file_once(tmp_path, store, ingest_config):
    path = tmp_path / "a.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"title": "x", "text": ["a", 1]}\n{broken\n'))
    report = ingest_paths(store, [path], ingest_config)
    assert [(r.origin, r.reason[:26]) for r in report.rejected] == [
        (f"{path}:1", 'its "text" field holds lis'), (f"{path}:2", "not valid JSON (JSONDecode")]
    assert all(str(path) not in r.reason for r in report.rejected)
    assert record_origin("f.json", "f.json[3]: no text") == ("f.json[3]", "no text")
    assert record_origin("f.txt", "empty file") == ("f.txt", "empty file")


def test_duplicates_are_listed_by_id_in_json(tmp_path, capsys):
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps({"id": "a1", "title": "T", "text": WORDS}) + "\n")
    store = str(tmp_path / "s.db")
    assert main(["--store", store, "ingest", "--no-index", str(path)]) == 0
    capsys.readouterr()
    assert main(["--store", store, "ingest", "--no-index", "--json", str(path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["duplicates"] == 1 and report["duplicate_ids"] == ["a1"]


def test_an_empty_folder_is_reported(tmp_path, store, ingest_config):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".hidden").write_text("x")
    report = ingest_paths(store, [tmp_path / "empty"], ingest_config)
    assert [r.reason for r in report.rejected] == ["empty folder: no files to read (hidden files are skipped)"]


def test_a_csv_export_is_read_by_its_header_and_one_without_text_is_refused(tmp_path, store, ingest_config):
    good = tmp_path / "export.csv"
    good.write_text(f'title,date,url,text\n"Harbour plan",2026-11-30,https://a.test/1,"{WORDS}"\n'
                    f'"Second, with a comma",1764000000,https://a.test/2,"Other words. {WORDS}"\n')
    bad = tmp_path / "numbers.csv"
    bad.write_text("a,b\n1,2\n")
    report = ingest_paths(store, [good, bad], ingest_config)
    assert len(report.added) == 2
    titles = {h.title: h.date for h in store.headers()}
    assert titles == {"Harbour plan": "2026-11-30", "Second, with a comma": "2025-11-24T16:00"}
    [refused] = report.rejected
    assert refused.origin == str(bad) and "CSV without a text column" in refused.reason


def test_unix_timestamps_are_dates_and_an_unreadable_date_is_a_warning(tmp_path, store, ingest_config):
    assert parse_date("1764000000") == "2025-11-24T16:00" == parse_date("1764000000000")
    assert parse_date("20261130") != "1970-08-23"  # a compact date is not taken for seconds
    assert record_to_document({"text": WORDS, "date": 1764000000}, "r", 10_000).date == "2025-11-24T16:00"
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps({"title": "T", "date": "not a date", "text": WORDS}) + "\n")
    report = ingest_paths(store, [path], ingest_config)
    assert len(report.added) == 1
    assert report.warnings == [f"{path}:1: date 'not a date' not understood; saved without a date"]


def test_a_text_given_as_paragraphs_is_joined():
    doc = record_to_document({"title": "T", "text": ["First paragraph.", "Second paragraph."]}, "r", 10_000)
    assert doc.text == "First paragraph.\n\nSecond paragraph."
