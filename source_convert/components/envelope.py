"""Convert's response envelope: ``{"data": ..., "extra": {"pagination": {"items_count": N}}}``.

A single-object GET is documented both ways (bare for most objects, wrapped in ``data`` for others):
where the caller says the answer is one object, a bare object is that object; an error-shaped body
(only ``code``/``message``/``fields``/``parameters``) or an empty one never is.

The body is parsed once per response, so the error handler, the extractor and the paginator share one
parse. The parse is kept in a module-level ``WeakKeyDictionary`` keyed by the response (under a lock),
not on the ``requests.Response`` itself: the CDK reads a stream's partitions and pages in several
threads, and no component keeps per-response values on another library's objects. An entry goes
away with its response.
"""

from __future__ import annotations

import json
import re
import threading
import weakref
from typing import Any, Mapping, Optional, Tuple
from urllib.parse import urlsplit

import orjson
import requests

_MISSING = object()
# Parsed bodies by response. The lock makes "look up, parse, store" one step, so a body is parsed at
# most once even if two threads were handed the same response; the parse itself is CPU-bound and holds
# the GIL anyway, so holding the lock around it costs no parallelism. The value (plain JSON data) never
# refers to its response, so the response can be collected and its entry with it.
_PARSED: "weakref.WeakKeyDictionary[requests.Response, Any]" = weakref.WeakKeyDictionary()
_PARSED_LOCK = threading.Lock()


class MalformedResponse(ValueError):
    """A successful response whose body is not Convert's JSON envelope."""


def request_line(request: Any) -> str:
    """``POST /api/v2/...`` of a (prepared) request, for messages; the query string and host are left out."""
    method = getattr(request, "method", None) or "?"
    path = urlsplit(getattr(request, "url", None) or "").path or "?"
    return f"{method} {path}"


# The URL structure of Convert's calls, read in one place: ``/accounts/{a}/projects/{p}/...``, and a call
# about one experience ``.../experiences/{id}/<more>`` (reports, change history, report settings,
# sections ...): neither the experiences list nor ``.../experiences/{id}`` itself.
_EXPERIENCE_CALL = re.compile(r"/experiences/(?P<experience>\d+)/[^/]+")
_ACCOUNT = re.compile(r"/accounts/(?P<account>[^/]+)")
_PROJECT = re.compile(r"/accounts/[^/]+/projects/(?P<project>[^/]+)")


def request_path(request: Any) -> str:
    """The URL path of a (prepared) request, without host and query string; ``""`` when unknown."""
    return urlsplit(getattr(request, "url", None) or "").path


def experience_of_call(path: str) -> Optional[str]:
    """The experience id of a per-experience call (``.../experiences/{id}/...``), else ``None``."""
    match = _EXPERIENCE_CALL.search(path)
    return match.group("experience") if match else None


def account_and_project(path: str) -> Tuple[Optional[str], Optional[str]]:
    """``(account, project)`` of ``/accounts/{a}/projects/{p}/...``; the project is ``None`` on account-level paths."""
    account = _ACCOUNT.search(path)
    project = _PROJECT.search(path)
    return (account.group("account") if account else None, project.group("project") if project else None)


def sent_json(request: Any) -> Mapping[str, Any]:
    """The JSON object a (prepared) request sent as its body, ``{}`` when there is none."""
    body = getattr(request, "body", None)
    try:
        sent = json.loads(body) if body else None
    except ValueError:
        sent = None
    return sent if isinstance(sent, Mapping) else {}


def describe_request(response: requests.Response) -> str:
    """``request_line`` of the request a response answers."""
    return request_line(response.request)


def _loads(content: bytes) -> Any:
    """orjson (a CDK dependency, about 2x faster here); what it refuses (NaN, Infinity) goes to json.

    orjson reads integers beyond 64 bits as floats; Convert's ids and counts are far below that."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return json.loads(content)


def parsed_body(response: requests.Response) -> Any:
    """Return the decoded JSON body, parsing at most once per response (a body that is not JSON raises
    ``MalformedResponse`` every time it is asked for; nothing is kept for it)."""
    content = response.content  # read (or already read) outside the lock: it may wait on the network
    with _PARSED_LOCK:
        try:
            cached = _PARSED.get(response, _MISSING)
        except TypeError:  # an object that cannot be weakly referenced: parse without keeping the result
            return _parse(response, content)
        if cached is _MISSING:
            cached = _PARSED[response] = _parse(response, content)
        return cached


def _parse(response: requests.Response, content: bytes) -> Any:
    try:
        return _loads(content)
    except ValueError as error:
        raise MalformedResponse(
            f"Convert answered {describe_request(response)} with HTTP {response.status_code} "
            f"but the body is not JSON ({len(content)} bytes, "
            f"content type {response.headers.get('Content-Type', 'unknown')!r})"
        ) from error


# The keys of Convert's error body (ErrorData; a 422 names its inputs under either of the last two).
_ERROR_KEYS = frozenset({"code", "message", "fields", "parameters"})


def envelope_data(response: requests.Response, single_object: bool = False) -> Any:
    """Return ``data`` of the envelope, or raise ``MalformedResponse`` when it is missing.

    ``single_object``: the answer is one object, which Convert may send bare: a JSON object without
    ``data`` is then the object itself (unless it is empty or shaped like an error)."""
    body = parsed_body(response)
    if single_object and isinstance(body, dict) and "data" not in body and body and not set(body) <= _ERROR_KEYS:
        return body
    if not isinstance(body, dict) or "data" not in body:
        keys = sorted(body)[:5] if isinstance(body, dict) else type(body).__name__
        raise MalformedResponse(
            f"Convert answered {describe_request(response)} with HTTP {response.status_code} "
            f"but the JSON body has no 'data' field (found: {keys})"
        )
    return body["data"]


def items_count(response: requests.Response) -> Optional[int]:
    """``extra.pagination.items_count`` when the response carries it, else ``None``."""
    try:
        body = parsed_body(response)
    except MalformedResponse:
        return None
    extra = body.get("extra") if isinstance(body, dict) else None
    pagination = extra.get("pagination") if isinstance(extra, dict) else None
    count = pagination.get("items_count") if isinstance(pagination, dict) else None
    return count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 else None
