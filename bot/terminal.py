"""The terminal chat: the Telegram bot's conversation for trying newsbot without a token.

The person at the terminal is the local user and also its admin, so every command works here:
questions, topics and their alerts (printed when an article you save matches), /timeline as a
sparkline, /save and /reindex.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path

from index.engine import Engine
from index.store.base import now_iso
from index.topics import TopicError

from .chart import timeline_text
from .render import format_date, render_text

TERMINAL_CHAT = 1  # the local user's chat id in the store (Telegram chat ids are never 1 for users)

HELP = """Ask any question about the stored news, for example:
  When did Kestrel Mobile sign the 5G deal?
  What happened with the rail strike this week?
Commands:
  /help                 this text
  /latest [topic]       the newest stored articles (on a topic)
  /article ID           read one stored article
  /timeline TOPIC       how often a topic was in the news, week by week or month by month
  /subscribe TOPIC      alerts when a saved article matches (-word excludes, "a phrase" is required;
                        start with daily: for a daily digest)
  /topics               your topics
  /unsubscribe TOPIC    stop one (its text or number), or all
  /save TEXT            save an article (first line: title); /ingest PATH saves files or folders
  /stats                what the store holds
  /reindex              rebuild the search index
  /quit                 leave (Ctrl-D works too)"""


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
        arg = arg.strip()
        if command in ("/quit", "/exit"):
            return False
        handler = self._commands().get(command)
        if handler is not None:
            handler(arg)
        elif command.startswith("/"):
            self.write(f"Unknown command {command}. Try /help.")
        else:
            self.write(render_text(self.engine.answer(line, now=self.now())))
        return True

    def _commands(self) -> dict[str, Callable[[str], None]]:
        return {
            "/help": lambda _: self.write(HELP), "/start": lambda _: self.write(HELP),
            "/stats": self._stats, "/latest": self._latest, "/article": self._article,
            "/timeline": self._timeline, "/subscribe": self._subscribe, "/topics": self._topics,
            "/unsubscribe": self._unsubscribe, "/save": self._save, "/ingest": self._ingest,
            "/reindex": self._reindex,
        }

    def _stats(self, _: str) -> None:
        stats = self.engine.store.stats()
        subs = self.engine.store.subscription_counts()
        self.write(f"{stats['articles']} articles from {len(stats['sources'])} source(s), "
                   f"{format_date(stats['first_date'])} to {format_date(stats['last_date'])}; "
                   f"{subs['topics']} topic(s) followed.")

    def _latest(self, topic: str) -> None:
        if topic:
            self.write(render_text(self.engine.answer(f"latest {topic}", now=self.now())))
            return
        headers = self.engine.store.latest(5)
        self.write("\n".join(f"{format_date(h.date)}  {h.title}  [{h.id}]" for h in headers) or "The store is empty.")

    def _article(self, article_id: str) -> None:
        article = self.engine.store.get(article_id)
        self.write(f"{article.title}\n{format_date(article.date)}\n\n{article.text}" if article
                   else f"No article with id {article_id!r}.")

    def _timeline(self, topic: str) -> None:
        if not topic:
            self.write("Which topic? e.g. /timeline rail strike")
            return
        try:
            self.write(timeline_text(self.engine.timeline(topic)))
        except TopicError as exc:
            self.write(str(exc))

    def _subscribe(self, text: str) -> None:
        from .subscriptions import split_delivery

        delivery, text = split_delivery(text)
        try:
            topic, created = self.engine.alerts.subscribe(TERMINAL_CHAT, text, delivery, "terminal", "terminal")
        except TopicError as exc:
            self.write(str(exc))
            return
        self.write(f"{'Subscribed to' if created else 'You already follow'} “{topic.query.raw}” ({topic.delivery}). "
                   "Articles you save that match it are shown here.")

    def _topics(self, _: str) -> None:
        topics = self.engine.alerts.topics(TERMINAL_CHAT)
        self.write("\n".join(f"{n}. {t.query.raw} ({t.delivery}{', muted' if t.muted else ''})"
                             for n, t in enumerate(topics, start=1)) or "You follow no topics. Try /subscribe TOPIC.")

    def _unsubscribe(self, text: str) -> None:
        removed = self.engine.alerts.unsubscribe(TERMINAL_CHAT, text) if text else 0
        self.write(f"Unsubscribed ({removed})." if removed else "No such topic; /topics lists yours.")

    def _save(self, text: str) -> None:
        from index.models import RawDocument

        if not text:
            self.write("Give the article text after /save (the first sentence or line is its title).")
            return
        report = self.engine.save_documents([RawDocument(origin="terminal", text=text, source="terminal",
                                                         date=now_iso()[:16])])
        self.write(f"saved {len(report.added)}, already stored {len(report.duplicates)}, rejected "
                   f"{report.rejected_total}" + "".join(f"\n  {r.reason}" for r in report.rejected))
        self._alerts()

    def _ingest(self, path: str) -> None:
        if not path or not Path(path).exists():
            self.write("Give a file or folder: /ingest PATH")
            return
        report = self.engine.ingest([path])
        self.write(f"saved {len(report.added)}, already stored {len(report.duplicates)}, "
                   f"rejected {report.rejected_total}")
        self._alerts()

    def _reindex(self, _: str) -> None:
        self.engine.reindex()
        self.write(f"Reindexed {self.engine.index.current.size} passages.")

    def _alerts(self) -> None:
        """Match what was saved and show this chat's due alerts, as the bot would send them."""
        self.engine.refresh()
        store = self.engine.store
        due = [a for a in store.due_alerts(now_iso()) if a.chat_id == TERMINAL_CHAT]
        for alert in due:
            self.write(f"🔔 New on “{alert.topic}”: “{alert.quote}”\n    — {alert.article.title} · "
                       f"{format_date(alert.article.date)}")
        store.mark_sent([a.id for a in due])

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
