"""Operations: Prometheus metrics, structured JSON logs with request ids, and the request middleware that feeds
both. Nothing here ever logs a token, a code, a secret or a query string.

With several worker processes, metrics are aggregated across them when `PROMETHEUS_MULTIPROC_DIR` is set
(prometheus_client's multiprocess mode; `myaccount serve` sets it).
"""

import logging
import os
import re
import sys
import time
from collections.abc import Mapping
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["EVENTS", "RATE_LIMITED", "RequestMiddleware", "configure_logging", "metrics_payload"]

REQUESTS = Counter(
    "myaccount_http_requests_total", "HTTP requests by route, method and status", ["route", "method", "status"]
)
LATENCY = Histogram(
    "myaccount_http_request_duration_seconds",
    "HTTP request latency by route",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
EVENTS = Counter(
    "myaccount_events_total", "Audit events by type and outcome (logins, enrollments, failures)", ["type", "outcome"]
)
ENROLLMENTS = Counter(
    "myaccount_enrollments_total", "My Account enrollments by method type and outcome", ["type", "outcome"]
)
LOGINS = Counter("myaccount_logins_total", "Sign-ins and token exchanges by kind and outcome", ["kind", "outcome"])
RATE_LIMITED = Counter("myaccount_rate_limit_rejections_total", "Requests refused by a rate limit", ["rule"])

# Auth0 log codes that are sign-ins or token exchanges, by kind.
_LOGIN_KINDS = {
    "s": "login",
    "f": "login",
    "fp": "login",
    "fu": "login",
    "ss": "signup",
    "sepft": "password",
    "seacft": "authorization_code",
    "sertft": "refresh_token",
    "seccft": "client_credentials",
    "sepkft": "passkey",
    "gd_auth_succeed": "mfa",
    "gd_auth_failed": "mfa",
    "feacft": "authorization_code",
    "ferrt": "refresh_token",
    "feccft": "client_credentials",
}

log = logging.getLogger("myaccount.access")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")


def observe_event(type_: str, outcome: str, method_type: str | None = None) -> None:
    """Called for every audit event: metrics follow the audit trail, so both always agree."""
    _child(EVENTS, type_, outcome).inc()
    if type_.startswith("my_account.enrollment_") and method_type and type_ != "my_account.enrollment_started":
        _child(ENROLLMENTS, method_type, "success" if type_.endswith("verified") else "failure").inc()
    kind = _LOGIN_KINDS.get(type_)
    if kind:
        _child(LOGINS, kind, outcome).inc()


_CHILDREN: dict[tuple[int, tuple[str, ...]], Any] = {}


def _child(metric: Counter | Histogram, *labels: str) -> Any:
    """`metric.labels(*labels)`, kept: prometheus_client checks and locks on every call. Every label value comes
    from a bounded set (our event types, outcomes, route templates, known HTTP methods), so this stays small."""
    key = (id(metric), labels)
    child = _CHILDREN.get(key)
    if child is None:
        child = _CHILDREN[key] = metric.labels(*labels)
    return child


def metrics_payload() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest()


class _RequestIds:
    """Random request ids (16 hex characters) from one urandom call per 512 of them. A forked child starts
    afresh, so two workers never hand out the same ids."""

    _SIZE = 4096

    def __init__(self) -> None:
        self._pool = b""
        self._at = self._SIZE
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._pool, self._at = b"", self._SIZE

    def next(self) -> str:
        if self._at + 8 > len(self._pool):
            self._pool, self._at = os.urandom(self._SIZE), 0
        at = self._at
        self._at = at + 8
        return self._pool[at : at + 8].hex()


_request_ids = _RequestIds()
_FIELDS = ("request_id", "method", "route", "path", "status", "duration_ms", "ip")


class JsonFormatter(logging.Formatter):
    """One JSON object per line (orjson: the access log writes one per request)."""

    _second = -1
    _stamp = ""

    def _time(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._stamp, self._second = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)), second
        return self._stamp

    def line(self, created: float, level: str, logger: str, msg: str, fields: Mapping[str, Any]) -> str:
        # Milliseconds as LogRecord.msecs has them.
        entry: dict[str, Any] = {
            "ts": f"{self._time(created)}.{int((created - int(created)) * 1000):03d}Z",
            "level": level,
            "logger": logger,
            "msg": msg,
        }
        for key in _FIELDS:
            value = fields.get(key)
            if value is not None:
                entry[key] = value
        if "exc" in fields:
            entry["exc"] = fields["exc"]
        return orjson.dumps(entry, default=str).decode()

    def format(self, record: logging.LogRecord) -> str:
        fields = {key: getattr(record, key, None) for key in _FIELDS}
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        return self.line(record.created, record.levelname.lower(), record.name, record.getMessage(), fields)


class _JsonHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler `configure_logging` installs for JSON logs; the access log may write to it directly."""


def _direct_handler() -> _JsonHandler | None:
    """Our JSON handler, when an access record would reach it and nothing else: no handler or filter on the way
    (as `configure_logging` leaves things; a test's log capture, or any other set-up, takes the logging path)."""
    logger: logging.Logger | None = log
    found: _JsonHandler | None = None
    while logger is not None:
        if logger.filters:
            return None
        for handler in logger.handlers:
            if found is not None or not isinstance(handler, _JsonHandler) or handler.filters:
                return None
            if handler.level > logging.INFO:
                return None
            found = handler
        if not logger.propagate:
            break
        logger = logger.parent
    return found


def _access_line(fields: dict[str, Any]) -> None:
    """One access-log record: written straight to our JSON handler when it is the only place the record goes (the
    same line, without a LogRecord and the handler chain: a tenth of a list request's cost), else through
    logging as any record."""
    handler = _direct_handler()
    formatter = handler.formatter if handler is not None else None
    if handler is not None and isinstance(formatter, JsonFormatter):
        line = formatter.line(time.time(), "info", log.name, "request", fields)
        handler.acquire()
        try:
            handler.stream.write(line + handler.terminator)
            handler.flush()
        except Exception:  # noqa: S110 - the logging path below reports it (StreamHandler.emit's handleError)
            pass
        else:
            return
        finally:
            handler.release()
    # makeRecord and handle, as log.info does, without its walk up the stack for the caller's line.
    log.handle(log.makeRecord(log.name, logging.INFO, __file__, 0, "request", (), None, extra=fields))


def configure_logging(level: str = "INFO", *, json_format: bool = True) -> None:
    handler = _JsonHandler(sys.stderr) if json_format else logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_format else logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # Neither format shows threads or processes: each record skips looking them up (the logging HOWTO's
    # "Optimization"; the access log writes one record per request).
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    root.setLevel(level.upper())


class RequestMiddleware:
    """Request ids (`X-Request-Id`, taken from the caller when well formed), metrics and one access-log line."""

    def __init__(self, app: ASGIApp, *, access_log: bool = True) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        request_id = incoming if _REQUEST_ID.match(incoming) else _request_ids.next()
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # No one else sets it: appended rather than set (which scans the headers).
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            elapsed = time.perf_counter() - started
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"  # labels from a bounded set
            _child(REQUESTS, template, method, str(status)).inc()
            _child(LATENCY, template, method).observe(elapsed)
            if self.access_log and log.isEnabledFor(logging.INFO):
                client = scope.get("client")
                _access_line(
                    {
                        "request_id": request_id,
                        "method": scope["method"],
                        "route": template,
                        "path": scope["path"][:200],
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                        "ip": client[0] if client else None,
                    }
                )
