"""`newsbot run` as a real process: it serves a Bot API server with the configured base_url, answers,
keeps the token out of its logs, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from tests.support.botapi import LocalBotApi

from bot.runner import RedactSecrets

ROOT = Path(__file__).resolve().parents[2]


def demo_store_copy(tmp_path: Path, demo_engine) -> Path:
    """The demo store, vectors and all (an SQLite backup: a file copy would miss the WAL)."""
    store = tmp_path / "bot.db"
    with sqlite3.connect(demo_engine.store.path) as source, sqlite3.connect(store) as copy:
        source.backup(copy)
    return store


@pytest.mark.parametrize("answer_processes", [0, 1])
def test_newsbot_run_answers_over_the_bot_api_and_stops_cleanly_on_sigterm(tmp_path, demo_engine, answer_processes):
    store = demo_store_copy(tmp_path, demo_engine)
    shutil.copytree(f"{demo_engine.store.path}.index", f"{store}.index")
    with LocalBotApi(token="98765:SECRET-token-value") as api:
        config = tmp_path / "newsbot.toml"
        config.write_text(f'[telegram]\nbase_url = "{api.base_url}"\nbase_file_url = "{api.base_file_url}"\n'
                          f"admins = [1]\nanswer_processes = {answer_processes}\n[model]\nthreads = 1\n")
        env = dict(os.environ, PYTHONPATH=str(ROOT), NEWSBOT_TOKEN=api.token)
        process = subprocess.Popen([sys.executable, "-m", "bot.cli", "--config", str(config), "--store", str(store),
                                    "run"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            api.wait_for_sync(lambda: api.calls_to("getUpdates"), timeout=90)
            api.push_message(5, "When did Kestrel Mobile sign the 5G deal with Orvane?")
            api.wait_for_sync(lambda: any("<blockquote>" in t for t in api.sent_texts(5)), timeout=60)
            process.send_signal(signal.SIGTERM)
            output = process.communicate(timeout=60)[0].decode()
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, output
    assert "12 Mar 2026" in api.sent_texts(5)[-1]
    assert api.token not in output and "SECRET" not in output
    assert "newsbot starting" in output
    assert ("answer workers ready: 1 process" in output) == bool(answer_processes)
    assert "Traceback" not in output  # the workers, too, stopped without one


def test_newsbot_run_with_a_refused_token_says_so(tmp_path):
    with LocalBotApi(token="1:right") as api:
        config = tmp_path / "newsbot.toml"
        config.write_text(f'[telegram]\nbase_url = "{api.base_url}"\n')
        env = dict(os.environ, PYTHONPATH=str(ROOT), NEWSBOT_TOKEN="2:wrong")
        result = subprocess.run([sys.executable, "-m", "bot.cli", "--config", str(config), "--store",
                                 str(tmp_path / "s.db"), "run"], cwd=ROOT, env=env, capture_output=True, timeout=120)
    assert result.returncode == 2
    assert b"refused the token" in result.stderr and b"2:wrong" not in result.stderr + result.stdout


def test_secrets_are_redacted_from_messages_and_tracebacks():
    import logging

    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "POST %s failed", ("https://h/bot1:abc/getMe",), None)
    try:
        raise RuntimeError("url https://h/bot1:abc/sendMessage")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    RedactSecrets("1:abc").filter(record)
    assert "1:abc" not in record.getMessage() and "1:abc" not in record.exc_text
    assert "<redacted>" in record.getMessage()


@pytest.mark.parametrize("mode,url,ok", [("polling", "", True), ("webhook", "https://bot.example.org/hook", True),
                                         ("webhook", "http://bot.example.org/hook", False), ("carrier", "", False)])
def test_webhook_mode_needs_an_https_url(tmp_path, mode, url, ok):
    from index.config import ConfigError, load_config

    path = tmp_path / "c.toml"
    path.write_text(f'[telegram]\nmode = "{mode}"\nwebhook_url = "{url}"\n')
    env = {"NEWSBOT_WEBHOOK_SECRET": "s3cret"}
    if ok:
        assert load_config(path, env=env).telegram.mode == mode
    else:
        with pytest.raises(ConfigError, match="telegram"):
            load_config(path, env=env)


@pytest.mark.parametrize("secret", ["", "has space", "x" * 257, "ünï"])
def test_webhook_mode_refuses_to_start_without_a_valid_secret(tmp_path, secret):
    """Without a secret, anyone who finds the webhook path could post updates as any user."""
    from index.config import ConfigError, load_config

    path = tmp_path / "c.toml"
    path.write_text('[telegram]\nmode = "webhook"\nwebhook_url = "https://bot.example.org/hook"\n')
    with pytest.raises(ConfigError, match="secret") as raised:
        load_config(path, env={"NEWSBOT_WEBHOOK_SECRET": secret} if secret else {})
    assert not secret or secret not in str(raised.value)


def test_newsbot_run_in_webhook_mode_without_a_secret_exits_before_registering(tmp_path):
    config = tmp_path / "newsbot.toml"
    config.write_text('[telegram]\nmode = "webhook"\nwebhook_url = "https://bot.example.org/hook"\n')
    env = {k: v for k, v in os.environ.items() if k != "NEWSBOT_WEBHOOK_SECRET"}
    env.update(PYTHONPATH=str(ROOT), NEWSBOT_TOKEN="55:hook-token")
    done = subprocess.run([sys.executable, "-m", "bot.cli", "--config", str(config), "--store",
                           str(tmp_path / "s.db"), "run"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2
    assert "NEWSBOT_WEBHOOK_SECRET" in done.stderr and "Traceback" not in done.stderr


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_webhook_mode_registers_the_webhook_and_answers_posted_updates(tmp_path, demo_engine):
    import time

    import httpx

    store = demo_store_copy(tmp_path, demo_engine)
    port = _free_port()
    with LocalBotApi(token="55:hook-token") as api:
        config = tmp_path / "newsbot.toml"
        config.write_text(f'[telegram]\nbase_url = "{api.base_url}"\nmode = "webhook"\n'
                          f'webhook_url = "https://bot.example.org/newsbot-hook"\nwebhook_port = {port}\n'
                          f"[model]\nthreads = 1\n")
        env = dict(os.environ, PYTHONPATH=str(ROOT), NEWSBOT_TOKEN=api.token, NEWSBOT_WEBHOOK_SECRET="s3cret")
        process = subprocess.Popen([sys.executable, "-m", "bot.cli", "--config", str(config), "--store", str(store),
                                    "run"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            api.wait_for_sync(lambda: api.calls_to("setWebhook"), timeout=120)
            [hook] = api.calls_to("setWebhook")
            assert hook.params["url"] == "https://bot.example.org/newsbot-hook"
            assert hook.params["secret_token"] == "s3cret"
            update = api.push_message(9, "When did Kestrel Mobile sign the 5G deal with Orvane?")
            url = f"http://127.0.0.1:{port}/newsbot-hook"
            deadline = time.monotonic() + 30
            while True:  # the web server starts right after setWebhook
                try:
                    wrong = httpx.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "nope"})
                    break
                except httpx.ConnectError:
                    assert time.monotonic() < deadline
                    time.sleep(0.2)
            assert wrong.status_code == 403  # updates without the secret are refused
            right = httpx.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"})
            assert right.status_code == 200
            api.wait_for_sync(lambda: any("<blockquote>" in t for t in api.sent_texts(9)), timeout=60)
            process.send_signal(signal.SIGTERM)
            output = process.communicate(timeout=60)[0].decode()
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, output
    assert "s3cret" not in output and api.token not in output


def test_an_unreachable_bot_api_is_one_line_and_its_own_exit_code(tmp_path):
    config = tmp_path / "newsbot.toml"
    config.write_text(f'[telegram]\nbase_url = "http://127.0.0.1:{_free_port()}/bot"\n[feeds]\npoll = false\n')
    env = dict(os.environ, PYTHONPATH=str(ROOT), NEWSBOT_TOKEN="3:unreachable")
    result = subprocess.run([sys.executable, "-m", "bot.cli", "--config", str(config), "--store",
                             str(tmp_path / "s.db"), "run"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 5
    assert "cannot reach the Bot API" in result.stderr
    assert "Traceback" not in result.stderr and "The above exception" not in result.stderr


def test_run_now_sets_the_day_the_bot_asks_on(demo_engine):
    """`newsbot run --now DATE`: the Telegram bot asks every question as of that day."""
    import dataclasses
    from datetime import date

    from bot.telegram_app import build_application

    config = dataclasses.replace(demo_engine.config, telegram=dataclasses.replace(
        demo_engine.config.telegram, token="123456:TEST-token"))
    asked_on = build_application(demo_engine, config, now=date(2026, 11, 24)).bot_data.services
    assert asked_on.now() == date(2026, 11, 24)
    assert build_application(demo_engine, config).bot_data.services.now() == date.today()
