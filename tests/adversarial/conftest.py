"""The adversarial tests spend rate-limit buckets on purpose (failed logins, codes, sign-ups). With Redis those
buckets outlive a test and are shared by every test run on the machine, keyed by client IP and account; so each
test here gets its own client address, and what one test spends never blocks another."""

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.adversarial import client_address


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://localhost", follow_redirects=False, client=client_address()) as test_client:
        yield test_client
