"""Cold start of one-shot commands: `newsbot ask` (hybrid and --mode bm25), `stats`, `list`, each a
whole new process, on a copy of the 1,000-article pool_quick store that `newsbot eval` builds in
its cache (indexed, vectors cached). Median of --runs runs; the CPU is printed with the figures.

    python scripts/bench_startup.py [--store PATH] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = Path(os.environ.get("NEWSBOT_CACHE", Path.home() / ".cache" / "newsbot" / "eval")) / "pool_quick.db"
QUESTION = "What did the Federal Reserve decide about interest rates?"
TARGETS = {"ask (hybrid)": 3.0, "ask --mode bm25": 1.0, "stats": 1.0, "list": 1.0}


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def _copy(store: Path, into: Path) -> Path:
    target = into / "store.db"
    with sqlite3.connect(store) as source, sqlite3.connect(target) as copy:
        source.backup(copy)  # consistent even while another process writes the cache
    if Path(f"{store}.index").is_dir():
        shutil.copytree(f"{store}.index", f"{target}.index")
    return target


def _time(args: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, default=DEFAULT, help="an indexed store (default: the pool_quick cache)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    if not args.store.is_file():
        print(f"{args.store} not found: run `newsbot eval` once to build it, or pass --store", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        store = str(_copy(args.store, Path(tmp)))
        _time(["--store", store, "ask", "--mode", "bm25", QUESTION], 1)  # catch the copy's index up once
        commands = {"ask (hybrid)": ["--store", store, "ask", QUESTION],
                    "ask --mode bm25": ["--store", store, "ask", "--mode", "bm25", QUESTION],
                    "stats": ["--store", store, "stats"], "list": ["--store", store, "list"]}
        figures = {name: _time(command, args.runs) for name, command in commands.items()}
    print(f"cold start, whole process, median of {args.runs}; {_cpu()}")
    print("| command | wall | target |")
    print("|---|---|---|")
    for name, seconds in figures.items():
        verdict = "met" if seconds <= TARGETS[name] else "missed"
        print(f"| `newsbot {name}` | {seconds:.2f} s | ≤ {TARGETS[name]:g} s ({verdict}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
