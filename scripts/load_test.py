"""200 chats asking questions at once against a ~45k-article store, through the real bot and the
local Bot API server. Prints a JSON report (README: Reliability).

    .venv/bin/python scripts/load_test.py [--chats 200] [--think 20] [--seconds 90]

Latency is measured from the moment an update is available to the bot to the moment the bot's
reply reaches the Bot API server (the Telegram network itself excluded). First one user asks
questions one after another (the single-user baseline), then every chat asks, waits for its
answer, thinks for an exponentially distributed time (mean --think seconds) and asks again; with
--think 0 every chat asks again at once, which measures the saturation point instead.

The store is built once in ~/.cache/newsbot/load/ from ../shared/eval (news and Reuters articles).
Passages the evaluation cache has embedded keep their real vectors; the rest get random unit
vectors (embedding all ~45k articles would take hours on 2 cores): latency depends on the number
of vectors, not on their values.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # bench/ is a checkout package, not installed

import numpy as np  # noqa: E402

from bench import fill_corpus_store  # noqa: E402
from index.config import Config, ModelConfig, StoreConfig, TelegramConfig  # noqa: E402
from index.embedding import Embedder, text_hash  # noqa: E402
from index.engine import Engine  # noqa: E402
from bench.evaluation import load_questions  # noqa: E402
from index.search_index import passage_text  # noqa: E402
from index.store import open_store  # noqa: E402

CACHE = Path(os.environ.get("NEWSBOT_CACHE", Path.home() / ".cache" / "newsbot"))
EVAL = ROOT.parent / "shared" / "eval"


def build_store(db: Path, embedder: Embedder) -> None:
    if db.exists():
        return
    print("building the load-test store (once)…", file=sys.stderr)
    with open_store(db) as store:
        fill_corpus_store(store, EVAL, 120, min_passages=10**9, min_articles=10**9, max_file_bytes=20_000_000)
        hashes, last = [], 0
        while batch := store.articles_after(last, limit=1000):
            hashes += [text_hash(passage_text(a, p.index, True)) for a in batch for p in a.passages]
            last = batch[-1].seq
        real: dict[str, np.ndarray] = {}
        for pool in ("pool_standard", "pool_quick"):
            cached = CACHE / "eval" / f"{pool}.db"
            if cached.exists():
                with open_store(cached) as source:
                    real.update(source.get_vectors(embedder.key, [h for h in hashes if h not in real]))
        missing = [h for h in hashes if h not in real]
        rng = np.random.default_rng(3)
        noise = rng.normal(size=(len(missing), 384)).astype(np.float32)
        noise /= np.linalg.norm(noise, axis=1, keepdims=True)
        store.put_vectors(embedder.key, list(real.items()))
        store.put_vectors(embedder.key, zip(missing, noise, strict=True))
        print(f"{store.stats()['articles']:,} articles, {len(hashes):,} passages ({len(real):,} real vectors)",
              file=sys.stderr)


def percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)) * 1000, 1) if values else None


class Chats:
    """The Telegram side of the test: the local Bot API server and the chats that ask through it,
    in a process of their own. In production Telegram's servers are elsewhere; run in the bot's
    process, the server's threads and hundreds of waiting clients would take the bot's GIL, and
    the test would measure the harness (an earlier version did: README, Reliability)."""

    def __init__(self, questions: list[str], chats: int, think_s: float, seconds: float, baseline: int):
        self.questions, self.chats, self.think_s = questions, chats, think_s
        self.seconds, self.baseline = seconds, baseline

    def serve(self, pipe) -> None:
        from tests.support.botapi import LocalBotApi

        with LocalBotApi(token="66:load") as api:
            pipe.send((api.token, api.base_url))
            pipe.recv()  # the bot is polling
            pipe.send(asyncio.run(self._ask_all(api)))
            pipe.recv()  # the bot has stopped: the server may close

    async def _ask_all(self, api) -> dict:
        loop = asyncio.get_running_loop()
        waiting: dict[int, asyncio.Future] = {}

        calls: Counter[str] = Counter()  # the bot's requests by method: all count against its flood limit

        def replied(call) -> None:  # a server thread: hand the reply to the chat's coroutine
            calls[call.method] += 1
            if call.method == "sendMessage":
                loop.call_soon_threadsafe(deliver, call)

        def deliver(call) -> None:
            future = waiting.pop(call.params.get("chat_id"), None)
            if future is not None and not future.done():
                future.set_result(call)

        api.listen(replied)

        async def ask(chat: int, question: str) -> float | None:
            future = waiting[chat] = loop.create_future()
            pushed = time.time()
            api.push_message(chat, question)
            try:
                reply = await asyncio.wait_for(future, 120)
            except TimeoutError:
                waiting.pop(chat, None)
                return None
            return reply.at - pushed if reply.status == 200 else None

        questions = self.questions
        baseline = [await ask(1, questions[i % len(questions)]) for i in range(self.baseline)]
        rng = random.Random(5)
        latencies: list[float] = []
        errors = 0
        stop_at = time.monotonic() + self.seconds
        think_s = self.think_s

        async def chat_loop(chat: int) -> None:
            nonlocal errors
            await asyncio.sleep(rng.uniform(0, think_s or 0.5))
            while time.monotonic() < stop_at:
                latency = await ask(chat, rng.choice(questions))
                if latency is None:
                    errors += 1
                else:
                    latencies.append(latency)
                if think_s:  # thinking never runs past the end of the measurement
                    await asyncio.sleep(min(rng.expovariate(1 / think_s), max(stop_at - time.monotonic(), 0)))

        started = time.monotonic()
        calls.clear()  # the baseline's are not the window's
        await asyncio.gather(*(chat_loop(1000 + c) for c in range(self.chats)))
        elapsed = time.monotonic() - started  # the window, plus the last answers it was waiting for
        single = [b for b in baseline if b is not None]
        p95_single, p95_load = percentile(single, 95), percentile(latencies, 95)
        return {
            "chats": self.chats, "think_s": think_s,
            "offered_per_s": round(self.chats / think_s, 2) if think_s else None,
            "questions": len(latencies) + errors, "errors": errors,
            "questions_per_s": round(len(latencies) / elapsed, 2),
            "single_user_ms": {"p50": percentile(single, 50), "p95": p95_single},
            "load_ms": {"p50": percentile(latencies, 50), "p95": p95_load, "p99": percentile(latencies, 99)},
            "p95_ratio": round(p95_load / p95_single, 2) if p95_single and p95_load else None,
            "requests_per_s": {method: round(n / elapsed, 2) for method, n in sorted(calls.items())},
        }


async def measure(engine, chats: Chats, processes: int) -> dict:
    """The bot in this process, the chats in a spawned one (a fork would copy torch's threads)."""
    import multiprocessing

    from tests.support.bot_harness import running

    context = multiprocessing.get_context("spawn")
    here, there = context.Pipe()
    side = context.Process(target=chats.serve, args=(there,), name="telegram-side", daemon=True)
    side.start()
    try:
        token, base_url = here.recv()
        engine.config = Config(store=engine.config.store, model=engine.config.model,
                               telegram=TelegramConfig(token=token, base_url=base_url, questions_per_minute=0,
                                                       answer_processes=processes))
        async with running(engine, timeout_s=30.0):
            here.send("go")
            report = await asyncio.to_thread(here.recv)
        here.send("done")
        side.join(timeout=10)
        return report
    finally:
        if side.is_alive():
            side.terminate()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--think", type=float, default=20.0, help="mean seconds a chat waits between questions")
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--baseline", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (questions run 4 at a time)")
    parser.add_argument("--processes", type=int, default=0,
                        help="answer worker processes (telegram.answer_processes; 0: the bot's own threads)")
    args = parser.parse_args()
    if not (EVAL / "articles.jsonl.gz").exists():
        print(f"no eval data in {EVAL}", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(args.threads)
    embedder = Embedder(ModelConfig(threads=args.threads))
    db = CACHE / "load" / "store.db"
    build_store(db, embedder)
    questions = [q.question for q in load_questions(EVAL)]
    engine = Engine(Config(store=StoreConfig(path=str(db)), model=ModelConfig(threads=args.threads)), embedder=embedder)
    try:
        engine.open_index()
        stats = engine.store.stats()
        report = asyncio.run(measure(engine, Chats(questions, args.chats, args.think, args.seconds, args.baseline),
                                     args.processes))
    finally:
        engine.close()
    report = {"articles": stats["articles"], "passages": stats["passages"], "answer_processes": args.processes,
              **report}
    print(json.dumps(report, indent=2))
    return 0 if report["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
