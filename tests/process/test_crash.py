"""Killed mid-work (kill -9), newsbot loses nothing it had saved and starts again cleanly.

Real processes (`newsbot` via `python -m bot.cli`) are killed at the moments that matter: during
an ingest, while a rebuild fills its index, and while it writes the new generation to disk.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from index.config import IngestConfig, ModelConfig
from index.embedding import Embedder, text_hash
from index.ingest import ingest_paths
from index.search_index import SearchIndex, passage_text
from index.store import open_store

from tests.support.demo import DEMO_ARTICLES, engine_at

ROOT = Path(__file__).resolve().parents[2]
ARTICLES = 1500
INDEXED_ARTICLES = 6000  # enough that a rebuild lasts long enough to be killed in the middle of it


def synthetic_export(path: Path, count: int) -> Path:
    """Distinct articles made from the demo set (each text and URL unique), as one JSONL file."""
    demo = [json.loads(line) for line in DEMO_ARTICLES.read_text(encoding="utf-8").splitlines()]
    with open(path, "w", encoding="utf-8") as out:
        for i in range(count):
            record = dict(demo[i % len(demo)])
            record["id"] = f"synthetic-{i:05d}"
            record["url"] = f"https://demo.newsbot.invalid/synthetic/{i}"
            record["text"] += f"\n\nThis is copy number {i} of the demo story, for the crash tests."
            out.write(json.dumps(record) + "\n")
    return path


def newsbot(*args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "bot.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for(condition, timeout: float = 60.0, process: subprocess.Popen | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if process is not None and process.poll() is not None:
            return False
        time.sleep(0.005)
    return False


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def count_articles(db: Path) -> int:
    """Read-only peek from outside the writing process (opening a store would write its id)."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as peek:
            return peek.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    except sqlite3.Error:  # not created yet
        return 0


def test_kill_during_ingest_loses_nothing_saved_and_a_rerun_completes(tmp_path):
    export = synthetic_export(tmp_path / "export.jsonl", ARTICLES)
    db = tmp_path / "store.db"
    process = newsbot("--store", str(db), "ingest", "--no-index", str(export))
    assert wait_for(lambda: count_articles(db) >= 50, process=process), process.stderr.read().decode()
    kill(process)

    with open_store(db) as store:
        assert store.integrity_check() == []
        saved = [h.id for h in store.headers()]
        assert 50 <= len(saved) < ARTICLES
        for article_id in saved[-3:]:  # the last articles written are whole
            article = store.get(article_id)
            assert article.sentences and article.passages and article.text
        report = ingest_paths(store, [export], IngestConfig())
        assert len(report.duplicates) == len(saved)  # nothing saved before the kill is saved twice
        assert len(report.added) == ARTICLES - len(saved)
        assert report.rejected == []
        assert store.stats()["articles"] == ARTICLES
        assert store.integrity_check() == []


@pytest.fixture(scope="module")
def indexed_store(tmp_path_factory):
    """A store of synthetic articles with vectors already cached (random unit vectors), so the
    rebuilds below only tokenize and write: what a reindex with cached embeddings does."""
    folder = tmp_path_factory.mktemp("crash-index")
    export = synthetic_export(folder / "export.jsonl", INDEXED_ARTICLES)
    db = folder / "store.db"
    key = Embedder(ModelConfig()).key
    rng = np.random.default_rng(7)
    with open_store(db) as store:
        ingest_paths(store, [export], IngestConfig())
        texts = {}
        for batch_start in range(0, INDEXED_ARTICLES, 500):
            for article in store.articles_after(batch_start, limit=500):
                for p in article.passages:
                    texts[text_hash(passage_text(article, p.index, True))] = True
        vectors = rng.normal(size=(len(texts), 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        store.put_vectors(key, zip(texts, vectors))
    return db


def assert_index_serves(db: Path, embedder) -> None:
    index_dir = Path(str(db) + ".index")
    current = index_dir / "CURRENT"
    if current.exists():  # what CURRENT names is always a whole generation
        from index.bm25 import Bm25Params

        SearchIndex.load(index_dir / current.read_text().strip(), Bm25Params())
    engine = engine_at(db, embedder)
    try:
        engine.open_index()
        assert engine.index.current.size >= INDEXED_ARTICLES
        assert engine.index.pending_articles() == 0
        # the vectors are random, so ask BM25: the point is that every passage is there
        answer = engine.answer("How much did the rail workers' pay rise?", mode="bm25")
        assert answer.quotes and "6.5 percent" in " ".join(q.text for q in answer.quotes)
    finally:
        engine.close()


@pytest.mark.parametrize("moment", ["while filling", "while writing the generation"])
def test_kill_during_reindex_leaves_a_serving_index(indexed_store, embedder, moment):
    index_dir = Path(str(indexed_store) + ".index")
    """Whether the kill lands before or after the swap, CURRENT names a whole generation and the
    index serves every article; a kill before the swap leaves the previous generation named."""
    index_dir = Path(str(indexed_store) + ".index")
    assert_index_serves(indexed_store, embedder)  # a first generation exists
    started = time.monotonic()
    whole = newsbot("--store", str(indexed_store), "reindex", "--quiet")
    assert whole.wait(timeout=300) == 0
    duration = time.monotonic() - started  # of a whole rebuild on this machine now: the kills scale with it
    landings = 0
    for attempt, share in enumerate((0.55, 0.7, 0.85)):
        before = (index_dir / "CURRENT").read_text()
        process = newsbot("--store", str(indexed_store), "reindex", "--quiet")
        stale = set(index_dir.glob(".tmp-*"))  # left by an earlier kill
        if moment == "while writing the generation":
            landed = wait_for(lambda: bool(set(index_dir.glob(".tmp-*")) - stale), timeout=120, process=process)
        else:
            # the fill is most of a rebuild with every vector cached (start-up and writing are short)
            landed = not wait_for(lambda: process.poll() is not None, timeout=duration * share)
            landed = landed and process.poll() is None
        kill(process)
        landings += landed
        if not set(index_dir.glob(".tmp-*")) - stale or moment == "while filling":
            pass  # the kill may have come after the rename: either generation is fine
        else:
            assert (index_dir / "CURRENT").read_text() == before  # killed mid-write: no swap
        assert_index_serves(indexed_store, embedder)
    assert landings, "every rebuild ended before it could be killed"
