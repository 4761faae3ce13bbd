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

from index.config import Config
from index.engine import Engine
from index.ingest import ingest_documents
from index.readers import record_to_document

# The unanswerable store: the first REUTERS_SAMPLE stories of the 1987 Reuters wire. No dev question
# (2022 news) is answered there, so every answer it gives is a false one.
EVAL_DIR_ENV = "NEWSBOT_EVAL_DIR"


def default_eval_dir() -> Path:
    """$NEWSBOT_EVAL_DIR, else `shared/eval` beside the checkout (where the project keeps its
    evaluation data: it belongs to its publishers and is never copied into the repository)."""
    import os

    return Path(os.environ.get(EVAL_DIR_ENV) or Path(__file__).resolve().parents[2] / "shared" / "eval")


REUTERS_POOL = "reuters_sample"
REUTERS_SAMPLE = 2000
UNANSWERABLE = Path(__file__).with_name("evalsets") / "unanswerable.txt"


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


def load_unanswerable(path: Path = UNANSWERABLE) -> list[tuple[str, date]]:
    """Questions no news store answers (general knowledge, the future), each `YYYY-MM-DD<TAB>question`:
    asked of the eval pool, where a reply with quotes is a false answer."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            day, _, question = line.partition("\t")
            out.append((question.strip(), date.fromisoformat(day.strip())))
    return out


def pool_ids(eval_dir: Path, pool: str) -> set[str]:
    if pool == REUTERS_POOL:
        ids = []
        with gzip.open(eval_dir / "reuters-21578.jsonl.gz", "rt", encoding="utf-8") as handle:
            for line in handle:
                ids.append(json.loads(line)["id"])
                if len(ids) == REUTERS_SAMPLE:
                    break
        return set(ids)
    return set((eval_dir / f"{pool}.txt").read_text().split())


def pool_records(eval_dir: Path, pool: str) -> Iterator[dict]:
    ids = pool_ids(eval_dir, pool)
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
    expected = len(pool_ids(eval_dir, pool))
    if engine.store.stats()["articles"] < expected:
        docs = (record_to_document(r, f"{pool}:{r['id']}", config.ingest.max_file_bytes)
                for r in pool_records(eval_dir, pool))
        ingest_documents(engine.store, docs, config.ingest)
    return engine


def evaluate(engine: Engine, questions: list[Question], modes=("bm25", "dense", "hybrid"),
             use_now: bool = True, progress: Callable[[int], None] | None = None,
             unanswerable: list[tuple[str, date]] | None = None,
             wire: Engine | None = None, details: Callable[[dict], None] | None = None) -> dict:
    """Per mode: article recall@1/5/10 and MRR; over the answerable questions, the answer in the
    first quote, in the (up to three) quotes, in the reply (quotes and their titles), and "nothing"
    said (missed answers); the first quote's article gold (right date); and the share of
    unanswerable questions given quotes (false answers): the written ones asked of this pool, and
    the dev questions asked of the Reuters wire store `wire` when given. `details` is handed one
    record per question and mode (its rank, quotes and which counts it met), so that a miss can be
    read rather than guessed at."""
    results = {}
    for mode in modes:
        hits = {1: 0, 5: 0, 10: 0}
        rr = 0.0
        answerable = first = three = reply = missed = right_date = 0
        started = time.perf_counter()
        for q in questions:
            answer = engine.answer(q.question, now=q.asked if use_now else None, mode=mode)
            ranked = answer.articles
            rank = next((i + 1 for i, a in enumerate(ranked) if a in q.gold), None)
            for k in hits:
                hits[k] += bool(rank and rank <= k)
            rr += 1.0 / rank if rank else 0.0
            if q.answer_in_gold_text:
                texts = [x.text for x in answer.quotes]
                answerable += 1
                first += answer_in(q.answer, texts[:1])
                three += answer_in(q.answer, texts)
                reply += answer_in(q.answer, texts + [x.title for x in answer.quotes])
                missed += answer.no_answer
            right_date += bool(answer.quotes and answer.quotes[0].article_id in q.gold)
            if details:
                details(question_record(q, mode, answer, rank))
            if progress:
                progress(1)
        n = len(questions) or 1
        elapsed = time.perf_counter() - started
        false = asked = 0
        for text, day in unanswerable or []:
            answer = engine.answer(text, now=day if use_now else None, mode=mode)
            false += not answer.no_answer
            asked += 1
            if details:
                details(unanswerable_record("written", text, day, mode, answer))
        if wire is not None:
            for q in questions:
                answer = wire.answer(q.question, now=q.asked if use_now else None, mode=mode)
                false += not answer.no_answer
                asked += 1
                if details:
                    details(unanswerable_record("wire", q.question, q.asked, mode, answer))
        results[mode] = {
            "recall@1": hits[1] / n, "recall@5": hits[5] / n, "recall@10": hits[10] / n,
            "mrr": rr / n, "first_quote": first / (answerable or 1), "answer_in_quote": three / (answerable or 1),
            "answer_in_reply": reply / (answerable or 1), "right_date": right_date / n,
            "missed_answer": missed / (answerable or 1),
            "false_answer": false / asked if asked else None, "unanswerable": asked,
            "questions": len(questions), "ms_per_question": 1000 * elapsed / n,
        }
    return results


def question_record(q: Question, mode: str, answer, rank: int | None) -> dict:
    """One question's outcome under one mode, as `newsbot eval --details` writes it."""
    texts = [x.text for x in answer.quotes]
    return {
        "set": "dev", "qid": q.qid, "mode": mode, "question": q.question, "answer": q.answer,
        "asked": q.asked.isoformat(), "gold": sorted(q.gold), "rank": rank, "answerable": q.answer_in_gold_text,
        "first_quote": answer_in(q.answer, texts[:1]), "in_quotes": answer_in(q.answer, texts),
        "in_reply": answer_in(q.answer, texts + [x.title for x in answer.quotes]), "no_answer": answer.no_answer,
        "quotes": [{"text": x.text, "article_id": x.article_id, "title": x.title, "date": x.date}
                   for x in answer.quotes],
        "articles": answer.articles[:5],
    }


def unanswerable_record(kind: str, question: str, asked: date, mode: str, answer) -> dict:
    """One unanswerable question's outcome: any quote it got is a false answer. `kind`: "written"
    (asked of the pool) or "wire" (a dev question asked of the 1987 wire store)."""
    return {"set": f"unanswerable:{kind}", "mode": mode, "question": question, "asked": asked.isoformat(),
            "no_answer": answer.no_answer, "note": answer.note,
            "quotes": [{"text": x.text, "article_id": x.article_id, "title": x.title, "date": x.date}
                       for x in answer.quotes]}


COLUMNS = [("recall@1", "R@1"), ("recall@5", "R@5"), ("recall@10", "R@10"), ("mrr", "MRR"),
           ("first_quote", "1st quote"), ("answer_in_quote", "3 quotes"), ("answer_in_reply", "reply"),
           ("right_date", "date"), ("false_answer", "false ans"), ("missed_answer", "missed ans")]


def format_table(results: dict, title: str) -> str:
    lines = [title, f"{'method':8} " + " ".join(f"{label:>10}" for _, label in COLUMNS)]
    for mode, row in results.items():
        cells = [f"{row[c]:10.3f}" if row.get(c) is not None else f"{'-':>10}" for c, _ in COLUMNS]
        lines.append(f"{mode:8} " + " ".join(cells))
    return "\n".join(lines)
