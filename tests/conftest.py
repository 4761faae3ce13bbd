"""Shared fixtures: a fresh store per test, the default ingest settings, and ../shared data.

The tests are in folders by what they need: `unit/` (no model, no process: the edit-test loop),
`model/` (the bundled embedding model or ../shared data) and `process/` (newsbot processes, bot
servers, kills); what they stand on is in `support/`. Marks come from the folder, and from the
fixtures and marks a unit test carries: `model/`, `process/`, any test that loads the model and
the `stress` tests (hostile or huge inputs, seconds each) are `slow`, so `make test-fast` runs the
rest and `make test` (what CI runs) runs everything.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from index.articles import build_article
from index.config import IngestConfig
from index.models import RawDocument
from tests.support.demo import DEMO_ARTICLES, engine_at

SHARED_DIR = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture
def shared_dir() -> Path:
    """The read-only ../shared folder (samples, eval data) next to the repository."""
    if not SHARED_DIR.is_dir():
        pytest.skip(f"../shared not present: {SHARED_DIR} does not exist")
    return SHARED_DIR


MODEL_FIXTURES = {"embedder", "demo_engine", "fresh_engine"}
SLOW_FOLDERS = {"model", "process"}
SLOW_MARKS = ("model", "process", "stress")  # a unit test may carry one itself


def pytest_collection_modifyitems(items):
    for item in items:
        folder = Path(str(item.fspath)).parent.name
        if folder in SLOW_FOLDERS:
            item.add_marker(getattr(pytest.mark, folder))
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())) or any(
                next(item.iter_markers(name), None) for name in SLOW_MARKS):
            item.add_marker(pytest.mark.slow)


POSTGRES_ENV = "NEWSBOT_TEST_POSTGRES_URL"  # set by scripts/with-postgres.sh (make test)


@pytest.fixture(params=["sqlite", "postgres"])
def store_location(request, tmp_path):
    """Where a test's own store lives: a SQLite file, or a fresh schema of the test PostgreSQL server
    (the store test-suite runs against both backends)."""
    if request.param == "sqlite":
        yield str(tmp_path / "store.db")
        return
    import os
    import uuid

    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(f"no PostgreSQL for this run ({POSTGRES_ENV} unset; `make test` starts one)")
    import psycopg

    schema = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in server else "?"
    yield f"{server}{separator}options=-csearch_path%3D{schema}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def store(store_location):
    from index.store import open_store

    s = open_store(store_location)
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


# -- the embedding model and an engine over the demo articles (loaded once per session) -----------

SHARED_SAMPLE = SHARED_DIR / "samples" / "rt-huawei-mts-5g-2019-06-06.txt"


@pytest.fixture(scope="session")
def embedder():
    """The real bundled all-MiniLM-L6-v2, loaded once; pass it to every Engine a test builds."""
    import torch

    from index.config import ModelConfig
    from index.embedding import Embedder

    # Two cores shared with other work: torch's two intra-op threads then wait on each other and
    # one query takes ~0.5 s instead of ~0.015 s. One thread keeps the suite fast and steady.
    torch.set_num_threads(1)
    e = Embedder(ModelConfig())
    e.dimension  # load now, so the first test using it does not carry the load time
    return e


@pytest.fixture(scope="session")
def demo_engine(tmp_path_factory, embedder):
    """An Engine over the 36 demo articles (and the shared RT sample page when ../shared exists),
    indexed. Shared by the whole session: tests must not ingest into it or reindex it."""
    engine = engine_at(tmp_path_factory.mktemp("demo") / "demo.db", embedder)
    paths = [DEMO_ARTICLES]
    if SHARED_SAMPLE.is_file():
        paths.append(SHARED_SAMPLE)
    report = engine.ingest(paths)
    assert report.rejected == [], report.rejected
    engine.open_index()
    yield engine
    engine.close()


@pytest.fixture
def fresh_engine(tmp_path, demo_engine, embedder):
    """Factory of empty Engines whose embedding cache is seeded with the demo's vectors, so tests
    that ingest demo articles into their own store do not wait for the encoder again."""
    import dataclasses
    import sqlite3

    import numpy as np

    from index.config import Config, StoreConfig
    from index.engine import Engine

    made = []
    source = sqlite3.connect(str(demo_engine.store.path))
    cached = source.execute("SELECT text_hash, vector FROM embeddings").fetchall()
    source.close()

    def make(name: str = "store.db", config: Config | None = None, location: str | None = None):
        config = dataclasses.replace(config or Config(), store=StoreConfig(path=location or str(tmp_path / name)))
        engine = Engine(config, embedder=embedder)
        engine.store.put_vectors(embedder.key, [(h, np.frombuffer(v, np.float32)) for h, v in cached])
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.close()
