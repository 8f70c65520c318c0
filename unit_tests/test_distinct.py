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


def test_threads_reading_overlapping_pages_emit_each_key_exactly_once():
    import threading

    record_filter = make_filter()
    emitted = []
    start = threading.Barrier(8)

    def worker(offset: int) -> None:
        start.wait()
        for page in range(50):
            records = [{"id": (page * 7 + offset + index) % 300} for index in range(20)]
            emitted.extend(record["id"] for record in kept(record_filter, *records))

    threads = [threading.Thread(target=worker, args=(offset,)) for offset in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(emitted) == sorted(set(emitted)) and len(emitted) == 300


def test_a_key_is_remembered_per_partition_so_one_project_never_hides_another_s_record():
    record_filter = make_filter()
    project_a = StreamSlice(partition={"project_id": "200002"}, cursor_slice={"start_time": "100", "end_time": "200"})
    project_b = StreamSlice(partition={"project_id": "200003"}, cursor_slice={"start_time": "100", "end_time": "200"})

    def kept_in(stream_slice, *records):
        return list(record_filter.filter_records(list(records), stream_state={}, stream_slice=stream_slice))

    assert kept_in(project_a, {"id": 1}, {"id": 2}) == [{"id": 1}, {"id": 2}]
    assert kept_in(project_b, {"id": 2}, {"id": 3}) == [{"id": 2}, {"id": 3}]  # ids are not unique across projects
    assert kept_in(project_a, {"id": 2}) == []  # a page shift within a project is still dropped
