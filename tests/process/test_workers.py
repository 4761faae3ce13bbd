"""Several bot workers sharing one PostgreSQL store: real `newsbot run` processes (webhook mode, as
behind a reverse proxy), a real `newsbot ingest` process, the local Bot API server. Every alert
goes out exactly once; with workers killed (-9) mid-delivery and restarted, none is lost and an
alert is repeated only where a kill fell between Telegram's acceptance and the store's mark."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from tests.support.botapi import LocalBotApi
from tests.support.demo import DEMO_ARTICLES, demo_documents

ROOT = Path(__file__).resolve().parents[2]
RAIL = {"demo-019", "demo-020", "demo-023", "demo-024", "demo-025"}
CHATS = range(1001, 1031)
pytestmark = [pytest.mark.timeout(300)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(config: Path, store: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "--config", str(config), "--store", store, "run"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _config(tmp_path: Path, api: LocalBotApi, n: int) -> Path:
    path = tmp_path / f"worker{n}.toml"
    path.write_text(
        f'[telegram]\nbase_url = "{api.base_url}"\nmode = "webhook"\nwebhook_url = "https://bot.example.org/hook"\n'
        f"webhook_port = {_free_port()}\n[alerts]\ncheck_seconds = 0.5\nclaim_lease_s = 4.0\nretry_base_s = 0.5\n"
        f"[model]\nthreads = 1\n")
    return path


@pytest.mark.parametrize("store_location", ["postgres"], indirect=True)
@pytest.mark.parametrize("kills", [0, 3], ids=["no-crash", "kill-9"])
def test_three_workers_send_every_alert_once(tmp_path, store_location, fresh_engine, kills):
    engine = fresh_engine(location=store_location)  # demo vectors cached: nothing is embedded again
    engine.save_documents(demo_documents({d.id for d in demo_documents()} - RAIL))
    for chat in CHATS:
        engine.alerts.subscribe(chat, "rail strike")
    rail = tmp_path / "rail.jsonl"
    rail.write_text("".join(line + "\n" for line in DEMO_ARTICLES.read_text().splitlines()
                            if json.loads(line)["id"] in RAIL))
    titles = {json.loads(line)["title"] for line in rail.read_text().splitlines()}

    with LocalBotApi(token="77:workers") as api:
        api.latency_seconds["sendMessage"] = 0.02
        env = dict(os.environ, PYTHONPATH=str(ROOT), NEWSBOT_TOKEN=api.token, NEWSBOT_WEBHOOK_SECRET="w0rkers")
        configs = [_config(tmp_path, api, n) for n in range(3)]
        workers = [_worker(c, store_location, env) for c in configs]
        try:
            try:
                api.wait_for_sync(lambda: len(api.calls_to("setWebhook")) >= 3, timeout=120)
            except AssertionError:  # say why a worker did not start, not only that it did not
                dead = [(w.returncode, w.stderr.read().decode()[-2000:]) for w in workers if w.poll() is not None]
                raise AssertionError(f"workers not started; those that exited: {dead}") from None
            ingest = subprocess.run([sys.executable, "-m", "bot.cli", "--store", store_location, "ingest", str(rail)],
                                    cwd=ROOT, env=env, capture_output=True, timeout=120)
            assert ingest.returncode == 0, ingest.stderr.decode()
            expected = len(CHATS) * len(RAIL)
            rng = random.Random(7)
            for _ in range(kills):  # kill -9 a worker while alerts are going out, then start it again
                api.wait_for_sync(lambda: len(_alerts(api)) >= rng.randint(5, expected // 2), timeout=120)
                victim = rng.randrange(3)
                workers[victim].send_signal(signal.SIGKILL)
                workers[victim].wait(timeout=30)
                workers[victim] = _worker(configs[victim], store_location, env)
            api.wait_for_sync(lambda: len({(c, t) for c, t in _alerts(api)}) >= expected, timeout=180)
            # nothing is due or claimed any more, so nothing else can be sent: a send Telegram accepted
            # but a killed worker never marked stays claimed until its lease ends, then goes out again
            api.wait_for_sync(lambda: (lambda c: c["pending"] == c["sending"] == 0)(engine.store.outbox_counts()),
                              timeout=180)
        finally:
            for w in workers:
                if w.poll() is None:
                    w.send_signal(signal.SIGTERM)
            for w in workers:
                try:
                    w.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    w.kill()

    sent = Counter(_alerts(api))
    assert set(sent) == {(chat, title) for chat in CHATS for title in titles}  # none lost
    duplicates = sum(n - 1 for n in sent.values())
    assert duplicates <= kills  # at most the message in flight when a worker was killed
    counts = engine.store.outbox_counts()
    assert counts["sent"] == expected and counts["pending"] == counts["sending"] == 0
    senders = engine.store._rows("SELECT DISTINCT claimed_by FROM outbox WHERE status='sent'")
    assert len(senders) >= 2  # the workers shared the sending
    print(f"\n{expected} alerts, 3 workers, {kills} kill(s): {duplicates} duplicate(s)")


def _alerts(api: LocalBotApi) -> list[tuple[int, str]]:
    out = []
    for call in api.calls_to("sendMessage"):
        if call.status == 200 and "New on" in call.params["text"]:
            title = call.params["text"].split("<b>")[-1].split("</b>")[0]
            title = title.split(">", 1)[-1].split("</a")[0]
            out.append((int(call.params["chat_id"]), _unescape(title)))
    return out


def _unescape(text: str) -> str:
    import html

    return html.unescape(text)
