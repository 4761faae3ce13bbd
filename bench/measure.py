"""Measuring helpers shared by the benchmark's parts: memory, time, percentiles, the machine."""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def _proc_mb(path: str, key: str) -> float | None:
    """A "Key:  N kB" line of a /proc file, in MiB; None where the file or the line is absent."""
    try:
        with open(path, encoding="ascii") as handle:
            for line in handle:
                if line.startswith(key):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM) in MiB; getrusage where /proc is absent."""
    found = _proc_mb("/proc/self/status", "VmHWM:")
    if found is not None:
        return found
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / (1024 * 1024)


def percentile_ms(seconds: list[float], q: float) -> float | None:
    return round(float(np.percentile(seconds, q)) * 1000, 3) if seconds else None


def random_unit_vectors(rng: np.random.Generator, n: int, dimension: int) -> np.ndarray:
    vectors = rng.standard_normal((n, dimension), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def time_calls(call: Callable[[object], object], inputs: list) -> list[float]:
    """Seconds taken by call(x) for each input, one perf_counter pair per call."""
    out = []
    for item in inputs:
        started = time.perf_counter()
        call(item)
        out.append(time.perf_counter() - started)
    return out


def time_interleaved(calls: dict[str, Callable[[object], object]], inputs: list) -> dict[str, list[float]]:
    """time_calls for several rivals, taking turns on each input (and each going first in turn), so
    that a burst of load from elsewhere on a shared machine lands on all of them alike."""
    out: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for i, item in enumerate(inputs):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            calls[name](item)
            out[name].append(time.perf_counter() - started)
    return out


def time_blocks(calls: dict[str, Callable[[object], object]], inputs: list, block: int = 20) -> dict[str, list[float]]:
    """time_interleaved by blocks of inputs: rivals that run on different thread pools (torch's,
    OpenBLAS's) slow each other down when they alternate call by call, as one pool's threads spin
    on while the other's work. Each rival gets one untimed call before each of its blocks."""
    out: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for b, start in enumerate(range(0, len(inputs), block)):
        chunk = inputs[start : start + block]
        shift = b % len(names)
        for name in names[shift:] + names[:shift]:
            calls[name](chunk[0])
            for item in chunk:
                started = time.perf_counter()
                calls[name](item)
                out[name].append(time.perf_counter() - started)
    return out


def machine_info(threads: int) -> dict:
    from importlib import metadata

    def version(package: str) -> str | None:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    return {
        "cpu": cpu_model(), "cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
        "numpy": np.__version__, "torch": version("torch"), "torch_threads": threads,
        "bm25s": version("bm25s"), "rank_bm25": version("rank-bm25"),
    }


def current_rss_mb() -> float:
    """This process's resident set now (VmRSS) in MiB: what a peer's index adds is measured as the
    growth of this figure while it is built and held."""
    found = _proc_mb("/proc/self/status", "VmRSS:")
    return peak_rss_mb() if found is None else found


def cpu_model() -> str:
    """The CPU's name: speed figures hold for one CPU (an AMD EPYC and an Intel Xeon disagree)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def available_mb() -> float | None:
    """Memory the system can still give (MemAvailable) in MiB; None where /proc/meminfo is absent."""
    return _proc_mb("/proc/meminfo", "MemAvailable:")


def fits(needed_mb: float, reserve_mb: float = 1024.0) -> bool:
    """Whether `needed_mb` more can be held now with `reserve_mb` to spare (unknown: assume so). A
    peer that would not fit is skipped and says why, instead of the bench being killed for memory."""
    free = available_mb()
    return free is None or needed_mb + reserve_mb <= free
