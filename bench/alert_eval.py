"""Topic alerts measured on Reuters-21578: the dev split's stories, labelled with their categories.

The stories are saved once, in date order, into a store under the cache folder (outside the
repository: the texts belong to their publishers), so later runs reuse its vectors. Each run
copies that store aside, follows the topic phrasings of `alert_topics.py` (one chat each) after
the first `archive_share` of the stream (what was saved before the subscription calibrates the
topic and never alerts), and feeds the rest through the bot's own path: save → index → change
feed → matcher → outbox, in batches as a feed would bring them. Every alert recorded in the
outbox is scored against the labels, beside two baselines on the same stories: a keyword rule
(every topic word in the story) and the topic text's cosine alone (best passage), at the single
threshold best over all topics and at each topic's own best threshold, both chosen on the labels
(an upper bound for any cosine threshold rule).

With `feedback` N, a simulated user judges the first N alerts of each topic by the labels (👍 if
the story carries the category), through the same call the bot's buttons make, and the topic is
scored on the stories after its N-th alert only.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from index.config import Config
from index.engine import Engine
from index.ingest import ingest_documents
from index.readers import record_to_document
from index.tokenize import tokenize
from index.topic_match import fuse

from .alert_topics import EVAL_TOPICS, EvalTopic

STORIES = "reuters-21578.jsonl.gz"
LABELS = "reuters_topics_dev.jsonl"
STORE_NAME = "reuters_dev.db"


def eval_data_missing(eval_dir: Path) -> str:
    missing = [name for name in (STORIES, LABELS) if not (eval_dir / name).is_file()]
    return (f"alert evaluation data not found in {eval_dir} ({', '.join(missing)}; expected ../shared/eval); "
            "skipping") if missing else ""


def load_labels(eval_dir: Path) -> dict[str, frozenset[str]]:
    """{story id: its Reuters categories} for the dev (ModApte training) split."""
    labels = {}
    with open(eval_dir / LABELS, encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            labels[row["id"]] = frozenset(row["topics"])
    return labels


def _story_number(story_id: str) -> int:
    tail = story_id.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def dev_records(eval_dir: Path, labels: dict[str, frozenset[str]]) -> Iterator[dict]:
    """The labelled stories in date order (the wire's own numbering within a day)."""
    records = []
    with gzip.open(eval_dir / STORIES, "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if record.get("id") in labels:
                records.append(record)
    records.sort(key=lambda r: (r.get("date") or "", _story_number(r["id"])))
    yield from records


def archive_store(config: Config, eval_dir: Path, cache_dir: Path,
                  progress: Callable[[int], None] | None = None) -> Path:
    """The path of the cached store holding every dev story, indexed (built and embedded once)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / STORE_NAME
    labels = load_labels(eval_dir)
    config = dataclasses.replace(config, store=dataclasses.replace(config.store, path=str(path), url=""))
    with Engine(config) as engine:
        if engine.store.stats()["articles"] == 0:
            docs = (record_to_document(r, f"reuters:{r['id']}", config.ingest.max_file_bytes)
                    for r in dev_records(eval_dir, labels))
            ingest_documents(engine.store, docs, config.ingest)
        engine.open_index(progress)
    return path


@dataclass(frozen=True)
class AlertEvalOptions:
    archive_share: float = 1 / 3  # the first part of the date-ordered stream, saved before subscribing
    feedback: int = 0  # alerts per topic the simulated user judges by the labels (0: zero-shot)
    batch: int = 50  # stories saved between two matching rounds (as a busy feed would)
    topics: tuple[EvalTopic, ...] = EVAL_TOPICS


@dataclass
class TopicResult:
    topic: EvalTopic
    relevant: int
    alerts: int
    hits: int
    keyword: tuple[int, int]  # (alerts, hits) of the keyword rule
    cosine: np.ndarray  # best passage cosine of each scored story (the cosine-only baseline)
    labels: np.ndarray  # whether each scored story is relevant
    threshold: float
    judged: int = 0
    zero_shot: tuple[int, int] | None = None  # (alerts, hits) of the run without feedback, same stories
    previous: tuple[int, int] = (0, 0)  # (alerts, hits) of the matcher before profiles: topic text, 0.6


def prf(alerts: int, hits: int, relevant: int) -> tuple[float, float, float]:
    precision = hits / alerts if alerts else 0.0
    recall = hits / relevant if relevant else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _copy_vectors(source_path: Path, target) -> None:
    from index.store import SqliteStore

    source = SqliteStore(source_path)
    try:
        for batch in source.iter_vectors():
            target.load_rows("embeddings", ("model", "text_hash", "vector"), batch)
    finally:
        source.close()


def run_alert_eval(config: Config, eval_dir: Path, cache_dir: Path, options: AlertEvalOptions,
                   log: Callable[[str], None] = lambda line: None) -> dict:
    """Subscribe, stream, match and score, through Engine and Alerts as the bot runs them."""
    labels = load_labels(eval_dir)
    cached = archive_store(config, eval_dir, cache_dir)
    records = list(dev_records(eval_dir, labels))
    cut = int(len(records) * options.archive_share)
    zero_shot = None
    if options.feedback:  # the same stream without judgements first: its alerts on the same later stories
        log("zero-shot run, for comparison")
        zero_shot = _once(config, cached, records, cut, labels, dataclasses.replace(options, feedback=0), log, None)
        log("run with feedback")
    return _once(config, cached, records, cut, labels, options, log, zero_shot)


def _once(config: Config, cached: Path, records: list[dict], cut: int, labels, options: AlertEvalOptions,
          log: Callable[[str], None], zero_shot: dict | None) -> dict:
    """One run in a throwaway store (stories get the same seqs in every run: same order)."""
    folder = Path(tempfile.mkdtemp(prefix="newsbot-alert-eval-"))
    try:
        config = dataclasses.replace(config, store=dataclasses.replace(config.store, path=str(folder / "eval.db"),
                                                                       url=""))
        with Engine(config) as engine:
            return _run(engine, cached, records, cut, labels, options, log, zero_shot)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _docs(records: list[dict], config: Config):
    return [record_to_document(r, f"reuters:{r['id']}", config.ingest.max_file_bytes) for r in records]


def _run(engine: Engine, cached: Path, records: list[dict], cut: int, labels: dict[str, frozenset[str]],
         options: AlertEvalOptions, log: Callable[[str], None], zero_shot: dict | None) -> dict:
    store, alerts, config = engine.store, engine.alerts, engine.config
    _copy_vectors(cached, store)
    ingest_documents(store, _docs(records[:cut], config), config.ingest)
    engine.open_index()
    archive_seq = store.max_seq()
    log(f"archive: {archive_seq} stories saved before subscribing; {len(records) - cut} to stream")
    started = time.perf_counter()
    chats: dict[int, EvalTopic] = {}
    for n, topic in enumerate(options.topics, start=1):
        alerts.subscribe(n, topic.text, title=topic.text)
        chats[n] = topic
    subscribe_ms = 1000 * (time.perf_counter() - started) / max(len(chats), 1)
    log(f"{len(chats)} topics subscribed ({subscribe_ms:.0f} ms each, calibration included)")
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    judged: dict[int, int] = dict.fromkeys(chats, 0)
    window_from: dict[int, int] = dict.fromkeys(chats, archive_seq)  # scored: stories after this seq
    seen: set[int] = set()
    batch = options.batch if not options.feedback else min(options.batch, 10)
    for start in range(cut, len(records), batch):
        engine.save_documents(_docs(records[start:start + batch], config))
        alerts.match_new(now)
        if options.feedback:
            for item in store.due_alerts("9999", limit=10 ** 9, per_chat=10 ** 9):
                if item.id in seen:
                    continue
                seen.add(item.id)
                chat = item.chat_id
                if judged[chat] < options.feedback:
                    verdict = 1 if chats[chat].category in labels.get(item.article.id, ()) else -1
                    alerts.judge(chat, item.id, verdict)
                    judged[chat] += 1
                    window_from[chat] = item.article.seq
        if (start - cut) // batch % 20 == 0:
            log(f"streamed {start + batch - cut} stories")
    return _score(engine, chats, labels, archive_seq, window_from, judged, subscribe_ms, options, zero_shot)


def _score(engine: Engine, chats: dict[int, EvalTopic], labels, archive_seq: int, window_from: dict[int, int],
           judged: dict[int, int], subscribe_ms: float, options: AlertEvalOptions, zero_shot: dict | None) -> dict:
    store, alerts = engine.store, engine.alerts
    index = engine.index.current
    seqs_all = index.article_seq.view.copy()
    headers = store.headers_by_seq(sorted({int(s) for s in seqs_all if s > archive_seq}))
    by_chat: dict[int, set[int]] = {}
    for item in store.due_alerts("9999", limit=10 ** 9, per_chat=10 ** 9):
        by_chat.setdefault(item.chat_id, set()).add(item.article.seq)
    stream = sorted(headers)
    articles = store.articles_by_seq(stream)
    words = {seq: set(tokenize(f"{a.title}\n{a.text}")) for seq, a in articles.items()}
    results = []
    for chat, topic in chats.items():
        [row] = alerts.topics(chat)
        scored = [seq for seq in stream if seq > window_from[chat]]
        relevant = {seq for seq in scored if topic.category in labels.get(headers[seq].id, ())}
        alerted = {seq for seq in by_chat.get(chat, ()) if seq > window_from[chat]}
        before = {seq for seq in (zero_shot or {}).get("alerted", {}).get(str(chat), ()) if seq > window_from[chat]}
        keyword = {seq for seq in scored if all(t in words[seq] for t in row.query.terms)}
        vector = alerts._topic_vectors([row.query])[0]
        cosine, previous = _best_cosine(index, vector, np.asarray(scored, np.int64), row.query.terms,
                                        engine.config)
        previous_hits = (int((previous >= engine.config.alerts.threshold).sum()),
                         int(((previous >= engine.config.alerts.threshold)
                              & np.array([s in relevant for s in scored], bool)).sum()))
        results.append(TopicResult(
            topic, len(relevant), len(alerted), len(alerted & relevant), (len(keyword), len(keyword & relevant)),
            cosine, np.array([s in relevant for s in scored], bool), alerts.threshold_of(row), judged[chat],
            (len(before), len(before & relevant)) if zero_shot else None, previous_hits))
    report = summarise(results, subscribe_ms, options, archive_seq, len(stream))
    report["alerted"] = {str(chat): sorted(seqs) for chat, seqs in by_chat.items()}
    return report


def _best_cosine(index, vector: np.ndarray, seqs: np.ndarray, terms, config: Config) -> tuple[np.ndarray, np.ndarray]:
    """Each article's best passage cosine with the topic text (the cosine-only baseline), and its
    best hybrid score with the text as typed (the matcher before topic profiles)."""
    with index.reading():
        cosine = index.vectors.scores(vector)
        coverage = index.bm25.coverage(terms)
        passage_seq = index.article_seq.view.copy()
    keep = np.isin(passage_seq, seqs)
    order = np.searchsorted(seqs, passage_seq[keep])
    best = np.full(len(seqs), -1.0)
    np.maximum.at(best, order, cosine[keep])
    hybrid = np.full(len(seqs), -1.0)
    np.maximum.at(hybrid, order, fuse(coverage[keep], cosine[keep], config.retrieval))
    return best, hybrid


def _best_f1(cosines: list[np.ndarray], rels: list[np.ndarray], grid: np.ndarray) -> tuple[float, float]:
    """(threshold, macro-F1) of the best single cosine threshold over all topics."""
    best = (0.0, -1.0)
    for t in grid:
        f = float(np.mean([prf(int((c >= t).sum()), int(((c >= t) & r).sum()), int(r.sum()))[2]
                           for c, r in zip(cosines, rels)]))
        if f > best[1]:
            best = (float(t), f)
    return best


def summarise(results: list[TopicResult], subscribe_ms: float, options: AlertEvalOptions, archive: int,
              streamed: int) -> dict:
    grid = np.round(np.arange(0.10, 0.80, 0.01), 2)
    single_t, _ = _best_f1([r.cosine for r in results], [r.labels for r in results], grid)
    rows = []
    for r in results:
        p, rec, f = prf(r.alerts, r.hits, r.relevant)
        kp, kr, kf = prf(r.keyword[0], r.keyword[1], r.relevant)
        cos_single = prf(int((r.cosine >= single_t).sum()), int(((r.cosine >= single_t) & r.labels).sum()),
                         r.relevant)[2]
        cos_own = max(prf(int((r.cosine >= t).sum()), int(((r.cosine >= t) & r.labels).sum()), r.relevant)[2]
                      for t in grid)
        rows.append({"topic": r.topic.text, "category": r.topic.category, "half": r.topic.half,
                     "relevant": r.relevant, "alerts": r.alerts, "precision": p, "recall": rec, "f1": f,
                     "threshold": r.threshold, "judged": r.judged, "keyword_f1": kf,
                     "cosine_f1": cos_single, "cosine_own_f1": cos_own,
                     "zero_shot_f1": prf(*r.zero_shot, r.relevant)[2] if r.zero_shot else None,
                     "previous_f1": prf(*r.previous, r.relevant)[2]})

    def overall(selected: list[dict], kept: list[TopicResult]) -> dict:
        hits = sum(r.hits for r in kept)
        alerts_n = sum(r.alerts for r in kept)
        relevant = sum(r.relevant for r in kept)
        k_alerts, k_hits = sum(r.keyword[0] for r in kept), sum(r.keyword[1] for r in kept)
        return {
            "topics": len(selected),
            "precision": float(np.mean([x["precision"] for x in selected])),
            "recall": float(np.mean([x["recall"] for x in selected])),
            "macro_f1": float(np.mean([x["f1"] for x in selected])),
            "micro_f1": prf(alerts_n, hits, relevant)[2],
            "keyword_macro_f1": float(np.mean([x["keyword_f1"] for x in selected])),
            "keyword_micro_f1": prf(k_alerts, k_hits, relevant)[2],
            "keyword_precision": float(np.mean([prf(r.keyword[0], r.keyword[1], r.relevant)[0] for r in kept])),
            "keyword_recall": float(np.mean([prf(r.keyword[0], r.keyword[1], r.relevant)[1] for r in kept])),
            "cosine_macro_f1": float(np.mean([x["cosine_f1"] for x in selected])),
            "cosine_own_macro_f1": float(np.mean([x["cosine_own_f1"] for x in selected])),
            "previous_macro_f1": float(np.mean([x["previous_f1"] for x in selected])),
            "zero_shot_macro_f1": (float(np.mean([x["zero_shot_f1"] for x in selected]))
                                   if selected and selected[0]["zero_shot_f1"] is not None else None),
        }

    summary = {"all": overall(rows, results)}
    for half in ("tune", "check"):
        picked = [i for i, x in enumerate(rows) if x["half"] == half]
        if picked:
            summary[half] = overall([rows[i] for i in picked], [results[i] for i in picked])
    return {"topics": rows, "summary": summary, "cosine_threshold": single_t, "archive_stories": archive,
            "streamed_stories": streamed, "feedback": options.feedback,
            "subscribe_ms": subscribe_ms, "archive_share": options.archive_share}


def format_report(report: dict) -> str:
    fb = report["feedback"]
    lines = [
        f"Reuters-21578 dev split: {report['archive_stories']} stories saved before subscribing (calibration), "
        f"{report['streamed_stories']} streamed and scored"
        + (f"; feedback: the first {fb} alerts of each topic judged by the labels, F1 on the alerts after them"
           if fb else "; zero-shot"),
        f"{'topic':34} {'half':5} {'rel':>4} {'alerts':>6} {'P':>5} {'R':>5} {'F1':>5} {'thr':>5} "
        f"{'kw F1':>6} {'cos F1':>6}",
    ]
    for x in report["topics"]:
        lines.append(f"{x['topic'][:34]:34} {x['half']:5} {x['relevant']:4d} {x['alerts']:6d} {x['precision']:5.2f} "
                     f"{x['recall']:5.2f} {x['f1']:5.2f} {x['threshold']:5.2f} {x['keyword_f1']:6.2f} "
                     f"{x['cosine_f1']:6.2f}")
    lines.append("")
    lines.append(f"{'topics':14} {'n':>3} {'P':>6} {'R':>6} {'macroF1':>8} {'microF1':>8} {'kw P':>6} {'kw R':>6} "
                 f"{'kw mF1':>7} {'cos mF1':>8} {'cos/topic':>9} {'before':>7}")
    for name, s in report["summary"].items():
        lines.append(f"{name:14} {s['topics']:3d} {s['precision']:6.3f} {s['recall']:6.3f} {s['macro_f1']:8.3f} "
                     f"{s['micro_f1']:8.3f} {s['keyword_precision']:6.3f} {s['keyword_recall']:6.3f} "
                     f"{s['keyword_macro_f1']:7.3f} {s['cosine_macro_f1']:8.3f} {s['cosine_own_macro_f1']:9.3f} "
                     f"{s['previous_macro_f1']:7.3f}")
    if report["summary"]["all"]["zero_shot_macro_f1"] is not None:
        lines.append("the same later stories without feedback (zero-shot run): macro-F1 "
                     + ", ".join(f"{name} {s['zero_shot_macro_f1']:.3f}" for name, s in report["summary"].items()))
    lines.append(f"cosine-only baseline: best single threshold {report['cosine_threshold']:.2f} over all topics "
                 "(cos mF1), and each topic at its own best threshold (cos/topic): both chosen on the labels")
    lines.append("before: the matcher before topic profiles (topic text as typed, threshold 0.6), macro-F1")
    lines.append(f"subscribing took {report['subscribe_ms']:.0f} ms per topic (embedding and calibration)")
    return "\n".join(lines)
