"""A small file of millions of bad lines through ingest (the README's reliability section quotes it).

    .venv/bin/python scripts/bench_rejections.py [LINES]
"""

from __future__ import annotations

import gzip
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.config import IngestConfig  # noqa: E402
from index.ingest import ingest_paths  # noqa: E402
from index.store import SqliteStore  # noqa: E402


def main() -> None:
    lines = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000
    with tempfile.TemporaryDirectory() as folder, SqliteStore(":memory:") as store:
        for name, line in (("empty-objects.jsonl.gz", b"{}\n"), ("blank-lines.jsonl.gz", b"\n")):
            path = Path(folder) / name
            path.write_bytes(gzip.compress(line * lines))
            started = time.process_time()
            report = ingest_paths(store, [path], IngestConfig())
            print(f"{name}: {path.stat().st_size:,} bytes, {lines:,} lines, {report.rejected_total:,} rejected "
                  f"({len(report.rejected)} listed), {time.process_time() - started:.1f} s CPU, "
                  f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")


if __name__ == "__main__":
    main()
