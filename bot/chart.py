"""`/timeline TOPIC` shown to people: a PNG bar chart for Telegram, a sparkline for the terminal.

The numbers come from index.timeline; this module only draws them. Matplotlib is driven through
Figure + FigureCanvasAgg, never pyplot: pyplot keeps every figure in a process-wide registry (a
leak in a long-running bot) and is not meant for worker threads. Every text that carries user or
article input is drawn with mathtext and TeX off, so a topic like "$5 price" prints as typed instead
of failing to parse as a formula.
"""

from __future__ import annotations

import functools
import io
import threading
import unicodedata
import warnings
from collections.abc import Callable
from datetime import date

from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from index.timeline import MONTH, WEEK, Bucket, Timeline

CAPTION_LIMIT = 1024  # Telegram's limit for a photo caption
TEXT_WIDTH = 80  # terminal columns
PNG_HEADLINE = 60  # characters of the peak headline on the chart: beyond that it crowds the bars
PNG_TOPIC = 50
CAPTION_HEADLINE = 300
CAPTION_TOPIC = 100
MAX_XTICKS = 12  # more date labels than this do not fit a phone-sized chart side by side
SPARKS = "▁▂▃▄▅▆▇█"
ZERO_SPARK = " "  # an empty period is a gap, so "▁" always means at least one article

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_FIGSIZE = (10, 5)  # inches at _DPI: 1000 x 500 px
_DPI = 100
_BAR_COLOUR = "#8fb3d9"
_PEAK_COLOUR = "#d9534f"
_INK = "#222222"
_MUTED = "#666666"
_PLAIN = {"usetex": False, "parse_math": False}  # user text is never TeX or mathtext
# Tried in order for every glyph: matplotlib falls back per character along this list. The last
# resort font (bundled with matplotlib >= 3.11) draws a "which script is missing" box, so emoji or
# CJK in a headline degrade to a visible placeholder instead of a warning and an empty square.
_FONT_CANDIDATES = (
    "DejaVu Sans", "Noto Sans", "Noto Sans CJK JP", "Noto Sans Arabic", "Noto Sans Hebrew",
    "Noto Emoji", "Symbola", "Last Resort High-Efficiency",
)
# warnings.catch_warnings swaps the process-wide filter list (Python < 3.14), and matplotlib's text
# layout shares font caches, so charts are drawn one at a time; a render takes ~0.1 s.
_RENDER_LOCK = threading.Lock()


# --- shared wording --------------------------------------------------------------------------

def _columns(text: str) -> int:
    """Terminal columns: wide (CJK, emoji) characters take two, combining marks none."""
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
               for ch in text)


def shorten(text: str, limit: int, measure: Callable[[str], int] = len) -> str:
    """`text` on one line, cut to `limit` (as counted by `measure`) with "…", at a word if one is near.

    Headlines arrive with newlines and runs of spaces from scraped pages; those would break a
    chart label or a terminal line, so whitespace is always collapsed.
    """
    text = " ".join(text.split())
    if measure(text) <= limit:
        return text
    cut = ""
    for ch in text:
        if measure(cut + ch + "…") > limit:
            break
        cut += ch
    space = cut.rfind(" ")
    if space >= len(cut) * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:-–—") + "…"


def _plural(count: int, word: str = "article") -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def period_label(start: date, granularity: str) -> str:
    """`3 Jun 2019` for the week starting that Monday, `Jun 2019` for a month; locale-independent."""
    month_year = f"{_MONTHS[start.month - 1]} {start.year}"
    return f"{start.day} {month_year}" if granularity == WEEK else month_year


def _peak_period(timeline: Timeline) -> str:
    assert timeline.peak is not None
    label = period_label(timeline.peak.start, timeline.granularity)
    return f"week of {label}" if timeline.granularity == WEEK else label


def _span(timeline: Timeline, joiner: str = " … ") -> str:
    first, last = (period_label(b.start, timeline.granularity) for b in (timeline.buckets[0], timeline.buckets[-1]))
    return first if first == last else f"{first}{joiner}{last}"


def _hidden_notes(timeline: Timeline) -> list[str]:
    """What the chart leaves out, so a count that looks low is never silently so."""
    notes = []
    if timeline.undated:
        notes.append(f"{timeline.undated} undated not shown")
    if timeline.clipped:
        since = period_label(timeline.buckets[0].start, timeline.granularity) if timeline.buckets else "the range"
        notes.append(f"{timeline.clipped} before {since} not shown")
    return notes


def _nothing_dated(timeline: Timeline, limit: int, wrap: Callable[[str], str] = str) -> str:
    topic = wrap(shorten(timeline.topic, limit))
    if not timeline.total:
        return f"No articles match “{topic}”."
    return f"No dated articles match “{topic}”." + "".join(f" ({note})" for note in _hidden_notes(timeline))


def _headline(timeline: Timeline, limit: int, measure: Callable[[str], int] = len) -> str:
    title = timeline.peak_item.title if timeline.peak_item else ""
    return shorten(title, limit, measure) if title.strip() else "(untitled)"


# --- terminal --------------------------------------------------------------------------------

def sparkline(counts: list[int]) -> str:
    """One block per period, height proportional to the count, rounded up so that any article at all
    is visible; the largest count always gets "█" and empty periods get ZERO_SPARK."""
    top = max(counts, default=0)
    return "".join(SPARKS[-(-count * len(SPARKS) // top) - 1] if count > 0 else ZERO_SPARK for count in counts)


def _spark_lines(timeline: Timeline, width: int = TEXT_WIDTH) -> list[str]:
    """The sparkline in lines of at most `width` columns; when it needs several, each line starts
    with its first period so a reader can tell where the second line picks up."""
    spark = sparkline([b.count for b in timeline.buckets])
    if len(spark) <= width:
        return [spark]
    label_width = len(period_label(date(2000, 11, 25), timeline.granularity))  # the longest label shape
    step = width - label_width - 1
    return [
        f"{period_label(timeline.buckets[i].start, timeline.granularity):>{label_width}} {spark[i:i + step]}".rstrip()
        for i in range(0, len(spark), step)
    ]


def timeline_text(timeline: Timeline) -> str:
    """The terminal /timeline: heading, sparkline, range, peak with its headline, and what is hidden.

    Every line fits TEXT_WIDTH columns; empty periods are blanks in the sparkline (see ZERO_SPARK).
    """
    if timeline.peak is None:
        return _nothing_dated(timeline, 40)
    heading = f"“{shorten(timeline.topic, 40, _columns)}”: {_counted(timeline)}"
    peak = f"Peak: {_peak_period(timeline)} — {_plural(timeline.peak.count)}"
    footer = " ".join([_plural(timeline.total, "article") + " in all"] + [f"({n})" for n in _hidden_notes(timeline)])
    lines = [heading, *_spark_lines(timeline), _span(timeline), peak,
             f"  “{_headline(timeline, TEXT_WIDTH - 4, _columns)}”", footer]
    return "\n".join(shorten(line, TEXT_WIDTH, _columns) if _columns(line) > TEXT_WIDTH else line for line in lines)


def chart_caption(timeline: Timeline) -> str:
    """Plain text under the Telegram photo: what the chart shows in words, for readers and for
    notifications where the picture is not shown. The caller escapes it for HTML if needed."""
    if timeline.peak is None:
        return _nothing_dated(timeline, CAPTION_TOPIC)
    parts = [
        (f"“{shorten(timeline.topic, CAPTION_TOPIC)}”: {_counted(timeline)}, "
         f"{_span(timeline, ' – ')}."),
        f"Peak: {_peak_period(timeline)}, {_plural(timeline.peak.count)}: “{_headline(timeline, CAPTION_HEADLINE)}”.",
    ]
    notes = _hidden_notes(timeline)
    if notes:
        parts.append("; ".join(notes) + ".")
    caption = "\n".join(parts)
    return caption if len(caption) <= CAPTION_LIMIT else shorten(caption, CAPTION_LIMIT)


# --- PNG -------------------------------------------------------------------------------------

@functools.cache
def _font_families(bold: bool = False) -> tuple[str, ...]:
    """The candidates this machine has (in the weight asked for): matplotlib logs a complaint for
    every family it cannot find, and for a bold request that a family has no bold face for."""
    available = set()
    for entry in font_manager.fontManager.ttflist:
        weight = font_manager.weight_dict.get(entry.weight, 400) if isinstance(entry.weight, str) else entry.weight
        if weight >= 600 or not bold:
            available.add(entry.name)
    return tuple(name for name in _FONT_CANDIDATES if name in available) or ("sans-serif",)


def _text_style(bold: bool = False, **extra: object) -> dict[str, object]:
    weight = {"fontweight": "bold"} if bold else {}
    return {**_PLAIN, "fontfamily": list(_font_families(bold)), **weight, **extra}


def _isolated(text: str) -> str:
    """`text` inside Unicode directional isolates (FSI…PDI): without them an Arabic or Hebrew topic
    drags the neighbouring ":" and count into right-to-left order and the title reads scrambled."""
    return f"\u2068{text}\u2069"


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _x_ticks(buckets: list[Bucket], granularity: str) -> list[tuple[int, str]]:
    """(bar index, label) pairs: every bar while they fit, else month starts thinned to round steps
    (every 2, 3, 6 months, then years) so labels stay legible and land on familiar boundaries."""
    if len(buckets) <= MAX_XTICKS:
        picks = list(range(len(buckets)))
        step = 1
    else:
        anchors = [i for i, b in enumerate(buckets) if granularity == MONTH or b.start.day <= 7]
        for step in (1, 2, 3, 6, 12, 24, 60, 120):
            picks = [i for i in anchors if _month_index(buckets[i].start) % step == 0]
            if len(picks) <= MAX_XTICKS:
                break
        picks = picks or [0]
    ticks: list[tuple[int, str]] = []
    shown_year = None
    for i in picks:
        start = buckets[i].start
        if step >= 12:
            ticks.append((i, str(start.year)))
            continue
        label = _MONTHS[start.month - 1]
        if granularity == WEEK and len(buckets) <= MAX_XTICKS:
            label = f"{start.day} {label}"
        if start.year != shown_year:
            label += f"\n{start.year}"
            shown_year = start.year
        ticks.append((i, label))
    return ticks


def _title(timeline: Timeline) -> str:
    return f"“{_isolated(shorten(timeline.topic, PNG_TOPIC))}”: {_counted(timeline)}"


def _counted(timeline: Timeline) -> str:
    """"12 articles, counted by week" (not "12 articles per week", which reads as a rate)."""
    return f"{_plural(timeline.charted)}, counted by {timeline.granularity}"


def _draw_bars(ax: Axes, timeline: Timeline) -> None:
    assert timeline.peak is not None
    counts = [b.count for b in timeline.buckets]
    peak_at = timeline.buckets.index(timeline.peak)
    n = len(counts)
    colours = [_PEAK_COLOUR if i == peak_at else _BAR_COLOUR for i in range(n)]
    ax.bar(range(n), counts, width=0.8, color=colours)
    pad = max(6 - n, 0) / 2 + 0.6  # a lone bar stays bar-shaped instead of filling the plot
    ax.set_xlim(-pad, n - 1 + pad)
    ax.set_ylim(0, timeline.peak.count * 1.3 + 0.5)  # headroom for the peak's two-line note
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    positions, labels = zip(*_x_ticks(timeline.buckets, timeline.granularity), strict=True)
    ax.set_xticks(list(positions), list(labels), **_PLAIN)
    ax.tick_params(labelsize=12, colors=_MUTED)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    _annotate_peak(ax, timeline, peak_at, n)


def _annotate_peak(ax: Axes, timeline: Timeline, peak_at: int, n: int) -> None:
    """Count and headline above the peak bar, aligned away from the nearer edge so it stays inside."""
    assert timeline.peak is not None
    where = (peak_at + 0.5) / n
    align = "left" if where < 0.3 and n > 2 else "right" if where > 0.7 and n > 2 else "center"
    note = f"{timeline.peak.count} · {_peak_period(timeline)}\n“{_isolated(_headline(timeline, PNG_HEADLINE))}”"
    ax.annotate(note, xy=(peak_at, timeline.peak.count), xytext=(0, 6), textcoords="offset points",
                **_text_style(ha=align, va="bottom", fontsize=12, color=_INK))


def _draw(fig: Figure, timeline: Timeline) -> None:
    ax = fig.add_subplot()
    if timeline.peak is None:
        ax.set_axis_off()
        ax.text(0.5, 0.5, _nothing_dated(timeline, PNG_TOPIC, _isolated), transform=ax.transAxes,
                **_text_style(ha="center", va="center", fontsize=14, color=_MUTED))
        return
    ax.set_title(_title(timeline), loc="left", **_text_style(bold=True, fontsize=16, color=_INK))
    _draw_bars(ax, timeline)
    notes = _hidden_notes(timeline)
    if notes:
        ax.set_xlabel("; ".join(notes), loc="right", **_text_style(fontsize=10, color=_MUTED))


def timeline_png(timeline: Timeline) -> bytes:
    """The chart as PNG bytes, 1000 x 500 px: bars per period, the peak in red with its headline.

    Safe to call from worker threads. Glyphs no installed font has (emoji, CJK on a bare server)
    become placeholder boxes; matplotlib's "Glyph … missing" warnings are silenced only around this
    drawing, since a headline is data the bot cannot fix.
    """
    fig = Figure(figsize=_FIGSIZE, dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    with _RENDER_LOCK, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph .* missing from")
        _draw(fig, timeline)
        fig.savefig(buffer, format="png", dpi=_DPI)
    return buffer.getvalue()
