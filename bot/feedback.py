"""Alerts that learn: 👍 / 👎 under every alert, and /why (or ❔) to see what matched.

A tap is one judgement of one alert by its chat, answered in place (the buttons show the verdict);
the topic is re-derived from the archive with all its judgements (index/topic_profile.py), so the
next alerts follow it. The buttons carry the outbox id of the alert (a few bytes, well under
Telegram's 64-byte callback limit): the alert names the chat, the article and the topic. In groups
only administrators judge, as only they change the group's topics.
"""

from __future__ import annotations

import html
import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest

from index.alerts import Explanation

from .services import NewsbotContext
from .subscriptions import may_manage

log = logging.getLogger(__name__)
PREFIX = "a"
VERDICTS = {"+": 1, "-": -1}


def alert_markup(outbox_id: int, verdict: int = 0) -> InlineKeyboardMarkup:
    """👍 / 👎 / ❔ under an alert; the chosen verdict is ticked."""
    return InlineKeyboardMarkup([[
        InlineKeyboardButton("👍 ✓" if verdict > 0 else "👍", callback_data=f"{PREFIX}:+:{outbox_id}"),
        InlineKeyboardButton("👎 ✓" if verdict < 0 else "👎", callback_data=f"{PREFIX}:-:{outbox_id}"),
        InlineKeyboardButton("❔ why", callback_data=f"{PREFIX}:?:{outbox_id}"),
    ]])


def outbox_id_of(message: Message | None) -> int | None:
    """The alert a message is (read from its buttons), for /why sent as a reply to it."""
    markup = message.reply_markup if message is not None else None
    for row in (markup.inline_keyboard if markup else ()):
        for button in row:
            parts = (button.callback_data or "").split(":") if isinstance(button.callback_data, str) else []
            if len(parts) == 3 and parts[0] == PREFIX and parts[2].isdigit():
                return int(parts[2])
    return None


def why_text(e: Explanation) -> str:
    esc = html.escape
    found = ", ".join(esc(t) for t in e.found) or "none (a match on meaning alone)"
    lines = [
        f"<b>Why this matched {esc(e.topic.query.raw)}</b>",
        f"Topic words found: {found}",
    ]
    if e.missing:
        lines.append(f"Not in the story: {', '.join(esc(t) for t in e.missing)}")
    lines += [
        f"Best matching passage of <i>{esc(e.title[:200])}</i>:",
        f"<blockquote>{esc(e.passage[:1200] + ('…' if len(e.passage) > 1200 else ''))}</blockquote>",
        f"Score {e.score:.2f} (meaning {max(e.cosine, 0.0):.2f}, words {e.coverage:.2f}); "
        f"this topic alerts from {e.threshold:.2f}.",
        "👎 on alerts like this one moves the topic away from them; a word of your own with "
        "<code>-word</code> excludes it for good.",
    ]
    return "\n".join(lines)


async def alert_button(update: Update, context: NewsbotContext) -> None:
    s = context.services
    query = update.callback_query
    try:
        _, action, raw_id = query.data.split(":")
        outbox_id = int(raw_id)
    except ValueError:
        await query.answer()
        return
    chat_id = update.effective_chat.id
    if action == "?":
        await query.answer()
        await _send_why(update, context, outbox_id)
        return
    if action not in VERDICTS:
        await query.answer()
        return
    if not await may_manage(update, context, s):
        await query.answer("Only this chat's administrators judge its alerts.")
        return
    judged = await s.run(s.engine.alerts.judge, chat_id, outbox_id, VERDICTS[action])
    if judged is None:
        await query.answer("That topic is no longer followed here.")
        return
    t = judged.topic
    await query.answer(("Noted: more like this." if judged.verdict > 0 else "Noted: fewer like this.")
                       + f" {t.query.raw[:60]}: {t.liked} 👍, {t.disliked} 👎.")
    try:
        await query.edit_message_reply_markup(alert_markup(outbox_id, judged.verdict))
    except BadRequest as exc:  # "message is not modified" after the same tap twice
        log.debug("alert buttons not edited: %s", exc)


async def why(update: Update, context: NewsbotContext) -> None:
    """/why as a reply to an alert."""
    message = update.effective_message
    outbox_id = outbox_id_of(message.reply_to_message)
    if outbox_id is None:
        await message.reply_text("Reply /why to an alert (or tap ❔ under it) to see what matched.")
        return
    await _send_why(update, context, outbox_id)


async def _send_why(update: Update, context: NewsbotContext, outbox_id: int) -> None:
    s = context.services
    explanation = await s.run(s.engine.alerts.explain, update.effective_chat.id, outbox_id)
    if explanation is None:
        text = "I cannot explain that alert any more (its topic or article is gone)."
        await context.bot.send_message(update.effective_chat.id, text)
        return
    await context.bot.send_message(update.effective_chat.id, why_text(explanation), parse_mode="HTML")
