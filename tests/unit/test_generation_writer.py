"""A rebuild writes its generation straight to disk (GenerationWriter) and maps it: the files are
those an index built in memory saves, and the mapped index answers, grows and saves as a loaded one."""

from __future__ import annotations

import json
import mmap
import shutil
from pathlib import Path

import numpy as np
import pytest

import index.generation_writer as generation_writer
from index.bm25 import Bm25Params
from index.engine import Engine
from index.generation_writer import GenerationWriter
from index.index_manager import REBUILD_PREFIX
from index.models import RawDocument
from index.search_index import MAPPABLE, IndexShape, SearchIndex, finish_generation
from tests.support.hashing import HashingEmbedder
from tests.unit.test_index import (FIRST, LATER, NOW, QUESTIONS, answers, current_gen, demo_documents, index_dir,
                                   make_engine)

ALL = FIRST + LATER


def _arrays(folder: Path) -> dict[str, np.ndarray]:
    with np.load(folder / "arrays.npz") as packed:
        arrays = {name: packed[name] for name in packed.files}
    for name in MAPPABLE:
        if (folder / f"{name}.npy").is_file():
            arrays[name] = np.load(folder / f"{name}.npy")
    return arrays


def _mapped(index: SearchIndex) -> bool:
    """Whether the index's vectors and postings are views of mapped files (not arrays of its own)."""
    on_file = [_on_file(index.vectors._rows._data), _on_file(index.bm25._base.indices)]
    assert len(set(on_file)) == 1, on_file
    return on_file[0]


def _on_file(array: np.ndarray) -> bool:
    base = array
    while base is not None:
        if isinstance(base, mmap.mmap):
            return True
        base = getattr(base, "base", None)
    return False


def _write_both(store, embedder, dtype: str, tmp_path: Path) -> tuple[Path, Path]:
    """The same passages saved from an index built in memory and written by the writer."""
    shape = IndexShape(model=embedder.key, vector_dtype=dtype)
    articles = store.articles_after(0, limit=1000)
    texts = {}
    from index.embedding import ensure_vectors, text_hash
    from index.search_index import passage_text

    for article in articles:
        for p in article.passages:
            text = passage_text(article, p.index, True)
            texts[text_hash(text)] = text
    vectors = ensure_vectors(store, embedder, texts)
    built = SearchIndex(shape, embedder.dimension, Bm25Params())
    for start in range(0, len(articles), 2):  # several additions, as a rebuild's batches
        built.add(articles[start : start + 2], vectors)
    saved, written = tmp_path / f"saved-{dtype}", tmp_path / f"written-{dtype}"
    saved.mkdir()
    written.mkdir()
    built.save(saved, store_id="s")
    writer = GenerationWriter(written, shape, embedder.dimension)
    for start in range(0, len(articles), 3):
        writer.add(articles[start : start + 3], vectors)
    writer.finish("s")
    return saved, written


@pytest.fixture(scope="module")
def hashing() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def demo_store(tmp_path, hashing) -> Engine:
    engine = make_engine(tmp_path / "store.db", hashing)
    engine.save_documents(demo_documents(ALL))
    yield engine
    engine.close()


@pytest.mark.parametrize("dtype", ["float32", "float16", "int8"])
def test_the_writer_writes_the_files_an_index_built_in_memory_saves(demo_store, hashing, tmp_path, monkeypatch,
                                                                     dtype):
    """Tiny runs and merge ranges, so that postings cross runs and ranges as a million passages'
    do: every array, its dtype, the vocabulary and the meta are the same, and vectors.npy is the
    same file byte for byte."""
    monkeypatch.setattr(generation_writer, "RUN_POSTINGS", 50)
    monkeypatch.setattr(generation_writer, "MERGE_POSTINGS", 40)
    saved, written = _write_both(demo_store.store, hashing, dtype, tmp_path)
    ours, theirs = _arrays(written), _arrays(saved)
    assert sorted(ours) == sorted(theirs)
    for name in theirs:
        assert ours[name].dtype == theirs[name].dtype, name
        assert np.array_equal(ours[name], theirs[name]), name
    assert len(ours["bm25_indices"]) > 200  # many runs and ranges were merged
    assert (written / "vocab.json").read_text() == (saved / "vocab.json").read_text()
    assert (written / "vectors.npy").read_bytes() == (saved / "vectors.npy").read_bytes()
    meta, their_meta = (json.loads((f / "meta.json").read_text()) for f in (written, saved))
    assert meta.pop("checksums").keys() == their_meta.pop("checksums").keys()
    assert meta.pop("vectors_checked") and not their_meta.pop("vectors_checked")  # checked as written
    assert meta == their_meta
    assert sorted(p.name for p in written.iterdir()) == sorted(p.name for p in saved.iterdir())  # no part files


def test_a_count_past_one_byte_is_written_as_an_index_built_in_memory_saves_it(demo_store, hashing, tmp_path,
                                                                               monkeypatch):
    """Counts are one byte while every count fits; a passage of junk repeating a word 300 times
    makes both writers keep two bytes, with the same arrays."""
    monkeypatch.setattr(generation_writer, "RUN_POSTINGS", 50)
    junk = RawDocument(origin="junk", text="Kessa " * 300 + "valley.", title="Junk page",
                       date="2026-05-01", url="https://junk.example/1", source="junk", id="junk-1")
    demo_store.save_documents([junk])
    saved, written = _write_both(demo_store.store, hashing, "int8", tmp_path)
    ours, theirs = _arrays(written), _arrays(saved)
    assert theirs["bm25_data"].dtype == np.uint16 and theirs["bm25_data"].max() >= 300
    for name in theirs:
        assert ours[name].dtype == theirs[name].dtype, name
        assert np.array_equal(ours[name], theirs[name]), name


def test_a_mapped_generation_answers_as_a_loaded_one(demo_store, hashing, tmp_path):
    _, written = _write_both(demo_store.store, hashing, "float16", tmp_path)
    loaded = SearchIndex.load(written, Bm25Params())
    mapped = SearchIndex.load(written, Bm25Params(), mapped=True)
    assert isinstance(np.load(written / "vectors.npy", mmap_mode="c"), np.memmap)
    assert _mapped(mapped) and not _mapped(loaded)
    query = hashing.encode_query(QUESTIONS[0])
    assert np.array_equal(mapped.vectors.scores(query), loaded.vectors.scores(query))
    tokens = ["kestrel", "5g", "deal"]
    for got, want in zip(mapped.bm25.top(tokens, 5), loaded.bm25.top(tokens, 5)):
        assert np.array_equal(got, want)


def test_a_reindex_maps_its_generation_then_grows_and_saves_as_usual(tmp_path, hashing):
    engine = make_engine(tmp_path / "store.db", hashing)
    try:
        engine.save_documents(demo_documents(FIRST))
        engine.open_index()
        before = answers(engine)
        old = current_gen(engine)
        engine.reindex()
        assert current_gen(engine) != old
        index = engine.index.current
        assert _mapped(index)
        assert answers(engine) == before
        assert not list(index_dir(engine).glob(".tmp-*"))  # nothing of the writer's left

        size = index.size
        engine.save_documents(demo_documents(LATER))  # caught up: the mapped arrays grow into memory
        assert engine.index.current is index and index.size > size
        assert engine.answer("When did the rail strike end?", now=NOW).quotes
        with index.reading():  # compacts the new postings
            assert not _mapped(index)
        assert engine.answer(QUESTIONS[0], now=NOW).quotes[0].article_id == "demo-005"
    finally:
        engine.close()
    reopened = make_engine(tmp_path / "store.db", hashing)  # a generation saved from the grown index loads
    try:
        reopened.open_index()
        assert reopened.index.pending_articles() == 0
        assert reopened.answer(QUESTIONS[0], now=NOW).quotes[0].article_id == "demo-005"
    finally:
        reopened.close()


def test_a_generation_with_the_postings_in_its_archive_still_loads(demo_store, hashing, tmp_path):
    """Generations saved before the postings had files of their own (mapping needs them) load as before."""
    saved, _ = _write_both(demo_store.store, hashing, "float16", tmp_path)
    arrays = _arrays(saved)
    old = tmp_path / "old"
    old.mkdir()
    np.savez(old / "arrays.npz", **{k: v for k, v in arrays.items() if k not in ("vectors", "vector_scale")})
    np.save(old / "vectors.npy", arrays["vectors"])
    shutil.copy(saved / "vocab.json", old / "vocab.json")
    meta = json.loads((saved / "meta.json").read_text())
    finish_generation(old, {k: v for k, v in meta.items() if k not in ("checksums", "postings_sorted")},
                      vectors_checked=False)
    loaded = SearchIndex.load(old, Bm25Params(), mapped=True)
    expected = SearchIndex.load(saved, Bm25Params())
    assert loaded.size == expected.size
    assert np.array_equal(loaded.bm25._base.indices, expected.bm25._base.indices)


def test_a_rebuild_that_fails_leaves_no_folder_and_the_old_index(tmp_path, hashing, monkeypatch):
    engine = make_engine(tmp_path / "store.db", hashing)
    try:
        engine.save_documents(demo_documents(FIRST))
        engine.open_index()
        old_index, old = engine.index.current, current_gen(engine)

        def broken(self, articles, vectors):
            raise ValueError("vectors hold NaN or infinite values")

        monkeypatch.setattr(GenerationWriter, "add", broken)
        with pytest.raises(ValueError):
            engine.reindex()
        assert engine.index.current is old_index and current_gen(engine) == old
        assert not list(index_dir(engine).glob(".tmp-*"))
    finally:
        engine.close()


def test_a_live_rebuilds_folder_survives_other_saves_and_a_dead_ones_does_not(tmp_path, hashing):
    """Saves of the live index go on while a rebuild writes (for minutes, at a million passages):
    they clear folders left by crashed writes, but not one whose writing process is alive."""
    import os

    engine = make_engine(tmp_path / "store.db", hashing)
    try:
        engine.save_documents(demo_documents(FIRST))
        engine.open_index()
        live = index_dir(engine) / f"{REBUILD_PREFIX}{os.getpid()}-abc"
        dead = index_dir(engine) / f"{REBUILD_PREFIX}999999999-abc"
        crashed = index_dir(engine) / ".tmp-xyz"
        for folder in (live, dead, crashed):
            folder.mkdir()
        engine.reindex()
        assert live.is_dir() and not dead.exists() and not crashed.exists()
    finally:
        engine.close()


def test_damaged_vectors_are_refused_by_the_writer_and_by_a_mapped_load(demo_store, hashing, tmp_path):
    """The writer checks vectors as they come (its generations say so, and a mapped load trusts
    that); a generation that does not say so is checked on a mapped load too."""
    article = demo_store.store.articles_after(0, limit=1)[0]
    from index.embedding import text_hash
    from index.search_index import passage_text, write_generation

    texts = [passage_text(article, p.index, True) for p in article.passages]
    bad = {text_hash(t): np.full(hashing.dimension, np.nan, np.float32) for t in texts}
    folder = tmp_path / "w"
    folder.mkdir()
    writer = GenerationWriter(folder, IndexShape(model=hashing.key), hashing.dimension)
    with pytest.raises(ValueError, match="NaN"):
        writer.add([article], bad)
    writer.discard()

    saved, _ = _write_both(demo_store.store, hashing, "float32", tmp_path)
    arrays = _arrays(saved)
    arrays["vectors"][0] = 0.0
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    meta = json.loads((saved / "meta.json").read_text())
    write_generation(damaged, arrays, json.loads((saved / "vocab.json").read_text()),
                     {k: v for k, v in meta.items() if k not in ("checksums", "postings_sorted", "vectors_checked")})
    with pytest.raises(ValueError, match="all-zero"):
        SearchIndex.load(damaged, Bm25Params(), mapped=True)


def test_a_full_disk_while_the_rebuild_writes_is_one_clear_error_and_the_old_index_serves(tmp_path, hashing,
                                                                                         monkeypatch):
    import errno

    from index.index_manager import IndexSaveError

    engine = make_engine(tmp_path / "store.db", hashing)
    try:
        engine.save_documents(demo_documents(FIRST))
        engine.open_index()
        old_index, old, before = engine.index.current, current_gen(engine), answers(engine)
        monkeypatch.setattr(generation_writer, "RUN_POSTINGS", 10)  # a run is written during the fill

        def full(self):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(GenerationWriter, "_write_run", full)
        with pytest.raises(IndexSaveError, match="No space left") as raised:
            engine.reindex()
        assert str(index_dir(engine)) in str(raised.value)
        assert engine.index.current is old_index and current_gen(engine) == old
        assert not list(index_dir(engine).glob(".tmp-*"))
        assert answers(engine) == before
    finally:
        engine.close()
