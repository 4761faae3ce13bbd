"""The per-user question limit, on a fake clock."""

from bot.ratelimit import QuestionLimiter


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_a_user_gets_the_limit_per_minute_then_one_polite_refusal_then_silence():
    clock = Clock()
    limiter = QuestionLimiter(3, clock)
    assert [limiter.check(1).allowed for _ in range(3)] == [True, True, True]
    first = limiter.check(1)
    assert not first.allowed and first.tell and 59 < first.retry_in_s <= 60
    clock.now += 10
    again = limiter.check(1)
    assert not again.allowed and not again.tell  # told once per wait
    clock.now += 50.5
    assert limiter.check(1).allowed  # the oldest question left the window


def test_users_are_limited_separately_and_zero_means_no_limit():
    clock = Clock()
    limiter = QuestionLimiter(1, clock)
    assert limiter.check(1).allowed and limiter.check(2).allowed
    assert not limiter.check(1).allowed
    unlimited = QuestionLimiter(0, clock)
    assert all(unlimited.check(1).allowed for _ in range(1000))
