"""Admin handlers: /reindex, /save (a URL, text, a forwarded post or a file), /stats, /ingest.

Admins are the Telegram user ids in `[telegram] admins`. Everyone else gets a clear refusal and
a log line with their id, so an operator can see who tried.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from datetime import datetime, timezone
from pathlib import Path

from telegram import Message, Update
from telegram.error import BadRequest, TelegramError

from index.models import IngestReport, RawDocument
from index.index_manager import RebuildStopped

from .fetch import FetchError, fetch
from .messages import stats_text
from .render import short as _short
from .services import NewsbotContext, Services

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 2.0
BAR_WIDTH = 20


def admin_only(handler):
    @functools.wraps(handler)
    async def guarded(update: Update, context: NewsbotContext) -> None:
        s = context.services
        if not s.is_admin(update):
            user = update.effective_user
            message = update.effective_message
            words = (message.text or "").split(maxsplit=1) if message else []
            command = words[0][:40] if words else "(a file or forwarded post)"
            log.warning("refused admin command %s from user %s", command, user.id if user else "unknown")
            if update.effective_message:
                await update.effective_message.reply_text("Sorry, that command is only for the bot's admins.")
            return
        await handler(update, context)

    return guarded


def report_text(report: IngestReport) -> str:
    lines = [f"Saved {len(report.added)} new article(s); {len(report.duplicates)} already stored; "
             f"{report.rejected_total} rejected."]
    lines += [f"• {_short(r.origin, 200)}: {_short(r.reason, 300)}" for r in report.rejected[:10]]
    if report.rejected_total > 10:
        lines.append(f"… and {report.rejected_total - 10} more")
    if report.future:
        lines.append(f"{len(report.future)} dated in the future (kept out of /latest until their date): "
                     + ", ".join(_short(i, 80) for i in report.future[:5]))
    return "\n".join(lines)


async def _after_save(s: Services, report: IngestReport) -> None:
    """New articles: index them now and match them against topics, then wake the sender."""
    if report.added:
        await s.run(s.engine.refresh)
        s.wake_sender()


# -- /reindex -----------------------------------------------------------------------------

def progress_line(done: int, total: int, started: float) -> str:
    share = min(done / total, 1.0) if total else 1.0
    filled = int(share * BAR_WIDTH)
    return (f"Reindexing… [{'█' * filled}{'░' * (BAR_WIDTH - filled)}] {share:.0%} "
            f"({done:,}/{total:,} passages, {time.monotonic() - started:.0f} s)")


@admin_only
async def reindex(update: Update, context: NewsbotContext) -> None:
    s = context.services
    if (s.reindex_task and not s.reindex_task.done()) or s.engine.index.rebuilding:
        await update.effective_message.reply_text(
            "A reindex is already running; questions are answered from the current index meanwhile.")
        return
    s.reindex_task = s.spawn(_run_reindex(s, update.effective_message))  # set before any await: no twin


async def _run_reindex(s: Services, request: Message) -> None:
    status = await request.reply_text("Reindexing… starting")
    total = (await s.run(s.engine.store.stats))["passages"]
    done = [0]
    started = time.monotonic()

    def advance(n: int) -> None:  # called from the worker thread
        done[0] += n

    # a shutdown sets s.stopping: the rebuild ends between two batches, the previous index stays
    job = asyncio.get_running_loop().run_in_executor(s.executor, s.engine.reindex, advance, s.stopping)
    shown = ""
    while not job.done():
        await asyncio.wait({job}, timeout=PROGRESS_EVERY_S)
        line = progress_line(done[0], total, started)
        if not job.done() and line != shown:
            shown = await _edit(status, line) or shown
    try:
        job.result()
    except RebuildStopped:
        await _edit(status, "Reindex stopped: the bot is shutting down. The previous index is still in use.")
        return
    except Exception as exc:  # noqa: BLE001 - reported to the admin; the old index keeps serving
        log.exception("reindex failed")
        await _edit(status, f"Reindex failed: {type(exc).__name__}: {exc}. The previous index is still in use.")
        return
    size = s.engine.index.current.size
    if s.answers is not None and s.answers.running:  # the workers still hold the old generation
        try:
            await s.run(s.answers.restart, s.engine.index.current.watermark)
        except Exception:  # noqa: BLE001 - the old workers go on answering from their index
            log.exception("answer workers not restarted on the new index")
    await _edit(status, f"Reindex done: {size:,} passages in {time.monotonic() - started:.1f} s.")
    await s.run(s.engine.alerts.match_new)
    s.wake_sender()


async def _edit(message: Message, text: str) -> str | None:
    try:
        await message.edit_text(text)
        return text
    except BadRequest as exc:
        log.debug("progress not edited: %s", exc)
    except TelegramError as exc:  # progress is cosmetic; the work goes on
        log.warning("progress message not edited: %s", exc)
    return None


# -- /save ----------------------------------------------------------------------------------

@admin_only
async def save(update: Update, context: NewsbotContext) -> None:
    s = context.services
    message = update.effective_message
    arg = (message.text or "").partition(" ")[2].strip()
    if not arg:
        await message.reply_text("Send /save URL, /save followed by the article text, forward a post, or send a file.")
        return
    if arg.startswith(("http://", "https://")) and len(arg.split()) == 1:
        t = s.config.telegram
        try:
            page = await fetch(arg, t.fetch_timeout_s, t.max_fetch_bytes, t.allow_private_urls)
        except FetchError as exc:
            await message.reply_text(f"Not saved: {exc}")
            return
        report = await s.run(s.engine.save_data, page.data, page.name, page.url, page.url)
    else:
        # undated unless the text has a dateline: when it was pasted is not when it was published
        document = RawDocument(origin=f"telegram:{message.chat_id}:{message.message_id}", text=arg,
                               source="telegram")
        report = await s.run(s.engine.save_documents, [document])
    await message.reply_text(report_text(report))
    await _after_save(s, report)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M") if moment else None


@admin_only
async def save_forward(update: Update, context: NewsbotContext) -> None:
    """A post forwarded to the bot is saved with its channel as source and its original date."""
    s = context.services
    message = update.effective_message
    origin = message.forward_origin
    source, url = "telegram", None
    chat = getattr(origin, "chat", None) or getattr(origin, "sender_chat", None)
    if chat is not None:
        source = chat.title or chat.username or source
        if chat.username and getattr(origin, "message_id", None):
            url = f"https://t.me/{chat.username}/{origin.message_id}"
    text = message.text or message.caption or ""
    document = RawDocument(origin=f"telegram:{message.chat_id}:{message.message_id}", text=text, source=source,
                           url=url, date=_iso(origin.date if origin else message.date))
    report = await s.run(s.engine.save_documents, [document])
    await message.reply_text(report_text(report))
    await _after_save(s, report)


@admin_only
async def save_file(update: Update, context: NewsbotContext) -> None:
    s = context.services
    message = update.effective_message
    doc = message.document
    limit = s.config.ingest.max_file_bytes
    if doc.file_size and doc.file_size > limit:
        await message.reply_text(f"Not saved: the file is {doc.file_size:,} bytes, over the limit of {limit:,}.")
        return
    try:
        handle = await doc.get_file()
        data = bytes(await handle.download_as_bytearray())
    except TelegramError as exc:
        await message.reply_text(f"Not saved: the file could not be downloaded ({exc.message}).")
        return
    name = doc.file_name or "document.txt"
    from .feed_admin import import_file, is_opml  # feed_admin builds on this module

    if is_opml(name, data):
        await import_file(update, s, data)
        return
    report = await s.run(s.engine.save_data, data, name, f"telegram:{name}")
    await message.reply_text(report_text(report))
    await _after_save(s, report)


@admin_only
async def ingest_folder(update: Update, context: NewsbotContext) -> None:
    s = context.services
    folder = s.config.telegram.watch_folder
    if not folder or not Path(folder).is_dir():
        await update.effective_message.reply_text(
            "No watched folder: set [telegram] watch_folder in the config to a folder of article files.")
        return
    status = await update.effective_message.reply_text(f"Reading {folder}…")
    report = await s.run(s.engine.ingest_watched, folder)
    await _edit(status, report_text(report))
    await _after_save(s, report)


@admin_only
async def stats(update: Update, context: NewsbotContext) -> None:
    s = context.services
    text = await s.run(collect_stats, s)
    await update.effective_message.reply_html(text, do_quote=False)


def collect_stats(s: Services) -> str:
    engine = s.engine
    store_stats = engine.store.stats()
    status = engine.index.status()
    saved = ""
    if status.saved_at is not None:
        age = time.time() - status.saved_at
        saved = f"{age / 60:.0f} min ago" if age < 7200 else f"{age / 3600:.1f} h ago"
    index_stats = {"passages": status.passages, "behind": status.behind, "saved": saved,
                   "rebuilding": status.rebuilding}
    return stats_text(store_stats, index_stats, engine.store.subscription_counts(), engine.store.outbox_counts(),
                      engine.store.feed_counts())
