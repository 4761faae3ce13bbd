"""A loaded index is moved out of the garbage collector's view; what answers allocate is not."""

from __future__ import annotations

import gc
import platform
import weakref
from pathlib import Path

import pytest

from tests.support.demo import demo_documents, engine_at
from tests.support.hashing import HashingEmbedder


class Node:
    def __init__(self):
        self.me = self  # a reference cycle: only the collector frees it


def test_opening_an_index_freezes_what_is_alive_and_later_garbage_is_still_collected(tmp_path):
    engine = engine_at(tmp_path / "store.db", HashingEmbedder())
    try:
        engine.save_documents(demo_documents(["demo-001", "demo-005"]))
        gc.unfreeze()
        engine.open_index()
        assert gc.get_freeze_count() > 0  # the index's objects are no longer walked by collections
        later = Node()
        alive = weakref.ref(later)
        del later
        gc.collect()
        assert alive() is None  # allocated after the freeze: collected as usual
    finally:
        engine.close()
        gc.unfreeze()


def test_a_swapped_out_index_is_freed_without_the_collector(tmp_path, monkeypatch):
    """Frozen objects are freed by reference counting; the index holds no cycles that would wait."""
    import index.engine

    engine = engine_at(tmp_path / "store.db", HashingEmbedder())
    try:
        engine.save_documents(demo_documents(["demo-001", "demo-005"]))
        engine.open_index()
        old = weakref.ref(engine.index.current)
        monkeypatch.setattr(index.engine.memory, "settle", gc.freeze)  # no collection after the swap
        gc.disable()
        try:
            engine.reindex()
            assert old() is None
        finally:
            gc.enable()
    finally:
        engine.close()
        gc.unfreeze()
        gc.collect()


def test_torch_is_imported_before_the_freeze_so_its_objects_are_not_walked():
    """A fresh process, as a bot starts: without torch imported before settle(), the first
    question imports it and every full collection walks its ~165k objects again."""
    import subprocess
    import sys

    probe = ("import gc, sys\n"
             "from index import memory\n"
             "assert 'torch' not in sys.modules\n"
             "memory.settle()\n"
             "import torch\n"
             "print(any(o is torch.nn.Module for o in gc.get_objects()))\n")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"  # frozen: out of the collector's view



def _rss_anon_mib() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no RssAnon in /proc/self/status")


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc" or not Path("/proc/self/status").exists(),
                    reason="malloc_trim is glibc's; RSS is read from Linux's /proc")
def test_memory_freed_inside_the_heap_goes_back_to_the_system():
    """A rebuild frees many mid-sized objects among ones that live on: glibc keeps those pages in
    its heap, counted in RSS, until trimmed (settle() does, after a load or a swap)."""
    from index.memory import trim_heap

    blocks = [bytes(1000) + i.to_bytes(4, "little") for i in range(300_000)]  # ~300 MB from malloc
    survivors = blocks[::50]  # a few live on, scattered: the heap cannot shrink from its top
    del blocks
    before = _rss_anon_mib()
    assert trim_heap()
    assert before - _rss_anon_mib() > 100
    assert len(survivors) == 6000
