import io
import json
import logging

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from myaccount import observability
from myaccount.core import Core
from myaccount.lifecycle import purge_expired
from myaccount.observability import JsonFormatter, configure_logging
from myaccount.store.schema import authorization_codes, login_sessions
from tests.support.flows import alice_code, new_verifier
from tests.support.tenant import Tenant


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"


def test_readiness_fails_when_redis_is_unreachable(
    client: TestClient, core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(core, "settings", core.settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"}))
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["redis"].startswith("error")


def test_metrics_count_requests_by_route_and_events(client: TestClient, tenant: Tenant) -> None:
    client.get("/.well-known/jwks.json")
    client.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "client_id": tenant.web.client_id,
            "client_secret": tenant.web_secret,
            "username": "alice@example.com",
            "password": "wrong",
        },
    )
    text = client.get("/metrics").text
    assert 'myaccount_http_requests_total{method="GET",route="/.well-known/jwks.json",status="200"}' in text
    assert 'myaccount_logins_total{kind="login",outcome="failure"}' in text
    assert "myaccount_http_request_duration_seconds_bucket" in text


def test_metrics_labels_stay_bounded(client: TestClient) -> None:
    """Methods outside HTTP's usual set share one label: a client cannot mint time series."""
    for method in ("BREW", "WHEN"):
        client.request(method, "/healthz")
    text = client.get("/metrics").text
    assert 'method="OTHER",route="/healthz"' in text
    assert 'method="BREW"' not in text and 'method="WHEN"' not in text


def test_request_id_is_echoed_or_made(client: TestClient) -> None:
    assert client.get("/healthz", headers={"X-Request-Id": "abc12345"}).headers["x-request-id"] == "abc12345"
    made = client.get("/healthz", headers={"X-Request-Id": "bad id\n"}).headers["x-request-id"]
    assert made != "bad id\n" and len(made) == 16


def test_access_log_is_json_without_secrets(
    client: TestClient, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="myaccount.access"):
        client.get("/authorize", params={"client_id": tenant.spa.client_id, "code_challenge": "secret-ish"})
    record = next(r for r in caplog.records if r.name == "myaccount.access")
    line = json.loads(JsonFormatter().format(record))
    assert line["route"] == "/authorize" and line["status"] == 302 and "request_id" in line
    assert "secret-ish" not in json.dumps(line)


def test_purge_removes_only_expired(client: TestClient, tenant: Tenant, core: Core) -> None:
    verifier = new_verifier()
    alice_code(client, tenant, verifier)
    code_count = select(func.count()).select_from(authorization_codes)
    purge_expired(core)
    with core.db.read() as conn:
        assert conn.execute(code_count).scalar_one() == 1  # still valid: kept
    core.clock.advance(days=40)  # type: ignore[attr-defined]
    assert purge_expired(core) >= 3  # the code, the login transaction and the session
    with core.db.read() as conn:
        assert conn.execute(code_count).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(login_sessions)).scalar_one() == 0


def test_access_line_written_straight_is_the_formatters_line() -> None:
    """With `configure_logging`'s JSON handler as the only destination, the access log skips the LogRecord and
    writes the line itself: it must be the line the formatter would have written."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    stream = io.StringIO()
    try:
        configure_logging("INFO", json_format=True)
        handler = root.handlers[0]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(stream)
        fields = {
            "request_id": "0123456789abcdef",
            "method": "GET",
            "route": "/me/v1/authentication-methods",
            "path": "/me/v1/authentication-methods",
            "status": 200,
            "duration_ms": 1.25,
            "ip": None,
        }
        observability._access_line(fields)
        direct = json.loads(stream.getvalue())
        record = logging.getLogger("myaccount.access").makeRecord(
            "myaccount.access", logging.INFO, __file__, 0, "request", (), None, extra=fields
        )
        formatted = json.loads(handler.format(record))
        assert direct.pop("ts")[-1] == "Z" and formatted.pop("ts")[-1] == "Z"
        assert list(direct.items()) == list(formatted.items())
        assert "ip" not in direct and direct["logger"] == "myaccount.access" and direct["level"] == "info"
        # Anything else on the way (here a filter) and the record takes the logging path, filter included.
        handler.addFilter(lambda record: False)
        observability._access_line(fields)
        assert stream.getvalue().count("\n") == 1
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


def test_request_ids_are_distinct_hex() -> None:
    ids = [observability._request_ids.next() for _ in range(2000)]  # crosses a refill of the pool
    assert len(set(ids)) == 2000 and all(len(i) == 16 and int(i, 16) >= 0 for i in ids)
