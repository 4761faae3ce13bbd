"""Sentence splitting on one long paragraph (the README's reliability section quotes it).

    .venv/bin/python scripts/bench_split.py [SENTENCES]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.sentences import split_paragraph  # noqa: E402


def timed(label: str, text: str) -> None:
    started = time.process_time()
    count = len(split_paragraph(text))
    print(f"{label}: {len(text):,} characters, {count:,} sentences, {time.process_time() - started:.2f} s CPU")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    timed(f"{n:,} sentences in one paragraph",
          " ".join(f"The council met on day {i} and voted on item {i * 7}." for i in range(n)))
    timed("3,000,000 dots", "." * 3_000_000 + " A")


if __name__ == "__main__":
    main()
