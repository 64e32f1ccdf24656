"""The per-process sliding-window counter: the same arithmetic as `limits`' sliding-window
counter, driven by a manual clock."""

from __future__ import annotations

from tessera.limits.windows import SlidingWindow


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_limit_per_key_within_a_window() -> None:
    clock = Clock()
    window = SlidingWindow(3, 60, clock)
    assert [window.hit("a") for _ in range(4)] == [True, True, True, False]
    assert window.hit("b")  # other keys are counted apart
    assert not window.test("a") and window.test("b")
    assert 0 < window.retry_after("a") <= 60


def test_the_previous_window_weighs_while_it_overlaps() -> None:
    clock = Clock(60 * 100)  # the start of a window
    window = SlidingWindow(4, 60, clock)
    assert all(window.hit("a") for _ in range(4))
    clock.now += 60 + 15  # a quarter into the next window: 4 * 0.75 = 3 still weigh
    assert window.hit("a")
    assert not window.hit("a")
    clock.now += 30  # three quarters in: 4 * 0.25 + 1 = 2
    assert window.hit("a") and window.hit("a")
    assert not window.hit("a")


def test_retry_after_is_when_a_hit_is_allowed_again() -> None:
    clock = Clock(60 * 100)
    window = SlidingWindow(2, 60, clock)
    assert window.hit("a") and window.hit("a")
    clock.now += 10
    wait = window.retry_after("a")
    assert 0 < wait <= 60
    clock.now += wait - 0.5
    assert not window.test("a")
    clock.now += 1
    assert window.hit("a")


def test_old_windows_are_dropped_whole_and_clear_forgets_a_key() -> None:
    clock = Clock(60 * 100)
    window = SlidingWindow(1, 60, clock)
    assert window.hit("a") and window.hit("b")
    clock.now += 120  # two windows later: nothing of the first one is kept
    assert window.test("a")
    assert window.hit("a") and not window.hit("a")
    window.clear("a")
    assert window.hit("a")


def test_a_refund_takes_back_one_hit() -> None:
    clock = Clock(60 * 100)
    window = SlidingWindow(2, 60, clock)
    assert window.hit("a") and window.hit("a") and not window.hit("a")
    window.refund("a")
    assert window.hit("a") and not window.hit("a")
    clock.now += 60  # the hits are the previous window's now: a refund takes from there
    window.refund("a")
    window.refund("a")
    window.refund("a")  # nothing left to take back: never below zero
    assert window.hit("a") and window.hit("a") and not window.hit("a")
