"""Retry policy for Convert: which answers are retried, and how long to wait before each retry.

``ConvertBackoffStrategy`` waits what the server asks for in ``Retry-After`` and otherwise backs off
exponentially with jitter. ``ConvertErrorHandler`` is the manifest's ``DefaultErrorHandler`` (same
filters, same retry budget) plus what a filter cannot express: a 2xx answer whose body is not
Convert's ``{data}`` envelope is retried like a transient fault, a first 401 of a signed request is
re-signed and retried once (without its query string when it has one, see ``signed_url``), a 404
for a call about one experience is skipped with one warning (the experience was deleted
during the sync), and every retried or failed answer names the stream, the request and the HTTP status.

Components are shared by the threads the CDK reads partitions and pages in: what is kept per request
lives in lock-guarded module or instance structures, never on ``requests`` objects.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
import weakref
from dataclasses import InitVar, dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Mapping, Optional, Set, Tuple, Union
from urllib.parse import urlsplit

import requests

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.requesters.error_handlers.default_error_handler import DefaultErrorHandler
from airbyte_cdk.sources.streams.http.error_handlers import BackoffStrategy
from airbyte_cdk.sources.streams.http.error_handlers.response_models import (
    SUCCESS_RESOLUTION,
    ErrorResolution,
    ResponseAction,
)
from airbyte_cdk.sources.types import Config

from source_convert.components import signed_url
from source_convert.components.envelope import (
    MalformedResponse,
    account_and_project,
    describe_request,
    envelope_data,
    experience_of_call,
    request_line,
    request_path,
)

# airbyte-cdk's HttpClient sleeps ``backoff_time() + 1`` seconds before a retry ("an extra second to
# cover any fractions"), and treats a falsy backoff as "no opinion", falling back to its own
# exponential backoff without jitter. ``backoff_time`` therefore hands the CDK the wait minus this
# second, never exactly 0, so the real sleep is the wait computed here (unit_tests/test_backoff.py
# checks this against the CDK's real retry loop).
CDK_ADDED_SLEEP_SECONDS = 1.0
_NOT_ZERO = 1e-9

LOGGER = logging.getLogger("airbyte")

_RETRY_ACTIONS = (ResponseAction.RETRY, ResponseAction.RATE_LIMITED)
# The requests Convert answered with 401 once: the CDK re-sends (and our authenticator re-signs) the
# same PreparedRequest object, so a second 401 for it is the credentials, not the signature. Weak
# references, so a finished request leaves the set; the lock makes "seen? then mark" one step.
_REFUSED_ONCE: "weakref.WeakSet[requests.PreparedRequest]" = weakref.WeakSet()
_REFUSED_ONCE_LOCK = threading.Lock()
BEARER_PREFIX = "Bearer "  # the secret-key method's Authorization header: nothing to re-sign

def retry_after_seconds(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds asked for by a ``Retry-After`` value (delta seconds or an HTTP date); ``None`` if unusable."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment is None or moment.tzinfo is None:
            return None
        seconds = moment.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def _number(value: Union[float, int, str], name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"ConvertBackoffStrategy.{name} must be a number, got {value!r}") from None
    if math.isnan(number) or math.isinf(number) or number < 0:
        raise ValueError(f"ConvertBackoffStrategy.{name} must be a finite number >= 0, got {value!r}")
    return number


@dataclass
class ConvertBackoffStrategy(BackoffStrategy):
    """How long to wait before retry number ``attempt_count`` (1 for the first retry).

    * The answer has a usable ``Retry-After`` (seconds or HTTP date): wait that long, capped at
      ``max_retry_after_seconds``, plus a spread of up to ``retry_after_spread`` of it (so threads
      told the same time do not all come back at once; ``Retry-After: 0`` stays 0).
    * Otherwise (no header, a connection reset, a timeout): exponential backoff with jitter,
      ``min(max_seconds, base_seconds * 2 ** (attempt_count - 1))`` scaled by a random factor in
      ``[1 - jitter, 1]``.
    """

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    base_seconds: Union[float, int, str] = 1.0
    max_seconds: Union[float, int, str] = 60.0
    jitter: Union[float, int, str] = 0.5
    max_retry_after_seconds: Union[float, int, str] = 300.0
    retry_after_spread: Union[float, int, str] = 0.1
    header: str = "Retry-After"
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        self._base = _number(self.base_seconds, "base_seconds")
        self._max = _number(self.max_seconds, "max_seconds")
        self._jitter = _number(self.jitter, "jitter")
        self._max_retry_after = _number(self.max_retry_after_seconds, "max_retry_after_seconds")
        self._spread = _number(self.retry_after_spread, "retry_after_spread")
        if self._base <= 0 or self._max < self._base:
            raise ValueError("ConvertBackoffStrategy needs 0 < base_seconds <= max_seconds")
        if self._jitter > 1:
            raise ValueError("ConvertBackoffStrategy.jitter must be between 0 and 1")

    def wait_seconds(
        self, response_or_exception: Optional[Union[requests.Response, requests.RequestException]], attempt_count: int
    ) -> float:
        """The wait before the next attempt, in seconds."""
        if isinstance(response_or_exception, requests.Response):
            asked = retry_after_seconds(response_or_exception.headers.get(self.header))
            if asked is not None:
                asked = min(asked, self._max_retry_after)
                return asked * (1 + self._spread * self.rng.random())
        exponent = max(0, int(attempt_count) - 1)
        ceiling = self._max if exponent >= 64 else min(self._max, self._base * 2.0**exponent)
        return ceiling * (1 - self._jitter * self.rng.random())

    def backoff_time(
        self,
        response_or_exception: Optional[Union[requests.Response, requests.RequestException]],
        attempt_count: int,
    ) -> Optional[float]:
        """``wait_seconds`` in the form the CDK's retry loop expects (see ``CDK_ADDED_SLEEP_SECONDS``)."""
        value = self.wait_seconds(response_or_exception, attempt_count) - CDK_ADDED_SLEEP_SECONDS
        return value if value != 0 else _NOT_ZERO


def _describe_exception(error: BaseException) -> str:
    """``POST /api/v2/... failed without an answer (ReadTimeout)``; requests attaches the request it was sending."""
    return f"{request_line(getattr(error, 'request', None))} failed without an answer ({error.__class__.__name__})"


@dataclass
class ConvertErrorHandler(DefaultErrorHandler):
    """``DefaultErrorHandler`` whose 2xx answers are judged by their envelope, with messages that say where.

    * A 401 for a signed request is retried once, re-signed with a fresh ``Expires`` (whatever
      Convert's message says: an expired or clock-skewed signature looks like a bad key), and without
      its query string when it was signed with one and the sync has not settled that reading yet
      (``signed_url``); a second 401 for the same request goes to the filters, which call it a config
      error. A 401 for the secret-key header goes to the filters at once.
    * A 404 for a call about one experience (``.../experiences/{id}/...``) is ignored: the experience
      was deleted after the experience list was read. Its partition yields no records, the sync goes
      on, and one warning per experience (and stream) says so. Any other 404 (a list, the account, a
      project) goes to the filters: a config error.
    * A 2xx answer (other than 204) whose body is not JSON or has no ``data`` is retried with the
      same budget as a 5xx (a truncated or proxy-mangled page is plausibly transient); when the
      retries run out the sync fails with that message, so records are never silently dropped. A
      healthy 2xx is a success without running the filters (they are written for error answers),
      and its parsed body is cached for the extractor.
    * Any other answer goes through the declared ``response_filters`` exactly as in
      ``DefaultErrorHandler``. Messages of retried answers and of non-config failures are prefixed
      with the stream, the request (method and path, no query string) and the HTTP status, so the
      error trace left by exhausted retries says what failed.
    """

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        self._stream = str((parameters or {}).get("name") or "?")
        self._single_object = bool((parameters or {}).get("single_object"))  # a bare object is an answer too
        # (account, project, experience) already warned about as missing; shared by the stream's threads.
        self._missing_experiences: Set[Tuple[Optional[str], Optional[str], str]] = set()
        self._missing_lock = threading.Lock()

    def interpret_response(
        self, response_or_exception: Optional[Union[requests.Response, Exception]]
    ) -> ErrorResolution:
        if isinstance(response_or_exception, requests.Response):
            signed_url.reading().answered(response_or_exception.request, response_or_exception.status_code)
        if isinstance(response_or_exception, requests.Response) and 200 <= response_or_exception.status_code < 300:
            return self._interpret_success(response_or_exception)
        if isinstance(response_or_exception, requests.Response) and response_or_exception.status_code == 401:
            retry = self._first_refusal(response_or_exception)
            if retry is not None:
                return retry
        if isinstance(response_or_exception, requests.Response) and response_or_exception.status_code == 404:
            skipped = self._deleted_experience(response_or_exception)
            if skipped is not None:
                return skipped
        resolution = super().interpret_response(response_or_exception)
        if resolution.response_action in _RETRY_ACTIONS or (
            resolution.response_action == ResponseAction.FAIL and resolution.failure_type != FailureType.config_error
        ):
            resolution = ErrorResolution(
                response_action=resolution.response_action,
                failure_type=resolution.failure_type,
                error_message=f"{self._where(response_or_exception)}: {resolution.error_message or 'no message'}",
            )
        return resolution

    def _first_refusal(self, response: requests.Response) -> Optional[ErrorResolution]:
        """A RETRY for the first 401 a signed request gets; ``None`` once it was already retried, and
        for a request with the secret-key header (sending the same header again cannot help)."""
        request = response.request
        if request is None or str.startswith(request.headers.get("Authorization") or "", BEARER_PREFIX):
            return None
        with _REFUSED_ONCE_LOCK:
            try:
                if request in _REFUSED_ONCE:
                    return None
                _REFUSED_ONCE.add(request)
            except TypeError:  # cannot be weakly referenced: no retry, the filters decide (a config error)
                return None
        if signed_url.reading().refused(request):
            how = ("re-signing without the query string and retrying once (Convert's contract does not say "
                   "whether the signed URL includes it; the reading that works is kept for the sync)")
        else:
            how = ("re-signing with a fresh Expires and retrying once (if this repeats, check the Key ID, "
                   "the Key Secret and this machine's clock)")
        return ErrorResolution(
            response_action=ResponseAction.RETRY,
            failure_type=FailureType.transient_error,
            error_message=f"{self._where(response)}: {how}",
        )

    def _deleted_experience(self, response: requests.Response) -> Optional[ErrorResolution]:
        """IGNORE for a 404 of a per-experience call, warning once per experience; ``None`` for any other 404.

        The CDK's HttpClient returns an ignored answer to the retriever, which reads no records from a
        non-2xx response and ends the partition's paging there (the body is never extracted)."""
        path = request_path(response.request) or urlsplit(response.url or "").path
        experience = experience_of_call(path)
        if experience is None:
            return None
        message = (
            f"Stream '{self._stream}': experience {experience} was not found (HTTP 404 for "
            f"{describe_request(response)}); it was probably deleted during the sync, its rows are skipped."
        )
        account, project = account_and_project(path)
        with self._missing_lock:
            first = (account, project, experience) not in self._missing_experiences
            self._missing_experiences.add((account, project, experience))
        if first:
            LOGGER.warning(message)
        return ErrorResolution(response_action=ResponseAction.IGNORE, failure_type=None, error_message=message)

    def _interpret_success(self, response: requests.Response) -> ErrorResolution:
        if response.status_code == 204:
            return SUCCESS_RESOLUTION
        try:
            envelope_data(response, self._single_object)
        except MalformedResponse as error:
            return ErrorResolution(
                response_action=ResponseAction.RETRY,
                failure_type=FailureType.transient_error,
                error_message=f"Stream '{self._stream}': {error} (retried; if it persists the sync fails rather than skip the page)",
            )
        return SUCCESS_RESOLUTION

    def _where(self, response_or_exception: Optional[Union[requests.Response, Exception]]) -> str:
        if isinstance(response_or_exception, requests.Response):
            reason = f" {response_or_exception.reason}" if response_or_exception.reason else ""
            what = (
                f"{describe_request(response_or_exception)} answered HTTP "
                f"{response_or_exception.status_code}{reason}"
            )
        elif isinstance(response_or_exception, BaseException):
            what = _describe_exception(response_or_exception)
        else:
            what = "request failed"
        return f"Stream '{self._stream}': {what}"
