"""A requester whose answers several streams of one sync share: one request for what they all ask alike."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Hashable, List, Mapping, MutableMapping, Optional, Union

import requests

from airbyte_cdk.sources.declarative.auth.declarative_authenticator import DeclarativeAuthenticator
from airbyte_cdk.sources.declarative.requesters.http_requester import HttpRequester
from airbyte_cdk.sources.declarative.requesters.requester import HttpMethod, Requester
from airbyte_cdk.sources.types import StreamSlice, StreamState

from source_convert.components.shared_reads import read_shared, selected


@dataclass
class SharedPageRequester(Requester):
    """``requester``, with its answers shared by the streams named in ``shared_by`` that this sync reads.

    ``variations`` and ``variation_changes`` are two views of the same pages: the experience list with
    the variations and their changes included. Read together, the first stream to send a request sends
    it and the other gets that answer instead of sending it again. The key is the request itself
    (method, URL, headers, query and body as built from the stream's slice and page token; the
    signature aside), so a stream whose saved state leads it to other requests sends those, and nothing
    is shared by mistake. An answer is kept until every other selected stream that shares it has had
    it, and answers kept together weigh at most ``max_kept_megabytes`` (their bodies): past that the
    oldest are dropped, and a stream that had not had one sends the request itself. Read alone, a
    stream sends every request itself.

    The CDK's own response cache (``use_cache``) cannot do this: it caches GET and HEAD answers only,
    and Convert's list calls are POSTs.
    """

    requester: HttpRequester
    shared_by: List[str]
    max_kept_megabytes: int
    name: str  # the stream's (the CDK passes it to a stream's requester)

    # ------------------------------------------------------------------ the shared send
    def send_request(
        self,
        stream_state: Optional[StreamState] = None,
        stream_slice: Optional[StreamSlice] = None,
        next_page_token: Optional[Mapping[str, Any]] = None,
        path: Optional[str] = None,
        request_headers: Optional[Mapping[str, Any]] = None,
        request_params: Optional[Mapping[str, Any]] = None,
        request_body_data: Optional[Union[Mapping[str, Any], str]] = None,
        request_body_json: Optional[Mapping[str, Any]] = None,
        log_formatter: Optional[Callable[[requests.Response], Any]] = None,
    ) -> Optional[requests.Response]:
        def send() -> Optional[requests.Response]:
            return self.requester.send_request(
                stream_state=stream_state, stream_slice=stream_slice, next_page_token=next_page_token, path=path,
                request_headers=request_headers, request_params=request_params, request_body_data=request_body_data,
                request_body_json=request_body_json, log_formatter=log_formatter,
            )

        readers = selected(self.shared_by)
        if self.name not in readers or len(readers) < 2:
            return send()
        options = {"stream_state": stream_state, "stream_slice": stream_slice, "next_page_token": next_page_token}
        key: Hashable = (
            "shared page",
            self.requester.get_method().value,
            self.requester.get_url(**options),
            path,
            _canonical(self.requester.get_request_headers(**options), request_headers),
            _canonical(self.requester.get_request_params(**options), request_params),
            _canonical(self.requester.get_request_body_json(**options), request_body_json),
            _canonical(self.requester.get_request_body_data(**options), request_body_data),
        )
        return read_shared(key, self.name, readers, send, weight=_body_size, limit=self.max_kept_megabytes * 1024 * 1024)

    # ------------------------------------------------------------------ the rest is the wrapped requester's
    # (options: the stream_state, stream_slice and next_page_token keywords of the Requester interface)
    def get_authenticator(self) -> DeclarativeAuthenticator:
        return self.requester.get_authenticator()

    def get_url(self, **options: Any) -> str:
        return self.requester.get_url(**options)

    def get_url_base(self, **options: Any) -> str:
        return self.requester.get_url_base(**options)

    def get_path(self, **options: Any) -> str:
        return self.requester.get_path(**options)

    def get_method(self) -> HttpMethod:
        return self.requester.get_method()

    def get_request_params(self, **options: Any) -> MutableMapping[str, Any]:
        return self.requester.get_request_params(**options)

    def get_request_headers(self, **options: Any) -> Mapping[str, Any]:
        return self.requester.get_request_headers(**options)

    def get_request_body_data(self, **options: Any) -> Union[Mapping[str, Any], str]:
        return self.requester.get_request_body_data(**options)

    def get_request_body_json(self, **options: Any) -> Optional[Mapping[str, Any]]:
        return self.requester.get_request_body_json(**options)

    @property
    def exit_on_rate_limit(self) -> bool:
        return self.requester.exit_on_rate_limit

    @exit_on_rate_limit.setter
    def exit_on_rate_limit(self, value: bool) -> None:
        self.requester.exit_on_rate_limit = value


def _body_size(response: Optional[requests.Response]) -> int:
    return len(response.content or b"") if response is not None else 0


def _canonical(*parts: Any) -> str:
    """One string for request options, equal exactly when the options are."""
    return json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
