import pytest
from starlette.testclient import TestClient

from myaccount.core import Core
from tests.support.me import Me, me_token
from tests.support.tenant import Tenant


@pytest.fixture
def me(client: TestClient, tenant: Tenant, core: Core) -> Me:
    return Me(client, me_token(client, tenant, core))
