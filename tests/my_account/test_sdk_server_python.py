"""Auth0's Python server SDK (`auth0-server-python`, its `MyAccountClient`) against a running MyAccount over HTTPS.

The SDK builds every URL as `https://{domain}/me/v1/…` (its audience is `https://{domain}/me/`), so the server runs
on `https://localhost:PORT` with a certificate from a throwaway CA (`tests/support/tls.py`); the SDK trusts that CA
through its `ssl_context` parameter (1.0.0b20) or, the older way, `SSL_CERT_FILE`. The user's token comes from
`/oauth/token` (password-realm) with the underscore scopes the real API uses (the SDK's docstrings say hyphens).
"""

import asyncio
import base64
import ssl
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from auth0_server_python.auth_server.my_account_client import MyAccountClient
from auth0_server_python.auth_types import (
    AuthenticationMethod,
    EnrollAuthenticationMethodRequest,
    EnrollmentChallengeResponse,
    GetFactorsResponse,
    ListAuthenticationMethodsResponse,
    PasskeyAuthResponse,
    PasskeyPublicKeyOptions,
    UpdateAuthenticationMethodRequest,
    VerifyAuthenticationMethodRequest,
)
from auth0_server_python.error import ApiError, MyAccountApiError

from myaccount.app import create_app
from myaccount.clock import FrozenClock
from myaccount.core import Core
from myaccount.methods.totp import totp_at
from myaccount.settings import Settings
from myaccount.store.methods import MethodStore
from tests.support.live import free_port, serve
from tests.support.me import ALL_SCOPES
from tests.support.soft_authenticator import SoftAuthenticator
from tests.support.tenant import Tenant, make_tenant
from tests.support.tls import TestCertificates, make_certificates

T = TypeVar("T")


@dataclass
class HttpsServer:
    url: str
    core: Core
    tls: TestCertificates

    @property
    def domain(self) -> str:
        return self.url.split("://", 1)[1]


@pytest.fixture
def https_server(
    tmp_path: Path, make_settings: Callable[..., Settings], make_core: Callable[[Settings], Core]
) -> Iterator[HttpsServer]:
    tls = make_certificates(tmp_path / "tls")
    port = free_port()
    url = f"https://localhost:{port}"
    settings = make_settings(public_url=url)
    core = make_core(settings)
    app = create_app(settings, core=core)
    with serve(app, port, **tls.server_options):
        yield HttpsServer(url, core, tls)


@pytest.fixture
def https_tenant(https_server: HttpsServer) -> Tenant:
    return make_tenant(https_server.core)


@pytest.fixture(autouse=True)
def _no_ambient_trust(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only what a test passes explicitly may make the test CA trusted.
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


def _token(server: HttpsServer, tenant: Tenant, scope: str = ALL_SCOPES) -> str:
    """A My Account access token by password-realm, over HTTPS, trusting only the test CA."""
    with httpx.Client(base_url=server.url, verify=server.tls.ssl_context()) as http:
        response = http.post(
            "/oauth/token",
            data={
                "grant_type": "http://auth0.com/oauth/grant-type/password-realm",
                "client_id": tenant.web.client_id,
                "client_secret": tenant.web_secret,
                "username": "alice@example.com",
                "password": tenant.password,
                "realm": "Username-Password-Authentication",
                "audience": f"{server.url}/me/",
                "scope": f"openid {scope}",
            },
        )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def _totp_code(manual_input_code: str, clock: FrozenClock) -> str:
    key = base64.b32decode(manual_input_code + "=" * (-len(manual_input_code) % 8))
    return totp_at(key, int(clock.now().timestamp()))


def _for_sdk(credential: dict[str, Any]) -> dict[str, Any]:
    """The SDK types `PasskeyAuthResponse.response` as `dict[str, str]`, so a browser's `toJSON()` output, whose
    `response.transports` is an array, fails its validation: drop `transports`, as an SDK user has to."""
    return {**credential, "response": {k: v for k, v in credential["response"].items() if k != "transports"}}


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = error
    while seen is not None:
        yield seen
        nxt = getattr(seen, "cause", None) or seen.__cause__ or seen.__context__
        seen = nxt if isinstance(nxt, BaseException) and nxt is not seen else None


def test_sdk_audience_is_the_servers(https_server: HttpsServer) -> None:
    client = MyAccountClient(https_server.domain, ssl_context=https_server.tls.ssl_context())
    assert client.audience == https_server.core.settings.my_account_audience == f"{https_server.url}/me/"


def test_sdk_refuses_the_server_without_the_test_ca(https_server: HttpsServer, https_tenant: Tenant) -> None:
    token = _token(https_server, https_tenant)
    client = MyAccountClient(https_server.domain)
    with pytest.raises(ApiError) as error:
        _run(client.get_factors(token))
    assert not isinstance(error.value, MyAccountApiError)
    assert any(isinstance(cause, ssl.SSLCertVerificationError) for cause in _causes(error.value)), list(
        _causes(error.value)
    )


def test_sdk_trusts_the_ca_from_ssl_cert_file(
    https_server: HttpsServer, https_tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(https_server.tls.ca_file))
    token = _token(https_server, https_tenant)
    factors = _run(MyAccountClient(https_server.domain).get_factors(token))
    assert isinstance(factors, GetFactorsResponse)
    assert "passkey" in [f.type for f in factors.factors]


def test_sdk_drives_list_enroll_verify_rename_delete(
    https_server: HttpsServer, https_tenant: Tenant, clock: FrozenClock
) -> None:
    token = _token(https_server, https_tenant)
    sdk = MyAccountClient(https_server.domain, ssl_context=https_server.tls.ssl_context())
    user_id = https_tenant.user.id

    async def scenario() -> None:
        # factors
        factors = await sdk.get_factors(token)
        assert isinstance(factors, GetFactorsResponse)
        usage = {f.type: f.usage for f in factors.factors}
        assert usage["passkey"] == ["primary"] and usage["password"] == ["primary"]
        assert usage["totp"] == ["secondary"]

        # list: the password only
        listed = await sdk.list_authentication_methods(token)
        assert isinstance(listed, ListAuthenticationMethodsResponse)
        [password] = listed.authentication_methods
        assert isinstance(password, AuthenticationMethod)
        assert password.type == "password" and password.usage == ["primary"]
        assert password.identity_user_id == user_id and password.id.startswith("password|")

        # TOTP: enroll, a wrong code, then the right one
        totp_start = await sdk.enroll_authentication_method(token, EnrollAuthenticationMethodRequest(type="totp"))
        assert isinstance(totp_start, EnrollmentChallengeResponse)
        totp_id = totp_start.authentication_method_id
        assert totp_id.startswith("totp|dev_") and totp_start.id == totp_id  # the body's id, kept as an extra
        assert totp_start.barcode_uri.startswith("otpauth://totp/")
        assert totp_start.authn_params_public_key is None
        with pytest.raises(MyAccountApiError) as wrong:
            await sdk.verify_authentication_method(
                token,
                totp_id,
                VerifyAuthenticationMethodRequest(auth_session=totp_start.auth_session, otp_code="000000"),
            )
        assert wrong.value.status == 400 and wrong.value.title == "Bad Request"
        assert wrong.value.validation_errors[0]["pointer"] == "/otp_code"
        totp = await sdk.verify_authentication_method(
            token,
            totp_id,
            VerifyAuthenticationMethodRequest(
                auth_session=totp_start.auth_session, otp_code=_totp_code(totp_start.manual_input_code, clock)
            ),
        )
        assert isinstance(totp, AuthenticationMethod)
        assert totp.id == totp_id and totp.type == "totp" and totp.confirmed is True
        assert totp.usage == ["secondary"]

        # passkey: enroll, the software authenticator answers, verify
        passkey_start = await sdk.enroll_authentication_method(token, EnrollAuthenticationMethodRequest(type="passkey"))
        assert passkey_start.authentication_method_id == "passkey|new"
        options = passkey_start.authn_params_public_key
        assert isinstance(options, PasskeyPublicKeyOptions)
        assert options.rp is not None and options.rp.id == "localhost"
        assert options.user is not None and options.user.display_name
        assert options.authenticator_selection is not None
        assert options.authenticator_selection.resident_key == "required"
        assert options.pub_key_cred_params and -7 in [p.alg for p in options.pub_key_cred_params]
        authenticator = SoftAuthenticator(backup_eligible=True, backed_up=True)
        credential = authenticator.create(options.model_dump(by_alias=True, exclude_none=True), origin=https_server.url)
        passkey = await sdk.verify_authentication_method(
            token,
            passkey_start.authentication_method_id,
            VerifyAuthenticationMethodRequest(
                auth_session=passkey_start.auth_session,
                authn_response=PasskeyAuthResponse.model_validate(_for_sdk(credential)),
            ),
        )
        assert isinstance(passkey, AuthenticationMethod)
        assert passkey.type == "passkey" and passkey.id.startswith("passkey|dev_")
        assert passkey.key_id == credential["id"] and passkey.identity_user_id == user_id
        assert passkey.relying_party_id == "localhost" and passkey.aaguid
        assert passkey.credential_device_type == "multi_device" and passkey.credential_backed_up is True
        assert passkey.usage == ["primary"] and base64.b64decode(passkey.public_key or "", validate=True)

        # list and get
        listed = await sdk.list_authentication_methods(token)
        assert sorted(m.type for m in listed.authentication_methods) == ["passkey", "password", "totp"]
        only_passkeys = await sdk.list_authentication_methods(token, type_filter="passkey")
        assert [m.id for m in only_passkeys.authentication_methods] == [passkey.id]
        fetched = await sdk.get_authentication_method(token, passkey.id)
        assert fetched == passkey

        # rename
        renamed = await sdk.update_authentication_method(
            token, passkey.id, UpdateAuthenticationMethodRequest(name="Work laptop")
        )
        assert isinstance(renamed, AuthenticationMethod) and renamed.name == "Work laptop"
        assert (await sdk.get_authentication_method(token, passkey.id)).name == "Work laptop"
        renamed_totp = await sdk.update_authentication_method(
            token, totp.id, UpdateAuthenticationMethodRequest(name="Authenticator app")
        )
        assert renamed_totp.name == "Authenticator app" and renamed_totp.confirmed is True
        with pytest.raises(MyAccountApiError) as nameless:
            await sdk.update_authentication_method(token, password.id, UpdateAuthenticationMethodRequest(name="x"))
        assert nameless.value.status == 400

        # delete
        assert await sdk.delete_authentication_method(token, totp.id) is None
        with pytest.raises(MyAccountApiError) as gone:
            await sdk.get_authentication_method(token, totp.id)
        assert gone.value.status == 404
        await sdk.delete_authentication_method(token, password.id)
        with pytest.raises(MyAccountApiError) as last:
            await sdk.delete_authentication_method(token, passkey.id)
        assert last.value.status == 409
        remaining = await sdk.list_authentication_methods(token)
        assert [m.id for m in remaining.authentication_methods] == [passkey.id]

    _run(scenario())
    with https_server.core.db.read() as conn:
        stored = MethodStore(conn).list(user_id)
    assert [(m.type, m.name, m.confirmed) for m in stored] == [("passkey", "Work laptop", True)]


def test_sdk_reports_a_bad_token_and_a_missing_scope(https_server: HttpsServer, https_tenant: Tenant) -> None:
    sdk = MyAccountClient(https_server.domain, ssl_context=https_server.tls.ssl_context())
    token = _token(https_server, https_tenant, scope="read:me:factors")
    with pytest.raises(MyAccountApiError) as bad_token:
        _run(sdk.list_authentication_methods(token[:-2] + ("AA" if not token.endswith("AA") else "BB")))
    assert bad_token.value.status == 401 and bad_token.value.type.startswith("https://auth0.com/api-errors/")
    assert _run(sdk.get_factors(token)).factors
    with pytest.raises(MyAccountApiError) as no_scope:
        _run(sdk.list_authentication_methods(token))
    assert no_scope.value.status == 403 and no_scope.value.detail
