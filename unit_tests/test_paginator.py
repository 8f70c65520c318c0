"""Page-number paging: short/empty page, items_count when present, missing or partial ``extra``."""

import json

import pytest
import requests

from source_convert.components.paginator import ConvertPageIncrement


def response(records, extra=None, content=None):
    result = requests.Response()
    result.status_code = 200
    body = {"data": records} if extra is None else {"data": records, "extra": extra}
    result._content = content if content is not None else json.dumps(body).encode()
    return result


def strategy(page_size=3):
    return ConvertPageIncrement(config={}, page_size=page_size, parameters={})


def test_first_page_is_one_and_injected():
    assert strategy().initial_token == 1


@pytest.mark.parametrize(
    "extra",
    [None, {}, {"pagination": {}}, {"pagination": None}, {"pagination": {"items_count": "7"}}, {"other": 1}],
)
def test_without_a_usable_count_a_full_page_asks_for_the_next(extra):
    assert strategy().next_page_token(response([1, 2, 3], extra), 3, None, 1) == 2


def test_short_page_stops():
    assert strategy().next_page_token(response([1], {"pagination": {"items_count": 99}}), 1, None, 4) is None


def test_empty_page_stops():
    assert strategy().next_page_token(response([]), 0, None, 2) is None


def test_count_known_full_last_page_stops_without_extra_request():
    extra = {"pagination": {"items_count": 6}}
    assert strategy().next_page_token(response([4, 5, 6], extra), 3, None, 2) is None
    assert strategy().next_page_token(response([1, 2, 3], extra), 3, None, 1) == 2


def test_count_larger_than_seen_continues():
    assert strategy().next_page_token(response([1, 2, 3], {"pagination": {"items_count": 7}}), 3, None, 2) == 3
