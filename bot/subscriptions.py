"""Handlers for topic alerts: /subscribe, /topics (with buttons), /unsubscribe, and chat membership.

In groups only the group's administrators (or the bot's admins) change the group's topics: one
member should not be able to flood everyone with alerts. Channels can subscribe by posting the
command (only their admins can post).
"""

from __future__ import annotations

import logging

from telegram import ChatMemberUpdated, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import BadRequest, TelegramError

from index.topic_match import Topic
from index.topics import TopicError

from .messages import UNSUBSCRIBE_WHICH, subscribed_text, topics_text, unsubscribed_text
from .services import NewsbotContext, Services, callback_fields, callback_int

log = logging.getLogger(__name__)
DELIVERY_PREFIXES = {"daily:": "daily", "instant:": "instant"}


async def may_manage(update: Update, context: NewsbotContext, s: Services) -> bool:
    """Private chats manage their own topics; in groups and channels only their administrators
    (or the bot's admins) do, checked on the person who typed the command or pressed the button."""
    chat = update.effective_chat
    if chat.type == ChatType.PRIVATE or s.is_admin(update):
        return True
    message = update.effective_message
    if update.callback_query is None and message is not None and message.sender_chat is not None \
            and message.sender_chat.id == chat.id:
        return True  # a channel post, or a group admin posting anonymously as the group
    user = update.effective_user
    if user is None:
        return False
    try:
        member = await context.bot.get_chat_member(chat.id, user.id)
    except TelegramError as exc:
        log.warning("cannot check %s's status in chat %s: %s", user.id, chat.id, exc)
        return False
    return member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)


async def _refuse_member(update: Update) -> None:
    await update.effective_message.reply_text("Only this chat's administrators can change its topics.")


def split_delivery(text: str) -> tuple[str, str]:
    lowered = text.lower()
    for prefix, delivery in DELIVERY_PREFIXES.items():
        if lowered.startswith(prefix):
            return delivery, text[len(prefix):].strip()
    return "instant", text


async def subscribe(update: Update, context: NewsbotContext) -> None:
    s = context.services
    message, chat = update.effective_message, update.effective_chat
    if not await may_manage(update, context, s):
        await _refuse_member(update)
        return
    delivery, text = split_delivery(" ".join(context.args or []))
    try:
        topic, created = await s.run(s.engine.alerts.subscribe, chat.id, text, delivery, chat.type,
                                     chat.title or chat.full_name or "")
    except TopicError as exc:
        await message.reply_text(str(exc))
        return
    await message.reply_html(subscribed_text(topic, created), do_quote=False)


def topics_markup(topics: list[Topic]) -> InlineKeyboardMarkup | None:
    rows = []
    for n, t in enumerate(topics, start=1):
        rows.append([
            InlineKeyboardButton(f"{n}. {'🔔 unmute' if t.muted else '🔕 mute'}",
                                 callback_data=f"t:{'unmute' if t.muted else 'mute'}:{t.id}"),
            InlineKeyboardButton("⚡ instant" if t.delivery == "daily" else "🗓 daily",
                                 callback_data=f"t:{'instant' if t.delivery == 'daily' else 'daily'}:{t.id}"),
            InlineKeyboardButton("fewer", callback_data=f"t:fewer:{t.id}"),
            InlineKeyboardButton("more", callback_data=f"t:more:{t.id}"),
            InlineKeyboardButton("✕", callback_data=f"t:rm:{t.id}"),
        ])
    return InlineKeyboardMarkup(rows) if rows else None


async def list_topics(update: Update, context: NewsbotContext) -> None:
    s = context.services
    topics = await s.run(s.engine.alerts.topics, update.effective_chat.id)
    await update.effective_message.reply_html(
        topics_text(topics, s.config.alerts.threshold), reply_markup=topics_markup(topics), do_quote=False
    )


async def topic_button(update: Update, context: NewsbotContext) -> None:
    s = context.services
    query = update.callback_query
    chat_id = update.effective_chat.id
    if not await may_manage(update, context, s):
        await query.answer("Only this chat's administrators can change its topics.")
        return
    fields = callback_fields(query.data, 2)
    topic_id = callback_int(fields[1]) if fields else None
    if topic_id is None:
        await query.answer()
        return
    action = fields[0]
    alerts = s.engine.alerts
    actions = {
        "mute": (lambda: alerts.set_muted(chat_id, topic_id, True), "Muted."),
        "unmute": (lambda: alerts.set_muted(chat_id, topic_id, False), "Alerts back on."),
        "daily": (lambda: alerts.set_delivery(chat_id, topic_id, "daily"), "One digest a day."),
        "instant": (lambda: alerts.set_delivery(chat_id, topic_id, "instant"), "Alerts as they come."),
        "fewer": (lambda: alerts.adjust_threshold(chat_id, topic_id, +1), "Fewer, closer matches."),
        "more": (lambda: alerts.adjust_threshold(chat_id, topic_id, -1), "More, looser matches."),
        "rm": (lambda: alerts.store.remove_topics(chat_id, topic_id), "Removed."),
    }
    if action not in actions:
        await query.answer()
        return
    work, done = actions[action]
    await s.run(work)
    await query.answer(done)
    topics = await s.run(alerts.topics, chat_id)
    try:
        await query.edit_message_text(topics_text(topics, s.config.alerts.threshold), parse_mode=ParseMode.HTML,
                                      reply_markup=topics_markup(topics))
    except BadRequest as exc:  # "message is not modified" after a double tap
        log.debug("topics message not edited: %s", exc)


async def unsubscribe(update: Update, context: NewsbotContext) -> None:
    s = context.services
    message = update.effective_message
    if not await may_manage(update, context, s):
        await _refuse_member(update)
        return
    text = " ".join(context.args or [])
    if not text:
        await message.reply_text(UNSUBSCRIBE_WHICH)
        return
    removed = await s.run(s.engine.alerts.unsubscribe, update.effective_chat.id, text)
    await message.reply_text(unsubscribed_text(removed))


async def membership(update: Update, context: NewsbotContext) -> None:
    """Keep chats' active state current: a chat that blocked or removed the bot gets no alerts,
    one that adds it back gets them again."""
    s = context.services
    change: ChatMemberUpdated = update.my_chat_member
    chat = change.chat
    status = change.new_chat_member.status
    if status in (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT):
        await s.run(s.engine.store.set_chat_active, chat.id, False, f"bot {status}")
        log.info("chat %s deactivated (%s)", chat.id, status)
    elif await s.run(s.engine.store.chat_active, chat.id) is not None:
        await s.run(s.engine.store.upsert_chat, chat.id, chat.type, chat.title or chat.full_name or "")
        log.info("chat %s active again (%s)", chat.id, status)


async def migrated(update: Update, context: NewsbotContext) -> None:
    """A group became a supergroup: its topics move with it now, not at the next failed send."""
    s = context.services
    message = update.effective_message
    if message.migrate_to_chat_id:
        await s.run(s.engine.store.migrate_chat, message.chat.id, message.migrate_to_chat_id)
        log.info("chat %s migrated to %s", message.chat.id, message.migrate_to_chat_id)
