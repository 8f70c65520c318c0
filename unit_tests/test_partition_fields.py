"""PartitionFields: partition values as integers, slice values as they are, and constants evaluated once."""

from airbyte_cdk.sources.types import StreamSlice

from source_convert.components.partition_fields import PartitionFields


def test_copies_partition_values_and_constants():
    transformation = PartitionFields(
        config={"metric": "conversion_rate"},
        parameters={"kind": "non_cumulative"},
        integer_fields={"experience_id": "experience_id"},
        constant_fields={"metric": "{{ config['metric'] }}", "report_type": "{{ parameters.kind }}"},
    )
    record = {"goal_id": 1}
    transformation.transform(record, stream_slice=StreamSlice(partition={"experience_id": "300001"}, cursor_slice={}))
    assert record == {"goal_id": 1, "experience_id": 300001, "metric": "conversion_rate", "report_type": "non_cumulative"}


def test_missing_partition_key_leaves_the_field_unset():
    transformation = PartitionFields(config={}, parameters={}, integer_fields={"changed_at": "changed_at"})
    record = {"id": 1}
    transformation.transform(record, stream_slice=StreamSlice(partition={}, cursor_slice={}))
    assert record == {"id": 1}


def test_slice_fields_come_from_the_partition_or_its_extra_fields():
    transformation = PartitionFields(config={}, parameters={}, slice_fields={"metric": "metric", "ran_until": "ran_until"})
    record = {"id": 1}
    stream_slice = StreamSlice(partition={"metric": "conversion_rate"}, cursor_slice={}, extra_fields={"ran_until": 1793491200})
    transformation.transform(record, stream_slice=stream_slice)
    assert record == {"id": 1, "metric": "conversion_rate", "ran_until": 1793491200}


def test_no_two_records_share_a_mutable_value():
    transformation = PartitionFields(
        config={"tags": ["a", "b"]}, parameters={}, slice_fields={"only": "only"},
        constant_fields={"tags": "{{ config['tags'] }}"},
    )
    stream_slice = StreamSlice(partition={"only": [1, 2]}, cursor_slice={})
    first, second = {"id": 1}, {"id": 2}
    transformation.transform(first, stream_slice=stream_slice)
    transformation.transform(second, stream_slice=stream_slice)
    assert first["tags"] == second["tags"] == ["a", "b"] and first["only"] == second["only"] == [1, 2]
    first["tags"].append("c")
    first["only"].append(3)
    assert second["tags"] == ["a", "b"] and second["only"] == [1, 2] and stream_slice.partition["only"] == [1, 2]
