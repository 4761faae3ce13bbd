"""The bundled demo articles as tests and scripts use them, and engines over a store at a path."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO_ARTICLES = ROOT / "index" / "demo" / "stories.jsonl"
DEMO_QUESTIONS = ROOT / "index" / "demo" / "questions.txt"


def demo_documents(ids=None):
    """The demo articles as RawDocuments (all, or those whose id is in `ids`), oldest first."""
    from index.readers import record_to_document

    docs = []
    for n, line in enumerate(DEMO_ARTICLES.read_text(encoding="utf-8").splitlines()):
        record = json.loads(line)
        if ids is None or record["id"] in ids:
            docs.append(record_to_document(record, f"demo:{n}", 10_000_000))
    return docs


def engine_at(path, embedder):
    """A fresh Engine over the store at `path`, sharing an already loaded embedder."""
    from index.config import Config, StoreConfig
    from index.engine import Engine

    return Engine(Config(store=StoreConfig(path=str(path))), embedder=embedder)
