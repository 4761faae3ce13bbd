"""The terminal chat: the Telegram bot's conversation for trying newsbot without a token.

The person at the terminal is the local user and also its admin, so every command works here:
questions, topics and their alerts (printed when an article you save matches), /timeline as a
sparkline, /save and /reindex.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path

from index.engine import Engine
from index.store.base import now_iso
from index.topics import TopicError

from .chart import timeline_text
from .commands import terminal_help
from .messages import (ASK_EXAMPLES, LATEST_STORIES, UNSUBSCRIBE_WHICH, alert_text, digest_parts, latest_text,
                       subscribed_text, topics_text, unsubscribed_text)
from .render import PLAIN, format_date, ingest_lines, render_text

TERMINAL_CHAT = 1  # the local user's chat id in the store (Telegram chat ids are never 1 for users)

HELP = "\n".join(["Ask any question about the stored news, for example:", *[f"  {q}" for q in ASK_EXAMPLES],
                  "Commands:", *terminal_help()])


class TerminalChat:
    def __init__(self, engine: Engine, now: Callable[[], date] = date.today,
                 write: Callable[[str], None] = print):
        self.engine = engine
        self.now = now
        self.write = write
        self.lock = threading.RLock()  # one line at a time: the background feed poller prints too

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
            "/reindex": self._reindex, "/feed": self._feed, "/feeds": self._feeds,
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
        self.write(latest_text(self.engine.store.latest(LATEST_STORIES), PLAIN))

    def _article(self, article_id: str) -> None:
        if not article_id:
            self.write("Which article? /article ID (the ids are in /latest, e.g. /article demo-005)")
            return
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
        self.write(subscribed_text(topic, created, PLAIN))

    def _topics(self, _: str) -> None:
        topics = self.engine.alerts.topics(TERMINAL_CHAT)
        self.write(topics_text(topics, self.engine.config.alerts.threshold, PLAIN))

    def _unsubscribe(self, text: str) -> None:
        if not text:
            self.write(UNSUBSCRIBE_WHICH)
            return
        self.write(unsubscribed_text(self.engine.alerts.unsubscribe(TERMINAL_CHAT, text)))

    def _save(self, text: str) -> None:
        from index.models import RawDocument

        if not text:
            self.write("Give the article text after /save (the first sentence or line is its title).")
            return
        report = self.engine.save_documents([RawDocument(origin="terminal", text=text, source="terminal")])
        self.write("\n".join(ingest_lines(report)))
        self._alerts()

    def _ingest(self, path: str) -> None:
        if not path or not Path(path).exists():
            self.write("Give a file or folder: /ingest PATH")
            return
        report = self.engine.ingest([path])
        self.write("\n".join(ingest_lines(report)))
        self._alerts()

    def _reindex(self, _: str) -> None:
        self.engine.reindex()
        self.write(f"Reindexed {self.engine.index.current.size} passages.")

    def _feed(self, arg: str) -> None:
        import asyncio

        from .feed_poller import add_feeds

        words = arg.split()
        if not words:
            self.write("Give a feed URL (or a page that advertises one): /feed URL [MINUTES]")
            return
        try:
            interval = float(words[1]) if len(words) > 1 else None
        except ValueError:
            self.write("The poll interval is a number of minutes: /feed URL 30")
            return
        [(url, feed, said)] = asyncio.run(add_feeds(self.engine, [words[0]], interval))
        self.write(f"{url}: {said}" + (f" as feed {feed.id}; polling it now." if feed else ""))
        if feed:
            self._poll_feeds(every=False)

    def _feeds(self, arg: str) -> None:
        from . import feed_commands

        action, _, rest = arg.partition(" ")
        if action == "remove":
            feed = self.engine.store.find_feed(rest) if rest.strip() else None
            removed = feed is not None and self.engine.store.remove_feed(feed.id)
            self.write(f"Removed feed {feed.id}; its articles stay." if removed else "No such feed; /feeds lists them.")
        elif action == "poll":
            self._poll_feeds(every=True)
        elif action:
            self.write("Usage: /feeds, /feeds remove ID, /feeds poll")
        else:
            feeds = self.engine.store.feeds()
            self.write("\n".join(feed_commands.describe(f) for f in feeds) or "No feeds yet: /feed URL adds one.")

    def _poll_feeds(self, every: bool) -> None:
        """One round now, then the alerts it brought (the background poller does the same when due)."""
        import asyncio

        from . import feed_commands
        from .feed_poller import FeedPoller

        with self.lock:
            report = asyncio.run(FeedPoller(self.engine).poll_round(every=every))
            self.write("\n".join(feed_commands.round_lines(report)) if report.feeds else "No feed is due.")
            self._alerts()

    def watch_in_background(self, check_seconds: float, feed_seconds: float | None) -> threading.Event:
        """While the chat runs: every `check_seconds`, index what other processes saved and show the
        alerts it brings (daily digests when due), as the bot would send them; every `feed_seconds`
        (None: never), poll the due feeds first. Set the returned event to stop."""
        stop = threading.Event()

        def loop() -> None:
            import asyncio
            import time

            from .feed_poller import FeedPoller

            poller = FeedPoller(self.engine) if feed_seconds else None
            last_round = -float("inf")
            while not stop.wait(check_seconds):
                try:
                    if poller is not None and time.monotonic() - last_round >= feed_seconds:
                        last_round = time.monotonic()
                        report = asyncio.run(poller.poll_round(index=False))
                        if report.added:
                            with self.lock:
                                self.write(f"(feeds: {report.added} new article(s))")
                    with self.lock:
                        self._alerts()
                except Exception as exc:  # noqa: BLE001 - the chat goes on; the next tick tries again
                    self.write(f"(checking for new articles failed: {exc})")

        threading.Thread(target=loop, name="terminal-watch", daemon=True).start()
        return stop

    def _alerts(self, now: str | None = None) -> None:
        """Match what was saved and show this chat's due alerts, as the bot would send them."""
        self.engine.refresh()
        store = self.engine.store
        due = [a for a in store.due_alerts(now or now_iso()) if a.chat_id == TERMINAL_CHAT]
        instant = [a for a in due if a.delivery != "daily"]
        daily = [a for a in due if a.delivery == "daily"]
        for alert in instant:
            self.write(alert_text(alert, PLAIN))
        if daily:
            for text, _ in digest_parts(daily, PLAIN):
                self.write(text)
        store.mark_sent([a.id for a in due])

    def run(self, lines: Iterable[str] | None = None) -> None:
        interactive = lines is None and sys.stdin.isatty()
        if interactive:
            self.write(HELP)
        source = lines if lines is not None else _prompt_lines(interactive)
        for line in source:
            with self.lock:
                if not self.handle(line):
                    break


HISTORY = Path.home() / ".newsbot_history"


def _prompt_lines(interactive: bool):
    """Lines typed; at a terminal with line editing and history (↑/↓, kept in ~/.newsbot_history)."""
    readline = None
    if interactive:
        try:
            import readline
        except ImportError:  # not on every platform; input() still works
            readline = None
    if readline is not None:
        try:
            readline.read_history_file(HISTORY)
        except OSError:
            pass
        readline.set_history_length(1000)
    try:
        while True:
            try:
                yield input("you> ") if interactive else input()
            except EOFError:
                return
    finally:
        if readline is not None:
            try:
                readline.write_history_file(HISTORY)
            except OSError:
                pass
