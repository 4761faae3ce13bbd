"""How much of exact search's top k the sign-code pass keeps, on real passage vectors.

    python scripts/sign_code_recall.py [--pool pool_standard] [--rescore 4000] [--queries 300]

Reads the passage vectors `newsbot eval` cached for a pool (run it once first), holds out some
passages as queries (questions lie near the passages that answer them), and compares the dense
stage's sign codes + exact rescoring (`PassageVectors.top(..., rescore=R)`) with exact search:
the share of the exact top 10 and top 200 it returns. The README quotes its output.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.alerts import eval_cache_dir  # noqa: E402
from index.passage_vectors import PassageVectors  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", default="pool_standard")
    parser.add_argument("--rescore", type=int, default=4000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    path = eval_cache_dir() / f"{args.pool}.db"
    if not path.is_file():
        print(f"no {path}: run `newsbot eval --pool {args.pool}` first to cache its vectors")
        return 0
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        blobs = [row[0] for row in connection.execute("SELECT vector FROM embeddings")]
    vectors = np.frombuffer(b"".join(blobs), np.float32).reshape(len(blobs), -1)
    rng = np.random.default_rng(0)
    held_out = rng.choice(len(vectors), args.queries, replace=False)
    stored = np.delete(vectors, held_out, axis=0)
    index = PassageVectors(stored.shape[1], "float16")
    index.extend(stored)
    exact_rows = index.take(slice(None))
    kept = {10: [], 200: []}
    for query in vectors[held_out]:
        exact = np.argsort(-(exact_rows @ query))
        found = index.top(query, 200, rescore=args.rescore).ids
        for k in kept:
            kept[k].append(len(set(exact[:k]) & set(found[:k])) / k)
    print(f"{args.pool}: {len(stored):,} passages, {args.queries} held-out passages as queries, "
          f"rescoring {args.rescore:,}: " + ", ".join(f"top {k}: {np.mean(v):.4f} of exact" for k, v in kept.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
