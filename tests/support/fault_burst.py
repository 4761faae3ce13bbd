"""A burst of questions and alerts while the local Bot API server fails a share of all calls.

Shared by tests/process/test_fault_burst.py (a small burst on every run) and scripts/fault_burst.py (the
issue's 1,000 questions and 1,000 alerts, with a printed report).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import resource
import time
from collections import Counter

from .bot_harness import running
from .botapi import LocalBotApi
from .demo import demo_documents

from index.config import AlertsConfig, TelegramConfig

RAIL = ("demo-019", "demo-020", "demo-023", "demo-024", "demo-025")
QUESTIONS = ("What happened at Port Alder harbour?", "When did Kestrel Mobile sign the 5G deal?",
             "Who won the Port Alder mayoral race?", "What did the data regulator do about Quillnest?",
             "How much did the harbour clean-up cost?")


class FailedUpdates(logging.Handler):
    """Counts updates whose handling ended in an error (the bot's error handler logs each one)."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "bot.telegram_app" and "failed" in record.getMessage():
            self.count += 1


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def burst(engine, questions: int, chats: int, fault_rate: float, seed: int = 1) -> dict:
    """`questions` questions from 200 users and len(RAIL) alerts to each of `chats` chats, all while
    `fault_rate` of the bot's calls get 429, 5xx, a timeout or a reset. Returns what happened."""
    users = min(200, questions)
    engine.save_documents(demo_documents({d.id for d in demo_documents()} - set(RAIL)))
    engine.open_index()
    for chat in range(1, chats + 1):
        engine.alerts.subscribe(-chat, "rail strike", kind="group")
    failed = FailedUpdates()
    logging.getLogger("bot.telegram_app").addHandler(failed)
    with LocalBotApi(token="31:burst") as api:
        api.timeout_seconds = 1.0
        engine.config = dataclasses.replace(
            engine.config,
            telegram=TelegramConfig(token=api.token, base_url=api.base_url, base_file_url=api.base_file_url,
                                    questions_per_minute=0),
            alerts=AlertsConfig(check_seconds=0.5, retry_base_s=0.2, max_attempts=50))
        started = time.monotonic()
        rss_before = rss_mb()
        async with running(engine, timeout_s=5.0):
            api.fault_rate(fault_rate, seed=seed)
            for n in range(questions):
                api.push_message(100_000 + n % users, QUESTIONS[n % len(QUESTIONS)])
            await asyncio.to_thread(engine.save_documents, demo_documents(set(RAIL)))
            expected_alerts = chats * len(RAIL)

            def done() -> bool:
                replies = [c for c in api.calls_to("sendMessage") if c.status == 200 and c.params["chat_id"] > 0]
                alerts = [c for c in api.calls_to("sendMessage") if c.status == 200 and c.params["chat_id"] < 0]
                return len(replies) + failed.count >= questions and len(alerts) >= expected_alerts

            await api.wait_for(done, timeout=600)
            await asyncio.sleep(1.0)  # a late duplicate would show now
            api.fault_rate(0)
        elapsed = time.monotonic() - started
    logging.getLogger("bot.telegram_app").removeHandler(failed)
    calls = api.calls
    faults = Counter(c.status for c in calls if c.status != 200 and c.method != "getUpdates")
    alert_calls = [c for c in calls if c.method == "sendMessage" and c.status == 200 and c.params["chat_id"] < 0]
    per_alert = Counter((c.params["chat_id"], c.params["text"].split("</blockquote>")[-1]) for c in alert_calls)
    answered = sum(1 for c in calls if c.method == "sendMessage" and c.status == 200 and c.params["chat_id"] > 0)
    return {
        "questions": questions, "answered": answered, "failed_cleanly": failed.count,
        "alerts_expected": chats * len(RAIL), "alerts_delivered": len(per_alert),
        "alert_duplicates": sum(n - 1 for n in per_alert.values()),
        "outbox": engine.store.outbox_counts(), "calls": len(calls),
        "faults": {str(k): v for k, v in sorted(faults.items())},
        "refused": sorted({f"{c.method}: {c.description}" for c in calls if 400 <= c.status < 429}),
        "seconds": round(elapsed, 1), "rss_mb_before": round(rss_before), "rss_mb_after": round(rss_mb()),
    }
