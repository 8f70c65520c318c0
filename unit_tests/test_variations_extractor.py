"""VariationExtractor: one record per variation, change ids from either shape, loud failure on another shape."""

import json

import pytest
import requests

from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_convert.components.variations import VariationExtractor


def response(experiences):
    result = requests.Response()
    result.status_code = 200
    result._content = json.dumps({"data": experiences}).encode()
    result.request = requests.Request("POST", "https://api.example/api/v2/accounts/1/projects/2/experiences").prepare()
    return result


def extract(experiences):
    return list(VariationExtractor(parameters={"name": "variations"}).extract_records(response(experiences)))


def test_each_variation_becomes_a_record_with_its_experience_and_change_ids():
    experiences = [
        {"id": 10, "name": "Hero", "variations": [
            {"id": 1, "name": "Original", "is_baseline": True, "traffic_distribution": 50, "key": "o",
             "status": "running", "changes": []},
            {"id": 2, "name": "B", "description": "Bolder", "is_baseline": False, "traffic_distribution": 50,
             "key": "b", "status": "running", "changes": [7, {"id": 8, "type": "customCode", "data": {}}]},
        ]},
        {"id": 11, "variations": None},
    ]
    assert extract(experiences) == [
        {"id": 1, "name": "Original", "is_baseline": True, "traffic_distribution": 50, "key": "o", "status": "running",
         "experience_id": 10, "change_ids": []},
        {"id": 2, "name": "B", "description": "Bolder", "is_baseline": False, "traffic_distribution": 50, "key": "b",
         "status": "running", "experience_id": 10, "change_ids": [7, 8]},
    ]


def test_a_variation_without_changes_has_no_change_ids():
    assert extract([{"id": 10, "variations": [{"id": 1}]}]) == [{"id": 1, "experience_id": 10, "change_ids": None}]


@pytest.mark.parametrize(
    "experience, words",
    [
        ({"id": 10}, ["experience 10", "no 'variations' field"]),
        ({"id": 10, "variations": [400001, 400002]}, ["experience 10", "not a list of objects"]),
        ({"id": 10, "variations": {"id": 1}}, ["experience 10", "not a list of objects"]),
        ({"id": 10, "variations": [{"id": 1, "changes": "7"}]}, ["variation 1", "'changes' as a str"]),
        ("300001", ["an experience is a str"]),
    ],
)
def test_an_unexpected_shape_fails_the_stream_and_says_where(experience, words):
    with pytest.raises(AirbyteTracedException) as raised:
        extract([experience])
    message = raised.value.message
    for word in ["Stream 'variations'", "POST /api/v2/accounts/1/projects/2/experiences", *words]:
        assert word in message, message
