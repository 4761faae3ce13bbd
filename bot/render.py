"""Answers as text: plain for the terminal, HTML for Telegram (every piece of article text escaped)."""

from __future__ import annotations

import html
from datetime import datetime

from index.answers import Answer, Quote

TELEGRAM_LIMIT = 4096


def format_date(iso: str | None) -> str:
    """`6 Jun 2019 08:22`, `6 Jun 2019`, or `date unknown`: never a made-up time."""
    if not iso:
        return "date unknown"
    try:
        value = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    day = f"{value.day} {value:%b %Y}"
    return f"{day} {value:%H:%M}" if "T" in iso else day


def _no_answer_text(answer: Answer) -> str:
    return "Nothing in the store answers that." if answer.question else "Ask me a question about the news."


def render_text(answer: Answer) -> str:
    if answer.no_answer:
        lines = [_no_answer_text(answer)]
        if answer.suggestions:
            lines.append("Closest stories I have:")
            lines += [f"  • {title}" for title in answer.suggestions]
        return "\n".join(lines)
    blocks = []
    for quote in answer.quotes:
        source = " · ".join(x for x in (quote.title, format_date(quote.date), quote.url or "") if x)
        blocks.append(f"“{quote.text}”\n    — {source}")
    return "\n\n".join(blocks)


def _quote_html(quote: Quote) -> str:
    title = html.escape(quote.title)
    if quote.url and quote.url.startswith(("http://", "https://")):
        title = f'<a href="{html.escape(quote.url, quote=True)}">{title}</a>'
    return f"<blockquote>{html.escape(quote.text)}</blockquote>\n— <b>{title}</b>, <i>{html.escape(format_date(quote.date))}</i>"


def render_html(answer: Answer) -> list[str]:
    """Telegram messages (HTML parse mode), split between quotes to stay under 4,096 characters."""
    if answer.no_answer:
        parts = [html.escape(_no_answer_text(answer))]
        if answer.suggestions:
            parts.append("Closest stories I have:")
            parts += [f"• {html.escape(title)}" for title in answer.suggestions]
        return split_messages(["\n".join(parts)])
    return split_messages([_quote_html(q) for q in answer.quotes])


def split_messages(blocks: list[str], limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Pack whole blocks into messages; a single block over the limit is cut at a line or space."""
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
