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


# ----------------------------------------------------------------------------- read_shared
def test_a_shared_result_is_read_once_and_forgotten_when_every_reader_had_it():
    calls = []
    readers = {"variations", "variation_changes"}
    assert shared_reads.read_shared("page 1", "variations", readers, lambda: calls.append(1) or "answer") == "answer"
    assert shared_reads.held() == (1, 0)  # variation_changes has not had it yet
    assert shared_reads.read_shared("page 1", "variation_changes", readers, lambda: calls.append(2) or "other") == "answer"
    assert calls == [1] and shared_reads.held() == (0, 0)
    # asked again after both had it: a new read
    assert shared_reads.read_shared("page 1", "variations", readers, lambda: calls.append(3) or "again") == "again"
    assert calls == [1, 3]


def test_a_reader_alone_or_not_among_the_readers_reads_on_its_own_and_keeps_nothing():
    assert shared_reads.read_shared("page", "variations", {"variations"}, lambda: "alone") == "alone"
    assert shared_reads.read_shared("page", "experiences", {"variations", "variation_changes"}, lambda: "other") == "other"
    assert shared_reads.held() == (0, 0)


def test_a_reader_that_asks_the_same_again_before_the_others_reads_again():
    readers = {"a", "b"}
    assert shared_reads.read_shared("k", "a", readers, lambda: "first") == "first"
    assert shared_reads.read_shared("k", "a", readers, lambda: "second") == "second"
    assert shared_reads.read_shared("k", "b", readers, lambda: "unused") == "first"


def test_a_shared_read_that_fails_is_not_handed_on_each_other_reader_reads_on_its_own():
    calls = []

    def failing():
        calls.append("a")
        raise RuntimeError("refused")

    with pytest.raises(RuntimeError, match="refused"):
        shared_reads.read_shared("k", "a", {"a", "b", "c"}, failing)
    assert shared_reads.read_shared("k", "b", {"a", "b", "c"}, lambda: calls.append("b") or "b's own") == "b's own"
    assert shared_reads.read_shared("k", "c", {"a", "b", "c"}, lambda: calls.append("c") or "c's own") == "c's own"
    assert calls == ["a", "b", "c"] and shared_reads.held() == (0, 0)


def test_a_reader_waiting_for_a_read_that_fails_reads_on_its_own():
    waiting = threading.Event()
    results = []

    def failing_when_b_waits():
        waiting.wait(5)
        time.sleep(0.05)  # b is blocked on the result by now
        raise RuntimeError("refused")

    def ask_a():
        with pytest.raises(RuntimeError):
            shared_reads.read_shared("k", "a", {"a", "b"}, failing_when_b_waits)

    first = threading.Thread(target=ask_a)
    first.start()
    time.sleep(0.05)  # a holds the key
    waiting.set()
    results.append(shared_reads.read_shared("k", "b", {"a", "b"}, lambda: "b's own"))
    first.join()
    assert results == ["b's own"] and shared_reads.held() == (0, 0)


def test_a_weight_that_fails_never_leaves_a_reader_waiting():
    def bad_weight(result):
        raise ValueError("no size")

    with pytest.raises(ValueError):
        shared_reads.read_shared("k", "a", {"a", "b"}, lambda: "page", weight=bad_weight, limit=10)
    assert shared_reads.read_shared("k", "b", {"a", "b"}, lambda: "b's own") == "b's own"
    assert shared_reads.held() == (0, 0)


def test_readers_that_ask_at_once_wait_for_the_first_read():
    calls = []
    started = threading.Barrier(3)
    results = []

    def slow_read():
        calls.append(1)
        time.sleep(0.05)
        return "page"

    def ask(reader):
        started.wait()
        results.append(shared_reads.read_shared("k", reader, {"a", "b", "c"}, slow_read))

    threads = [threading.Thread(target=ask, args=(reader,)) for reader in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [1] and results == ["page"] * 3 and shared_reads.held() == (0, 0)


def test_only_the_selected_streams_share():
    assert shared_reads.selected(["variations", "variation_changes"]) == set()  # nothing selected yet
    shared_reads.select_streams(["variations", "goals"])
    assert shared_reads.selected(["variations", "variation_changes"]) == {"variations"}
    shared_reads.clear()
    assert shared_reads.selected(["variations"]) == set()


def test_kept_results_over_the_limit_are_forgotten_oldest_first_and_their_readers_read_on_their_own():
    readers = {"a", "b"}
    for page in (1, 2, 3):
        shared_reads.read_shared(page, "a", readers, lambda page=page: "x" * 4 * page, weight=len, limit=20)
    assert shared_reads.held() == (2, 20)  # pages 2 and 3 (8 + 12); page 1 was forgotten
    calls = []
    assert shared_reads.read_shared(1, "b", readers, lambda: calls.append(1) or "own", weight=len, limit=20) == "own"
    assert shared_reads.read_shared(2, "b", readers, lambda: calls.append(2) or "own", weight=len, limit=20) == "x" * 8
    assert calls == [1] and shared_reads.held() == (1, 12)
    # b read page 1 on its own: nothing kept for a, who had it already
    assert shared_reads.read_shared(1, "a", readers, lambda: "again", weight=len, limit=20) == "again"
    assert shared_reads.held() == (2, 17)  # a's new read of page 1 waits for b


def test_a_result_heavier_than_the_limit_is_not_kept():
    assert shared_reads.read_shared("k", "a", {"a", "b"}, lambda: "x" * 50, weight=len, limit=20) == "x" * 50
    assert shared_reads.held() == (0, 0)
    assert shared_reads.read_shared("k", "b", {"a", "b"}, lambda: "own", weight=len, limit=20) == "own"
