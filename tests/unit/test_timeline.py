"""/timeline: counting matching articles per week or month, and drawing that as a PNG, a terminal
sparkline and a photo caption."""

from __future__ import annotations

import io
import subprocess
import sys
import unicodedata
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from bot.chart import (
    CAPTION_LIMIT,
    MAX_XTICKS,
    SPARKS,
    ZERO_SPARK,
    _x_ticks,
    chart_caption,
    sparkline,
    timeline_png,
    timeline_text,
)
from index.timeline import Bucket, Timeline, TimelineItem, build_timeline, parse_day

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MONDAY = date(2019, 6, 3)


def item(day: str | None, title: str = "A headline", score: float = 0.5, article_id: str = "a") -> TimelineItem:
    return TimelineItem(date=day, title=title, article_id=article_id, score=score)


def weekly(counts: list[int], start: date = MONDAY, title: str = "Story") -> list[TimelineItem]:
    """`counts[i]` items dated on the Wednesday of week i after `start`."""
    return [item((start + timedelta(weeks=week, days=2)).isoformat(), f"{title} {week}.{n}", article_id=f"{week}.{n}")
            for week, count in enumerate(counts) for n in range(count)]


def columns(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


# --- bucketing -------------------------------------------------------------------------------

def test_short_span_is_charted_in_weeks():
    tl = build_timeline("t", [item("2019-06-03"), item("2019-11-25")])  # 26 weekly bars
    assert tl.granularity == "week"
    assert len(tl.buckets) == 26


def test_long_span_is_charted_in_months():
    tl = build_timeline("t", [item("2019-06-03"), item("2019-12-02")])  # would be 27 weekly bars
    assert tl.granularity == "month"
    assert [b.start for b in tl.buckets] == [date(2019, m, 1) for m in range(6, 13)]


def test_explicit_granularity_overrides_auto():
    assert build_timeline("t", [item("2019-06-03")], granularity="month").granularity == "month"
    tl = build_timeline("t", [item("2017-01-02"), item("2019-06-03")], granularity="week", max_buckets=200)
    assert tl.granularity == "week" and len(tl.buckets) == 127


def test_iso_weeks_start_on_monday():
    tl = build_timeline("t", [item("2019-06-09"), item("2019-06-10"), item("2019-06-03")])  # Sun, Mon, Mon
    assert [(b.start, b.count) for b in tl.buckets] == [(date(2019, 6, 3), 2), (date(2019, 6, 10), 1)]
    assert all(b.start.weekday() == 0 for b in tl.buckets)


def test_week_across_new_year_starts_in_december():
    tl = build_timeline("t", [item("2020-01-01")])
    assert tl.buckets == [Bucket(date(2019, 12, 30), 1)]


def test_months_start_on_the_first():
    tl = build_timeline("t", [item("2019-01-31"), item("2019-12-01")], granularity="month")
    assert all(b.start.day == 1 for b in tl.buckets)
    assert (tl.buckets[0].start, tl.buckets[-1].start) == (date(2019, 1, 1), date(2019, 12, 1))


def test_empty_periods_are_zero_filled_and_contiguous():
    tl = build_timeline("t", weekly([2, 0, 0, 3, 0, 1]))
    assert [b.count for b in tl.buckets] == [2, 0, 0, 3, 0, 1]
    assert [b.start for b in tl.buckets] == [MONDAY + timedelta(weeks=i) for i in range(6)]
    monthly = build_timeline("t", [item("2019-01-15"), item("2019-04-02")], granularity="month")
    assert [(b.start.month, b.count) for b in monthly.buckets] == [(1, 1), (2, 0), (3, 0), (4, 1)]


def test_peak_is_the_busiest_period_with_its_best_scoring_headline():
    items = [
        item("2019-06-04", "Elsewhere but the best score overall", score=0.99, article_id="x"),
        item("2019-06-11", "Weak match", score=0.2, article_id="a"),
        item("2019-06-12", "Strongest match of the busy week", score=0.8, article_id="b"),
        item("2019-06-13", "Medium match", score=0.5, article_id="c"),
    ]
    tl = build_timeline("t", items)
    assert tl.peak == Bucket(date(2019, 6, 10), 3)
    assert tl.peak_item is not None and tl.peak_item.article_id == "b"
    assert tl.peak_item.title == "Strongest match of the busy week"


def test_peak_ties_go_to_the_earliest_period():
    tl = build_timeline("t", weekly([1, 2, 0, 2, 1]))
    assert tl.peak == Bucket(MONDAY + timedelta(weeks=1), 2)


def test_equal_scores_keep_the_first_item_given():
    tl = build_timeline("t", [item("2019-06-04", "first", 0.5, "1"), item("2019-06-05", "second", 0.5, "2")])
    assert tl.peak_item is not None and tl.peak_item.title == "first"


@pytest.mark.parametrize("bad", [None, "", "   ", "not a date", "2019-13-45", "06/06/2019", "2019-06-06T25:00"])
def test_undated_and_unparsable_dates_are_counted_not_charted(bad):
    tl = build_timeline("t", [item("2019-06-06"), item(bad)])
    assert (tl.undated, tl.total, tl.charted) == (1, 2, 1)


def test_nothing_dated_gives_an_empty_timeline():
    tl = build_timeline("t", [item(None), item("garbage")])
    assert (tl.buckets, tl.peak, tl.peak_item, tl.undated, tl.total) == ([], None, None, 2, 2)
    assert tl.granularity in ("week", "month")
    assert build_timeline("t", []).total == 0


def test_clipping_keeps_the_most_recent_buckets():
    items = [item(f"2019-{m:02d}-10", article_id=str(m)) for m in range(1, 11)] + [item("2019-10-20")]
    tl = build_timeline("t", items, granularity="month", max_buckets=3)
    assert [(b.start, b.count) for b in tl.buckets] == [(date(2019, 8, 1), 1), (date(2019, 9, 1), 1),
                                                        (date(2019, 10, 1), 2)]
    assert tl.clipped == 7
    assert tl.total == tl.charted + tl.undated + tl.clipped == 11
    assert tl.peak == Bucket(date(2019, 10, 1), 2)


def test_default_cap_is_104_buckets():
    tl = build_timeline("t", [item("2000-01-15"), item("2019-06-06")])
    assert len(tl.buckets) == 104 and tl.buckets[-1].start == date(2019, 6, 1) and tl.clipped == 1


@pytest.mark.parametrize(("stamp", "day"), [
    ("2019-06-09T23:30:00-02:00", date(2019, 6, 10)),  # Sunday evening in Brazil is Monday in UTC
    ("2019-06-10T00:30:00+02:00", date(2019, 6, 9)),  # Monday just after midnight in Berlin is Sunday in UTC
    ("2019-06-09T23:59:59Z", date(2019, 6, 9)),
    ("2019-06-09T22:00:00z", date(2019, 6, 9)),
    ("2019-06-10T08:22", date(2019, 6, 10)),  # naive: already UTC
    ("2019-06-10", date(2019, 6, 10)),
])
def test_datetimes_count_on_their_utc_day(stamp, day):
    assert parse_day(stamp) == day
    tl = build_timeline("t", [item(stamp)])
    assert tl.buckets[0].start == day - timedelta(days=day.weekday())


def test_timezone_moves_an_article_into_the_next_week():
    tl = build_timeline("t", [item("2019-06-09T23:30:00-02:00"), item("2019-06-09T12:00:00Z")])
    assert [(b.start, b.count) for b in tl.buckets] == [(date(2019, 6, 3), 1), (date(2019, 6, 10), 1)]


def test_items_may_be_a_one_shot_iterator():
    tl = build_timeline("t", (i for i in weekly([1, 2])))
    assert tl.total == 3 and tl.charted == 3


@pytest.mark.parametrize("kwargs", [{"granularity": "day"}, {"max_buckets": 0}])
def test_bad_arguments_are_refused(kwargs):
    with pytest.raises(ValueError):
        build_timeline("t", [item("2019-06-06")], **kwargs)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.dates(date(1990, 1, 1), date(2030, 12, 31)).map(date.isoformat)), max_size=40),
    st.sampled_from(["auto", "week", "month"]),
    st.integers(1, 120),
)
def test_every_item_is_accounted_for(days, granularity, cap):
    tl = build_timeline("t", [item(d) for d in days], granularity, cap)
    assert tl.total == len(days) == tl.charted + tl.undated + tl.clipped
    assert len(tl.buckets) <= cap
    if tl.buckets:
        assert tl.peak is not None and tl.peak.count == max(b.count for b in tl.buckets) >= 1
        assert tl.buckets[-1].count >= 1  # the newest article's period is never clipped
        step = {"week": lambda d: d + timedelta(weeks=1),
                "month": lambda d: date(d.year + d.month // 12, d.month % 12 + 1, 1)}[tl.granularity]
        assert all(step(a.start) == b.start for a, b in zip(tl.buckets, tl.buckets[1:]))


# --- PNG -------------------------------------------------------------------------------------

def render_quietly(tl: Timeline) -> bytes:
    """timeline_png with every warning turned into an error, checking it leaves the filters as found."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        before = list(warnings.filters)
        png = timeline_png(tl)
        assert warnings.filters == before
    return png


def decoded_size(png: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        return image.size


def test_png_is_a_decodable_phone_sized_image():
    png = render_quietly(build_timeline("Huawei", weekly([3, 0, 5, 8, 2, 1, 4])))
    assert png.startswith(PNG_SIGNATURE)
    width, height = decoded_size(png)
    assert abs(width - 1000) <= 20 and abs(height - 500) <= 20


@pytest.mark.parametrize(("topic", "items"), [
    ("single", [item("2019-06-06", "Only one")]),
    ("Путин", [item("2019-06-06", "Путин и Huawei 🚀 подписали соглашение о 5G " * 5)]),
    ("مرحبا 5G", weekly([1, 4, 2], title="هواوي توقع اتفاقا مع شركة الاتصالات الروسية")),
    ("$5 price", weekly([2, 1], title="Costs rise from $5 to $7")),
    ("$\\frac{broken", weekly([1, 3], title="$\\nope{ $x^$ mathtext would choke on this")),
    ("中文 emoji 🎉 " * 20, weekly([1, 2, 3], title="新闻 🎉" * 40)),
])
def test_png_survives_awkward_text(topic, items):
    assert render_quietly(build_timeline(topic, items)).startswith(PNG_SIGNATURE)


def test_png_for_a_timeline_without_dated_articles():
    assert decoded_size(render_quietly(build_timeline("nothing", [item(None)])))[0] > 0


def test_png_renders_long_spans_and_from_threads():
    long = build_timeline("t", weekly([i % 7 for i in range(104)]), granularity="week")
    monthly = build_timeline("t", [item(f"{y}-{m:02d}-03") for y in range(2011, 2020) for m in range(1, 13)])
    with ThreadPoolExecutor(max_workers=2) as pool:
        pngs = list(pool.map(timeline_png, [long, monthly, long]))
    assert all(p.startswith(PNG_SIGNATURE) for p in pngs)
    assert pngs[0] == pngs[2]  # deterministic, and no state bleeds between concurrent renders


@pytest.mark.parametrize(("counts", "granularity"), [([1] * 104, "week"), ([1] * 104, "month"), ([1] * 20, "week")])
def test_dates_on_the_x_axis_are_thinned_out(counts, granularity):
    tl = build_timeline("t", weekly(counts), granularity=granularity)
    ticks = _x_ticks(tl.buckets, tl.granularity)
    assert 2 <= len(ticks) <= MAX_XTICKS
    assert all(0 <= i < len(tl.buckets) for i, _ in ticks)


def test_rendering_never_touches_pyplot():
    code = ("import sys; from bot.chart import timeline_png; from index.timeline import build_timeline, TimelineItem;"
            "timeline_png(build_timeline('t', [TimelineItem('2019-06-06', 'x', 'a', 1.0)]));"
            "assert 'matplotlib.pyplot' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --- terminal and caption --------------------------------------------------------------------

def spark_row(text: str) -> str:
    return next(line for line in text.splitlines() if line and set(line) <= set(SPARKS + ZERO_SPARK))


def test_sparkline_heights_follow_the_counts():
    counts = [0, 1, 2, 3, 5, 8, 13, 21, 34]
    line = sparkline(counts)
    assert len(line) == len(counts)
    assert line[0] == ZERO_SPARK and line[-1] == "█"
    heights = [SPARKS.index(ch) for ch in line[1:]]
    assert heights == sorted(heights)
    assert sparkline([3, 0, 3]) == f"█{ZERO_SPARK}█"


def test_text_shows_sparkline_range_total_and_peak():
    items = weekly([1, 0, 4, 2], title="Huawei signs 5G deal") + [item(None), item("junk")]
    text = timeline_text(build_timeline("Huawei", items))
    assert spark_row(text) == sparkline([1, 0, 4, 2])
    assert "3 Jun 2019 … 24 Jun 2019" in text
    assert "9 articles in all" in text  # 7 dated + 2 undated
    assert "week of 17 Jun 2019" in text and "4 articles" in text and "Huawei signs 5G deal 2." in text
    assert "(2 undated not shown)" in text


def test_text_labels_months_by_month_and_year():
    text = timeline_text(build_timeline("t", [item("2019-06-06"), item("2019-12-20"), item("2019-12-21")]))
    assert "Jun 2019 … Dec 2019" in text and "Peak: Dec 2019 — 2 articles" in text


def test_text_wraps_long_sparklines_within_80_columns():
    counts = [i % 9 for i in range(104)]
    tl = build_timeline("a very long topic " * 10, weekly(counts, title="Заголовок 🎉 " * 30), granularity="week")
    text = timeline_text(tl)
    lines = text.splitlines()
    assert all(columns(line) <= 80 for line in lines), lines
    spark_lines = [line for line in lines if set(line) & set(SPARKS)]
    assert len(spark_lines) >= 2
    assert "".join(ch for line in spark_lines for ch in line if ch in SPARKS).count("█") == counts.count(8)


def test_text_when_nothing_is_dated():
    assert timeline_text(build_timeline("Huawei", [item(None)])) == \
        "No dated articles match “Huawei”. (1 undated not shown)"
    assert "No articles match “Huawei”" in timeline_text(build_timeline("Huawei", []))


def test_caption_is_short_plain_and_names_the_peak():
    items = weekly([1, 3], title="Huawei & MTS <sign> " + "deal " * 2000) + [item(None)]
    caption = chart_caption(build_timeline("Huawei " * 300, items))
    assert len(caption) <= CAPTION_LIMIT
    assert "week of 10 Jun 2019" in caption and "Huawei & MTS <sign>" in caption  # plain: the caller escapes
    assert "3 Jun 2019 – 10 Jun 2019" in caption and "1 undated not shown" in caption
    assert "No dated articles" in chart_caption(build_timeline("t", [item(None)]))


def test_text_and_caption_report_clipped_articles():
    tl = build_timeline("t", [item("2019-01-10"), item("2019-05-10"), item("2019-06-10")], "month", max_buckets=2)
    assert "1 before May 2019 not shown" in timeline_text(tl)
    assert "1 before May 2019 not shown" in chart_caption(tl)
