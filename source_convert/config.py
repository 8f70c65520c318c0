"""The connector's config, validated and normalized in one place (``validate_config``).

Messages name the field and say what was expected, never a secret value. The normalized config has
whole-number IDs as strings, no blank optional fields, ``start_date`` as ``YYYY-MM-DDTHH:MM:SSZ`` and
every spec default filled in, so the manifest and the components read one complete config.

``project_id`` takes three forms: one ID, a comma-separated list, or ``*`` (every project of the
account). The normalized config adds what it means: ``all_projects`` and ``project_ids``, the
configured IDs as strings in the order given (for ``*``, empty until ``SourceConvert`` has read the
account's projects list).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from functools import lru_cache
from importlib import resources
from typing import Any, Dict, List, Mapping, Optional
from urllib.parse import urlsplit

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError

from source_convert.countries import ISO_ALPHA_2

_ID_FIELDS = ("account_id", "project_id")
_SHOWN_VALUE_LIMIT = 40
ALL_PROJECTS = "*"
PROJECT_IDS = "project_ids"  # derived: the configured project IDs (strings)
ALL_PROJECTS_FLAG = "all_projects"  # derived: project_id is "*"
_PROJECT_ID_DIGITS = 15
REQUEST_SIGNING = "request_signing"  # auth_method values (spec.json)
SECRET_KEY = "secret_key"


class ConfigError(ValueError):
    """The config cannot be used; ``str()`` is a message for the user, without secret values."""


@lru_cache(maxsize=1)
def connection_specification() -> Mapping[str, Any]:
    """The ``connectionSpecification`` of the packaged ``spec.json``."""
    text = resources.files("source_convert").joinpath("spec.json").read_text(encoding="utf-8")
    return json.loads(text)["connectionSpecification"]


def _normalized(config: Mapping[str, Any]) -> Dict[str, Any]:
    """A copy with whole-number IDs as strings, blank optionals removed and spec defaults filled."""
    normalized = dict(config)
    for name in _ID_FIELDS:
        value = normalized.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            normalized[name] = str(value)
    for name, value in list(normalized.items()):
        if value is None or (isinstance(value, str) and value == "" and name not in connection_specification()["required"]):
            del normalized[name]
    properties = connection_specification()["properties"]
    for name, value in list(normalized.items()):
        wanted = properties.get(name, {}).get("type")
        if wanted == "integer" and isinstance(value, float) and value.is_integer():
            normalized[name] = int(value)  # JSON writers may emit 3.0 for 3
    start = normalized.get("start_date")
    if isinstance(start, str) and len(start) == 10:
        normalized["start_date"] = start + "T00:00:00Z"
    for name, schema in connection_specification()["properties"].items():
        if name not in normalized and "default" in schema:
            normalized[name] = copy.deepcopy(schema["default"])  # never the cached spec's own list
    return normalized


def validate_config(config: Any) -> Dict[str, Any]:
    """Validate against ``spec.json`` and return the normalized config, or raise ``ConfigError``."""
    if not isinstance(config, Mapping):
        raise ConfigError(f"The config must be a JSON object, got {type(config).__name__}.")
    normalized = _normalized(config)
    schema = connection_specification()
    scope_problem = _project_scope_problem(normalized.get("project_id"))
    errors = sorted(Draft7Validator(schema).iter_errors(normalized), key=_error_order)
    problems = [
        scope_problem if scope_problem and error.path and error.path[0] == "project_id" else _describe(error, schema)
        for error in errors
    ]
    if scope_problem and scope_problem not in problems:
        problems.append(scope_problem)
    if not problems:
        problems = _semantic_problems(normalized)
    if problems:
        raise ConfigError("Invalid config: " + " ".join(dict.fromkeys(problems)))
    normalized[ALL_PROJECTS_FLAG] = normalized["project_id"].strip() == ALL_PROJECTS
    normalized[PROJECT_IDS] = [] if normalized[ALL_PROJECTS_FLAG] else _project_entries(normalized["project_id"])
    return normalized


def _project_entries(value: str) -> List[str]:
    return [entry.strip() for entry in value.split(",")]


def _project_scope_problem(value: Any) -> Optional[str]:
    """What is wrong with a ``project_id`` string, naming the entry; ``None`` when it is fine or not a string."""
    if not isinstance(value, str) or not value.strip() or value.strip() == ALL_PROJECTS:
        return None
    label = "'project_id' (Project ID)"
    forms = "a project ID such as 200002, a comma-separated list such as 200002, 200003, or * for every project"
    entries = _project_entries(value)
    for position, entry in enumerate(entries, start=1):
        if entry == "":
            return f"{label} has an empty entry (entry {position} of {len(entries)}): expected {forms}."
        if entry == ALL_PROJECTS:
            return f"{label} may be * alone, not * within a list: expected {forms}."
        if not (entry.isascii() and entry.isdigit() and entry[0] != "0" and len(entry) <= _PROJECT_ID_DIGITS):
            return f"{label} entry {_show(entry)} is not a project ID (a positive whole number of up to {_PROJECT_ID_DIGITS} digits): expected {forms}."
    repeated = sorted({entry for entry in entries if entries.count(entry) > 1})
    if repeated:
        return f"{label} lists project {', '.join(repeated)} more than once."
    return None


def _error_order(error: ValidationError) -> tuple:
    field = error.path[0] if error.path else ""
    order = connection_specification()["properties"].get(field, {}).get("order", -1)
    return (order, str(field), error.validator)


def _describe(error: ValidationError, schema: Mapping[str, Any]) -> str:
    properties = schema["properties"]
    if error.validator == "required":
        missing = str(error.message).split("'")[1]
        title = properties.get(missing, {}).get("title", missing)
        return f"'{missing}' ({title}) is required but missing."
    field = str(error.path[0]) if error.path else "config"
    prop = properties.get(field, {})
    label = f"'{field}' ({prop.get('title', field)})"
    value = error.instance
    shown = "" if prop.get("airbyte_secret") else f" Got {_show(value)}."
    validator = error.validator
    if validator == "type":
        return f"{label} must be of type {error.validator_value}.{shown}"
    if validator == "pattern":
        expected = prop.get("pattern_descriptor", f"to match {prop.get('pattern')}")
        return f"{label} must be {expected}.{shown}"
    if validator == "minLength":
        return f"{label} must not be empty." if error.validator_value == 1 else f"{label} is too short.{shown}"
    if validator == "maxLength":
        return f"{label} must be at most {error.validator_value} characters long (got {len(value)})."
    if validator == "minimum":
        return f"{label} must be at least {error.validator_value}.{shown}"
    if validator == "maximum":
        return f"{label} must be at most {error.validator_value}.{shown}"
    if validator == "multipleOf":
        return f"{label} must be a multiple of {error.validator_value:g}.{shown}"
    if validator == "enum":
        return f"{label} must be one of {', '.join(map(repr, error.validator_value))}.{shown}"
    if validator == "minItems":
        return f"{label} must list at least {error.validator_value} item(s)."
    if validator == "uniqueItems":
        return f"{label} must not list an item twice.{shown}"
    return f"{label} is invalid: expected {validator} {error.validator_value!r}.{shown}"


def _semantic_problems(config: Mapping[str, Any]) -> List[str]:
    problems = []
    properties = connection_specification()["properties"]
    for name, prop in properties.items():
        value = config.get(name)
        # JSON-schema "$" also matches before a final newline: refuse control characters explicitly.
        if isinstance(value, str) and any(ord(char) < 32 or ord(char) == 127 for char in value):
            problems.append(f"'{name}' ({prop.get('title', name)}) must not contain line breaks or control characters.")
    start = config.get("start_date")
    if start is not None:
        try:
            _parse_start_date(start)
        except ValueError:
            problems.append(f"'start_date' (Start Date) is not a real calendar date or time. Got {_show(start)}.")
    secret = config.get("key_secret")
    if config.get("auth_method") == SECRET_KEY and isinstance(secret, str) and not secret.isascii():
        problems.append("'key_secret' (Key Secret) must be ASCII with authentication method 'secret_key': "
                        "it is sent in an HTTP header.")
    problems.extend(_segment_country_problems(config))
    url = config.get("api_base_url")
    if isinstance(url, str) and not _port_is_valid(url):  # the pattern allows any five digits
        problems.append(f"'api_base_url' (API Base URL) must have a port from 1 to 65535. Got {_show(url)}.")
    return problems


def _segment_country_problems(config: Mapping[str, Any]) -> List[str]:
    """Each listed country must be an assigned ISO 3166-1 alpha-2 code; countries as a segment needs one."""
    label = "'report_segment_countries' (Report Segment Countries)"
    codes = config.get("report_segment_countries") or []
    problems = []
    for code in codes:
        if code in ISO_ALPHA_2:
            continue
        hint = f" (in capitals: {code.upper()!r})" if code.upper() in ISO_ALPHA_2 else ""
        problems.append(f"{label} lists {_show(code)}, which is not an ISO 3166-1 alpha-2 country code{hint}: "
                        "expected two capital letters such as 'US', 'GB' or 'DE'.")
    if "countries" in (config.get("report_segments") or []) and not codes:
        problems.append(f"{label} must list at least one country code when 'report_segments' (Report Segments) "
                        "includes countries.")
    return problems


def _port_is_valid(url: str) -> bool:
    try:
        return urlsplit(url).port != 0
    except ValueError:
        return False


def _parse_start_date(value: str) -> dt.datetime:
    """Parse ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM:SSZ`` as a UTC datetime."""
    text = value[:-1] + "+00:00" if value.endswith("Z") else value + "T00:00:00+00:00"
    if len(text) not in (25,):
        raise ValueError(value)
    return dt.datetime.fromisoformat(text)


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= _SHOWN_VALUE_LIMIT else text[: _SHOWN_VALUE_LIMIT - 3] + "...'"
