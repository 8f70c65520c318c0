"""The HTTP side: a threaded HTTP/1.1 server enforcing Convert auth, applying faults and logging requests.

``peak_in_flight`` is the most API requests seen in flight at once, each counted from the moment its
request was read until its answer was ready to be written. (Counting until the last byte was written
would also count a request whose client already has its answer and has sent the next one.)
"""

from __future__ import annotations

import json
import re
import socket
import socketserver
import struct
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, Iterable, List, Optional, Set
from urllib.parse import SplitResult, parse_qs, urlsplit

from .dataset import Dataset
from .faults import RANDOM_503, Fault, FaultSet
from .generator import ACCOUNT_ID, WEB_PROJECT_ID
from . import params as P
from .routes import Api, ApiRequest
from .signing import (
    AUTH_TYPES,
    BEARER_NOT_ALLOWED,
    EXPIRES_HEADERS,
    MISSING,
    REQUEST_SIGNING,
    SECRET_KEY,
    SIGNATURE_NOT_ALLOWED,
    SIGNED_URL_READINGS,
    WITH_QUERY,
    AuthResult,
    is_compact_json,
    url_to_verify,
    uses_bearer,
    verify_bearer,
    verify_request,
)

DEFAULT_KEY_ID = "sim-key-id"
DEFAULT_KEY_SECRET = "sim-secret-DO-NOT-LEAK-5f1c"
ALLOWED_HOSTS = ("127.0.0.1", "localhost", "::1")
HEALTH_PATH = "/__health"  # unauthenticated, unlogged readiness probe (not part of Convert's API)


@dataclass
class RequestLog:
    """One handled request. ``status`` is 0 when the connection was reset without an answer."""

    method: str
    path: str
    query: Dict[str, List[str]]
    body: Any
    status: int
    started: float
    ended: float
    auth_ok: bool
    fault: Optional[str]
    raw_query: str = ""
    auth_error: Optional[str] = field(default=None)
    auth_method: str = ""  # the method the request used: "requestSigning", "secretKey" or "" (none)
    response: Any = None  # the JSON body answered (None when it was not JSON or nothing was answered)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def server_bind(self) -> None:  # skip HTTPServer's reverse-DNS lookup
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ConvertSimulator/1.0"
    sys_version = ""
    timeout = 60  # idle keep-alive connections are dropped after this

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr access log
        pass

    def setup(self) -> None:
        super().setup()
        try:  # headers and body go out in separate writes; avoid Nagle/delayed-ACK stalls on keep-alive
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.server.sim._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.sim._track(self.connection, add=False)

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    # ------------------------------------------------------------------ plumbing
    def _send(self, status: int, body: bytes, content_type: str = "application/json",
              headers: Optional[Dict[str, str]] = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.server.sim._stopping:
            self.close_connection = True
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, payload: Any) -> None:
        reply = _Reply.json(status, payload)
        self._send(reply.status, reply.body)

    def _reset(self) -> None:
        """Drop the connection without answering (RST where the OS allows)."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _read_body(self) -> Optional[bytes]:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            self._send_json(411, {"code": 411, "message": "Content-Length required"})
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self._send_json(400, {"code": 400, "message": "Invalid Content-Length"})
            return None
        return self.rfile.read(length) if length else b""

    # ------------------------------------------------------------------ request flow
    def _serve(self) -> None:
        sim: ConvertSimulator = self.server.sim
        split = urlsplit(self.path)
        if split.path == HEALTH_PATH:
            self._serve_one(sim, split)
            return
        self._serve_one(sim, split)

    def _serve_one(self, sim: "ConvertSimulator", split: SplitResult) -> None:
        raw = self._read_body()
        if raw is None:
            return
        if split.path == HEALTH_PATH:
            self._send_json(200, {"ok": True})
            return
        log = RequestLog(self.command, split.path, parse_qs(split.query, keep_blank_values=True), None, 0,
                         time.time(), 0.0, False, None, split.query)
        sim._enter()
        reply: Optional[_Reply] = None
        try:
            reply = self._answer(sim, raw, log)
        except Exception:  # a simulator bug must surface, not hang the client
            traceback.print_exc(file=sys.stderr)
            reply = _Reply.json(500, {"code": 500, "message": "Internal simulator error"})
        finally:
            # commit the log before the client can see the outcome, so tests never race it
            log.status = reply.status if reply is not None else 0
            log.response = reply.payload if reply is not None else None
            log.ended = time.time()
            sim._exit(log)
        if reply is None:
            self._reset()
        else:
            self._send(reply.status, reply.body, reply.content_type, reply.headers)

    def _answer(self, sim: "ConvertSimulator", raw: bytes, log: RequestLog) -> Optional["_Reply"]:
        """The reply for one request, or ``None`` to drop the connection."""
        if sim.latency:
            time.sleep(sim.latency)
        try:
            text: Optional[str] = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text:
            try:
                log.body = json.loads(text)
            except ValueError:
                log.body = None
        host = self.headers.get("Host")
        if not host:
            return _Reply.json(400, {"code": 400, "message": "Missing Host header"})
        full_url = self.path if self.path.startswith(("http://", "https://")) else f"http://{host}{self.path}"
        result = self._authenticate(sim, full_url, text if text is not None else "\ufffd")
        log.auth_method = result.method
        if not result.ok:
            log.auth_error = result.message
            return _Reply.json(401, {"code": 401, "message": result.message})
        log.auth_ok = True
        fault = sim.faults.pick(log.path)
        if fault is not None:
            log.fault = "random_503" if fault is RANDOM_503 else fault.kind
            if fault.delay:
                time.sleep(fault.delay)
            if fault.kind == "reset":
                return None
            if fault.kind != "slow":
                answer = fault.response()
                try:
                    payload = json.loads(answer["body"])
                except ValueError:
                    payload = None
                return _Reply(answer["status"], answer["body"].encode("utf-8"), answer["content_type"],
                              answer["headers"], payload)
        body: Optional[Dict[str, Any]] = None
        if self.command == "POST" and text:
            if not is_compact_json(text):
                error = P.ApiError(422, "body must be compact JSON as produced by JSON.stringify", "body")
                return _Reply.json(422, error.payload(sim.api.error_fields_key))
            body = log.body
        status, payload = sim.api.handle(ApiRequest(self.command, log.path, log.query, body))
        if sim.answer_hook is not None:
            payload = sim.answer_hook(self.command, log.path, status, payload)
        return _Reply.json(status, payload)


    def _authenticate(self, sim: "ConvertSimulator", full_url: str, body: str) -> AuthResult:
        """The key's own method is checked; the other method is refused (see ``signing``)."""
        if uses_bearer(self.headers):
            if sim.key_auth_type != SECRET_KEY:
                return AuthResult(False, BEARER_NOT_ALLOWED, SECRET_KEY)
            return verify_bearer(self.headers["Authorization"], sim.key_id, sim.key_secret)
        if sim.key_auth_type == SECRET_KEY:
            signed = self.headers.get("Authorization") or self.headers.get("Convert-Application-ID")
            return AuthResult(False, SIGNATURE_NOT_ALLOWED if signed else MISSING, REQUEST_SIGNING if signed else "")
        url = url_to_verify(full_url, sim.signed_url)
        return verify_request(self.headers, url, body, sim.key_id, sim.key_secret, expires_header=sim.expires_header)


@dataclass
class _Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: Dict[str, str] = field(default_factory=dict)
    payload: Any = None

    @classmethod
    def json(cls, status: int, payload: Any) -> "_Reply":
        return cls(status, json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
                   payload=payload)


class ConvertSimulator:
    """A strict, local Convert API v2 server. Use ``start()``/``stop()`` or as a context manager."""

    def __init__(self, dataset: Optional[Dataset] = None, key_id: str = DEFAULT_KEY_ID,
                 key_secret: str = DEFAULT_KEY_SECRET, latency: float = 0.0, port: int = 0,
                 pagination_count: bool = True, random_503: float = 0.0, seed: int = 0,
                 host: str = "127.0.0.1", history_id_style: str = "object_id", daily_totals: str = "day",
                 vanished_experiences: Optional[Iterable[int]] = None, key_projects: Optional[Iterable[int]] = None,
                 experience_edits_in_project_history: bool = False, key_auth_type: str = REQUEST_SIGNING,
                 expires_header: str = "Expires", signed_url: str = WITH_QUERY, single_objects: str = "documented",
                 error_fields_key: str = "parameters",
                 answer_hook: Optional[Callable[[str, str, int, Any], Any]] = None, ignore_segments: bool = False,
                 report_metrics: str = "full") -> None:
        """``history_id_style`` names the changed object's id in change-history records (see
        ``render.HISTORY_ID_STYLES``); it changes only the rendering, server-side filters work the same.

        ``daily_totals``: "day" (default), "running" or "broken", how daily-report ``totals`` read (see
        ``Api.daily_report``). ``vanished_experiences``: experience ids whose per-experience paths (GET
        experience, aggregated_report, daily_report, daily_traffic_allocation, change-history, report_settings,
        sections) answer 404 "Experience not found" while lists still show them. ``key_projects``: the key sees only these
        projects (list filtered, other projects' paths answer 403). ``experience_edits_in_project_history``:
        True makes ``Dataset.edit_variation*`` also log in the project history. All four are also mutable
        attributes of the simulator.

        Authentication (``signing`` says which choices are inferred): ``key_auth_type`` is the key's
        ``auth_type``, "requestSigning" (default) or "secretKey"; a key refuses the other method with a
        401. ``expires_header``: the header a signature's expiry is read from, "Expires" (default, the
        contract's prose) or "Expire" (its security scheme). ``signed_url``: "with_query" (default, the
        URL exactly as received) or "without_query", what a signature covers. All three are also
        attributes, read per request.
        The spec's contradictions, each served either way: ``single_objects`` ("documented", "wrapped" or
        "bare": single-object GETs, see ``routes.SINGLE_OBJECTS``) and ``error_fields_key`` ("parameters"
        or "fields": the key naming a 422's bad inputs). ``answer_hook(method, path, status, body)``, when
        set, returns the body to send instead of the API's answer (for tests that need an answer off the
        contract). All three are also mutable attributes.
        ``ignore_segments`` and ``report_metrics`` (attributes of ``api``): see ``Api.aggregated_report``.
        """
        if key_auth_type not in AUTH_TYPES:
            raise ValueError(f"key_auth_type must be one of {AUTH_TYPES}, got {key_auth_type!r}")
        if expires_header not in EXPIRES_HEADERS:
            raise ValueError(f"expires_header must be one of {EXPIRES_HEADERS}, got {expires_header!r}")
        if signed_url not in SIGNED_URL_READINGS:
            raise ValueError(f"signed_url must be one of {SIGNED_URL_READINGS}, got {signed_url!r}")
        self.key_auth_type, self.expires_header, self.signed_url = key_auth_type, expires_header, signed_url
        if host not in ALLOWED_HOSTS:
            raise ValueError(f"refusing to bind {host!r}: only {', '.join(ALLOWED_HOSTS)} are allowed")
        self.dataset = dataset if dataset is not None else Dataset.generate()
        self.key_id, self.key_secret = key_id, key_secret
        self.latency = latency
        self.host = "127.0.0.1" if host == "localhost" else host
        self._port = port
        self.api = Api(self.dataset, pagination_count=pagination_count, history_id_style=history_id_style,
                       daily_totals=daily_totals, vanished_experiences=vanished_experiences, key_projects=key_projects,
                       single_objects=single_objects, error_fields_key=error_fields_key,
                       ignore_segments=ignore_segments, report_metrics=report_metrics)
        self.answer_hook = answer_hook
        if experience_edits_in_project_history:
            self.dataset.experience_edits_in_project_history = True
        self.faults = FaultSet(random_503=random_503, seed=seed)
        self._log: List[RequestLog] = []
        self._lock = threading.Lock()
        self._in_flight = 0
        self._peak_in_flight = 0
        self._connections: set = set()
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None
        self._stopping = False

    def __repr__(self) -> str:  # never shows the secret
        return (f"ConvertSimulator(base_url={self.base_url if self._server else None!r}, key_id={self.key_id!r}, "
                f"key_auth_type={self.key_auth_type!r})")

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "ConvertSimulator":
        if self._server is not None:
            return self
        cls = _Server6 if ":" in self.host else _Server
        self._server = cls((self.host, self._port), _Handler)
        self._server.sim = self  # type: ignore[attr-defined]
        self._port = self._server.server_address[1]
        self._stopping = False
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="convert-simulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping = True
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:  # wake idle keep-alive handlers so they exit
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server, self._thread = None, None

    def __enter__(self) -> "ConvertSimulator":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------ addresses
    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}/api/v2"

    def config(self, **overrides: Any) -> Dict[str, Any]:
        """A connector config pointing at this simulator; ``overrides`` replace or add keys."""
        cfg: Dict[str, Any] = {"key_id": self.key_id, "key_secret": self.key_secret,
                               "account_id": str(ACCOUNT_ID), "project_id": str(WEB_PROJECT_ID),
                               "api_base_url": self.base_url}
        if self.key_auth_type == SECRET_KEY:
            cfg["auth_method"] = "secret_key"  # the connector's name for the key's method
        cfg.update(overrides)
        return cfg

    # ------------------------------------------------------------------ faults
    def inject(self, fault: Fault) -> Fault:
        """Add a fault rule (checked in injection order); returns it so ``fault.hits`` can be read."""
        return self.faults.add(fault)

    def clear_faults(self) -> None:
        self.faults.clear()

    # ------------------------------------------------------------------ request log
    @property
    def requests(self) -> List[RequestLog]:
        """Snapshot of the request log (health probes excluded)."""
        with self._lock:
            return list(self._log)

    def count(self, method: Optional[str] = None, path_regex: Optional[str] = None,
              status: Optional[int] = None) -> int:
        pattern = re.compile(path_regex) if path_regex else None
        return sum(1 for r in self.requests
                   if (method is None or r.method == method.upper())
                   and (pattern is None or pattern.search(r.path))
                   and (status is None or r.status == status))

    def reset_log(self) -> None:
        """Clear the request log; also resets ``peak_in_flight`` to the current count."""
        with self._lock:
            self._log.clear()
            self._peak_in_flight = self._in_flight

    def reset_peak(self) -> None:
        """Reset ``peak_in_flight`` to the number of requests in flight now (the log is kept)."""
        with self._lock:
            self._peak_in_flight = self._in_flight

    @property
    def peak_in_flight(self) -> int:
        """Most API requests in flight at once (request read to answer ready) since start or reset."""
        with self._lock:
            return self._peak_in_flight

    # ------------------------------------------------------------------ options
    @property
    def daily_totals(self) -> str:
        return self.api.daily_totals

    @daily_totals.setter
    def daily_totals(self, value: str) -> None:
        self.api.daily_totals = value

    @property
    def vanished_experiences(self) -> Set[int]:
        """Live, mutable set of experience ids whose per-experience paths answer 404."""
        return self.api.vanished_experiences

    @vanished_experiences.setter
    def vanished_experiences(self, value: Iterable[int]) -> None:
        self.api.vanished_experiences = set(value)

    @property
    def key_projects(self) -> Optional[Set[int]]:
        return self.api.key_projects

    @key_projects.setter
    def key_projects(self, value: Optional[Iterable[int]]) -> None:
        self.api.key_projects = None if value is None else set(value)

    @property
    def experience_edits_in_project_history(self) -> bool:
        return self.dataset.experience_edits_in_project_history

    @experience_edits_in_project_history.setter
    def experience_edits_in_project_history(self, value: bool) -> None:
        self.dataset.experience_edits_in_project_history = bool(value)

    @property
    def single_objects(self) -> str:
        return self.api.single_objects

    @single_objects.setter
    def single_objects(self, value: str) -> None:
        self.api.single_objects = value

    @property
    def error_fields_key(self) -> str:
        return self.api.error_fields_key

    @error_fields_key.setter
    def error_fields_key(self, value: str) -> None:
        self.api.error_fields_key = value

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self._peak_in_flight = max(self._peak_in_flight, self._in_flight)

    def _exit(self, log: RequestLog) -> None:
        with self._lock:
            self._in_flight -= 1
            self._log.append(log)

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            (self._connections.add if add else self._connections.discard)(conn)
