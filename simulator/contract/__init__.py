"""Convert API v2 contract: the JSON Schemas of the operations the connector calls (``convert-v2.json``).

``operation_for(method, path)`` finds the operation of a concrete request path (``/api/v2/...``);
``validate_request`` / ``validate_response`` / ``validate_error`` list the violations of a body (an
empty list when it follows the contract); ``object_schema(name)`` is the spec's schema of one object
(``Project``, ``Experience``, ``ReportSettings`` ...) as a self-contained JSON Schema.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from decimal import Decimal

from jsonschema import Draft202012Validator, ValidationError, validators
from jsonschema.exceptions import best_match

CONTRACT_FILE = Path(__file__).with_name("convert-v2.json")
_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _multiple_of(validator: Any, step: Any, instance: Any, schema: Any) -> Any:
    """``multipleOf`` in decimal arithmetic: 33.33 is a multiple of 0.0001 (binary floats say it is not)."""
    if not validator.is_type(instance, "number"):
        return
    if Decimal(str(instance)) % Decimal(str(step)) != 0:
        yield ValidationError(f"{instance!r} is not a multiple of {step}")


# Draft 2020-12 with decimal multipleOf; format is an annotation only (as the draft says by default).
ContractValidator = validators.extend(Draft202012Validator, {"multipleOf": _multiple_of})


@dataclass(frozen=True)
class Operation:
    """One operation of the contract: its method, path template and the schemas of its bodies."""

    name: str
    method: str
    path: str
    request: Optional[Mapping[str, Any]]
    response: Mapping[str, Any]


class ContractViolation(AssertionError):
    """A body that does not follow the contract; the message lists every violation."""


@lru_cache(maxsize=1)
def contract() -> Mapping[str, Any]:
    """The parsed contract file."""
    return json.loads(CONTRACT_FILE.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def operations() -> Tuple[Operation, ...]:
    return tuple(Operation(name, op["method"], op["path"], op["request"], op["response"])
                 for name, op in contract()["operations"].items())


@lru_cache(maxsize=None)
def _template(path: str) -> "re.Pattern[str]":
    return re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)))


def operation_for(method: str, url_path: str) -> Operation:
    """The operation answering ``method url_path`` (a concrete path, with or without the ``/api/v2`` base).

    Raises ``LookupError`` when the contract has none. Where two templates match, the one with more
    literal characters wins (``.../experiences/{id}`` never shadows ``.../experiences/{id}/sections``:
    templates match whole paths)."""
    base = contract()["base_path"]
    path = url_path.split("?", 1)[0]
    if path.startswith(base + "/"):
        path = path[len(base):]
    found = [op for op in operations() if op.method == method.upper() and _template(op.path).fullmatch(path)]
    if not found:
        raise LookupError(f"the contract has no operation for {method.upper()} {url_path}")
    return max(found, key=lambda op: len(re.sub(r"\{[^/]+?\}", "", op.path)))


@lru_cache(maxsize=None)
def _validator(key: str) -> Any:
    """A validator for the schema at ``key`` (a JSON pointer into the contract file), refs resolved in the file."""
    document = contract()
    node: Any = document
    for part in key.lstrip("/").split("/"):
        node = node[part]
    schema = dict(node, components=document["components"]) if isinstance(node, Mapping) else node
    schema = dict(schema, **{"$schema": _DIALECT})
    return ContractValidator(schema)


def _violations(key: str, body: Any) -> List[str]:
    errors = sorted(_validator(key).iter_errors(body), key=lambda e: list(e.absolute_path))
    return [_describe(error) for error in errors]


def _describe(error: Any) -> str:
    """``[path]: what is wrong``; for an instance no documented shape (``anyOf``) fits, the closest shape's complaint."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        return _describe(best_match(error.context)) + " (no documented shape fits; this is the closest one's complaint)"
    where = "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in error.absolute_path) or "(body)"
    detail = error.message if len(error.message) <= 300 else error.message[:300] + "..."
    return f"{where}: {detail}"


def validate_request(op: Operation, body: Any) -> List[str]:
    """Violations of a request body; a body is allowed only where the operation declares one."""
    if op.request is None:
        return [] if body in (None, b"", "") else [f"{op.name} takes no JSON body, got {type(body).__name__}"]
    return _violations(f"/operations/{op.name}/request", {} if body is None else body)


def validate_response(op: Operation, body: Any) -> List[str]:
    """Violations of a 200 answer to ``op``."""
    return _violations(f"/operations/{op.name}/response", body)


def validate_error(body: Any) -> List[str]:
    """Violations of an error answer (``ErrorResponse``)."""
    return _violations("/error", body)


def check_response(op: Operation, body: Any) -> None:
    """Raise ``ContractViolation`` listing every violation of a 200 answer."""
    problems = validate_response(op, body)
    if problems:
        raise ContractViolation(f"{op.method} {op.path} ({op.name}):\n  " + "\n  ".join(problems))


def object_schema(name: str) -> Dict[str, Any]:
    """The spec's schema of one object (``contract()['objects']``), self-contained (``components`` inlined
    as a sibling, so its ``#/components/schemas/...`` references resolve)."""
    objects = contract()["objects"]
    if name not in objects:
        raise KeyError(f"unknown object {name!r}; known: {', '.join(sorted(objects))}")
    return {"$schema": _DIALECT, **objects[name], "components": contract()["components"]}


def object_validator(name: str) -> Any:
    """A validator for ``object_schema(name)``."""
    return _validator(f"/objects/{name}")


def enum(schema_name: str) -> Tuple[str, ...]:
    """The values of one of the spec's string enums (``components.schemas[schema_name].enum``)."""
    return tuple(contract()["components"]["schemas"][schema_name]["enum"])


def segment_dimensions() -> Dict[str, Tuple[str, ...]]:
    """``ReportingSegmentsFilters``: each segment dimension with its values (empty for a free value: a
    country code, a campaign name, an audience id)."""
    schemas = contract()["components"]["schemas"]
    out: Dict[str, Tuple[str, ...]] = {}
    for dimension, schema in schemas["ReportingSegmentsFilters"]["properties"].items():
        item = schemas[schema["items"]["$ref"].rsplit("/", 1)[1]]
        out[dimension] = tuple(item.get("enum", ()))
    return out
