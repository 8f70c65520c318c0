"""DistinctRecordFilter: the declared condition first, then each key at most once per sync; with a
cursor field, a record that cannot be placed stops the sync."""

import pytest

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.types import StreamSlice
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_convert.components.distinct import DistinctRecordFilter

SLICE = StreamSlice(partition={}, cursor_slice={"start_time": "100", "end_time": "200"})


def make_filter(**fields):
    fields.setdefault("condition", "{{ True }}")  # the manifest always declares one (an empty one keeps nothing)
    return DistinctRecordFilter(config={}, parameters={}, **fields)


def kept(record_filter, *records):
    return list(record_filter.filter_records(list(records), stream_state={}, stream_slice=SLICE))


def test_a_record_a_page_shift_shows_again_is_dropped():
    record_filter = make_filter()
    assert kept(record_filter, {"id": 3}, {"id": 2}) == [{"id": 3}, {"id": 2}]
    assert kept(record_filter, {"id": 2}, {"id": 1}) == [{"id": 1}]


def test_the_condition_decides_first_and_a_refused_record_is_not_remembered():
    record_filter = make_filter(condition="{{ record['timestamp'] >= stream_interval['start_time'] | int }}")
    assert kept(record_filter, {"id": 1, "timestamp": 99}) == []
    assert kept(record_filter, {"id": 1, "timestamp": 150}) == [{"id": 1, "timestamp": 150}]


def test_records_without_the_key_are_all_kept():
    record_filter = make_filter()
    assert kept(record_filter, {"name": "a"}, {"name": "a"}, {"id": None}) == [{"name": "a"}, {"name": "a"}, {"id": None}]


def test_the_key_field_can_be_named():
    record_filter = make_filter(key_field="email")
    assert kept(record_filter, {"email": "a@x", "id": 1}, {"email": "a@x", "id": 2}, {"email": "b@x", "id": 1}) == [
        {"email": "a@x", "id": 1},
        {"email": "b@x", "id": 1},
    ]


def test_two_filters_remember_separately():
    first, second = make_filter(), make_filter()
    assert kept(first, {"id": 1}) == [{"id": 1}]
    assert kept(second, {"id": 1}) == [{"id": 1}]


def test_with_a_cursor_field_a_record_that_cannot_be_placed_fails_the_sync_naming_its_keys():
    record_filter = make_filter(cursor_field="timestamp")
    assert kept(record_filter, {"id": 1, "timestamp": 150}, {"id": 2, "timestamp": 99.5}) == [
        {"id": 1, "timestamp": 150},
        {"id": 2, "timestamp": 99.5},
    ]
    for unplaced in ({"id": 3, "object": "goal"}, {"id": 4, "timestamp": "150"}, {"id": 5, "timestamp": True}):
        with pytest.raises(AirbyteTracedException) as raised:
            kept(record_filter, unplaced)
        assert raised.value.failure_type == FailureType.system_error
        assert f"its keys: {', '.join(sorted(unplaced))}" in raised.value.message
