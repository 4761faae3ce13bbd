"""The terminal chat: the same answers as the Telegram bot, for trying newsbot without a token."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from datetime import date

from index.engine import Engine

from .render import format_date, render_text

HELP = """Ask any question about the stored news, for example:
  When did Kestrel Mobile sign the 5G deal?
  What happened with the rail strike this week?
Commands:
  /help             this text
  /stats            what the store holds
  /latest [topic]   the newest stored articles (on a topic)
  /article ID       read one stored article
  /quit             leave (Ctrl-D works too)"""


class TerminalChat:
    def __init__(self, engine: Engine, now: Callable[[], date] = date.today,
                 write: Callable[[str], None] = print):
        self.engine = engine
        self.now = now
        self.write = write

    def handle(self, line: str) -> bool:
        """Answer one line; False when the user wants to leave."""
        line = line.strip()
        if not line:
            return True
        command, _, arg = line.partition(" ")
        if command in ("/quit", "/exit"):
            return False
        if command in ("/help", "/start"):
            self.write(HELP)
        elif command == "/stats":
            stats = self.engine.store.stats()
            self.write(f"{stats['articles']} articles from {len(stats['sources'])} source(s), "
                       f"{format_date(stats['first_date'])} to {format_date(stats['last_date'])}.")
        elif command == "/latest":
            self.write(self._latest(arg.strip()))
        elif command == "/article":
            article = self.engine.store.get(arg.strip())
            self.write(f"{article.title}\n{format_date(article.date)}\n\n{article.text}" if article
                       else f"No article with id {arg.strip()!r}.")
        elif command.startswith("/"):
            self.write(f"Unknown command {command}. Try /help.")
        else:
            self.write(render_text(self.engine.answer(line, now=self.now())))
        return True

    def _latest(self, topic: str) -> str:
        if topic:
            answer = self.engine.answer(f"latest {topic}", now=self.now())
            return render_text(answer)
        headers = sorted(self.engine.store.headers(), key=lambda h: h.date or "", reverse=True)[:5]
        return "\n".join(f"{format_date(h.date)}  {h.title}  [{h.id}]" for h in headers) or "The store is empty."

    def run(self, lines: Iterable[str] | None = None) -> None:
        interactive = lines is None and sys.stdin.isatty()
        if interactive:
            self.write(HELP)
        source = lines if lines is not None else _prompt_lines(interactive)
        for line in source:
            if not self.handle(line):
                break


def _prompt_lines(interactive: bool):
    while True:
        try:
            yield input("you> ") if interactive else input()
        except EOFError:
            return
