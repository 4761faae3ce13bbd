"""Evaluation entry point: `python scripts/eval.py [--pool pool_standard]` = `newsbot eval`."""

import sys

from bot.cli import main

if __name__ == "__main__":
    sys.exit(main(["eval", *sys.argv[1:]]))
