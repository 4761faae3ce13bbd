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
  /feed URL [MINUTES]   poll a feed (or the feed a page advertises) for new articles
  /feeds                the polled feeds and their health; /feeds remove ID, /feeds poll
  /reindex              rebuild the search index
  /quit                 leave (Ctrl-D works too)"""


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
        report = self.engine.save_documents([RawDocument(origin="terminal", text=text, source="terminal")])
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

    def poll_in_background(self, check_seconds: float) -> threading.Event:
        """Poll due feeds every `check_seconds` while the chat runs; set the event to stop."""
        stop = threading.Event()

        def loop() -> None:
            import asyncio

            from .feed_poller import FeedPoller

            poller = FeedPoller(self.engine)
            while not stop.wait(check_seconds):
                try:
                    report = asyncio.run(poller.poll_round())
                except Exception as exc:  # noqa: BLE001 - the chat goes on; the next tick tries again
                    self.write(f"(feed poll failed: {exc})")
                    continue
                if report.added:
                    with self.lock:
                        self.write(f"(feeds: {report.added} new article(s))")
                        self._alerts()

        threading.Thread(target=loop, name="feed-poller", daemon=True).start()
        return stop

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
            with self.lock:
                if not self.handle(line):
                    break


def _prompt_lines(interactive: bool):
    while True:
        try:
            yield input("you> ") if interactive else input()
        except EOFError:
            return
