"""The issue's fault burst at full size: 1,000 questions and 1,000 alerts while 20 % of the bot's
calls to the local Bot API server fail. Prints a JSON report (README: Reliability).

    .venv/bin/python scripts/fault_burst.py [--questions 1000] [--chats 200] [--rate 0.2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support is a checkout package, not installed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("--chats", type=int, default=200, help="chats subscribed; each gets 5 alerts")
    parser.add_argument("--rate", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    import torch
    from tests.support.demo import engine_at
    from tests.support.fault_burst import burst

    from index.config import ModelConfig
    from index.embedding import Embedder

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        engine = engine_at(Path(folder) / "burst.db", Embedder(ModelConfig()))
        try:
            report = asyncio.run(burst(engine, args.questions, args.chats, args.rate, args.seed))
        finally:
            engine.close()
    print(json.dumps(report, indent=2))
    ok = (report["answered"] + report["failed_cleanly"] == report["questions"]
          and report["alerts_delivered"] == report["alerts_expected"] and report["alert_duplicates"] == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
