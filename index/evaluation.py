"""Evaluation on ../shared/eval: article recall@k, MRR, answer-in-quote and right-date rates.

BM25 alone, embeddings alone and the hybrid are scored on the same pool in the same run. The pool
is built once into a store under the cache folder (outside the repository, since the texts belong
to their publishers) and its vectors are reused by every later run, so only the first run of a
pool pays for embedding.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import re
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from .config import Config
from .engine import Engine
from .ingest import ingest_documents
from .readers import record_to_document

POOLS = ("pool_quick", "pool_standard")


@dataclass(frozen=True)
class Question:
    qid: str
    question: str
    answer: str
    gold: frozenset[str]
    asked: date
    answer_in_gold_text: bool


def load_questions(eval_dir: Path) -> list[Question]:
    out = []
    with open(eval_dir / "questions_dev.jsonl", encoding="utf-8") as handle:
        for line in handle:
            q = json.loads(line)
            out.append(Question(q["qid"], q["question"], q["answer"], frozenset(q["gold_article_ids"]),
                                date.fromisoformat(q["date"]), bool(q.get("answer_in_gold_text"))))
    return out


def pool_records(eval_dir: Path, pool: str) -> Iterator[dict]:
    ids = set((eval_dir / f"{pool}.txt").read_text().split())
    for name in ("articles.jsonl.gz", "reuters-21578.jsonl.gz"):
        path = eval_dir / name
        if not path.exists():
            continue
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                if '"id"' in line:
                    record = json.loads(line)
                    if record.get("id") in ids:
                        yield record


def normalise_answer(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[\"'“”‘’`]", "", text)
    text = re.sub(r"[^\w%$.]+", " ", text)
    return " ".join(text.replace(".", " ").split())


def answer_in(answer: str, quotes: list[str]) -> bool:
    needle = normalise_answer(answer)
    return bool(needle) and any(needle in normalise_answer(q) for q in quotes)


def pool_engine(config: Config, eval_dir: Path, pool: str, cache_dir: Path) -> Engine:
    """An Engine over the pool's store in the cache folder, the pool's articles saved (once).
    The caller opens the index, which embeds whatever is not cached yet."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    store_path = cache_dir / f"{pool}.db"
    config = dataclasses.replace(config, store=dataclasses.replace(config.store, path=str(store_path)))
    engine = Engine(config)
    expected = len(set((eval_dir / f"{pool}.txt").read_text().split()))
    if engine.store.stats()["articles"] < expected:
        docs = (record_to_document(r, f"{pool}:{r['id']}", config.ingest.max_file_bytes)
                for r in pool_records(eval_dir, pool))
        ingest_documents(engine.store, docs, config.ingest)
    return engine


def evaluate(engine: Engine, questions: list[Question], modes=("bm25", "dense", "hybrid"),
             use_now: bool = True, progress: Callable[[int], None] | None = None) -> dict:
    results = {}
    for mode in modes:
        hits = {1: 0, 5: 0, 10: 0}
        rr = 0.0
        answerable = in_quote = right_date = 0
        started = time.perf_counter()
        for q in questions:
            answer = engine.answer(q.question, now=q.asked if use_now else None, mode=mode)
            ranked = answer.articles
            rank = next((i + 1 for i, a in enumerate(ranked) if a in q.gold), None)
            for k in hits:
                hits[k] += bool(rank and rank <= k)
            rr += 1.0 / rank if rank else 0.0
            if q.answer_in_gold_text:
                answerable += 1
                in_quote += answer_in(q.answer, [x.text for x in answer.quotes])
            right_date += bool(answer.quotes and answer.quotes[0].article_id in q.gold)
            if progress:
                progress(1)
        n = len(questions) or 1
        results[mode] = {
            "recall@1": hits[1] / n, "recall@5": hits[5] / n, "recall@10": hits[10] / n,
            "mrr": rr / n, "answer_in_quote": in_quote / (answerable or 1), "right_date": right_date / n,
            "questions": len(questions), "ms_per_question": 1000 * (time.perf_counter() - started) / n,
        }
    return results


def format_table(results: dict, title: str) -> str:
    columns = ["recall@1", "recall@5", "recall@10", "mrr", "answer_in_quote", "right_date"]
    lines = [title, f"{'method':8} " + " ".join(f"{c:>15}" for c in columns)]
    for mode, row in results.items():
        lines.append(f"{mode:8} " + " ".join(f"{row[c]:15.3f}" for c in columns))
    return "\n".join(lines)
