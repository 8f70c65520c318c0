"""shared_reads.py: a read several streams of one sync need is made once, even when they ask at once."""

import threading
import time

import pytest

from source_convert.components import shared_reads


@pytest.fixture(autouse=True)
def fresh():
    shared_reads.clear()
    yield
    shared_reads.clear()


def test_the_first_caller_reads_and_later_callers_get_its_result():
    calls = []
    assert shared_reads.read_once("k", lambda: calls.append(1) or "first") == "first"
    assert shared_reads.read_once("k", lambda: calls.append(2) or "second") == "first"
    assert calls == [1]


def test_other_keys_are_read_on_their_own():
    assert shared_reads.read_once(("newest", "200002"), lambda: 1) == 1
    assert shared_reads.read_once(("newest", "200003"), lambda: 2) == 2


def test_a_failed_read_is_one_failure_for_every_caller():
    calls = []

    def failing():
        calls.append(1)
        raise RuntimeError("boom")

    for _ in range(3):
        with pytest.raises(RuntimeError, match="boom"):
            shared_reads.read_once("k", failing)
    assert calls == [1]
    shared_reads.clear()
    assert shared_reads.read_once("k", lambda: "after a new sync") == "after a new sync"


def test_clear_forgets_every_result():
    shared_reads.read_once("k", lambda: "old")
    shared_reads.clear()
    assert shared_reads.read_once("k", lambda: "new") == "new"


def test_callers_that_ask_at_once_wait_for_one_read():
    calls = []
    started = threading.Barrier(4)

    def slow_read():
        calls.append(1)
        time.sleep(0.05)
        return "result"

    results = []

    def ask():
        started.wait()
        results.append(shared_reads.read_once("k", slow_read))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [1] and results == ["result"] * 4
