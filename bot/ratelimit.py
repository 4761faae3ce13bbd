"""Per-user question rate limit: answering costs CPU, so one user cannot starve everyone else.

A sliding window of the last minute's questions per user, in memory (per worker: a limit that
stops a flood, not an accounting system). A user over the limit is told once how long to wait;
further questions inside the same wait are dropped without a reply, so the limit itself cannot
be turned into a way to make the bot send messages.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_S = 60.0
MAX_USERS = 100_000  # windows kept; the least recently seen users are forgotten first


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_in_s: float = 0.0
    tell: bool = False  # the first refusal of a wait: say so; later ones: stay silent


class QuestionLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic):
        self.per_minute = per_minute
        self.clock = clock
        self._seen: dict[int, deque[float]] = {}
        self._told_until: dict[int, float] = {}

    def check(self, user_id: int) -> Verdict:
        if self.per_minute <= 0:
            return Verdict(True)
        now = self.clock()
        window = self._seen.pop(user_id, None) or deque()
        self._seen[user_id] = window  # re-inserted: dict order is recency order
        while window and window[0] <= now - WINDOW_S:
            window.popleft()
        if len(self._seen) > MAX_USERS:
            oldest = next(iter(self._seen))
            self._seen.pop(oldest)
            self._told_until.pop(oldest, None)
        if len(window) < self.per_minute:
            window.append(now)
            return Verdict(True)
        retry_in = window[0] + WINDOW_S - now
        tell = self._told_until.get(user_id, 0.0) <= now
        if tell:
            self._told_until[user_id] = now + retry_in
        return Verdict(False, retry_in, tell)
