"""`newsbot`: the one command-line entry point.

Exit codes scripts can rely on:
  0  success
  1  done, but some inputs were rejected (ingest) or a check failed
  2  usage or configuration error
  3  not found (an article id)
  4  the store could not be opened or used
  5  newsbot run: the Bot API could not be reached (a refused token is 2)
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import date

from index.config import Config, ConfigError, load_config, validate, with_store_path
from index.engine import Engine
from index.retrieval import MODES
from index.index_manager import IndexSaveError
from index.store import Store, StoreError, open_store, require_existing
from index.store.base import has_password
from index.store.base import redact as redacted_text

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_STORE = 0, 1, 2, 3, 4
EXIT_CODES = ("0 success, 1 done but some inputs were rejected (or feeds failed), 2 usage or configuration error, "
              "3 not found, 4 store error, 5 the Bot API could not be reached")


def _print_json(value: object) -> None:
    print(json.dumps(value, ensure_ascii=False))


def _open(config: Config, read_only: bool = False) -> Store:
    if read_only:
        require_existing(config.store.location)
    return open_store(config.store.location, read_only=read_only)


def cmd_ingest(args: argparse.Namespace, config: Config) -> int:
    from index.ingest import total_bytes
    from index.models import MAX_REJECTIONS_PER_FILE

    from .progress import progress_bar

    with Engine(config) as engine:
        with progress_bar(total_bytes(args.paths), "ingest", unit="B", quiet=args.json) as advance:
            report = engine.ingest(args.paths, progress=advance)
        if not args.no_index:
            _index(engine, quiet=args.json)
    if args.json:
        _print_json(report.as_dict())
    else:
        from .render import ingest_lines

        print("\n".join(ingest_lines(report)))
        if report.unlisted:
            print(f"  (at most {MAX_REJECTIONS_PER_FILE} rejections are listed per file)")
        if report.duplicates:
            print("  duplicates are articles already stored (--json lists their ids)")
    return EXIT_PARTIAL if report.rejected_total else EXIT_OK


def _index(engine: Engine, quiet: bool = False) -> None:
    """Bring the index up to date with the store, with a bar over the passages to embed."""
    from .progress import progress_bar

    pending = engine.pending_passages()
    with progress_bar(pending or None, "index", unit="passage", quiet=quiet or not pending) as advance:
        engine.open_index(advance)


def _parse_now(value: str | None, where: str = "--now"):
    from index.dates import parse_date

    if not value:
        return None
    parsed = parse_date(value) if isinstance(value, str) else None
    if not parsed:
        raise ConfigError(f"{where}: not a date: {value!r} (expected {NOW_FORMAT})")
    return date.fromisoformat(parsed[:10])


def cmd_ask(args: argparse.Namespace, config: Config) -> int:
    from .render import render_text

    if not args.batch and not args.question:
        print("newsbot ask: give a question or --batch FILE", file=sys.stderr)
        return EXIT_USAGE
    require_existing(config.store.location)
    with Engine(config) as engine:
        _index(engine, quiet=True)
        if args.batch:
            failed = 0
            with open(args.batch, encoding="utf-8") as handle:
                for number, line in enumerate(handle, start=1):
                    if not line.strip():
                        continue
                    try:
                        request = json.loads(line)
                        if not isinstance(request, dict) or not isinstance(request.get("question"), str):
                            raise TypeError('expected {"question": "...", "now": "YYYY-MM-DD"?}')
                        now = _parse_now(request.get("now"), where=f'line {number}: "now"') or date.today()
                        answer = engine.answer(request["question"], now=now, mode=args.mode)
                        _print_json(answer.as_dict())
                    except json.JSONDecodeError as exc:
                        failed += 1
                        _print_json({"line": number, "error": f"not valid JSON: {exc}"})
                    except (TypeError, ConfigError) as exc:
                        failed += 1
                        _print_json({"line": number, "error": str(exc)})
            return EXIT_PARTIAL if failed else EXIT_OK
        answer = engine.answer(" ".join(args.question), now=_parse_now(args.now) or date.today(), mode=args.mode)
    if args.json:
        _print_json(answer.as_dict())
    else:
        print(render_text(answer))
    return EXIT_OK


def cmd_reindex(args: argparse.Namespace, config: Config) -> int:
    import time

    from .progress import progress_bar

    require_existing(config.store.location)
    with Engine(config) as engine:
        started = time.perf_counter()
        with progress_bar(engine.store.stats()["passages"], "reindex", unit="passage", quiet=args.quiet) as advance:
            engine.reindex(advance)
        print(f"reindexed {engine.index.current.size} passages in {time.perf_counter() - started:.1f}s")
    return EXIT_OK


def cmd_chat(args: argparse.Namespace, config: Config, as_of=None) -> int:
    """`--now DATE` asks every question as of that day; the demo chat asks as of the demo set's last
    day (`as_of`), so its questions ("… this week") answer on whatever day it is tried."""
    from .terminal import TerminalChat

    require_existing(config.store.location)
    now = _parse_now(getattr(args, "now", None)) or as_of
    with Engine(config) as engine:
        print("loading the index…", file=sys.stderr)
        _index(engine)
        if now is not None:
            print(f"asking as of {now.isoformat()}"
                  + (" (the demo articles' last day; --now DATE to change)" if as_of and now == as_of else ""),
                  file=sys.stderr)
            chat = TerminalChat(engine, now=lambda: now)
        else:
            chat = TerminalChat(engine)
        stop = chat.watch_in_background(config.alerts.check_seconds,
                                        config.feeds.check_seconds if config.feeds.poll else None)
        try:
            chat.run()
        finally:
            stop.set()
    return EXIT_OK


def cmd_run(args: argparse.Namespace, config: Config) -> int:
    """With a token: the Telegram bot. Without: the terminal chat over the demo store."""
    if config.telegram.token:
        from .runner import run_bot

        return run_bot(config, _index, verbose=args.verbose, now=_parse_now(args.now))
    print("NEWSBOT_TOKEN is not set: starting the terminal chat over the demo articles "
          "(see the README to run the Telegram bot).", file=sys.stderr)
    return cmd_demo(args, config)


def cmd_demo(args: argparse.Namespace, config: Config) -> int:
    """Build the demo store from the bundled demo articles (once) and chat over it."""
    import dataclasses
    from importlib import resources

    demo = resources.files("index.demo") / "stories.jsonl"
    if not args.store_given:
        config = dataclasses.replace(config, store=dataclasses.replace(config.store, path="data/demo.db", url=""))
    with Engine(config) as engine, resources.as_file(demo) as path:
        report = engine.ingest([path])
    if report.added:
        print(f"demo store: added {len(report.added)} demo articles (fictional, written for newsbot)",
              file=sys.stderr)
    return cmd_chat(args, config, as_of=demo_day())


def demo_day():
    """The last day of the bundled demo articles: the day the demo chat asks on."""
    import json
    from importlib import resources

    text = (resources.files("index.demo") / "stories.jsonl").read_text(encoding="utf-8")
    days = [json.loads(line)["date"][:10] for line in text.splitlines() if line.strip()]
    return date.fromisoformat(max(days))


def cmd_migrate(args: argparse.Namespace, config: Config) -> int:
    """Copy a whole store to another (SQLite ⇄ PostgreSQL) without re-embedding anything."""
    from index.store.migrate import migrate

    if has_password(args.source) or has_password(args.target):
        print("newsbot: warning: a password on the command line is visible to every user of this machine "
              "(ps); give it in PGPASSWORD or ~/.pgpass instead", file=sys.stderr)
    with open_store(args.source) as source, open_store(args.target, allow_migrating=True) as target:
        if target.migration_marker() is not None and not args.json:
            print(f"an earlier migration into {target.location()} did not complete; starting it over",
                  file=sys.stderr)
        counts = migrate(source, target, lambda stage, n: None if args.json else print(f"  {stage} +{n}",
                                                                                    file=sys.stderr))
    if args.json:
        _print_json(counts)
    else:
        print(", ".join(f"{name} {n:,}" for name, n in counts.items()) + f" copied to {target.location()}")
    return EXIT_OK


def cmd_stats(args: argparse.Namespace, config: Config) -> int:
    with _open(config, read_only=True) as store:
        stats = store.stats()
        stats["feeds"] = store.feed_counts()
    if args.json:
        _print_json(stats)
        return EXIT_OK
    feeds = stats["feeds"]
    print(f"store:     {stats['store']}")
    print(f"articles:  {stats['articles']} ({stats['undated']} without a date)")
    print(f"passages:  {stats['passages']}   sentences: {stats['sentences']}")
    print(f"dates:     {stats['first_date'] or '-'} … {stats['last_date'] or '-'}")
    print(f"feeds:     {feeds['enabled']} polled, {feeds['failing']} failing, {feeds['disabled']} disabled")
    for source, count in list(stats["sources"].items())[:10]:
        print(f"  {count:6d}  {source}")
    return EXIT_OK


def cmd_list(args: argparse.Namespace, config: Config) -> int:
    with _open(config, read_only=True) as store:
        for header in store.headers():
            if args.json:
                _print_json(header.as_dict())
            else:
                print(f"{header.id}\t{header.date or 'date unknown'}\t{header.title}")
    return EXIT_OK


def cmd_show(args: argparse.Namespace, config: Config) -> int:
    with _open(config, read_only=True) as store:
        article = store.get(args.id)
    if article is None:
        print(f"no article with id {args.id!r}", file=sys.stderr)
        return EXIT_NOT_FOUND
    fields = {
        "id": article.id, "title": article.title, "date": article.date,
        "source": article.source, "url": article.url, "text": article.text,
    }
    if args.json:
        _print_json(fields)
    else:
        print(article.title)
        print(" · ".join(x for x in (article.date or "date unknown", article.source, article.url or "") if x))
        print()
        print(article.text)
    return EXIT_OK


def cmd_eval(args: argparse.Namespace, config: Config) -> int:
    import contextlib
    import dataclasses
    import os
    from pathlib import Path

    evaluation = _checkout_module("evaluation")

    from .progress import progress_bar

    eval_dir = _eval_dir(args)
    cache = Path(args.cache or os.environ.get("NEWSBOT_CACHE", Path.home() / ".cache" / "newsbot" / "eval"))
    if args.set:
        config = _override(config, args.set)
    if args.alerts:
        return _eval_alerts(args, config, eval_dir, cache)
    if not (eval_dir / "questions_dev.jsonl").is_file():
        print(f"evaluation data not found in {eval_dir} (expected ../shared/eval); skipping", file=sys.stderr)
        return EXIT_OK
    questions = evaluation.load_questions(eval_dir)
    if args.limit:
        questions = questions[: args.limit]
    modes = args.modes.split(",")
    with contextlib.ExitStack() as stack:
        engine = stack.enter_context(evaluation.pool_engine(config, eval_dir, args.pool, cache))
        _index(engine)
        wire = None
        unanswerable = []
        if not args.no_unanswerable:
            unanswerable = evaluation.load_unanswerable()
            wire = stack.enter_context(evaluation.pool_engine(config, eval_dir, evaluation.REUTERS_POOL, cache))
            _index(wire)
        details = stack.enter_context(open(args.details, "w", encoding="utf-8")) if args.details else None
        write = (lambda record: details.write(json.dumps(record, ensure_ascii=False) + "\n")) if details else None
        with progress_bar(len(questions) * len(modes), "questions") as advance:
            results = evaluation.evaluate(engine, questions, modes, use_now=not args.no_now, progress=advance,
                                          unanswerable=unanswerable, wire=wire, details=write)
    title = (f"{args.pool}: {len(questions)} dev questions, "
             f"{'question date as now' if not args.no_now else 'no date given'}")
    if args.json:
        _print_json({"pool": args.pool, "use_now": not args.no_now, "results": results,
                     "settings": dataclasses.asdict(config.retrieval)})
    else:
        print(evaluation.format_table(results, title))
    return EXIT_OK


def _eval_alerts(args: argparse.Namespace, config: Config, eval_dir, cache) -> int:
    """`newsbot eval --alerts`: topic alerts on the Reuters dev split, through the bot's own path."""
    alert_eval = _checkout_module("alert_eval")

    missing = alert_eval.eval_data_missing(eval_dir)
    if missing:
        print(missing, file=sys.stderr)
        return EXIT_OK
    options = alert_eval.AlertEvalOptions(feedback=args.feedback)
    report = alert_eval.run_alert_eval(config, eval_dir, cache, options, log=lambda line: print(line, file=sys.stderr))
    if args.json:
        _print_json(report)
    else:
        print(alert_eval.format_report(report))
    return EXIT_OK


def cmd_bench(args: argparse.Namespace, config: Config) -> int:
    """Speed, memory and scale on ../shared/eval, each figure beside a peer measured in the same run."""
    from pathlib import Path

    bench = _checkout_module(None)

    if args.feeds:  # needs no eval data: its feeds are generated and served on loopback
        import runpy

        script = Path(__file__).resolve().parents[1] / "scripts" / "bench_feeds.py"  # needs no eval data
        if not script.is_file():
            print("newsbot bench --feeds runs from a checkout (scripts/bench_feeds.py)", file=sys.stderr)
            return EXIT_USAGE
        return runpy.run_path(str(script))["main"](["--json", str(Path(args.json).with_name("bench_feeds.json"))])
    eval_dir = _eval_dir(args)
    missing = bench.eval_data_missing(eval_dir)
    if missing:
        print(missing, file=sys.stderr)
        return EXIT_OK
    try:
        sizes = bench.parse_sizes(args.sizes)
    except ValueError as exc:
        raise ConfigError(f"--sizes: {exc}") from exc
    options = bench.BenchOptions(sizes=sizes, questions=args.questions, full=args.full, model=not args.no_model,
                                 threads=args.threads, ingest_articles=args.ingest_articles)
    report = bench.run_benchmark(config, eval_dir, options, log=lambda line: print(line, file=sys.stderr))
    print(bench.format_report(report))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nJSON written to {out}")
    return EXIT_OK


def _override(config: Config, assignments: list[str]) -> Config:
    """`--set retrieval.rrf_k=30` style overrides, for measuring settings without editing files."""
    import dataclasses

    for assignment in assignments:
        key, _, raw = assignment.partition("=")
        section, _, name = key.partition(".")
        current = getattr(config, section, None)
        if current is None or not dataclasses.is_dataclass(current) or not hasattr(current, name):
            raise ConfigError(f"--set {assignment}: no setting {key!r}")
        kind = type(getattr(current, name))
        try:
            value = raw.lower() in ("1", "true", "yes") if kind is bool else kind(raw)
        except ValueError as exc:
            raise ConfigError(f"--set {assignment}: {exc}") from exc
        config = dataclasses.replace(config, **{section: dataclasses.replace(current, **{name: value})})
    validate(config)
    return config


READS = ("scraped page text (.txt), HTML pages (.html/.htm), JSON and JSONL exports (.json, .jsonl, .ndjson, "
         "gzipped too) with title/date/url/text fields, RSS and Atom feed files (.xml/.rss/.atom), and folders "
         "of these (hidden files skipped)")
NOW_FORMAT = "YYYY-MM-DD (or any date with day, month and year, e.g. '6 June 2019')"


def common_options() -> argparse.ArgumentParser:
    """--config, --store and -v, accepted before or after the command (`newsbot stats --store x`).
    After the command they are SUPPRESSed when absent, so they never undo what was given before it."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=argparse.SUPPRESS,
                        help="TOML config file (default: $NEWSBOT_CONFIG, else built-in defaults)")
    common.add_argument("--store", default=argparse.SUPPRESS,
                        help="store path or URL (sqlite:///…, postgresql://…), overriding the config")
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="log debug output (and full tracebacks)")
    return common


def build_parser() -> argparse.ArgumentParser:
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("newsbot")
    except PackageNotFoundError:
        installed = "unknown (not installed)"
    parser = argparse.ArgumentParser(
        prog="newsbot", description="Answers questions from saved news articles with quoted, dated sentences.",
        epilog=f"Exit codes: {EXIT_CODES}.")
    parser.add_argument("--version", action="version", version=f"newsbot {installed}")
    parser.add_argument("--config", help="TOML config file (default: $NEWSBOT_CONFIG, else built-in defaults)")
    parser.add_argument("--store", help="store path or URL (sqlite:///…, postgresql://…), overriding the config")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug output (and full tracebacks)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = common_options()

    def command(name: str, summary: str, description: str = ""):
        return sub.add_parser(name, help=summary, description=description or summary[0].upper() + summary[1:] + ".",
                              parents=[common])

    _conversation_commands(command)
    _store_commands(command)
    from . import feeds_cli

    feeds_cli.add_parser(sub, common)

    _development_commands(command)
    return parser


def _store_commands(command) -> None:
    """ingest, reindex, migrate, stats, list, show: what the store holds and how it gets there."""
    p = command("ingest", "save articles from files or folders, then index them",
                f"Save articles, then index them (embedding only new text). Reads {READS}. A broken file "
                "is one line in the report; the rest goes on. Exit 1 when some input was rejected.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
    p.add_argument("--json", action="store_true", help="print the report as JSON (with the ids added and duplicated)")
    p.add_argument("--no-index", action="store_true", help="save only; index later (ask/chat catch up)")
    p.set_defaults(func=cmd_ingest)

    p = command("reindex", "rebuild the index aside and swap it in (cached vectors reused)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_reindex)

    p = command("migrate", "copy a store to another backend (sqlite:///… ⇄ postgresql://…)",
                "Copy a whole store (articles, vectors, chats, topics, the outbox, feeds) into a new, empty one "
                "without re-embedding. Keep PostgreSQL passwords in PGPASSWORD or ~/.pgpass, not in the URL.")
    p.add_argument("--from", dest="source", required=True, metavar="STORE", help="path or URL of the store to copy")
    p.add_argument("--to", dest="target", required=True, metavar="STORE", help="path or URL of a new, empty store")
    p.add_argument("--json", action="store_true", help="the counts copied as JSON")
    p.set_defaults(func=cmd_migrate)

    p = command("stats", "what the store holds")
    p.add_argument("--json", action="store_true", help="as one JSON object")
    p.set_defaults(func=cmd_stats)

    p = command("list", "one line per stored article")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=cmd_list)

    p = command("show", "one whole stored article")
    p.add_argument("id", help="the article id (see `newsbot list`)")
    p.add_argument("--json", action="store_true", help="as one JSON object, with the text")
    p.set_defaults(func=cmd_show)



def _conversation_commands(command) -> None:
    """ask, chat, run: questions answered, once, in a terminal, or on Telegram."""
    p = command("ask", "answer one question (or a JSONL batch) with quoted sentences",
                "Answer with sentences quoted verbatim from the stored articles, each with its title and date.")
    p.add_argument("question", nargs="*", help="the question (quote it, or give it as several words)")
    p.add_argument("--now", metavar="DATE", help=f"the day the question is asked, {NOW_FORMAT}; default today "
                   "(nothing published later is quoted, recent news is favoured)")
    p.add_argument("--batch", metavar="FILE.jsonl", help='one {"question", "now"?} per line; one JSON answer per '
                   "line out (exit 1 when some line failed)")
    p.add_argument("--mode", default="hybrid", choices=MODES,
                   help="retrieval: hybrid (default), BM25 alone (no model loaded) or embeddings alone")
    p.add_argument("--json", action="store_true", help="the answer as JSON (quotes, ranked article ids, …)")
    p.set_defaults(func=cmd_ask)

    p = command("chat", "a terminal conversation over the store",
                "The Telegram bot's conversation in a terminal, over your store (where `ingest` writes); "
                "you are its admin. /help inside lists the commands.")
    p.add_argument("--now", metavar="DATE", help=f"the day questions are asked, {NOW_FORMAT}; default today")
    p.set_defaults(func=cmd_chat)

    p = command("run", "the Telegram bot; without NEWSBOT_TOKEN, the terminal chat over demo data",
                "With NEWSBOT_TOKEN set (or [telegram] token in the config): the Telegram bot, long polling "
                "or a webhook ([telegram] mode), polling due feeds in the background. Without a token: the "
                "terminal chat over the bundled demo articles (data/demo.db), asked as of their last day. "
                "Exit 2 when Telegram refuses the token, 5 when the Bot API cannot be reached.")
    p.add_argument("--now", metavar="DATE", help=f"the day questions are asked, {NOW_FORMAT}; default today "
                   "(the demo chat: the demo articles' last day)")
    p.set_defaults(func=cmd_run)



def _development_commands(command) -> None:
    """eval and bench: measurement from a checkout (their code lives in bench/, not the wheel)."""
    p = command("eval", "measure retrieval and answers on ../shared/eval",
                "Score BM25, embeddings and the hybrid on the dev questions (recall@k, MRR, answers in "
                "quotes, dates) over a pool built once in the cache.")
    p.add_argument("--pool", default="pool_quick", choices=["pool_quick", "pool_standard"],
                   help="which articles: pool_quick (1,000) or pool_standard (8,270)")
    p.add_argument("--eval-dir", help="the evaluation data (default: $NEWSBOT_EVAL_DIR, else ../shared/eval)")
    p.add_argument("--cache", help="where pool stores and vectors are kept (default ~/.cache/newsbot/eval)")
    p.add_argument("--modes", default="bm25,dense,hybrid", help="comma-separated retrieval modes to score")
    p.add_argument("--limit", type=int, default=0, help="only the first N questions")
    p.add_argument("--no-now", action="store_true", help="do not give the question's date as now")
    p.add_argument("--no-unanswerable", action="store_true",
                   help="skip the unanswerable set (the written questions, and the dev questions asked of "
                        f"a store of the first {2000:,} Reuters 1987 stories)")
    p.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE", help="override a setting")
    p.add_argument("--alerts", action="store_true",
                   help="topic alerts on the Reuters dev split instead of questions (README: Alert evaluation)")
    p.add_argument("--feedback", type=int, default=0, metavar="N",
                   help="with --alerts: judge the first N alerts of each topic by the labels, score the rest")
    p.add_argument("--json", action="store_true", help="the results as JSON")
    p.add_argument("--details", metavar="PATH",
                   help="write one JSON line per question and mode (rank, quotes, which counts it met) to PATH; "
                        "it quotes the publishers' texts, so keep it outside the repository")
    p.set_defaults(func=cmd_eval)

    p = command("bench", "speed, memory and scale beside rank-bm25, bm25s and numpy, on ../shared/eval")
    p.add_argument("--sizes", default="10000,100000,1000000", help="index sizes in passages, comma-separated")
    p.add_argument("--json", default="data/bench.json", metavar="PATH", help="where the JSON report is written")
    p.add_argument("--questions", type=int, default=0,
                   help="questions timed per size (default: every dev question, repeated to at least 200)")
    p.add_argument("--full", action="store_true", help="reindex every real article (~45k) instead of 5,000")
    p.add_argument("--no-model", action="store_true", help="random query vectors, no ingest figures")
    p.add_argument("--threads", type=int, default=1, help="torch threads for the model (0: torch's default)")
    p.add_argument("--ingest-articles", type=int, default=300, help="articles for the ingest throughput")
    p.add_argument("--feeds", action="store_true", help="only the feed polling benchmark (1,000 local feeds; "
                   "scripts/bench_feeds.py has its options)")
    p.add_argument("--eval-dir", help="the evaluation data (default: $NEWSBOT_EVAL_DIR, else ../shared/eval)")
    p.set_defaults(func=cmd_bench)


def _checkout_module(name: str | None):
    """A module of the top-level `bench/` package (evaluation and benchmarks): development tools
    beside the library, not shipped in the wheel, so these commands run from a checkout."""
    import importlib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    if not (root / "bench" / "__init__.py").is_file():
        raise ConfigError("newsbot eval and newsbot bench run from a checkout of newsbot (its bench/ folder)")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return importlib.import_module(f"bench.{name}" if name else "bench")


def _eval_dir(args: argparse.Namespace):
    from pathlib import Path

    return Path(args.eval_dir) if args.eval_dir else _checkout_module("evaluation").default_eval_dir()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    args.store_given = bool(args.store)
    try:
        config = with_store_path(load_config(args.config), args.store)
    except ConfigError as exc:
        print(f"newsbot: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return args.func(args, config)
    except ConfigError as exc:
        print(f"newsbot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StoreError as exc:
        print(f"newsbot: store error: {redacted_text(str(exc))}", file=sys.stderr)
        return EXIT_STORE
    except IndexSaveError as exc:  # a full disk or a read-only folder: one line, not a traceback
        print(f"newsbot: index error: {exc.strerror}", file=sys.stderr)
        return EXIT_STORE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
