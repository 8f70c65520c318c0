"""Page-number paging: pages from 1, stops on a short or empty page, at ``items_count`` when present,
and, for newest-first feeds, after the first page that reaches back past the slice's start."""

import json

import pytest
import requests

from airbyte_cdk.sources.types import StreamSlice

from source_convert.components.paginator import ConvertPageIncrement


def response(records, extra=None, content=None):
    result = requests.Response()
    result.status_code = 200
    body = {"data": records} if extra is None else {"data": records, "extra": extra}
    result._content = content if content is not None else json.dumps(body).encode()
    return result


def strategy(page_size=3, **fields):
    return ConvertPageIncrement(config={}, page_size=page_size, parameters={}, **fields)


def next_page(paging, page, last_page_size=None, stream_slice=None):
    records = json.loads(page.content)["data"] if page.content.startswith(b"{") else []
    size = len(records) if last_page_size is None else last_page_size
    return paging.next_page_token(page, size, None, 1, stream_slice=stream_slice)


def test_the_first_page_is_page_one():
    assert strategy().initial_token == 1


@pytest.mark.parametrize(
    "extra",
    [None, {}, {"pagination": {}}, {"pagination": None}, {"pagination": {"items_count": "7"}},
     {"pagination": {"items_count": True}}, {"pagination": {"items_count": -1}}, {"other": 1}],
)
def test_without_a_usable_count_a_full_page_asks_for_the_next(extra):
    assert next_page(strategy(), response([1, 2, 3], extra)) == 2


def test_a_short_page_stops_even_if_the_count_says_more():
    assert next_page(strategy(), response([1], {"pagination": {"items_count": 99}})) is None


def test_an_empty_page_stops():
    assert next_page(strategy(), response([])) is None


def test_a_known_count_ends_on_a_full_last_page_without_an_extra_request():
    extra = {"pagination": {"items_count": 6}}
    paging = strategy()
    assert paging.next_page_token(response([1, 2, 3], extra), 3, None, 1) == 2
    assert paging.next_page_token(response([4, 5, 6], extra), 3, None, 2) is None


def test_a_count_beyond_what_was_read_continues():
    assert strategy().next_page_token(response([1, 2, 3], {"pagination": {"items_count": 7}}), 3, None, 2) == 3


def test_a_body_that_cannot_be_parsed_gives_no_count_and_the_page_size_rule_applies():
    assert strategy().next_page_token(response([], content=b"<html>"), 3, None, 1) == 2


# ------------------------------------------------------------------ newest-first feeds
def feed(**fields):
    return strategy(newest_first_cursor_field="timestamp", **fields)


def at(start_time):
    return StreamSlice(partition={}, cursor_slice={"start_time": start_time, "end_time": "9999999999"})


def events(*timestamps):
    return response([{"id": index, "timestamp": value} for index, value in enumerate(timestamps)])


def test_a_page_that_reaches_back_past_the_start_is_the_last():
    assert next_page(feed(), events(130, 120, 99), stream_slice=at("100")) is None


def test_a_page_that_stays_at_or_after_the_start_asks_for_the_next():
    assert next_page(feed(), events(130, 120, 100), stream_slice=at("100")) == 2


@pytest.mark.parametrize("start", [None, "", "not-a-time"])
def test_without_a_usable_start_paging_goes_on(start):
    stream_slice = StreamSlice(partition={}, cursor_slice={} if start is None else {"start_time": start})
    assert next_page(feed(), events(30, 20, 10), stream_slice=stream_slice) == 2


def test_records_without_a_numeric_cursor_do_not_stop_paging():
    page = response([{"id": 1, "timestamp": "50"}, {"id": 2}, {"id": 3, "timestamp": True}])
    assert next_page(feed(), page, stream_slice=at("100")) == 2


def test_the_cursor_rule_is_off_unless_a_field_is_named():
    assert next_page(strategy(), events(30, 20, 10), stream_slice=at("100")) == 2
