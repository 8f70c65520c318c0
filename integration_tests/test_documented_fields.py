"""Every field Convert's published contract documents for an object is declared by the stream that reads it.

The documented fields come from the contract's object schemas (``simulator.contract``), the declared ones
from the stream schemas as the connector declares them. A field Convert documents is never silently
dropped: removing one from a stream schema, or narrowing its type, fails here (shown with mutated copies).
That every record of a full read validates against its declared schema, and carries the documented fields
the stream asks for, is checked on a full read over HTTP in ``test_streams.py``.
"""

from __future__ import annotations

import copy

import pytest

from integration_tests.documented_fields import (
    CARRIED_ELSEWHERE, DOCS, STREAM_OBJECTS, admits, docs_with_section, documented_fields, problems, value_types,
)
from integration_tests.harness import load_schema, stream_names

STREAMS = sorted(STREAM_OBJECTS)


@pytest.mark.parametrize("stream", STREAMS)
def test_every_documented_field_is_declared_with_its_types(stream):
    assert documented_fields(stream), f"the contract documents no field for {STREAM_OBJECTS[stream]}"
    assert problems(stream, load_schema(stream)) == []


@pytest.mark.parametrize("stream", STREAMS)
def test_a_removed_documented_field_is_found(stream):
    schema = load_schema(stream)
    skipped = set(CARRIED_ELSEWHERE.get(stream, {}))
    for name in sorted(set(documented_fields(stream)) - skipped):
        mutated = copy.deepcopy(schema)
        del mutated["properties"][name]
        assert problems(stream, mutated) == [f"{stream}: documented field '{name}' is not declared"]


@pytest.mark.parametrize("stream", STREAMS)
def test_a_narrowed_documented_field_is_found(stream):
    """Declaring a documented field with one type fewer than the spec gives it fails (when it has several)."""
    schema = load_schema(stream)
    narrowed = 0
    for name, documented in sorted(documented_fields(stream).items()):
        if name in CARRIED_ELSEWHERE.get(stream, {}) or documented is None or len(documented) < 2:
            continue
        mutated = copy.deepcopy(schema)
        mutated["properties"][name] = {"type": sorted(documented)[:1]}
        assert [p for p in problems(stream, mutated) if f"'{name}'" in p], name
        narrowed += 1
    assert narrowed or all(t is not None and len(t) < 2 for t in documented_fields(stream).values())


def test_every_stream_of_an_object_is_compared():
    """Every stream is compared but the report streams: their rows are cut from a report answer (one row per
    goal, variation and metric, or per day), which ``test_contract`` validates and ``test_reports`` compares
    with the simulator's numbers."""
    not_compared = set(stream_names()) - set(STREAM_OBJECTS)
    assert not_compared == {"aggregated_reports", "segment_reports", "daily_reports", "daily_traffic_allocation"}


@pytest.mark.parametrize(
    "declared, documented, expected",
    [
        ({"type": ["null", "integer"]}, {"type": "integer", "nullable": True}, True),
        ({"type": ["integer"]}, {"type": "integer", "nullable": True}, False),
        ({"type": ["null", "number"]}, {"type": "integer"}, True),
        ({"type": ["null", "integer"]}, {"type": "number"}, False),
        ({"type": ["null", "integer", "object"]}, {"oneOf": [{"type": "integer"}, {"type": "object"}]}, True),
        ({"type": ["null", "integer"]}, {"oneOf": [{"type": "integer"}, {"type": "object"}]}, False),
        ({"type": ["null", "string"]}, {"enum": ["a", "b", None]}, True),
        ({"type": ["string"]}, {"enum": ["a", None]}, False),
        ({"type": ["null", "string"]}, {"type": ["string", "null"]}, True),
        ({"type": ["null", "string"]}, {}, False),
        ({}, {"type": "object"}, True),
    ],
)
def test_type_compatibility(declared, documented, expected):
    assert admits(value_types(declared), value_types(documented)) is expected


def test_docs_list_the_fields_and_primary_key_of_every_stream():
    text = DOCS.read_text(encoding="utf-8")
    assert docs_with_section(text) == text, (
        "The fields section of docs/convert.md is out of date: run `PYTHONPATH=. .venv/bin/python -m "
        "integration_tests.documented_fields` and review the diff."
    )
