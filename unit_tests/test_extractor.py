"""ConvertDataExtractor: the records under ``data``; a body that is not the envelope stops the stream."""

import pytest
import requests

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_convert.components.extractor import ConvertDataExtractor

URL = "https://api.convert.com/api/v2/accounts/1/projects/2/goals"


def response(content: bytes) -> requests.Response:
    answer = requests.Response()
    answer.status_code = 200
    answer._content = content
    answer.request = requests.Request("POST", URL).prepare()
    return answer


def extract(content: bytes):
    return list(ConvertDataExtractor(parameters={"name": "goals"}).extract_records(response(content)))


def test_a_list_yields_each_record_in_order():
    assert extract(b'{"data":[{"id":2},{"id":1}],"extra":{}}') == [{"id": 2}, {"id": 1}]


def test_an_object_is_one_record():
    assert extract(b'{"data":{"id":7,"name":"Shop"}}') == [{"id": 7, "name": "Shop"}]


@pytest.mark.parametrize("content", [b'{"data":null}', b'{"data":[]}'])
def test_null_or_empty_data_yields_nothing(content):
    assert extract(content) == []


def test_a_body_without_data_fails_the_stream_naming_it_and_the_request():
    with pytest.raises(AirbyteTracedException) as raised:
        extract(b'{"code":200,"message":"OK"}')
    error = raised.value
    assert error.failure_type == FailureType.system_error
    assert error.message.startswith("Stream 'goals': ")
    assert "POST /api/v2/accounts/1/projects/2/goals" in error.message
    assert "No records were skipped" in error.message


def test_a_body_that_is_not_json_fails_the_stream():
    with pytest.raises(AirbyteTracedException, match="not JSON"):
        extract(b"<html>502</html>")


@pytest.mark.parametrize("content, kind", [(b'{"data":"ok"}', "str"), (b'{"data":3}', "int")])
def test_data_that_is_neither_a_list_nor_an_object_fails_the_stream(content, kind):
    with pytest.raises(AirbyteTracedException) as raised:
        extract(content)
    assert raised.value.message == f"Stream 'goals': 'data' is a {kind}, expected a list or an object."


def test_a_single_object_stream_reads_a_bare_object_as_its_record():
    extractor = ConvertDataExtractor(parameters={"name": "account", "single_object": True})
    bare = b'{"id":100001,"name":"Acme","accountType":"main"}'
    assert list(extractor.extract_records(response(bare))) == [{"id": 100001, "name": "Acme", "accountType": "main"}]
    assert list(extractor.extract_records(response(b'{"data":{"id":100001}}'))) == [{"id": 100001}]
    with pytest.raises(AirbyteTracedException, match="no 'data' field"):  # an error-shaped 200 is no object
        list(extractor.extract_records(response(b'{"code":500,"message":"busy"}')))


def test_a_list_stream_never_takes_a_bare_object_for_a_record():
    with pytest.raises(AirbyteTracedException, match="no 'data' field"):
        extract(b'{"id":7,"name":"Shop"}')
