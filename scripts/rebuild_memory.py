"""Memory of a `/reindex` inside a serving process: the peak RSS while the bot rebuilds its index
and keeps answering, against the RSS of serving alone. Prints a JSON report (README: Benchmarks).

    .venv/bin/python scripts/rebuild_memory.py [--passages 1000000] [--questions-during 1]

The store is built once in ~/.cache/newsbot/rebuild/ from ../shared/eval: the news and Reuters
articles, then copies of them (a suffix on the title and id) until it holds --passages passages,
each passage with a random unit vector cached in the store (the rebuild embeds nothing, as a
/reindex with cached vectors; search costs the same whatever the vectors' values). The first run
also indexes it once (a generation to load); each measurement runs in a fresh process:

1. open the store and load its saved generation, as the bot does at start-up; answer 50 questions
   (BM25 and dense, random query vectors: no model is loaded, as in `newsbot bench --no-model`);
   serving RSS = VmRSS after them;
2. reset the peak (/proc/self/clear_refs), rebuild (`Engine.reindex`, what /reindex runs) while
   a thread keeps answering questions, as chats do during a /reindex;
3. peak = VmHWM since the reset; then answer again and report RSS after.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys
import threading
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # bench/ is a checkout package, not installed

import numpy as np  # noqa: E402

from bench.data import iter_records  # noqa: E402
from bench.evaluation import load_questions  # noqa: E402
from index.articles import Unusable, build_article  # noqa: E402
from index.config import Config, ModelConfig, StoreConfig  # noqa: E402
from index.embedding import Embedder, text_hash  # noqa: E402
from index.engine import Engine  # noqa: E402
from index.readers import Unreadable, record_to_document  # noqa: E402
from index.search_index import passage_text  # noqa: E402
from index.store import open_store  # noqa: E402
from index.timeparse import parse_time  # noqa: E402

CACHE = Path(os.environ.get("NEWSBOT_CACHE", Path.home() / ".cache" / "newsbot"))
EVAL = ROOT.parent / "shared" / "eval"
NOW = date(2026, 12, 1)


def build_store(db: Path, passages: int, embedder: Embedder) -> bool:
    """Real articles, then numbered copies of them, to `passages` passages, a random unit vector
    cached for each passage, and a first generation of the index. False if it exists already."""
    if db.exists():
        return False
    key = embedder.key
    print(f"building a {passages:,}-passage store in {db} (once)…", file=sys.stderr)
    db.parent.mkdir(parents=True, exist_ok=True)
    originals = []
    for number, record in enumerate(iter_records(EVAL)):
        try:
            originals.append(build_article(record_to_document(record, f"rebuild:{number}", 20_000_000), 120))
        except (Unreadable, Unusable):
            continue
    rng = np.random.default_rng(11)
    held = copy = 0
    partial = db.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    with open_store(partial) as store:
        while held < passages:
            pending = {}
            for article in originals:
                if held >= passages:
                    break
                if copy:
                    suffix = f" [{copy}]"
                    article = dataclasses.replace(
                        article, id=f"{article.id}~{copy}", title=article.title + suffix,
                        url=f"{article.url}#copy-{copy}" if article.url else None,
                        content_hash=hashlib.sha256(f"{article.content_hash}{suffix}".encode()).hexdigest())
                if not store.save(article).added:
                    continue
                held += len(article.passages)
                for p in article.passages:
                    pending[text_hash(passage_text(article, p.index, True))] = True
                if len(pending) >= 50_000:
                    _put_random(store, key, list(pending), rng)
                    pending.clear()
            _put_random(store, key, list(pending), rng)
            copy += 1
            print(f"  {held:,} passages", file=sys.stderr)
    del originals
    started = time.perf_counter()
    with Engine(Config(store=StoreConfig(path=str(partial))), embedder=embedder) as engine:
        engine.open_index()
        print(f"  indexed in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    partial.rename(db)
    Path(f"{partial}.index").rename(f"{db}.index")
    return True


def _put_random(store, key: str, hashes: list[str], rng) -> None:
    if hashes:
        vectors = rng.normal(size=(len(hashes), 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        store.put_vectors(key, zip(hashes, vectors, strict=True))


def memory_mib() -> dict[str, float]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            fields[name] = round(int(value.split()[0]) / 1024, 1)
    return fields


def ask(engine: Engine, questions: list[str], rng) -> None:
    for question in questions:
        text = parse_time(question, NOW).text
        vector = rng.normal(size=384).astype(np.float32)
        engine.retriever.search(question, NOW, "hybrid", encoded=(text, vector / np.linalg.norm(vector)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passages", type=int, default=1_000_000)
    parser.add_argument("--questions-during", type=int, default=1, help="threads answering during the rebuild")
    parser.add_argument("--build-only", action="store_true", help="build and index the store, measure nothing")
    args = parser.parse_args()
    embedder = Embedder(ModelConfig())  # the model is loaded only to encode, which nothing here does
    db = CACHE / "rebuild" / f"store-{args.passages}.db"
    if build_store(db, args.passages, embedder) and not args.build_only:
        os.execv(sys.executable, [sys.executable, *sys.argv])  # measured in a fresh process
    questions = [q.question for q in load_questions(EVAL)]
    rng = np.random.default_rng(5)
    engine = Engine(Config(store=StoreConfig(path=str(db))), embedder=embedder)
    try:
        if args.build_only:
            return 0
        started = time.perf_counter()
        engine.open_index()  # loads the saved generation, as the bot at start-up
        engine.retriever.prepare()
        from index import memory

        memory.settle()
        loaded_s = time.perf_counter() - started
        ask(engine, questions[:50], rng)
        serving = memory_mib()
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
        stop = threading.Event()
        answered = []

        def keep_asking() -> None:
            local = np.random.default_rng(len(answered))
            while not stop.is_set():
                ask(engine, questions[len(answered) % len(questions):][:1] or questions[:1], local)
                answered.append(1)

        samples: list[tuple[float, float]] = []  # (seconds into the rebuild, VmRSS)

        def sample() -> None:
            while not stop.wait(0.25):
                samples.append((time.perf_counter() - started, memory_mib()["VmRSS"]))

        askers = [threading.Thread(target=keep_asking, daemon=True) for _ in range(args.questions_during)]
        started = time.perf_counter()
        for thread in [*askers, threading.Thread(target=sample, daemon=True)]:
            thread.start()
        engine.reindex()
        rebuild_s = time.perf_counter() - started
        stop.set()
        for thread in askers:
            thread.join()
        peak = memory_mib()["VmHWM"]
        highest = max(samples, key=lambda s: s[1], default=(0.0, 0.0))
        ask(engine, questions[50:100], rng)
        after = memory_mib()
        report = {
            "passages": engine.index.current.size, "vector_dtype": engine.index.current.vectors.dtype,
            "load_s": round(loaded_s, 1), "rebuild_s": round(rebuild_s, 1),
            "questions_during_rebuild": len(answered),
            "serving_mib": serving["VmRSS"], "rebuild_peak_mib": peak,
            "peak_over_serving": round(peak / serving["VmRSS"], 2),
            "highest_sample": {"at_s": round(highest[0], 1), "rss_mib": highest[1]},
            "rss_mib_every_10s": [rss for at, rss in samples[::40]],
            "serving": serving, "after_rebuild": after,
        }
    finally:
        engine.close()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
