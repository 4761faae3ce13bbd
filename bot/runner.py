"""`newsbot run` with a token: the Telegram bot in long-polling or webhook mode.

python-telegram-bot's run_polling / run_webhook stop cleanly on SIGINT and SIGTERM: the updater
stops fetching, running handlers finish, post_stop stops the alert sender between two messages,
and only then is the store closed. Every store change is a transaction, so even a hard kill
leaves nothing half-written (see the README on the alert outbox).
"""

from __future__ import annotations

import logging
import sys
from urllib.parse import urlsplit

from telegram import Update
from telegram.error import InvalidToken, NetworkError

from index.config import Config
from index.engine import Engine

from .telegram_app import build_application

log = logging.getLogger(__name__)
EXIT_UNREACHABLE = 5  # the Bot API could not be reached (the token refused is 2, a configuration error)


class RedactSecrets(logging.Filter):
    """Keep the bot token (which python-telegram-bot and httpx put in URLs) out of every log line."""

    def __init__(self, *secrets: str):
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "<redacted>")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(s in message for s in self.secrets):
            record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:  # tracebacks quote URLs too
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


class StartupFailureLine(logging.Filter):
    """python-telegram-bot logs a failed start (token refused, Bot API unreachable) with its whole
    traceback before raising; `run_bot` then says the same in one line. Without -v that record
    is dropped, so an operator sees one line, not a hundred."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name.startswith("telegram") and "Bootstrap" in record.getMessage())


def configure_logging(config: Config, verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    if not verbose:
        for handler in logging.getLogger().handlers:
            handler.addFilter(StartupFailureLine())
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request, token in the URL
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per periodic check otherwise
    redact = RedactSecrets(config.telegram.token, config.telegram.webhook_secret)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)


def run_bot(config: Config, open_index, verbose: bool = False, now=None) -> int:
    """`open_index(engine)` loads and catches up the index (the CLI shows a progress bar)."""
    configure_logging(config, verbose)
    t = config.telegram
    with Engine(config) as engine:
        open_index(engine)
        app = build_application(engine, config, now=now)
        log.info("newsbot starting (%s, %d articles)", t.mode, engine.store.stats()["articles"])
        try:
            if t.mode == "webhook":
                app.run_webhook(
                    listen=t.webhook_listen, port=t.webhook_port,
                    url_path=urlsplit(t.webhook_url).path.lstrip("/"), webhook_url=t.webhook_url,
                    secret_token=t.webhook_secret, allowed_updates=Update.ALL_TYPES,
                )
            else:
                app.run_polling(allowed_updates=Update.ALL_TYPES)
        except InvalidToken:
            print("newsbot run: Telegram refused the token (check NEWSBOT_TOKEN)", file=sys.stderr)
            return 2
        except NetworkError as exc:
            print(f"newsbot run: cannot reach the Bot API at {t.base_url}: {exc.message}", file=sys.stderr)
            return EXIT_UNREACHABLE
    return 0
