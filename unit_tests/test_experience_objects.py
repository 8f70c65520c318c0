"""components/experience_objects.py: the tracker that tells a missing path from deleted experiences, and
the change extractor's refusals (the streams themselves are in unit_tests/mock_server/)."""

from __future__ import annotations

import json
import threading
from typing import Any, List

import pytest
import requests

from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_convert.components.experience_objects import ExperienceCallTracker
from source_convert.components.variations import VariationChangeExtractor

WARN, HOLD, FAIL = ExperienceCallTracker.WARN, ExperienceCallTracker.HOLD, ExperienceCallTracker.FAIL


def a_response(body: Any) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response._content = json.dumps(body).encode()
    response.request = requests.Request("POST", "https://api.convert.com/api/v2/accounts/1/projects/2/experiences").prepare()
    return response


def test_404s_are_held_until_a_success_proves_the_path_then_warned_about():
    tracker = ExperienceCallTracker()
    tracker.expect([("2", "5"), ("2", "6"), ("2", "7")])
    first = a_response({})
    assert tracker.not_found(("2", "5"), first) == HOLD
    assert tracker.success() == [first]  # the held 404 is now a deleted experience
    assert tracker.success() == []
    assert tracker.not_found(("2", "6"), a_response({})) == WARN


def test_every_listed_experience_answering_404_is_a_missing_path():
    tracker = ExperienceCallTracker()
    tracker.expect([("2", "5"), ("2", "6")])
    assert tracker.not_found(("2", "5"), a_response({})) == HOLD
    assert tracker.not_found(("2", "5"), a_response({})) == HOLD  # the same experience again (a later page) decides nothing
    assert tracker.not_found(("2", "6"), a_response({})) == FAIL
    assert tracker.listed() == 2


def test_experiences_the_router_did_not_list_and_streams_without_a_router_warn_at_once():
    tracker = ExperienceCallTracker()
    assert tracker.not_found(("2", "5"), a_response({})) == WARN  # nothing expected (not an experience router)
    tracker.expect([("2", "6")])
    assert tracker.not_found(("2", "9"), a_response({})) == WARN  # named by the history, not in the list


def test_concurrent_answers_decide_once():
    tracker = ExperienceCallTracker()
    keys = [("2", str(experience)) for experience in range(200)]
    tracker.expect(keys)
    verdicts: List[str] = []
    lock = threading.Lock()

    def answer(key):
        verdict = tracker.not_found(key, a_response({}))
        with lock:
            verdicts.append(verdict)

    threads = [threading.Thread(target=answer, args=(key,)) for key in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(verdicts) == [FAIL] + [HOLD] * 199


@pytest.mark.parametrize("variation, problem", [
    ({"id": 7}, "variation 7 of experience 3 has no 'changes' field, which was requested"),
    ({"id": 7, "changes": {"id": 1}}, "variation 7 of experience 3 has 'changes' as a dict, expected a list"),
    ({"id": 7, "changes": [11]}, "variation 7 of experience 3 lists change 11 as a bare id, not as the object the request expanded"),
    ({"id": 7, "changes": [{"type": "customCode"}]}, "variation 7 of experience 3 has a change without an 'id' (its keys: type)"),
])
def test_changes_of_an_unexpected_shape_fail_the_stream(variation, problem):
    extractor = VariationChangeExtractor(parameters={"name": "variation_changes"})
    with pytest.raises(AirbyteTracedException) as raised:
        list(extractor.extract_records(a_response({"data": [{"id": 3, "variations": [variation]}]})))
    assert problem in raised.value.message
    assert raised.value.message.startswith("Stream 'variation_changes': Convert answered POST /api/v2/accounts/1/projects/2/experiences")


def test_null_changes_and_null_variations_are_none():
    extractor = VariationChangeExtractor(parameters={"name": "variation_changes"})
    body = {"data": [{"id": 3, "variations": [{"id": 7, "changes": None}]}, {"id": 4, "variations": None}]}
    assert list(extractor.extract_records(a_response(body))) == []
