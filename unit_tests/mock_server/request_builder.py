"""Request builder: the signed Convert calls the connector is expected to make, header for header.

The expected ``Expires`` and ``Authorization`` are computed here, from the documented rule, without
the connector's code: HMAC-SHA256 keyed by the key secret over ``key id LF Expires LF full URL LF
body``, lowercase hex, where the body is the exact compact JSON sent (empty for a GET). The clock
the authenticator reads is frozen at ``FROZEN_NOW`` (see ``conftest.py``), so ``Expires`` is
``FROZEN_NOW + SIGNATURE_TTL_SECONDS``; a re-signed retry in the same second gets one more second.
The expiry is expected in both ``Expires`` and ``Expire`` (the contract names it both ways). The body
is matched byte for byte, so field order and whitespace are checked as well. ``with_bearer`` expects
the secret-key method's one header instead.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, Dict, Optional

from airbyte_cdk.test.mock_http import HttpRequest

from unit_tests.mock_server.config import ACCOUNT_ID, API_BASE_URL, KEY_ID, KEY_SECRET, PROJECT_ID

FROZEN_NOW = 1_767_225_000  # 2025-12-31T23:50:00Z
SIGNATURE_TTL_SECONDS = 300  # the manifest's expires_in_seconds
PAGE_SIZE = 50


def signing_headers(expires: str, url: str, body: bytes) -> Dict[str, str]:
    """The request-signing headers expected for one attempt."""
    return {"Convert-Application-ID": KEY_ID, "Expires": expires, "Expire": expires,
            "Authorization": expected_authorization(expires, url, body)}


BEARER_HEADERS = {"Authorization": f"Bearer {KEY_ID}:{KEY_SECRET}"}  # the secret_key method


def expected_authorization(expires: str, url: str, body: bytes, key_id: str = KEY_ID, key_secret: str = KEY_SECRET) -> str:
    sign_string = b"\n".join((key_id.encode(), expires.encode(), url.encode(), body))
    digest = hmac.new(key_secret.encode(), sign_string, hashlib.sha256).hexdigest()
    return f"Convert-HMAC-SHA256 Signature={digest}"


# The experience statuses the connector names in its experience lists: every documented one, and
# the ones that can still be edited (the editable refresh of every incremental sync).
EXPERIENCE_STATUSES = ["draft", "active", "paused", "completed", "scheduled", "archived", "deleted"]
EDITABLE_STATUSES = ["draft", "active", "paused", "completed", "scheduled"]


class ConvertRequestBuilder:
    """``ConvertRequestBuilder.project_list("goals").with_body(only=[1, 2]).page(2).build()``.

    Project-level calls go to the config's one project (``PROJECT_ID``) unless ``project`` names another.

    The CDK assembles a body in this order, and so does ``body()``: the requester's fields (in the
    order the manifest declares them), the paginator's ``page`` and ``results_per_page``, then the
    partition router's fields (``with_partition``).
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._fields: Dict[str, Any] = {}
        self._paging: Dict[str, Any] = {}
        self._partition: Dict[str, Any] = {}
        self._attempt = 1
        self._bearer = False

    # ------------------------------------------------------------------ what is called
    @classmethod
    def account_get(cls, resource: str) -> "ConvertRequestBuilder":
        """``GET /accounts/{account}/<resource>`` (no body)."""
        return cls(f"/accounts/{ACCOUNT_ID}/{resource}")

    @classmethod
    def account_list(cls, resource: str, sort_by: str = "id") -> "ConvertRequestBuilder":
        """``POST /accounts/{account}/<resource>``, sorted ascending, first page."""
        return cls(f"/accounts/{ACCOUNT_ID}/{resource}").with_body(sort_by=sort_by, sort_direction="asc").page(1)

    @classmethod
    def projects(cls) -> "ConvertRequestBuilder":
        """The account's projects list as the ``projects`` stream and ``SourceConvert`` (check, ``*``) ask for it."""
        return cls.account_list("projects").with_body(project_type=["web", "fullstack"])

    @classmethod
    def project_list(cls, resource: str, sort_by: Optional[str] = "id", project: str = PROJECT_ID) -> "ConvertRequestBuilder":
        """``POST /accounts/{account}/projects/{project}/<resource>``, sorted ascending unless ``sort_by`` is None."""
        builder = cls(f"/accounts/{ACCOUNT_ID}/projects/{project}/{resource}")
        if sort_by:
            builder.with_body(sort_by=sort_by, sort_direction="asc")
        return builder.page(1)

    @classmethod
    def variation_pages(cls, project: str = PROJECT_ID) -> "ConvertRequestBuilder":
        """The experience list with every variation and its changes: the pages of ``variations`` and
        ``variation_changes`` (the router adds ``status``, and ``only`` for changed experiences)."""
        return cls.project_list("experiences", project=project).with_body(
            include=["variations", "variations.changes"], expand=["variations", "variations.changes"]
        )

    @classmethod
    def change_history(cls, project: str = PROJECT_ID) -> "ConvertRequestBuilder":
        """The project's change history, newest first."""
        return cls(f"/accounts/{ACCOUNT_ID}/projects/{project}/change-history").with_body(
            sort_by="timestamp", sort_direction="desc"
        )

    @classmethod
    def newest_history_event(cls, project: str = PROJECT_ID) -> "ConvertRequestBuilder":
        """One event, the newest of the project's whole history: Convert's own "now" for a first sync."""
        return cls.change_history(project).with_body(page=1, results_per_page=1)

    @classmethod
    def object_changes(cls, history_object: str, project: str = PROJECT_ID) -> "ConvertRequestBuilder":
        """The change history of one object type, newest first, first page."""
        return cls.change_history(project).with_body(objects=[history_object]).page(1)

    @classmethod
    def started_experiences(cls, project: str = PROJECT_ID) -> "ConvertRequestBuilder":
        """The parent of the report streams: experiences with their goals (expanded) and last running time."""
        return cls.project_list("experiences", project=project).with_body(
            status=["draft", "active", "paused", "completed", "scheduled", "archived"],
            include=["goals", "max_running_timestamp"],
            expand=["goals"],
        )

    @classmethod
    def experience_report(cls, experience_id: int, report: str, project: str = PROJECT_ID) -> "ConvertRequestBuilder":
        """``POST .../projects/{project}/experiences/{id}/<report>`` (aggregated_report, daily_report)."""
        return cls(f"/accounts/{ACCOUNT_ID}/projects/{project}/experiences/{experience_id}/{report}")

    # ------------------------------------------------------------------ how
    def with_body(self, **fields: Any) -> "ConvertRequestBuilder":
        self._fields.update(fields)
        return self

    def with_partition(self, **fields: Any) -> "ConvertRequestBuilder":
        """Body fields a partition router adds (``status``, ``only``)."""
        self._partition.update(fields)
        return self

    def page(self, number: int, size: int = PAGE_SIZE) -> "ConvertRequestBuilder":
        self._paging = {"page": number, "results_per_page": size}
        return self

    def attempt(self, number: int) -> "ConvertRequestBuilder":
        """The ``number``-th attempt of this request within the frozen second (a retry is re-signed)."""
        self._attempt = number
        return self

    def with_bearer(self) -> "ConvertRequestBuilder":
        """Authenticated with the secret-key method (``auth_method: secret_key``)."""
        self._bearer = True
        return self

    @property
    def url(self) -> str:
        return API_BASE_URL + self._path

    def body(self) -> bytes:
        """The exact bytes expected on the wire: compact JSON (as JavaScript's ``JSON.stringify``), or nothing."""
        content = {**self._fields, **self._paging, **self._partition}
        if not content:
            return b""
        return json.dumps(content, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def build(self) -> HttpRequest:
        body = self.body()
        expires = str(FROZEN_NOW + SIGNATURE_TTL_SECONDS + self._attempt - 1)
        headers = dict(BEARER_HEADERS) if self._bearer else signing_headers(expires, self.url, body)
        if body:
            headers["Content-Type"] = "application/json"
        return HttpRequest(url=self.url, headers=headers, body=body if body else None)
