"""Fuzzing with schemathesis: every operation of our OpenAPI document (`GET /openapi.json`), and Auth0's own My
Account document against `/me/v1`, with valid tokens for every scope, positive and negative data, and a stateful
run that follows the document's links (enroll → verify, read, rename, delete).

Every response is counted by status and checked against the document: status documented, content type
documented, required headers present, JSON body valid against the response schema. The tests fail on any 5xx or
any answer the document does not allow. The number of examples per operation and generation mode comes from
`MYACCOUNT_FUZZ_EXAMPLES` (small by default, for CI); `scripts/fuzz` runs the full set (≥ 20,000 requests) and
prints the counts, which `MYACCOUNT_FUZZ_REPORT` (a file path) collects as JSON lines.
"""

import json
import os
import re
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from myaccount.app import create_app
from myaccount.core import Core
from myaccount.openapi import document
from myaccount.settings import RateLimitSettings, Settings
from tests.management import grant_management, management_token
from tests.support.contract import OAS_PATH
from tests.support.me import me_token
from tests.support.tenant import Tenant, make_tenant

EXAMPLES = int(os.environ.get("MYACCOUNT_FUZZ_EXAMPLES", "2"))
STEPS = int(os.environ.get("MYACCOUNT_FUZZ_STATEFUL", str(max(10, EXAMPLES * 5))))
RANDOM = os.environ.get("MYACCOUNT_FUZZ_RANDOM") == "1"  # CI replays the same examples; scripts/fuzz draws new ones
REPORT = os.environ.get("MYACCOUNT_FUZZ_REPORT")
ORIGIN = "http://localhost"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Auth0's document lists no 404 where an operation takes an id (only GET has it), and no 413. Ours does
# (src/myaccount/openapi): an id the caller does not own is a 404, a body over 64 KiB a 413. Counted apart.
AUTH0_DEVIATIONS = {
    ("PATCH", "/authentication-methods/{authentication_method_id}", 404),
    ("DELETE", "/authentication-methods/{authentication_method_id}", 404),
    ("POST", "/authentication-methods/{authentication_method_id}/verify", 404),
    ("DELETE", "/connected-accounts/accounts/{id}", 404),
}


Case = schemathesis.Case[APIOperation[Any, Any, Any, Any]]


@dataclass
class Tally:
    """What one run sent and what came back."""

    name: str
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    nonconforming: list[str] = field(default_factory=list)
    deviations: Counter[str] = field(default_factory=Counter)
    unsatisfiable: list[str] = field(default_factory=list)

    def check(self, case: Case, response: schemathesis.Response, *, auth0: bool = False) -> None:
        self.requests += 1
        status = response.status_code
        self.statuses[status] += 1
        label = f"{case.method} {case.operation.path}"
        if status >= 500:
            self.server_errors.append(f"{label} -> {status}: {response.text[:300]!r}\n{case.as_curl_command()}")
            return
        if not _sent_to(case, response):
            # A path parameter of `..` segments, which the HTTP client resolved (RFC 3986 §5.2.4) before sending:
            # the request went to another path, whose answer this operation's schema does not describe.
            self.deviations["path normalised away by the client"] += 1
            return
        if auth0 and (status == 413 or (case.method, case.operation.path, status) in AUTH0_DEVIATIONS):
            self.deviations[f"{label} -> {status}"] += 1
            return
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as exc:
            titles = "; ".join(sorted({failure.title for failure in exc.exceptions}))
            self.nonconforming.append(
                f"{label} -> {status}: {titles}: {response.text[:300]!r}\n{case.as_curl_command()}"
            )

    def crashed(self, case: Case, exc: BaseException) -> None:
        """The app raised through every handler (Starlette answers 500 and re-raises in tests)."""
        self.requests += 1
        self.statuses[500] += 1
        detail = "".join(traceback.format_exception(exc))[-1500:]
        self.server_errors.append(f"{case.method} {case.operation.path} raised:\n{detail}")

    def report(self) -> dict[str, Any]:
        return {
            "run": self.name,
            "requests": self.requests,
            "statuses": dict(sorted(self.statuses.items())),
            "server_errors": len(self.server_errors),
            "out_of_schema": len(self.nonconforming),
            "documented_deviations": dict(self.deviations),
            "not_generated": self.unsatisfiable,
        }

    def finish(self) -> None:
        summary = self.report()
        print(json.dumps(summary))
        if REPORT:
            with open(REPORT, "a", encoding="utf-8") as out:
                out.write(json.dumps(summary) + "\n")
        samples = "\n\n".join([*self.server_errors[:5], *self.nonconforming[:5]])
        assert not self.server_errors and not self.nonconforming, f"{json.dumps(summary)}\n\n{samples}"


def _sent_to(case: Case, response: schemathesis.Response) -> bool:
    """Whether the request reached a path of the operation's shape."""
    template = case.operation.schema.get_full_path(case.operation.path)
    pattern = re.escape(template)
    pattern = re.sub(r"\\\{[^}]*\\\}", "[^?#]+", pattern)
    sent = urlsplit(response.request.url or "").path
    return re.fullmatch(pattern, unquote(sent)) is not None or re.fullmatch(pattern, sent) is not None


@dataclass
class World:
    app: Starlette
    core: Core
    tenant: Tenant
    tokens: dict[str, str]

    def authorize(self, case: Case, *, prefix: str = "") -> None:
        """A valid token for the API the operation belongs to (the catalogue tests the invalid ones). `prefix` is
        what the document's server URL adds to its paths (Auth0's document: `/me/v1`)."""
        path = prefix + case.operation.path
        if path.startswith("/me/v1") or path == "/userinfo":
            token = self.tokens["me"]
        elif path.startswith("/api/v2"):
            token = self.tokens["management"]
        else:
            return
        case.headers["Authorization"] = f"Bearer {token}"


@pytest.fixture
def world(make_settings: Callable[..., Settings], make_core: Callable[[Settings], Core]) -> World:
    # Limits off: the fuzzer must reach the handlers, not the token buckets (tests/policy/test_abuse.py and
    # test_attacks_abuse.py prove the limits).
    off = {
        name: 0 for name in RateLimitSettings.model_fields if name.endswith("_capacity") and name != "tenant_capacity"
    }
    settings = make_settings(rate_limits=RateLimitSettings(**off))
    core = make_core(settings)
    app = create_app(settings, core=core)
    tenant = make_tenant(core)
    grant_management(core, tenant)
    client = TestClient(app, base_url=ORIGIN)
    tokens = {"me": me_token(client, tenant, core), "management": management_token(client, tenant, core)}
    return World(app, core, tenant, tokens)


def _settings(examples: int) -> hypothesis_settings:
    return hypothesis_settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=not RANDOM,
        phases=[Phase.explicit, Phase.generate],  # nothing to shrink: failures are collected, not raised
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )


def _fuzz(schema: Any, world: World, tally: Tally, *, base_url: str, prefix: str = "", auth0: bool = False) -> None:
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @_settings(EXAMPLES)
            def run(case: Case) -> None:
                world.authorize(case, prefix=prefix)
                try:
                    response = case.call(base_url=base_url)
                except Exception as exc:
                    tally.crashed(case, exc)
                    return
                tally.check(case, response, auth0=auth0)

            try:
                run()
            except Unsatisfiable:
                tally.unsatisfiable.append(f"{operation.label} ({mode.value})")


def _shape(path: str) -> str:
    """The path with its parameter names erased: `/a/{id}` and `/a/{method_id}` name the same route."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for path, item in doc["paths"].items():
        for method in item:
            if method in ("get", "post", "put", "patch", "delete"):
                yield method.upper(), _shape(path)


def test_the_document_covers_every_route(world: World) -> None:
    served = TestClient(world.app, base_url=ORIGIN).get("/openapi.json")
    assert served.status_code == 200 and served.headers["content-type"] == "application/json"
    doc = served.json()
    assert doc == document(ORIGIN)
    documented = set(_operations(doc))
    routed: set[tuple[str, str]] = set()
    for route in world.app.routes:
        if isinstance(route, Mount) or not isinstance(route, Route) or route.path == "/openapi.json":
            continue
        if route.path in ("/api/v2", "/api/v2/{rest:path}"):
            continue  # the Management API's 404/405 catch-all
        path = _shape(route.path)
        for method in route.methods or ():
            if method != "HEAD":
                routed.add((method, path))
    assert routed - documented == set(), "routes missing from /openapi.json"
    assert documented - routed == set(), "documented operations the app does not serve"


def test_fuzz_our_document(world: World) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.app)
    tally = Tally("openapi.json")
    _fuzz(schema, world, tally, base_url=ORIGIN)
    tally.finish()
    assert tally.requests >= EXAMPLES * 100  # ~110 operations, two generation modes


def test_fuzz_auth0_document_against_me_v1(world: World) -> None:
    raw = json.loads(OAS_PATH.read_text(encoding="utf-8"))
    schema = schemathesis.openapi.from_dict(raw).exclude(path_regex="^/(consents|organizations)")
    schema.app = world.app
    tally = Tally("auth0 myaccount-api-oas.json")
    _fuzz(schema, world, tally, base_url=f"{ORIGIN}/me/v1", prefix="/me/v1", auth0=True)
    tally.finish()
    assert tally.requests >= EXAMPLES * 12


def test_stateful_enroll_then_verify(world: World) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.app).include(
        path_regex="^/me/v1/authentication-methods"
    )
    tally = Tally("stateful /me/v1")
    followed: Counter[str] = Counter()

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Case) -> dict[str, Any]:
            world.authorize(case)
            return {"base_url": ORIGIN}

        def validate_response(self, response: schemathesis.Response, case: Case, **kwargs: Any) -> None:
            if (
                case.operation.path.endswith("/verify")
                and isinstance(case.body, dict)
                and case.body.get("auth_session")
            ):
                followed[str(response.status_code)] += 1
            tally.check(case, response)

    hypothesis.stateful.run_state_machine_as_test(
        Machine, settings=_settings(STEPS).__class__(_settings(STEPS), stateful_step_count=6)
    )
    tally.finish()
    # The link from the 202 carried the enrollment's auth_session into verify requests.
    assert sum(followed.values()) > 0, tally.report()
