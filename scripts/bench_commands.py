"""What /latest and /help cost the store, on a synthetic store of N articles (README, reliability).

    .venv/bin/python scripts/bench_commands.py [ARTICLES]

Rows are written straight into the articles table (no sentences or passages: neither command reads
them), with dates over ten years and 200 sources.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.store import SqliteStore  # noqa: E402


def median_ms(work, runs: int = 20) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    rng = random.Random(14)
    with tempfile.TemporaryDirectory() as folder, SqliteStore(Path(folder) / "bench.db") as store:
        rows = [(f"a{i}", f"Headline number {i} about the harbour", f"20{rng.randint(16, 26)}-"
                 f"{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}", f"Source {rng.randint(1, 200)}", None,
                 "text", f"h{i}", "2026-11-01T00:00:00Z") for i in range(n)]
        store.load_rows("articles", ("id", "title", "date", "source", "url", "text", "content_hash", "saved_at"), rows)
        sort_all = median_ms(lambda: sorted(store.headers(), key=lambda h: h.date or "", reverse=True)[:8])
        latest = median_ms(lambda: store.latest(8))
        stats = median_ms(store.stats)
    print(f"{n:,} articles: /latest as it was (sort every header) {sort_all:.1f} ms, store.latest(8) {latest:.2f} ms; "
          f"store.stats() (what /help needs, now once per 30 s) {stats:.1f} ms")


if __name__ == "__main__":
    main()
