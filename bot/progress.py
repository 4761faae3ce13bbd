"""Progress bars for long work (ingest, embedding, reindex) on the terminal, silent elsewhere."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tqdm import tqdm


@contextmanager
def progress_bar(total: int | None, desc: str, unit: str = "it", quiet: bool = False) -> Iterator[Callable[[int], None]]:
    """Yield an `advance(n)` callback; the bar goes to stderr so stdout stays machine-readable."""
    if quiet:
        yield lambda n: None
        return
    with tqdm(total=total, desc=desc, unit=unit, unit_scale=True, file=sys.stderr, leave=False,
              disable=None) as bar:
        yield bar.update
