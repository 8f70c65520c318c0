"""Strict request-parameter validation producing Convert-shaped errors."""

from __future__ import annotations

import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence


# The spec contradicts itself on the key naming a 422's bad inputs: its ``ErrorData`` schema says ``fields``,
# its one example says ``parameters``. The simulator answers either (``Api(error_fields_key=...)``).
ERROR_FIELDS_KEYS = ("parameters", "fields")


class ApiError(Exception):
    """An error answer. 422s use ``{"code","message":[...],"parameters":[...]}`` (or ``fields``, see
    ``ERROR_FIELDS_KEYS``); others ``{"code","message"}``."""

    def __init__(self, status: int, message: str, parameter: Optional[str] = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.parameter = parameter

    def payload(self, fields_key: str = "parameters") -> Dict[str, Any]:
        if self.status == 422:
            return {"code": 422, "message": [self.message], fields_key: [self.parameter] if self.parameter else []}
        return {"code": self.status, "message": self.message}


def invalid(parameter: str, problem: str) -> ApiError:
    """422 naming ``parameter``; message reads '<parameter> <problem>'."""
    return ApiError(422, f"{parameter} {problem}", parameter)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def forbid(body: Mapping[str, Any], names: Iterable[str]) -> None:
    """Reject parameters this endpoint does not accept."""
    for name in names:
        if name in body:
            raise invalid(name, "is not allowed")


def opt_int(body: Mapping[str, Any], name: str, default: Optional[int] = None,
            minimum: Optional[int] = None, maximum: Optional[int] = None) -> Optional[int]:
    value = body.get(name)
    if value is None:
        return default
    if not _is_int(value):
        raise invalid(name, "must be an integer")
    if minimum is not None and value < minimum:
        raise invalid(name, f"must be greater than or equal to {minimum}")
    if maximum is not None and value > maximum:
        raise invalid(name, f"must be less than or equal to {maximum}")
    return value


def opt_number(body: Mapping[str, Any], name: str) -> Optional[float]:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise invalid(name, "must be a number")
    return value


def opt_bool(body: Mapping[str, Any], name: str) -> Optional[bool]:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise invalid(name, "must be a boolean")
    return value


def opt_str(body: Mapping[str, Any], name: str, max_len: int = 200) -> Optional[str]:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(name, "must be a string")
    if len(value) > max_len:
        raise invalid(name, f"must be at most {max_len} characters")
    return value


def opt_enum(body: Mapping[str, Any], name: str, enum: Sequence[Any], default: Any = None) -> Any:
    value = body.get(name)
    if value is None:
        return default
    if value not in enum or isinstance(value, bool):
        raise invalid(name, "must be one of: " + ", ".join(str(e) for e in enum))
    return value


def opt_list(body: Mapping[str, Any], name: str, item: str = "str", enum: Optional[Sequence[str]] = None,
             max_items: Optional[int] = None) -> Optional[List[Any]]:
    """An optional array of ``item`` ("str" or "int"), checked against ``enum`` and ``max_items``."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list):
        raise invalid(name, "must be a array")
    if max_items is not None and len(value) > max_items:
        raise invalid(name, f"must contain less than or equal to {max_items} items")
    for i, element in enumerate(value):
        if item == "int" and not _is_int(element):
            raise invalid(name, f"[{i}] must be an integer")
        if item == "str" and not isinstance(element, str):
            raise invalid(name, f"[{i}] must be a string")
        if enum is not None and element not in enum:
            raise invalid(name, f"[{i}] must be one of: " + ", ".join(enum))
    return value


def query_array(query: Mapping[str, List[str]], name: str, enum: Sequence[str]) -> List[str]:
    """``name[]=a&name[]=b`` (or ``name[0]=a``) values; a plain ``name=a`` is a 422 "must be a array"."""
    if name in query:
        raise invalid(name, "must be a array")
    pattern = re.compile(re.escape(name) + r"\[\d*\]")
    values: List[str] = []
    for key, items in query.items():
        if pattern.fullmatch(key):
            values.extend(items)
    for i, value in enumerate(values):
        if value not in enum:
            raise invalid(name, f"[{i}] must be one of: " + ", ".join(enum))
    return values
