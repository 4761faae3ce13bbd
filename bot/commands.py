"""The one command table: every chat command once, with what it is for and who may use it.

Telegram's handlers and menus (`setMyCommands`), `/help`, and the terminal chat's help and
dispatch are all read from here, so a command added, renamed or reworded changes everywhere at
once (tests check that each adapter has a handler for every command it lists).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    name: str
    summary: str  # the menu's line and /help's
    usage: str = ""  # its arguments as /help shows them
    admin: bool = False
    channels: bool = False  # channels may post it too (their topics)
    menu: bool = True  # listed in the menu and /help (/start is not)
    terminal: bool = True  # the terminal chat has it
    terminal_usage: str | None = None  # where the terminal takes other arguments
    terminal_summary: str | None = None

    def line(self, terminal: bool = False) -> tuple[str, str]:
        """(`/name USAGE`, summary) for a help text."""
        usage = self.terminal_usage if terminal and self.terminal_usage is not None else self.usage
        summary = self.terminal_summary if terminal and self.terminal_summary else self.summary
        return f"/{self.name}{' ' + usage if usage else ''}", summary


COMMANDS: tuple[Command, ...] = (
    Command("start", "what I know and how to ask", menu=False),
    Command("help", "what I know and how to ask"),
    Command("latest", "newest stories, optionally on a topic", "[TOPIC]"),
    Command("article", "read a stored article", "ID"),
    Command("timeline", "chart of a topic over time", "TOPIC",
            terminal_summary="how often a topic was in the news, week by week or month by month"),
    Command("subscribe", "alerts on a topic (-word excludes, \"a phrase\" must be there, daily: digests)",
            "TOPIC", channels=True),
    Command("topics", "your topics, to mute or remove", channels=True),
    Command("unsubscribe", "stop a topic (its text or number), or all", "TOPIC|N|all", channels=True),
    Command("why", "reply to an alert: the words and passage that matched", channels=True, terminal=False),
    Command("save", "save an article from a link or its text (or send a file)", "URL|TEXT", admin=True,
            terminal_usage="TEXT", terminal_summary="save an article (its first line is the title)"),
    Command("ingest", "save new files from the watched folder", admin=True, terminal_usage="PATH",
            terminal_summary="save the articles in a file or folder"),
    Command("feed", "poll a feed (or the feed a page advertises) for new articles", "URL [MINUTES]", admin=True),
    Command("feeds", "the polled feeds, their health, remove buttons", admin=True, terminal_usage="[remove ID|poll]",
            terminal_summary="the polled feeds and their health; remove one, or poll them now"),
    Command("reindex", "rebuild the search index in the background", admin=True),
    Command("stats", "store, index, subscriptions, outbox and feeds", admin=True),
)


def menu(admin: bool) -> list[tuple[str, str]]:
    """(name, summary) of the listed commands: everyone's, or only the admins' own."""
    return [(c.name, c.summary) for c in COMMANDS if c.menu and c.admin == admin]


def terminal_help() -> list[str]:
    """The terminal chat's command lines (there, the person at the keyboard is the admin)."""
    lines = [c.line(terminal=True) for c in COMMANDS if c.terminal and c.menu]
    lines.append(("/quit", "leave (Ctrl-D works too)"))
    width = max(len(usage) for usage, _ in lines) + 2
    return [f"  {usage.ljust(width)}{summary}" for usage, summary in lines]
