"""Answers as text: plain for the terminal, HTML for Telegram (every piece of article text escaped).

Quotes from the same article are shown together under one attribution (title, date, link), in
the article's own order, so a reader sees at a glance which story says what and when.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby

from index.answers import Answer, Quote

TELEGRAM_LIMIT = 4096
QUOTE_CHUNK = 2800  # a single sentence longer than this is spread over several blockquotes
TITLE_MAX = 300  # attribution stays short enough that chunk + attribution fit one message
URL_MAX = 1000


def short(text: str, limit: int) -> str:
    """Stored text bounded for a message: whatever a title, a source or a record holds, the
    message it goes into stays under Telegram's limit for every reader."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escaped(text: str, limit: int) -> str:
    """`text` HTML-escaped in at most `limit` characters, shortened with "…" where needed, never
    cut inside an entity: escaping can make stored text six times longer, so a bound on the raw
    text alone does not bound the message."""
    if len(text) * 6 <= limit:
        return html.escape(text)
    out: list[str] = []
    used = 0
    for ch in text:
        piece = html.escape(ch)
        if used + len(piece) > limit - 1:
            return "".join(out) + "…"
        out.append(piece)
        used += len(piece)
    return "".join(out)


def format_date(iso: str | None) -> str:
    """`6 Jun 2019 08:22`, `6 Jun 2019`, or `date unknown`: never a made-up time."""
    if not iso:
        return "date unknown"
    try:
        value = datetime.fromisoformat(iso)
    except ValueError:
        return short(iso, 40)  # kept as stored, but never a stored essay
    day = f"{value.day} {value:%b %Y}"
    return f"{day} {value:%H:%M}" if "T" in iso else day


def _no_answer_lines(answer: Answer) -> list[str]:
    if answer.note:
        lines = [answer.note]
    else:
        lines = ["Nothing in the store answers that." if answer.question else "Ask me a question about the news."]
    if answer.suggestions:
        lines.append("Closest stories I have:")
    return lines


def _by_article(quotes: list[Quote]) -> list[list[Quote]]:
    return [list(group) for _, group in groupby(quotes, key=lambda q: q.article_id)]


def quoted(text: str) -> str:
    """A quote in curly marks, once: a sentence that is itself one whole quotation keeps its own
    marks instead of getting “““doubled””"."""
    stripped = text.strip()
    inner = stripped[1:-1]
    if len(stripped) > 1 and stripped[0] in "“\"" and stripped[-1] in "”\"" and not any(m in inner for m in "“”\""):
        return stripped
    return f"“{stripped}”"


def linkable(url: str | None) -> bool:
    return bool(url) and url.startswith(("http://", "https://")) and len(html.escape(url, quote=True)) <= URL_MAX


@dataclass(frozen=True)
class Markup:
    """How our own texts mark their parts, so that Telegram (HTML) and the terminal (plain text)
    say the same words. `text(s, limit)` is outside text (a title, a topic, a quote) bounded to
    `limit` characters as it will be shown."""
    text: Callable[[str, int], str]
    bold: Callable[[str], str]
    italic: Callable[[str], str]
    code: Callable[[str], str]
    quote: Callable[[str], str]
    link: Callable[[str, str], str]  # (marked-up text, url): the text alone where the url is no web link


HTML = Markup(text=escaped, bold=lambda s: f"<b>{s}</b>", italic=lambda s: f"<i>{s}</i>",
              code=lambda s: f"<code>{s}</code>", quote=lambda s: f"<blockquote>{s}</blockquote>",
              link=lambda s, url: f'<a href="{html.escape(url, quote=True)}">{s}</a>' if linkable(url) else s)
PLAIN = Markup(text=short, bold=str, italic=str, code=str, quote=quoted, link=lambda s, url: s)


def attribution(title: str, date: str | None, url: str | None, m: Markup = HTML) -> str:
    """Title (linked), date: bounded, so an answer's or an alert's attribution always fits."""
    return f"{m.bold(m.link(m.text(title, TITLE_MAX), url or ''))}, {m.italic(m.text(format_date(date), 100))}"


def ingest_lines(report) -> list[str]:
    """An ingest report as the CLI and the terminal chat print it."""
    lines = [f"added {len(report.added)}, duplicates {len(report.duplicates)}, rejected {report.rejected_total}"]
    lines += [f"  rejected {r.origin}: {r.reason}" for r in report.rejected]
    if report.unlisted:
        lines.append(f"  … and {report.unlisted:,} more rejections not listed")
    lines += [f"  dated in the future (kept out of latest until then): {i}" for i in report.future[:20]]
    lines += [f"  warning: {w}" for w in report.warnings[:20]]
    return lines


def render_text(answer: Answer) -> str:
    if answer.no_answer and not answer.quotes:  # with quotes: the note says why, the quote what there is
        return "\n".join(_no_answer_lines(answer) + [f"  • {t}" for t in answer.suggestions])
    blocks = []
    for group in _by_article(answer.quotes):
        first = group[0]
        source = " · ".join(x for x in (first.title, format_date(first.date), first.url or "") if x)
        blocks.append("\n".join(quoted(q.text) for q in group) + f"\n    — {source}")
    return "\n\n".join(([answer.note] if answer.note else []) + blocks)


def _escaped_chunks(text: str, size: int = QUOTE_CHUNK) -> list[str]:
    """HTML-escaped pieces of at most `size` characters, cut between words where possible."""
    pieces: list[str] = []
    current = ""
    for word in text.split(" "):
        escaped = html.escape(word)
        while len(escaped) > size:  # one giant "word": cut it, never inside an entity
            cut = escaped.rfind("&", 0, size) if "&" in escaped[size - 6 : size] else size
            cut = cut if cut > 0 else size
            if current:
                pieces.append(current)
                current = ""
            pieces.append(escaped[:cut])
            escaped = escaped[cut:]
        candidate = f"{current} {escaped}" if current else escaped
        if len(candidate) > size:
            pieces.append(current)
            current = escaped
        else:
            current = candidate
    return pieces + [current] if current or not pieces else pieces


def _group_html(group: list[Quote]) -> list[str]:
    """Blocks for one article: blockquotes, the last one followed by the attribution."""
    first = group[0]
    quotes = [f"<blockquote>{piece}</blockquote>" for q in group for piece in _escaped_chunks(q.text)]
    quotes[-1] += "\n— " + attribution(first.title, first.date, first.url)
    return quotes


def render_html(answer: Answer) -> list[str]:
    """Telegram messages (HTML parse mode), split between quotes to stay under 4,096 characters."""
    if answer.no_answer and not answer.quotes:
        lines = [html.escape(line) for line in _no_answer_lines(answer)]
        lines += [f"• {escaped(title, TITLE_MAX)}" for title in answer.suggestions]
        return split_messages(["\n".join(lines)])
    blocks = [block for group in _by_article(answer.quotes) for block in _group_html(group)]
    if answer.note:
        blocks.insert(0, html.escape(answer.note))
    return split_messages(blocks)


def split_messages(blocks: list[str], limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Pack whole blocks into messages; a block over the limit (plain text only: HTML blocks are
    built to fit) is cut at a line break or a space."""
    messages: list[str] = []
    current = ""
    for block in blocks:
        candidate = f"{current}\n\n{block}" if current else block
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            messages.append(current)
        while len(block) > limit:
            cut = block.rfind("\n", 0, limit)
            cut = cut if cut > 0 else block.rfind(" ", 0, limit)
            cut = cut if cut > 0 else limit
            messages.append(block[:cut])
            block = block[cut:].lstrip()
        current = block
    if current:
        messages.append(current)
    return messages
