"""One command table drives Telegram's handlers and menus, /help and the terminal chat."""

from __future__ import annotations

from bot.commands import COMMANDS, menu
from bot.messages import help_text
from bot.telegram_app import HANDLERS
from bot.terminal import HELP, TerminalChat

STATS = {"articles": 3, "first_date": "2026-01-01", "last_date": "2026-02-01", "sources": {"Wire": 3}}


def test_every_command_in_the_table_has_a_telegram_handler_and_no_handler_is_unlisted():
    assert set(HANDLERS) == {c.name for c in COMMANDS}


def test_the_terminal_chat_handles_exactly_the_commands_the_table_gives_it():
    chat = TerminalChat(engine=None)
    assert set(chat._commands()) == {f"/{c.name}" for c in COMMANDS if c.terminal}
    for command in COMMANDS:
        if command.terminal and command.menu:
            assert f"/{command.name}" in HELP


def test_help_lists_everyones_commands_and_admins_see_theirs_too():
    users, admins = help_text(STATS, is_admin=False), help_text(STATS, is_admin=True)
    for name, _ in menu(admin=False):
        assert f"/{name} " in users and f"/{name} " in admins
    for name, _ in menu(admin=True):
        assert f"/{name} " not in users and f"/{name} " in admins
    assert "/start " not in users  # not listed: it is what opening the chat sends
