"""Shared fixtures: a fresh store per test, the default ingest settings, and ../shared data."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.articles import build_article
from index.config import IngestConfig
from index.models import RawDocument
from index.store import SqliteStore

SHARED_DIR = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture
def shared_dir() -> Path:
    """The read-only ../shared folder (samples, eval data) next to the repository."""
    if not SHARED_DIR.is_dir():
        pytest.skip(f"../shared not present: {SHARED_DIR} does not exist")
    return SHARED_DIR


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "store.db")
    yield s
    s.close()


@pytest.fixture
def ingest_config() -> IngestConfig:
    return IngestConfig()


@pytest.fixture
def make_article(ingest_config):
    """Build an Article the way ingestion does, from text and optional RawDocument fields."""

    def make(text: str, **fields):
        fields.setdefault("origin", "test")
        return build_article(RawDocument(text=text, **fields), ingest_config.passage_words)

    return make
