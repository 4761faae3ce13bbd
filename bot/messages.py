"""The bot's own texts (help, stats, alerts, topic lists, article pages) as Telegram HTML.

Answers are rendered by `render`; everything here follows the same rule: any text that came from
an article, a user or the store is escaped, and only our own tags reach Telegram. The texts both
chats show (alerts, digests, topic lists, /latest) take a `Markup`: Telegram gets HTML, the
terminal chat the same words in plain text, so the two never drift apart.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from index.outbox import OutboxItem
from index.store.base import ArticleHeader
from index.topic_match import Topic

from .commands import menu
from .render import HTML, TELEGRAM_LIMIT, TITLE_MAX, Markup, attribution, escaped, format_date, linkable

COMMANDS = menu(admin=False)  # (name, summary), from the one command table (bot.commands)
ADMIN_COMMANDS = menu(admin=True)

SOURCE_MAX = 60  # a source name in /help
LATEST_STORIES = 8  # /latest without a topic
LATEST_TITLE_MAX = 200  # a headline in /latest
LATEST_ID_MAX = 80
TOPIC_LINE_MAX = 190  # a topic in /topics; shorter when there are many, so the list fits one message
PAGE_FLOOR = 100  # raw characters: escaped, at most 600, which any page size allows
TOPIC_LINE_EXTRA = 50  # number, flags and tags around each topic in /topics

ASK_EXAMPLES = ("When did Kestrel Mobile sign the 5G deal?", "What happened with the rail strike this week?")


def help_text(stats: dict, is_admin: bool) -> str:
    e = html.escape
    sources = sorted(stats["sources"].items(), key=lambda kv: -kv[1])
    shown = ", ".join(f"{escaped(name, SOURCE_MAX)} ({n})" for name, n in sources[:5])
    if len(sources) > 5:
        shown += f" and {len(sources) - 5} more"
    lines = [
        "<b>Ask me anything about the saved news.</b> I answer with quoted sentences from the "
        "articles, each with its title and date, and I never make text up.",
        "",
        f"I know <b>{stats['articles']:,}</b> articles"
        + (f" from {e(format_date(stats['first_date']))} to {e(format_date(stats['last_date']))}"
           if stats["first_date"] else "")
        + (f", from {shown}." if shown else "."),
        "",
        "Try: " + " · ".join(f"<i>{e(q)}</i>" for q in ASK_EXAMPLES),
        "",
        "<b>Commands</b>",
        *[f"/{name} — {e(text)}" for name, text in COMMANDS],
        "",
        'Topics: <code>-word</code> excludes a word, <code>"exact phrase"</code> requires one, e.g. '
        '<code>/subscribe rail strike -football</code>. Start a topic with <code>daily:</code> for one digest a day.',
    ]
    if is_admin:
        lines += ["", "<b>Admin</b>", *[f"/{name} — {e(text)}" for name, text in ADMIN_COMMANDS]]
    return "\n".join(lines)


def stats_text(stats: dict, index: dict, subscriptions: dict, outbox: dict, feeds: dict | None = None) -> str:
    lines = [
        "<b>Store</b>",
        f"articles {stats['articles']:,} · passages {stats['passages']:,} · undated {stats['undated']:,}",
        f"dates {html.escape(format_date(stats['first_date']))} – {html.escape(format_date(stats['last_date']))}",
        "<b>Index</b>",
        f"passages {index['passages']:,} · articles behind {index['behind']:,}"
        + (f" · saved {html.escape(index['saved'])}" if index.get("saved") else "")
        + (" · <i>rebuilding</i>" if index.get("rebuilding") else ""),
        "<b>Subscriptions</b>",
        f"chats {subscriptions['chats']:,} · topics {subscriptions['topics']:,}",
        "<b>Outbox</b>",
        " · ".join(f"{name} {count:,}" for name, count in outbox.items()),
    ]
    if feeds is not None:
        lines += ["<b>Feeds</b>", f"polled {feeds['enabled']:,} · failing {feeds['failing']:,} · "
                                  f"disabled {feeds['disabled']:,} (/feeds for each)"]
    return "\n".join(lines)


def _attribution(item: OutboxItem, m: Markup = HTML) -> str:
    a = item.article
    return attribution(a.title, a.date, a.url, m)


def _quote(text: str, limit: int = 1500, m: Markup = HTML) -> str:
    return m.quote(m.text(text, limit))


def alert_text(item: OutboxItem, m: Markup = HTML) -> str:
    return (f"🔔 New on {m.bold(m.text(item.topic, 400))}\n"
            f"{_quote(item.quote, m=m)}\n— {_attribution(item, m)}")


def digest_parts(items: Sequence[OutboxItem], m: Markup = HTML) -> list[tuple[str, list[OutboxItem]]]:
    """One digest as few messages as the limit allows, an item never cut in two; each message
    with the items it carries, so each can be marked sent as soon as it is accepted."""
    head = f"📰 Your daily digest: {len(items)} new article{'s' if len(items) != 1 else ''}"
    parts: list[tuple[str, list[OutboxItem]]] = []
    text, carried = head, []
    for item in items:
        block = f"{m.italic(m.text(item.topic, 200))}\n{_quote(item.quote, 600, m)}\n— {_attribution(item, m)}"
        if len(text) + 2 + len(block) > TELEGRAM_LIMIT and carried:
            parts.append((text, carried))
            text, carried = "📰 Digest, continued", []
        text, carried = f"{text}\n\n{block}", carried + [item]
    parts.append((text, carried))
    return parts


def topics_text(topics: Sequence[Topic], default_threshold: float, m: Markup = HTML) -> str:
    if not topics:
        return f"You follow no topics yet. Start one with /subscribe TOPIC, e.g. {m.code('/subscribe rail strike')}."
    lines = [m.bold("Your topics")]
    budget = max(20, min(TOPIC_LINE_MAX, (TELEGRAM_LIMIT - 100) // len(topics) - TOPIC_LINE_EXTRA))
    for n, t in enumerate(topics, start=1):
        flags = [t.delivery]
        if t.muted:
            flags.append("muted")
        if t.threshold is not None and abs(t.threshold - default_threshold) > 1e-9:
            flags.append(f"threshold {t.threshold:.2f}")
        elif t.threshold is None and t.auto_threshold is not None:
            flags.append(f"learned threshold {t.auto_threshold:.2f}")
        judged = f"{t.liked} 👍 {t.disliked} 👎" if t.liked or t.disliked else "no judgements yet"
        lines.append(f"{n}. {m.text(t.query.raw, budget)} {m.italic('(' + ', '.join(flags) + ')')} · {judged}")
    return "\n".join(lines)


def subscribed_text(topic: Topic, created: bool, m: Markup = HTML) -> str:
    when = "once a day, in a digest" if topic.delivery == "daily" else "as soon as they are saved"
    intro = "Subscribed to" if created else "You already follow"
    return f"{intro} {m.bold(m.text(topic.query.raw, 400))}. New matching articles arrive {when}. Manage topics with /topics."


UNSUBSCRIBE_WHICH = "Which topic? /unsubscribe TOPIC, its number from /topics, or all."


def unsubscribed_text(removed: int) -> str:
    if removed:
        return f"Unsubscribed ({removed} topic{'s' if removed != 1 else ''})."
    return "You do not follow that topic. /topics lists yours."


def latest_text(headers: Sequence[ArticleHeader], m: Markup = HTML) -> str:
    """/latest: date, headline and id per story, each bounded (8 lines always fit one message)."""
    if not headers:
        return "The store is empty."
    lines = [m.bold("Newest stories")] + [
        f"• {m.italic(m.text(format_date(h.date), 100))} — {m.text(h.title, LATEST_TITLE_MAX)} "
        f"{m.code(m.text(h.id, LATEST_ID_MAX))}"
        for h in headers
    ]
    return "\n".join(lines)


def article_page(title: str, date: str | None, url: str | None, text: str, page: int, size: int) -> tuple[str, int]:
    """(HTML of page `page`, number of pages). Pages break between paragraphs or words."""
    head = f"<b>{escaped(title, TITLE_MAX)}</b>\n<i>{html.escape(format_date(date))}</i>"
    if linkable(url):
        head += " · " + HTML.link("source", url)
    pages = escaped_pages(text, min(size, TELEGRAM_LIMIT - len(head) - 60))  # 60: the gap and the footer
    page = min(max(page, 0), len(pages) - 1)
    footer = f"\n\n<i>page {page + 1} of {len(pages)}</i>" if len(pages) > 1 else ""
    return f"{head}\n\n{html.escape(pages[page])}{footer}", len(pages)


def escaped_pages(text: str, size: int) -> list[str]:
    """Pages whose HTML-escaped text is at most `size` characters: escaping makes `&`, `<` and `"`
    five or six characters, so a page cut on the raw text alone could outgrow a message."""
    return _fitting(text, size, size)


def _fitting(text: str, raw_size: int, limit: int) -> list[str]:
    pages: list[str] = []
    for page in paginate(text, raw_size):
        grown = len(html.escape(page))
        if grown <= limit or raw_size <= PAGE_FLOOR:
            pages.append(page)
        else:  # cut this page again, smaller in the proportion escaping grew it
            pages.extend(_fitting(page, max(PAGE_FLOOR, raw_size * limit // grown), limit))
    return pages


def paginate(text: str, size: int) -> list[str]:
    pages: list[str] = []
    rest = text.strip()
    while len(rest) > size:
        cut = rest.rfind("\n\n", 0, size)
        cut = cut if cut > size // 2 else rest.rfind(" ", 0, size)
        cut = cut if cut > 0 else size
        pages.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    return pages + [rest] if rest or not pages else pages
