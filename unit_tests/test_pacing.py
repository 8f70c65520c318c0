"""RequestBudget: at most N request starts in any sliding 60-second window, waited for, never exceeded."""

import pytest

from source_convert.components.pacing import RequestBudget


class FakeTime:
    """A clock that only moves when something sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def budget(per_minute: int, time: FakeTime) -> RequestBudget:
    return RequestBudget(per_minute, clock=lambda: time.now, sleep=time.sleep)


def test_the_first_n_start_at_once_and_the_next_waits_for_the_oldest_to_leave_the_window():
    time = FakeTime()
    paced = budget(3, time)
    assert [paced.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    waited = paced.acquire()
    assert waited == pytest.approx(60.0, abs=0.01)
    assert time.now == pytest.approx(60.0, abs=0.01)


def test_no_window_of_60_seconds_ever_holds_more_than_n_starts():
    time = FakeTime()
    paced = budget(3, time)
    starts = []
    for index in range(10):
        paced.acquire()
        starts.append(time.now)
        time.now += 7.0 * (index % 2)  # some requests take a while
    for first in range(len(starts) - 3):
        assert starts[first + 3] - starts[first] >= 60.0


def test_a_start_older_than_the_window_frees_its_place_without_waiting():
    time = FakeTime()
    paced = budget(1, time)
    paced.acquire()
    time.now = 60.0
    assert paced.acquire() == 0.0
    assert time.sleeps == []


@pytest.mark.parametrize("per_minute", [0, -5])
def test_a_budget_below_one_request_per_minute_is_refused(per_minute):
    with pytest.raises(ValueError, match="at least 1"):
        RequestBudget(per_minute)
