"""Convert's response envelope: parsed once per response, ``data`` required, ``items_count`` only when valid."""

import math

import pytest
import requests

from source_convert.components.envelope import (
    MalformedResponse,
    envelope_data,
    items_count,
    parsed_body,
    request_line,
)

URL = "https://api.convert.com/api/v2/accounts/1/projects/2/goals?include%5B%5D=stats"


def response(content: bytes, status: int = 200, content_type: str = "application/json") -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    answer._content = content
    answer.headers["Content-Type"] = content_type
    answer.request = requests.Request("POST", URL).prepare()
    return answer


def test_the_body_is_parsed_once_and_shared():
    answer = response(b'{"data":[{"id":1}]}')
    first = parsed_body(answer)
    answer._content = b'{"data":[{"id":2}]}'
    assert parsed_body(answer) is first
    assert envelope_data(answer) == [{"id": 1}]


def test_what_the_fast_parser_refuses_is_parsed_by_the_standard_one():
    (record,) = envelope_data(response(b'{"data":[{"id":1,"rate":NaN}]}'))
    assert record["id"] == 1 and math.isnan(record["rate"])


def test_a_body_that_is_not_json_names_request_status_size_and_content_type():
    with pytest.raises(MalformedResponse) as raised:
        envelope_data(response(b"<html>bad gateway</html>", content_type="text/html"))
    message = str(raised.value)
    assert "POST /api/v2/accounts/1/projects/2/goals" in message and "include" not in message
    assert "HTTP 200" in message and "not JSON" in message
    assert "24 bytes" in message and "'text/html'" in message


@pytest.mark.parametrize(
    "content, found",
    [(b'{"code":200,"message":"OK"}', "['code', 'message']"), (b"[1, 2]", "list"), (b'"data"', "str")],
)
def test_a_json_body_without_data_is_malformed_and_says_what_it_found(content, found):
    with pytest.raises(MalformedResponse, match="no 'data' field") as raised:
        envelope_data(response(content))
    assert found in str(raised.value)


def test_a_single_object_may_come_bare_or_wrapped():
    settings = {"campaigns": [{"name": "spring_sale", "visitors_count": 3}], "custom_segments": []}
    import json

    assert envelope_data(response(json.dumps(settings).encode()), single_object=True) == settings
    assert envelope_data(response(json.dumps({"data": settings}).encode()), single_object=True) == settings
    with pytest.raises(MalformedResponse, match="no 'data' field"):  # a list call never takes a bare object
        envelope_data(response(json.dumps(settings).encode()))


@pytest.mark.parametrize(
    "content",
    [b"{}", b'{"code":500,"message":"busy"}', b'{"code":422,"message":["x"],"fields":["goal"]}', b"[]", b'"x"'],
)
def test_an_empty_or_error_shaped_body_is_never_taken_for_a_bare_object(content):
    with pytest.raises(MalformedResponse, match="no 'data' field"):
        envelope_data(response(content), single_object=True)


@pytest.mark.parametrize("data", [b"null", b"[]", b"{}", b'{"id":1}'])
def test_data_is_returned_as_it_is(data):
    import json

    assert envelope_data(response(b'{"data":' + data + b"}")) == json.loads(data)


@pytest.mark.parametrize(
    "content, expected",
    [
        (b'{"data":[],"extra":{"pagination":{"items_count":120}}}', 120),
        (b'{"data":[],"extra":{"pagination":{"items_count":0}}}', 0),
        (b'{"data":[],"extra":{"pagination":{"items_count":-1}}}', None),
        (b'{"data":[],"extra":{"pagination":{"items_count":true}}}', None),
        (b'{"data":[],"extra":{"pagination":{"items_count":"120"}}}', None),
        (b'{"data":[],"extra":{"pagination":{"items_count":12.5}}}', None),
        (b'{"data":[],"extra":{"pagination":[]}}', None),
        (b'{"data":[],"extra":[]}', None),
        (b'{"data":[]}', None),
        (b"[1]", None),
        (b"<html>", None),
    ],
)
def test_items_count_only_when_it_is_a_whole_number(content, expected):
    assert items_count(response(content)) == expected


def test_request_line_leaves_out_host_and_query():
    assert request_line(requests.Request("GET", URL).prepare()) == "GET /api/v2/accounts/1/projects/2/goals"
    assert request_line(None) == "? ?"


# --------------------------------------------------------------------------- thread safety
def test_the_parse_is_kept_beside_the_response_not_on_it_and_goes_with_it():
    import gc
    import weakref

    from source_convert.components import envelope

    answer = response(b'{"data":[{"id":1}]}')
    attributes = set(vars(answer))
    gc.collect()  # responses of earlier tests leave now, not in the middle of this count
    kept = len(envelope._PARSED)
    envelope_data(answer)
    assert set(vars(answer)) == attributes  # nothing set on the requests.Response
    assert len(envelope._PARSED) == kept + 1
    gone = weakref.ref(answer)
    del answer
    gc.collect()
    assert gone() is None and len(envelope._PARSED) == kept


def test_threads_sharing_a_response_parse_it_once_and_see_the_same_body(monkeypatch):
    import threading

    from source_convert.components import envelope

    calls = []
    real_loads = envelope._loads

    def counting_loads(content):
        calls.append(content)
        return real_loads(content)

    monkeypatch.setattr(envelope, "_loads", counting_loads)
    answers = [response(b'{"data":[{"id":%d}],"extra":{"pagination":{"items_count":1}}}' % n) for n in range(20)]
    start = threading.Barrier(8)
    seen = [[] for _ in answers]

    def worker() -> None:
        start.wait()
        for index, answer in enumerate(answers):
            seen[index].append(parsed_body(answer))
            assert items_count(answer) == 1

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == len(answers)  # one parse per response, whatever the threads did
    for index, bodies in enumerate(seen):
        assert len(bodies) == 8 and all(body is bodies[0] for body in bodies)
        assert bodies[0]["data"] == [{"id": index}]


def test_a_body_that_is_not_json_is_not_kept():
    from source_convert.components import envelope

    answer = response(b"<html>", content_type="text/html")
    for _ in range(2):
        with pytest.raises(MalformedResponse):
            parsed_body(answer)
    assert answer not in envelope._PARSED
