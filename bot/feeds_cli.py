"""`newsbot feeds …`: add, list, remove, poll, import and export the feeds the store polls."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from index.config import Config
from index.engine import Engine
from index.opml import OpmlError
from index.store import require_existing

from . import feed_commands
from .feed_poller import FeedPoller, add_feeds

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_NOT_FOUND = 0, 1, 2, 3


def add_parser(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("feeds", help="the feed URLs the store polls (add, list, remove, poll, import, export)",
                       description="Feeds the store polls for new articles. `newsbot run` polls due feeds in the "
                                   "background; `feeds poll` polls once and exits (for cron and tests).",
                       parents=[common])
    actions = p.add_subparsers(dest="feeds_command", metavar="ACTION", required=True)

    def feeds_action(name: str, summary: str):
        return actions.add_parser(name, help=summary, description=summary[0].upper() + summary[1:] + ".",
                                  parents=[common])

    a = feeds_action("add", "add feeds (a page URL finds the feed it advertises)")
    a.add_argument("urls", nargs="+", metavar="URL")
    a.add_argument("--interval", type=float, metavar="MINUTES", help="this feed's poll interval (default: "
                   "[feeds] interval_minutes)")
    a.add_argument("--no-check", action="store_true", help="add without fetching the URL first")
    a.set_defaults(feeds_func=_add)

    a = feeds_action("list", "every feed with its health")
    a.add_argument("--json", action="store_true", help="one JSON object per feed and line")
    a.set_defaults(feeds_func=_list)

    a = feeds_action("remove", "stop polling a feed (its articles stay)")
    a.add_argument("feed", metavar="URL|ID")
    a.set_defaults(feeds_func=_remove)

    a = feeds_action("poll", "one round over the due feeds (or --all), index what is new, then exit")
    a.add_argument("--all", action="store_true", help="every enabled feed, due or not")
    a.add_argument("--no-index", action="store_true", help="save only; the bot or the next ask indexes later")
    a.add_argument("--json", action="store_true", help="the round's report as JSON")
    a.set_defaults(feeds_func=_poll)

    a = feeds_action("import", "add the feeds of an OPML file")
    a.add_argument("file", metavar="FILE.opml")
    a.set_defaults(feeds_func=_import)

    a = feeds_action("export", "the feeds as OPML on stdout")
    a.set_defaults(feeds_func=_export)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, config: Config) -> int:
    if args.feeds_func not in (_add, _import):  # only these create a store
        require_existing(config.store.location)
    with Engine(config) as engine:
        return args.feeds_func(args, engine)


def _add(args, engine: Engine) -> int:
    results = asyncio.run(add_feeds(engine, args.urls, args.interval, check=not args.no_check))
    for url, feed, said in results:
        print(f"{url}: {said}" + (f" as feed {feed.id}" if feed else ""))
    return EXIT_PARTIAL if any(feed is None for _, feed, _ in results) else EXIT_OK


def _list(args, engine: Engine) -> int:
    feeds = engine.store.feeds()
    if args.json:
        for feed in feeds:
            print(json.dumps(feed.as_dict(), ensure_ascii=False))
    elif not feeds:
        print("No feeds yet: newsbot feeds add URL (or feeds import FILE.opml).")
    else:
        print("\n".join(feed_commands.describe(f) for f in feeds))
    return EXIT_OK


def _remove(args, engine: Engine) -> int:
    feed = engine.store.find_feed(args.feed)
    if feed is None or not engine.store.remove_feed(feed.id):
        print(f"no feed {args.feed!r} (newsbot feeds list shows them)", file=sys.stderr)
        return EXIT_NOT_FOUND
    print(f"removed feed {feed.id} ({feed.url}); its {feed.items} article(s) stay in the store")
    return EXIT_OK


def _poll(args, engine: Engine) -> int:
    report = asyncio.run(FeedPoller(engine).poll_round(every=args.all, index=not args.no_index))
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        names = {f.id: f.title for f in engine.store.feeds()}
        print("\n".join(feed_commands.round_lines(report, names)) if report.feeds else "No feed is due.")
    return EXIT_PARTIAL if report.failed else EXIT_OK


def _import(args, engine: Engine) -> int:
    try:
        with open(args.file, "rb") as handle:
            data = handle.read(5_000_000)
        added, known, problems = feed_commands.import_opml(engine, data)
    except (OSError, OpmlError) as exc:
        print(f"newsbot feeds import: {args.file}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"added {added} feed(s), {known} already polled" + "".join(f"\n  skipped {p}" for p in problems))
    return EXIT_PARTIAL if problems else EXIT_OK


def _export(args, engine: Engine) -> int:
    sys.stdout.write(feed_commands.export_opml(engine))
    return EXIT_OK
