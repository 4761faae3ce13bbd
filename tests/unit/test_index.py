"""The persisted search index: generations on disk, catching up, rebuilding, surviving damage.

Each test builds its own small store (a few demo articles). None needs meaning, only vectors that
are the same for the same text, so the deterministic hashing embedder stands in for the model;
its counting subclass proves which texts were embedded.
"""

from __future__ import annotations

import json
import shutil
import threading
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from index.config import Config, StoreConfig
from index.embedding import Embedder
from index.engine import Engine
from index.generation_writer import GenerationWriter
from index.ingest import ingest_documents
from index.models import RawDocument
from index.search_index import SearchIndex, passage_text
from tests.support.hashing import HashingEmbedder

DEMO = Path(__file__).resolve().parents[2] / "index" / "demo" / "stories.jsonl"
NOW = date(2026, 11, 25)
FIRST = ["demo-001", "demo-003", "demo-004", "demo-005", "demo-006"]  # ferry, flood, clean-up, 5G deal, robots
LATER = ["demo-013", "demo-025"]  # heat record, rail strike ends
QUESTIONS = [
    "When did Kestrel Mobile sign the 5G deal with Orvane Systems?",
    "How much will the harbour flood clean-up cost?",
    "How many passengers does the Saltwren ferry carry?",
]


def demo_documents(ids) -> list[RawDocument]:
    records = {r["id"]: r for r in map(json.loads, DEMO.read_text(encoding="utf-8").splitlines())}
    return [
        RawDocument(origin=f"demo:{i}", text=records[i]["text"], title=records[i]["title"],
                    date=records[i]["date"], url=records[i]["url"], source=records[i]["source"], id=i)
        for i in ids
    ]


class CountingEmbedder(HashingEmbedder):
    """Records every text it encodes."""

    def __init__(self):
        super().__init__()
        self.encoded: list[str] = []

    def encode(self, texts):
        self.encoded.extend(texts)
        return super().encode(texts)


@pytest.fixture(scope="module")
def hashing() -> HashingEmbedder:
    """This module's embedder: vectors by hashing, no model."""
    return HashingEmbedder()


def make_engine(path: Path, hashing: Embedder) -> Engine:
    return Engine(Config(store=StoreConfig(path=str(path))), embedder=hashing)


def index_dir(engine: Engine) -> Path:
    return Path(str(engine.store.path) + ".index")


def current_gen(engine: Engine) -> str:
    return (index_dir(engine) / "CURRENT").read_text().strip()


def generations(engine: Engine) -> list[str]:
    return sorted(p.name for p in index_dir(engine).glob("gen-*"))


def passage_texts(engine: Engine, ids) -> set[str]:
    texts = set()
    for article_id in ids:
        article = engine.store.get(article_id)
        texts |= {passage_text(article, p.index, True) for p in article.passages}
    return texts


def answers(engine: Engine) -> list[dict]:
    return [engine.answer(q, now=NOW).as_dict() for q in QUESTIONS]


@pytest.fixture
def counting():
    return CountingEmbedder()


@pytest.fixture(scope="module")
def template(tmp_path_factory, hashing) -> Path:
    """A store holding FIRST and their vectors (embedded once per module), without an index."""
    folder = tmp_path_factory.mktemp("template")
    e = make_engine(folder / "store.db", hashing)
    assert e.save_documents(demo_documents(FIRST)).added == FIRST
    e.open_index()
    e.close()
    return folder / "store.db"


@pytest.fixture
def engine(tmp_path, counting, template):
    """An engine over a copy of the template store, indexed (from cached vectors), counting."""
    shutil.copy(template, tmp_path / "store.db")
    e = make_engine(tmp_path / "store.db", counting)
    e.open_index()
    assert counting.encoded == []
    yield e
    e.close()


def test_first_open_embeds_every_passage_once(tmp_path, counting):
    e = make_engine(tmp_path / "fresh.db", counting)
    try:
        e.save_documents(demo_documents(LATER))
        assert not (tmp_path / "fresh.db.index").exists()
        e.open_index()
        assert sorted(counting.encoded) == sorted(passage_texts(e, LATER))
        assert current_gen(e) == "gen-000001"
    finally:
        e.close()


def test_open_index_saves_a_generation_named_in_current(engine, counting):
    name = current_gen(engine)
    assert name.startswith("gen-") and generations(engine) == [name]
    folder = index_dir(engine) / name
    assert {p.name for p in folder.iterdir()} >= {"meta.json", "arrays.npz", "vectors.npy", "vocab.json"}
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["passages"] == engine.store.stats()["passages"] == engine.index.current.size
    assert meta["watermark"] == engine.store.max_seq()


def test_second_engine_loads_the_saved_index_and_answers_the_same(engine, hashing):
    before = answers(engine)
    assert all(a["quotes"] for a in before)
    second_embedder = CountingEmbedder()
    second = make_engine(engine.store.path, second_embedder)
    try:
        second.open_index()
        assert second_embedder.encoded == []  # loaded, not rebuilt
        assert second.index.current.size == engine.index.current.size
        assert generations(second) == [current_gen(engine)]
        assert answers(second) == before
    finally:
        second.close()


def test_catch_up_embeds_only_the_new_passages(engine, counting, hashing):
    counting.encoded.clear()
    size = engine.index.current.size
    report = engine.save_documents(demo_documents(LATER))
    assert report.added == LATER
    engine.open_index()  # index already open: catches up
    assert sorted(counting.encoded) == sorted(passage_texts(engine, LATER))
    assert engine.index.current.size == size + sum(len(engine.store.get(i).passages) for i in LATER)
    answer = engine.answer("What was the highest temperature ever recorded in Port Alder?", now=NOW)
    assert answer.quotes[0].article_id == "demo-013"

    # a new process: loads the (older) saved generation, catches up from cached vectors only
    third_embedder = CountingEmbedder()
    third = make_engine(engine.store.path, third_embedder)
    try:
        third.open_index()
        assert third_embedder.encoded == []
        assert third.index.current.size == engine.index.current.size
        assert answers(third) == answers(engine)
    finally:
        third.close()


def test_saving_through_the_engine_indexes_at_once(engine, counting):
    counting.encoded.clear()
    engine.save_documents(demo_documents(["demo-025"]))
    assert engine.index.pending_articles() == 0
    assert sorted(counting.encoded) == sorted(passage_texts(engine, ["demo-025"]))


def test_catch_up_directly_on_the_manager(engine, counting):
    """Articles saved by another process (straight into the store) are caught up on demand."""
    counting.encoded.clear()
    ingest_documents(engine.store, demo_documents(["demo-025"]), engine.config.ingest)
    assert engine.index.pending_articles() == 1
    assert engine.index.catch_up() == 1
    assert engine.index.pending_articles() == 0
    assert sorted(counting.encoded) == sorted(passage_texts(engine, ["demo-025"]))
    assert engine.index.catch_up() == 0


def test_questions_share_the_index_while_a_catch_up_adds_to_it(engine):
    """Questions hold the index together (SearchIndex.reading) and a catch-up has it alone: asked
    from four threads while later articles are added, every answer is whole, and afterwards the
    index answers as it does when nothing ran beside it."""
    question = "What was the highest temperature ever recorded in Port Alder?"
    errors: list[BaseException] = []
    start = threading.Barrier(5, timeout=10)

    def ask() -> None:
        start.wait()
        try:
            for _ in range(15):
                assert engine.answer(question, now=NOW).quotes
        except BaseException as exc:  # noqa: BLE001 - reported by the assert below
            errors.append(exc)

    askers = [threading.Thread(target=ask) for _ in range(4)]
    for t in askers:
        t.start()
    start.wait()
    for article in LATER:
        engine.save_documents(demo_documents([article]))  # each indexed at once, BM25 folded lazily
    for t in askers:
        t.join(60)
    assert errors == []
    index = engine.index.current
    with index.reading():
        assert not index.bm25.pending  # the last additions were folded in before reading
    assert engine.answer(question, now=NOW).quotes[0].article_id == "demo-013"


def test_reindex_swaps_in_a_new_generation_without_embedding(engine, counting):
    engine.save_documents(demo_documents(LATER))
    engine.open_index()
    old = current_gen(engine)
    before = answers(engine)
    old_index = engine.index.current
    counting.encoded.clear()

    engine.reindex()

    new = current_gen(engine)
    assert new != old and new > old
    assert generations(engine) == [old, new]  # the previous one is kept (another process may be loading it)
    engine.reindex()
    assert generations(engine) == [new, current_gen(engine)]  # older ones are removed
    assert counting.encoded == []  # every vector came from the store
    assert engine.index.current is not old_index
    assert engine.index.current.size == old_index.size
    assert answers(engine) == before


def test_crash_while_saving_a_rebuild_keeps_the_old_generation(engine, hashing, monkeypatch):
    old = current_gen(engine)
    old_index = engine.index.current
    before = answers(engine)

    def failing_finish(self, store_id):  # a rebuild writes its generation straight to disk
        (self.folder / "arrays.npz").write_bytes(b"PK\x03\x04 half written")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(GenerationWriter, "finish", failing_finish)
    with pytest.raises(OSError):
        engine.reindex()

    assert current_gen(engine) == old
    assert engine.index.current is old_index
    assert not engine.index.rebuilding
    assert answers(engine) == before
    # another process opening the store still gets the old generation
    other = make_engine(engine.store.path, hashing)
    try:
        other.open_index()
        assert other.index.current.size == old_index.size
        assert answers(other) == before
    finally:
        other.close()

    monkeypatch.undo()
    engine.reindex()  # a later rebuild succeeds; no half-written folder is left behind
    assert generations(engine) == [old, current_gen(engine)]
    assert not list(engine.index.location.glob(".tmp-*"))
    assert current_gen(engine) != old
    assert answers(engine) == before


def _reopen_after_damage(engine: Engine, hashing: Embedder, damage) -> None:
    """Damage the saved generation, open the store anew: it must rebuild from the store."""
    before = answers(engine)
    size = engine.index.current.size
    folder = index_dir(engine) / current_gen(engine)
    damage(folder)
    counting = CountingEmbedder()
    reopened = make_engine(engine.store.path, counting)
    try:
        reopened.open_index()
        assert counting.encoded == []  # rebuilt from cached vectors
        assert reopened.index.current.size == size
        sound = index_dir(reopened) / current_gen(reopened)  # a sound generation replaced the damaged one
        assert SearchIndex.load(sound, reopened.index.bm25_params).size == size
        assert answers(reopened) == before
    finally:
        reopened.close()


def _truncate(path: Path, size: int | None = None) -> None:
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size // 2 if size is None else size)


def test_truncated_arrays_are_detected_and_rebuilt(engine, hashing):
    _reopen_after_damage(engine, hashing, lambda folder: _truncate(folder / "arrays.npz"))


def test_damaged_meta_is_detected_and_rebuilt(engine, hashing):
    _reopen_after_damage(engine, hashing, lambda folder: (folder / "meta.json").write_text("{\"shape\": "))


def test_truncated_vectors_are_detected_and_rebuilt(engine, hashing):
    _reopen_after_damage(engine, hashing, lambda folder: _truncate(folder / "vectors.npy"))


def test_truncated_postings_are_detected_and_rebuilt(engine, hashing):
    _reopen_after_damage(engine, hashing, lambda folder: _truncate(folder / "bm25_indices.npy"))


def test_missing_generation_folder_is_rebuilt(engine, hashing):
    _reopen_after_damage(engine, hashing, lambda folder: shutil.rmtree(folder))


def test_index_keeps_answering_while_a_rebuild_runs(engine):
    old = current_gen(engine)
    entered, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def blocking_progress(n: int) -> None:
        if not entered.is_set():
            entered.set()
            release.wait(60)

    def rebuild():
        try:
            engine.reindex(blocking_progress)
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread
            errors.append(exc)

    worker = threading.Thread(target=rebuild, daemon=True)
    worker.start()
    try:
        assert entered.wait(60), "rebuild never reported progress"
        assert engine.index.rebuilding
        with pytest.raises(RuntimeError):
            engine.index.rebuild()  # one rebuild at a time
        answer = engine.answer(QUESTIONS[0], now=NOW)
        assert not answer.no_answer and answer.quotes
        assert answer.quotes[0].article_id == "demo-005"
        assert current_gen(engine) == old
    finally:
        release.set()
        worker.join(60)
    assert not worker.is_alive() and errors == []
    assert not engine.index.rebuilding
    assert current_gen(engine) != old
    assert engine.answer(QUESTIONS[0], now=NOW).quotes[0].article_id == "demo-005"


def test_saved_vectors_match_the_index(engine):
    folder = index_dir(engine) / current_gen(engine)
    vectors = np.load(folder / "vectors.npy")
    assert vectors.shape == (engine.index.current.size, engine.embedder.dimension)
    # unit length, to float16's precision (about 1e-3: a sparse hashed vector rounds in few places)
    assert np.allclose(np.linalg.norm(vectors.astype(np.float32), axis=1), 1.0, atol=2e-3)


def _rewrite_vectors(folder: Path, change) -> None:
    """Rewrite vectors.npy as a valid file whose numbers are damaged (a disk or a bug, not a cut)."""
    vectors = np.load(folder / "vectors.npy")
    change(vectors)
    np.save(folder / "vectors.npy", vectors)


def test_zeroed_vectors_are_detected_and_rebuilt(engine, hashing):
    _reopen_after_damage(engine, hashing, lambda folder: _rewrite_vectors(folder, lambda v: v.fill(0)))


def test_nan_vectors_are_detected_and_rebuilt(engine, hashing):
    _reopen_after_damage(engine, hashing, lambda folder: _rewrite_vectors(folder, lambda v: v.__setitem__(3, np.nan)))


def test_one_changed_number_is_caught_by_the_generation_checksum(engine, hashing):
    def nudge(v):
        v[1, 5] = v[1, 5] * 0.5 + 0.01  # still finite, still a plausible vector

    _reopen_after_damage(engine, hashing, lambda folder: _rewrite_vectors(folder, nudge))


def test_a_full_disk_while_saving_the_index_is_one_clear_line_not_a_traceback(engine, monkeypatch, capsys):
    import errno

    import index.search_index as search_index
    from bot.cli import EXIT_STORE, main

    def full(path, writer):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(search_index, "_write", full)
    code = main(["--store", str(engine.store.path), "reindex"])
    err = capsys.readouterr().err
    assert code == EXIT_STORE and "no space left" in err.lower() and "Traceback" not in err
    assert str(index_dir(engine)) in err


def test_a_rebuild_stops_between_batches_when_asked_and_the_old_index_stays(engine):
    import threading

    from index.index_manager import RebuildStopped

    engine.open_index()
    before = engine.index.current
    stop = threading.Event()
    stop.set()
    with pytest.raises(RebuildStopped):
        engine.reindex(stop=stop)
    assert engine.index.current is before and not engine.index.rebuilding
    status = engine.index.status()
    assert status.passages == before.size and status.behind == 0 and status.saved_at is not None


def test_the_latest_day_follows_the_index_as_it_grows(engine):
    """Asked each question ("was anything published after it?"), kept as passages are added."""
    from index.search_index import day_number

    index = engine.index.current
    assert index.latest_day == int(index.day.view.max())
    engine.save_documents(demo_documents(LATER))
    engine.refresh()
    index = engine.index.current
    assert index.latest_day == max(day_number(engine.store.get(i).date) for i in FIRST + LATER)


def _engine_with(path: Path, embedder: Embedder, **retrieval) -> Engine:
    from index.config import RetrievalConfig

    return Engine(Config(store=StoreConfig(path=str(path)), retrieval=RetrievalConfig(**retrieval)), embedder=embedder)


def test_auto_vectors_are_float16_below_sign_codes_from_and_int8_from_it(tmp_path, hashing, template):
    """`vector_dtype = "auto"`: a store searched exactly keeps float16 (the fastest exact product);
    one large enough for the sign codes keeps int8 (half the memory; only their candidates are
    rescored)."""
    for threshold, expected in ((10**6, "float16"), (1, "int8")):
        folder = tmp_path / expected
        folder.mkdir()
        shutil.copy(template, folder / "store.db")
        engine = _engine_with(folder / "store.db", hashing, sign_codes_from=threshold)
        try:
            engine.open_index()
            assert engine.index.current.vectors.dtype == expected
            assert engine.index.current.shape.vector_dtype == expected
            assert engine.answer(QUESTIONS[0], now=NOW).quotes[0].article_id == "demo-005"
        finally:
            engine.close()


def test_a_generation_keeps_its_dtype_until_a_rebuild(tmp_path, hashing, template):
    """A float16 generation whose store has grown past `sign_codes_from` is loaded as saved (no
    rebuild at start-up); `/reindex` builds the next one as int8, from cached vectors."""
    shutil.copy(template, tmp_path / "store.db")
    first = _engine_with(tmp_path / "store.db", hashing)
    first.open_index()
    saved = current_gen(first)
    first.close()

    grown = _engine_with(tmp_path / "store.db", CountingEmbedder(), sign_codes_from=1)
    try:
        grown.open_index()
        assert current_gen(grown) == saved and grown.index.current.vectors.dtype == "float16"
        grown.reindex()
        assert current_gen(grown) != saved and grown.index.current.vectors.dtype == "int8"
        assert grown.embedder.encoded == []  # every vector came from the store's cache
        assert grown.answer(QUESTIONS[0], now=NOW).quotes[0].article_id == "demo-005"
    finally:
        grown.close()

    reopened = _engine_with(tmp_path / "store.db", hashing, sign_codes_from=1)
    try:
        reopened.open_index()
        assert reopened.index.current.vectors.dtype == "int8" and current_gen(reopened) != saved
    finally:
        reopened.close()


@pytest.mark.parametrize("title", ["Huawei's 5G deal: what’s next?", "ΧΑΟΣ ΣΤΟΝ ΔΡΟΜΟ", "O'Brien’s rock'", "", "a_b 12,5%"])
@pytest.mark.parametrize("titles", [True, False])
def test_passage_tokens_are_the_passage_texts_tokens(title, titles):
    """Indexing and alerts tokenise a title once for all passages: the same tokens as tokenising
    each passage's text, title and all (possessives, Greek final sigma, underscores included)."""
    from index.models import Article, Passage
    from index.search_index import passage_tokens
    from index.tokenize import tokenize

    bodies = ["'s Σ begins here, ΟΔΟΣ ends.", "Second passage: the harbour's cranes", "ΣΑΣ"]
    article = Article(id="a", title=title, date=None, source="s", url=None, text=" ".join(bodies), content_hash="h",
                      passages=tuple(Passage(i, i, i + 1, b) for i, b in enumerate(bodies)))
    expected = [tokenize(passage_text(article, p.index, titles)) for p in article.passages]
    assert passage_tokens(article, titles) == expected
    assert any(expected)
