"""The bounded, logged wait for the API host, against real sockets on 127.0.0.1 (pauses recorded, not slept)."""

from __future__ import annotations

import logging
import socket
from typing import Callable, Iterator, List

import pytest

from source_convert.reachability import RETRY_PAUSES_SECONDS, wait_until_reachable


@pytest.fixture
def free_port() -> int:
    """A port nothing listens on (bound once to get a number, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def listeners() -> Iterator[List[socket.socket]]:
    opened: List[socket.socket] = []
    yield opened
    for server in opened:
        server.close()


def listen(port: int, opened: List[socket.socket]) -> None:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(1)
    opened.append(server)


def recording(pauses: List[float], then: Callable[[], None] = lambda: None) -> Callable[[float], None]:
    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        then()

    return sleep


def test_a_listening_host_is_reachable_at_once(free_port, listeners, caplog):
    listen(free_port, listeners)
    pauses: List[float] = []
    with caplog.at_level(logging.INFO):
        assert wait_until_reachable(f"http://127.0.0.1:{free_port}/api/v2", logging.getLogger("t"), sleep=recording(pauses)) is None
    assert pauses == [] and caplog.records == []


def test_a_refusing_host_is_given_up_on_after_every_logged_pause(free_port, caplog):
    pauses: List[float] = []
    with caplog.at_level(logging.INFO):
        reason = wait_until_reachable(f"http://127.0.0.1:{free_port}/api/v2", logging.getLogger("t"), sleep=recording(pauses))
    attempts = len(RETRY_PAUSES_SECONDS) + 1
    assert pauses == list(RETRY_PAUSES_SECONDS)
    assert reason == (
        f"Cannot reach the Convert API at 127.0.0.1:{free_port} (Connection refused) after {attempts} attempts "
        f"over {sum(RETRY_PAUSES_SECONDS):g} s. Check the API Base URL and this machine's network access."
    )
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == len(RETRY_PAUSES_SECONDS)
    assert all(record.levelno == logging.WARNING for record in caplog.records)
    assert warnings[0] == (
        f"Cannot reach the Convert API at 127.0.0.1:{free_port} (Connection refused); "
        f"trying again in {RETRY_PAUSES_SECONDS[0]:g} s (attempt 1 of {attempts})."
    )


def test_a_host_that_comes_up_during_the_wait_is_reachable(free_port, listeners, caplog):
    pauses: List[float] = []
    sleep = recording(pauses, then=lambda: listen(free_port, listeners) if len(pauses) == 2 else None)
    with caplog.at_level(logging.INFO):
        assert wait_until_reachable(f"http://127.0.0.1:{free_port}/api/v2", logging.getLogger("t"), sleep=sleep) is None
    assert pauses == list(RETRY_PAUSES_SECONDS[:2]) and len(caplog.records) == 2


def test_an_unknown_host_name_is_named_with_the_resolver_error(caplog):
    reason = wait_until_reachable("https://host.invalid/api/v2", logging.getLogger("t"), pauses=(0,), sleep=lambda _: None)
    assert reason is not None and reason.startswith("Cannot reach the Convert API at host.invalid:443 (")
    assert "after 2 attempts over 0 s" in reason


def test_the_default_wait_is_bounded_well_under_two_minutes():
    # Every attempt may also spend its connect timeout; the wait and those timeouts together stay bounded.
    from source_convert.reachability import CONNECT_TIMEOUT_SECONDS

    assert sum(RETRY_PAUSES_SECONDS) + (len(RETRY_PAUSES_SECONDS) + 1) * CONNECT_TIMEOUT_SECONDS < 120
