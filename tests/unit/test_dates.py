"""Publication dates: ISO strings in UTC, a day when there is no time, None when not a full date."""

from __future__ import annotations

import pytest

from index.dates import from_struct_time, parse_date, parse_date_line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # RT's dateline: day, abbreviated month with a comma, year, time
        ("6 Jun, 2019 08:22", "2019-06-06T08:22"),
        # ISO 8601, UTC "Z"
        ("2019-06-06T08:22:00Z", "2019-06-06T08:22"),
        # ISO 8601 with an offset is converted to UTC
        ("2019-06-06T08:22:00+03:00", "2019-06-06T05:22"),
        ("2019-06-05T23:30:00-02:00", "2019-06-06T01:30"),  # crosses midnight into the next day
        # RFC 2822 (RSS pubDate)
        ("Thu, 06 Jun 2019 08:22:00 +0300", "2019-06-06T05:22"),
        ("Thu, 06 Jun 2019 08:22:00 GMT", "2019-06-06T08:22"),
        # a date without a time stays a day
        ("June 6, 2019", "2019-06-06"),
        ("2019-06-06", "2019-06-06"),
        # labels and a trailing "| Site" are noise
        ("Published: 6 Jun, 2019 08:22 | RT", "2019-06-06T08:22"),
        # US-style dateline with a named zone: 10:32 EDT is 14:32 UTC
        ("Updated 10:32 AM EDT, Thu June 6, 2019", "2019-06-06T14:32"),
    ],
)
def test_parse_date_formats(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "June 2019",  # no day: dateutil would fill in today's day
        "2019",  # a bare year
        "June 6",  # no year
        "garbage",
        "no digits at all here",
        "hello world 12",
        "",
        None,
        "31 Feb 2019",  # not a real day
    ],
)
def test_incomplete_or_invalid_dates_are_refused(text):
    assert parse_date(text) is None


@pytest.mark.parametrize("text", ["June 6, 1850", "1899-12-31", "2101-01-01", "9999-01-01", "0019-06-06"])
def test_years_out_of_range_are_refused(text):
    assert parse_date(text) is None


@pytest.mark.parametrize(("text", "expected"), [("1900-01-01", "1900-01-01"), ("2100-12-31", "2100-12-31")])
def test_range_limits_are_inclusive(text, expected):
    assert parse_date(text) == expected


def test_explicit_iso_midnight_keeps_its_time():
    assert parse_date("2019-06-06T00:00:00Z") == "2019-06-06T00:00"


def test_explicit_midnight_in_plain_form_keeps_its_time():
    assert parse_date("6 Jun, 2019 00:00") == "2019-06-06T00:00"


def test_parse_date_line_accepts_a_dateline():
    assert parse_date_line("6 Jun, 2019 08:22") == "2019-06-06T08:22"
    assert parse_date_line("  Updated 10:32 AM EDT, Thu June 6, 2019  ") == "2019-06-06T14:32"


def test_parse_date_line_refuses_prose_that_contains_a_date():
    sentence = "The minister said on June 6, 2019 that talks would resume soon."
    assert parse_date(sentence) is not None  # fuzzy parsing would find the date...
    assert parse_date_line(sentence) is None  # ...but the line is not a dateline
    long_prose = (
        "The minister said on June 6, 2019 that the talks would resume next week after a short pause."
    )
    assert parse_date_line(long_prose) is None


def test_parse_date_line_refuses_lines_without_a_full_date():
    assert parse_date_line("Huawei launches pilot 5G project") is None
    assert parse_date_line("June 2019") is None
    assert parse_date_line("Top 10 stories") is None


def test_from_struct_time():
    assert from_struct_time((2019, 6, 6, 8, 22, 0, 3, 157, 0)) == "2019-06-06T08:22"
    assert from_struct_time((2019, 6, 6, 0, 0, 0, 3, 157, 0)) == "2019-06-06"
    assert from_struct_time(None) is None
    assert from_struct_time((1800, 1, 1, 0, 0, 0, 0, 1, 0)) is None
    assert from_struct_time((2019, 13, 1, 0, 0, 0, 0, 1, 0)) is None
