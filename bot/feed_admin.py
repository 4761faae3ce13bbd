"""Feeds in Telegram (admins): /feed URL adds, /feeds lists with health and remove buttons, an
OPML file sent to the bot imports; and the background rounds `newsbot run` polls feeds with.

The rounds run on the event loop (HTTP is async) with store and CPU work in the bot's thread
pool; one round at a time, so a slow round never piles up behind itself. An admin hears once
when a feed is disabled (the switch to disabled happens once per feed).
"""

from __future__ import annotations

import html
import logging
import os
import socket
import uuid

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError

from index.opml import OpmlError

from . import feed_commands
from .admin import admin_only
from .feed_poller import FeedPoller, add_feeds
from .services import NewsbotContext, Services

log = logging.getLogger(__name__)
LIST_MAX = 25  # feeds shown in one /feeds message (problems first)


def feed_poller(s: Services) -> FeedPoller:
    if s.feed_poller is None:
        s.feed_poller = FeedPoller(s.engine, s.config.feeds, blocking=s.run,
                                   worker=f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}")
    return s.feed_poller


async def poll_round(s: Services, bot, every: bool = False):
    """One round; new alerts wake the sender; admins hear of feeds disabled in it."""
    report = await feed_poller(s).poll_round(every=every)
    if report.alerts:
        s.wake_sender()
    if report.added:
        log.info("feeds: %d new article(s) from %d feed(s), %d alert(s)", report.added, len(report.feeds),
                 report.alerts)
    for disabled in report.disabled:
        text = (f"Feed disabled: {feed_commands.short(disabled.url, 200)}\n{feed_commands.short(disabled.error or '', 500)}"
                "\nFix it and add it again with /feed URL.")
        for admin in s.config.telegram.admins:
            try:
                await bot.send_message(admin, text, disable_web_page_preview=True)
            except TelegramError as exc:
                log.warning("could not tell admin %s that a feed was disabled: %s", admin, exc)
    return report


async def poll_due_feeds(context: NewsbotContext) -> None:
    """The periodic job: start a round unless one is running."""
    s = context.services
    if s.feeds_task is None or s.feeds_task.done():
        s.feeds_task = s.spawn(_guarded_round(s, context.bot))


async def _guarded_round(s: Services, bot) -> None:
    try:
        await poll_round(s, bot)
    except Exception:  # noqa: BLE001 - logged; the next tick tries again
        log.exception("feed poll round failed")


@admin_only
async def feed(update: Update, context: NewsbotContext) -> None:
    s = context.services
    message = update.effective_message
    words = (message.text or "").split()[1:]
    if not words:
        await message.reply_text("Send /feed URL (a feed, or a page that advertises one), optionally followed "
                                 "by the minutes between polls. /feeds lists the feeds.")
        return
    interval = None
    if len(words) > 1:
        try:
            interval = float(words[1])
        except ValueError:
            await message.reply_text("The poll interval is a number of minutes, e.g. /feed URL 30")
            return
    [(url, found, said)] = await add_feeds(s.engine, [words[0]], interval)
    if found is None:
        await message.reply_text(f"{feed_commands.short(url, 200)}: {said}", disable_web_page_preview=True)
        return
    await message.reply_text(f"Feed {found.id} {said}: {feed_commands.short(found.title or found.url)}. "
                             "Polling it now.", disable_web_page_preview=True)
    if s.feeds_task is None or s.feeds_task.done():
        s.feeds_task = s.spawn(_guarded_round(s, context.bot))


def feeds_page(s: Services) -> tuple[str, InlineKeyboardMarkup | None]:
    feeds = sorted(s.engine.store.feeds(), key=lambda f: (f.enabled and not f.failures, f.id))
    if not feeds:
        return "No feeds yet. Add one with /feed URL, or send me an OPML file.", None
    shown = feeds[:LIST_MAX]
    lines = [f"<b>{len(feeds)} feed(s)</b>, problems first:"]
    lines += [html.escape(feed_commands.describe(f)) for f in shown]
    if len(feeds) > LIST_MAX:
        lines.append(f"… and {len(feeds) - LIST_MAX} more (newsbot feeds list shows them all).")
    buttons = [InlineKeyboardButton(f"✖ {f.id}", callback_data=f"fd:rm:{f.id}") for f in shown]
    rows = [buttons[i:i + 5] for i in range(0, len(buttons), 5)]
    rows.append([InlineKeyboardButton("↻ Poll all now", callback_data="fd:poll")])
    text = "\n".join(lines)
    while len(text) > 4000 and len(lines) > 2:  # very long error texts: fewer lines, never a refused message
        lines.pop(-2)
        text = "\n".join(lines)
    return text, InlineKeyboardMarkup(rows)


@admin_only
async def feeds(update: Update, context: NewsbotContext) -> None:
    s = context.services
    text, markup = await s.run(feeds_page, s)
    await update.effective_message.reply_html(text, reply_markup=markup, disable_web_page_preview=True)


async def feed_button(update: Update, context: NewsbotContext) -> None:
    s = context.services
    query = update.callback_query
    if query.from_user is None or query.from_user.id not in s.config.telegram.admins:
        log.warning("refused a feed button from user %s", query.from_user.id if query.from_user else "unknown")
        await query.answer("Only the bot's admins manage feeds.", show_alert=True)
        return
    parts = (query.data or "").split(":")
    if parts[1:2] == ["poll"]:
        if s.feeds_task is not None and not s.feeds_task.done():
            await query.answer("A poll round is running; try again when it is done.")
            return
        await query.answer("Polling every feed…")
        s.feeds_task = s.spawn(poll_round(s, context.bot, every=True))  # one round at a time, as the job's
        report = await s.feeds_task
        await query.message.reply_text(feed_commands.round_lines(report)[-1])
        return
    if parts[1:2] == ["rm"] and len(parts) == 3 and parts[2].isdigit():
        removed = await s.run(s.engine.store.remove_feed, int(parts[2]))
        await query.answer(f"Feed {parts[2]} removed." if removed else "That feed was already removed.")
        text, markup = await s.run(feeds_page, s)
        try:
            await query.edit_message_text(text, parse_mode="HTML", reply_markup=markup, disable_web_page_preview=True)
        except TelegramError as exc:
            log.debug("feed list not edited: %s", exc)
        return
    await query.answer("That button is no longer valid.")


def is_opml(name: str, data: bytes) -> bool:
    return name.lower().endswith(".opml") or b"<opml" in data[:1000].lower()


async def import_file(update: Update, s: Services, data: bytes) -> None:
    try:
        added, known, problems = await s.run(feed_commands.import_opml, s.engine, data)
    except OpmlError as exc:
        await update.effective_message.reply_text(f"Not imported: {exc}")
        return
    text = f"Imported {added} feed(s); {known} were already polled."
    if problems:
        text += f" Skipped {len(problems)}: " + "; ".join(feed_commands.short(p, 100) for p in problems[:5])
    await update.effective_message.reply_text(text + " They are polled in the next round.")
    if added and (s.feeds_task is None or s.feeds_task.done()):
        s.feeds_task = s.spawn(_guarded_round(s, update.get_bot()))
