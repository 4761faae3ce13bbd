"""Date expressions in questions become a day window (or a recency wish) and leave the text."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from index.timeparse import future_marks, parse_time

NOW = date(2026, 11, 25)  # a Wednesday


def window(question: str, now: date = NOW):
    scope = parse_time(question, now)
    return scope.start, scope.end


def test_today_and_yesterday():
    scope = parse_time("What happened today in Port Alder?", NOW)
    assert (scope.start, scope.end) == (NOW, NOW)
    assert scope.text == "What happened in Port Alder?"
    assert window("Who resigned yesterday at Quillnest?") == (NOW - timedelta(days=1),) * 2
    assert parse_time("Who resigned yesterday at Quillnest?", NOW).text == "Who resigned at Quillnest?"


def test_today_s_as_a_possessive_is_no_date():
    assert window("Which country banned tobacco for today’s teens?") == (None, None)
    assert window("What are today's headlines?") == (None, None)


def test_future_marks_are_the_later_years_and_the_month_of_a_later_window():
    def marks(question):
        return future_marks(question, parse_time(question, NOW), NOW)

    assert marks("Who will win the 2034 FIFA World Cup?") == {"2034"}
    assert marks("What will the price of gold be in December 2029?") == {"2029", "December"}
    assert marks("What will Port Alder host in March 2027?") == {"2027", "March"}
    assert marks("Who won the 2022 World Cup?") == frozenset()
    assert marks("What happened this week?") == frozenset()


def test_this_week_covers_the_last_seven_days():
    start, end = window("What happened this week in the rail strike?")
    assert end == NOW
    assert start <= NOW - timedelta(days=NOW.weekday())  # at least since Monday
    assert start >= NOW - timedelta(days=8)
    assert parse_time("What happened this week in the rail strike?", NOW).text == "What happened in the rail strike?"


def test_last_week_is_before_this_week():
    start, end = window("Which trains ran last week in Port Alder?")
    assert start < end < NOW
    assert (end - start).days >= 6
    assert parse_time("Which trains ran last week in Port Alder?", NOW).text == "Which trains ran in Port Alder?"


@pytest.mark.parametrize("now", [
    pytest.param(NOW - timedelta(days=d), id=(NOW - timedelta(days=d)).strftime("%a"),
                 )
    for d in range(7)
])
def test_last_week_covers_the_previous_calendar_week(now):
    monday = now - timedelta(days=now.weekday() + 7)
    sunday = monday + timedelta(days=6)
    start, end = window("Which trains ran last week?", now)
    assert start <= monday and end >= sunday


def test_this_month_and_last_month():
    start, end = window("What did the bank decide this month about rates?")
    assert end == NOW and start <= NOW.replace(day=1)
    assert window("What did the bank decide last month about rates?") == (date(2026, 10, 1), date(2026, 10, 31))
    assert window("What did the bank decide last month?", date(2026, 1, 15)) == (date(2025, 12, 1), date(2025, 12, 31))
    assert window("What did the bank decide last month?", date(2024, 3, 31)) == (date(2024, 2, 1), date(2024, 2, 29))
    assert parse_time("What did the bank decide last month about rates?", NOW).text == "What did the bank decide about rates?"


def test_this_year():
    assert window("How many floods were there this year in Port Alder?") == (date(2026, 1, 1), NOW)


def test_month_and_year():
    scope = parse_time("What happened in June 2019 with Huawei?", NOW)
    assert (scope.start, scope.end) == (date(2019, 6, 1), date(2019, 6, 30))
    assert scope.text == "What happened with Huawei?"
    assert window("Who won the vote in February 2024 in Merrow?") == (date(2024, 2, 1), date(2024, 2, 29))


def test_year():
    scope = parse_time("What did MTS announce in 2019 about 5G?", NOW)
    assert (scope.start, scope.end) == (date(2019, 1, 1), date(2019, 12, 31))
    assert scope.text == "What did MTS announce about 5G?"


@pytest.mark.parametrize(
    ("now", "expected_start"),
    [
        (date(2026, 11, 25), date(2026, 3, 1)),  # March already came this year
        (date(2026, 3, 15), date(2026, 3, 1)),  # in March itself
        (date(2026, 2, 10), date(2025, 3, 1)),  # March not yet: last year's
    ],
)
def test_since_month(now, expected_start):
    scope = parse_time("What happened since March with the harbour?", now)
    assert (scope.start, scope.end) == (expected_start, now)
    assert scope.text == "What happened with the harbour?"


def test_since_month_with_year_and_since_year():
    assert window("What happened since March 2025 at the harbour?") == (date(2025, 3, 1), NOW)
    assert window("What happened since 2024 at the harbour?") == (date(2024, 1, 1), NOW)


def test_before_year():
    scope = parse_time("What happened before 2020 with Huawei?", NOW)
    assert (scope.start, scope.end) == (None, date(2019, 12, 31))
    assert scope.bounded
    assert scope.text == "What happened with Huawei?"


def test_on_a_day():
    scope = parse_time("What did MTS do on June 6, 2019 in Moscow?", NOW)
    assert (scope.start, scope.end) == (date(2019, 6, 6), date(2019, 6, 6))
    assert scope.text == "What did MTS do in Moscow?"
    assert window("What happened on Jan 3rd 2025 in Merrow?") == (date(2025, 1, 3), date(2025, 1, 3))


def test_on_a_day_written_day_first():
    scope = parse_time("What did MTS do on 6 June 2019 in Moscow?", NOW)
    assert (scope.start, scope.end) == (date(2019, 6, 6), date(2019, 6, 6))
    assert scope.text == "What did MTS do in Moscow?"


@pytest.mark.parametrize(
    ("now", "year"),
    [(date(2026, 11, 25), 2026), (date(2026, 11, 1), 2026), (date(2026, 10, 31), 2025), (date(2027, 2, 1), 2026)],
)
def test_month_without_year_is_the_most_recent_one(now, year):
    scope = parse_time("What interest rate did the bank set in November?", now)
    assert (scope.start, scope.end) == (date(year, 11, 1), date(year, 11, 30))
    assert scope.start <= now
    assert "november" not in scope.text.lower()
    assert scope.text.startswith("What interest rate did the bank set")


@pytest.mark.parametrize("word", ["latest", "most recent", "newest", "recent"])
def test_latest_means_recent(word):
    scope = parse_time(f"What is the {word} news about Quillnest?", NOW)
    assert scope.recent
    assert not scope.bounded
    assert word not in scope.text.lower()
    assert "Quillnest" in scope.text


def test_latest_combines_with_a_window():
    scope = parse_time("What is the latest from Kestrel in 2026?", NOW)
    assert scope.recent and (scope.start, scope.end) == (date(2026, 1, 1), date(2026, 12, 31))
    assert "latest" not in scope.text and "2026" not in scope.text


@pytest.mark.parametrize("question", [
    "Who won the election for mayor of Port Alder?",
    "How much will the harbour flood clean-up cost?",
    "What is the fine for breaking the hosepipe ban?",
    "Mayors of 14 coastal cities met in Port Alder",
])
def test_question_without_a_date_is_unchanged(question):
    scope = parse_time(question, NOW)
    assert scope.start is None and scope.end is None and not scope.recent
    assert not scope.bounded
    assert scope.text == question


@pytest.mark.parametrize("question", [
    "What happened on February 30, 2020 at the summit?",
    "What happened on June 31, 2019 in Moscow?",
    "What happened on Feb 29, 2023?",
    "What happened in Febtember 2020?",
])
def test_impossible_dates_do_not_crash(question):
    scope = parse_time(question, NOW)
    assert scope.text  # something is left to search for
    if scope.start is not None:
        assert scope.start <= scope.end


def test_impossible_day_sets_no_window_and_leaves_the_rest():
    scope = parse_time("What happened on February 30, 2020 at the summit?", NOW)
    assert not scope.bounded
    assert scope.text == "What happened at the summit?"


def test_question_that_is_only_a_date_keeps_its_text():
    scope = parse_time("yesterday", NOW)
    assert (scope.start, scope.end) == (NOW - timedelta(days=1),) * 2
    assert scope.text  # never empty: the search needs something


@pytest.mark.parametrize(("question", "window"), [
    ("What did the governor say about the June rate cut?", ("2026-06-01", "2026-06-30")),
    ("How much did the December floods cost?", ("2025-12-01", "2025-12-31")),  # the latest December
    ("Who led the March on Rome?", None),  # a noun, not a date
    ("Who won the May election?", None),  # "May" is also a verb and a surname: left alone
])
def test_a_month_naming_an_event_dates_it(question, window):
    scope = parse_time(question, NOW)
    got = (scope.start.isoformat(), scope.end.isoformat()) if scope.bounded else None
    assert got == window
