"""check's reachability probe and message clean-up."""

import socket

from source_convert.reachability import readable, unreachable_reason


def test_open_port_is_reachable():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        assert unreachable_reason(f"http://127.0.0.1:{server.getsockname()[1]}/api/v2") is None


def test_closed_port_names_host_and_cause():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    reason = unreachable_reason(f"http://127.0.0.1:{port}/api/v2", timeout=2)
    assert reason is not None and f"127.0.0.1:{port}" in reason and "API Base URL" in reason


def test_repr_of_a_reason_is_unwrapped():
    assert readable(repr("Stream x is not available: it's 401")) == "Stream x is not available: it's 401"
    assert readable("plain message") == "plain message"
    assert readable(None) is None
