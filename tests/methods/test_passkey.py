import base64
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import cbor2
import pytest

from myaccount.methods.base import Challenge, Enrolled, MethodError, MethodType, Subject
from myaccount.methods.passkey import Assertion, ExistingCredential, Passkeys, SignCountRegressed, credential_id_of
from myaccount.methods.user_agents import summarise
from tests.support.soft_authenticator import ExcludedCredentialError, SoftAuthenticator, b64url, unb64url

RP_ID = "login.example.com"
ORIGIN = "https://login.example.com"
HANDLE = bytes(range(32))
SUBJECT = Subject(
    user_id="auth0|507f1f77bcf86cd799439011", email="ada@example.com", name="Ada", webauthn_user_handle=HANDLE
)
GOOGLE = "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4"
ZERO = "00000000-0000-0000-0000-000000000000"
CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)

ROOT = "/authn_response"
CLIENT_DATA = "/authn_response/response/clientDataJSON"
ATTESTATION = "/authn_response/response/attestationObject"
AUTH_DATA = "/authn_response/response/authenticatorData"
SIGNATURE = "/authn_response/response/signature"
USER_HANDLE = "/authn_response/response/userHandle"
B64URL = re.compile(r"[A-Za-z0-9_-]+")


def _passkeys(**overrides: Any) -> Passkeys:
    config: dict[str, Any] = {"rp_id": RP_ID, "rp_name": "Example", "origins": [ORIGIN]} | overrides
    return Passkeys(**config)


@pytest.fixture
def passkeys() -> Passkeys:
    return _passkeys()


def _begin(passkeys: Passkeys, exclude: list[ExistingCredential] | None = None) -> Challenge:
    return passkeys.begin(SUBJECT, display_name="Ada Lovelace", user_name="ada@example.com", exclude=exclude or [])


def _options(challenge: Challenge) -> dict[str, Any]:
    options: dict[str, Any] = challenge.public["authn_params_public_key"]
    return options


def _enroll(
    passkeys: Passkeys, authenticator: SoftAuthenticator, *, user_agent: str | None = None, **create: Any
) -> Enrolled:
    challenge = _begin(passkeys)
    response = authenticator.create(_options(challenge), origin=ORIGIN, **create)
    return passkeys.complete(challenge.state, response, user_agent=user_agent)


def _refused(call: Callable[[], object], pointer: str | None) -> MethodError:
    with pytest.raises(MethodError) as caught:
        call()
    error = caught.value
    assert error.detail
    if pointer is None:
        assert error.problems == ()
    else:
        assert [problem.pointer for problem in error.problems] == [pointer]
        assert error.problems[0].detail
    return error


def _recode_attestation(response: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> None:
    """Decode the attestation object, let `change` edit it, and put it back: for responses no browser sends."""
    attestation = cbor2.loads(unb64url(response["response"]["attestationObject"]))
    change(attestation)
    response["response"]["attestationObject"] = b64url(cbor2.dumps(attestation))


# Creation options: the wire shape Auth0's SDKs decode.


def test_creation_options_have_auth0s_shape(passkeys: Passkeys) -> None:
    options = _options(_begin(passkeys))

    assert set(options) == {"challenge", "rp", "user", "pubKeyCredParams", "authenticatorSelection", "timeout"}
    assert options["rp"] == {"id": RP_ID, "name": "Example"}
    assert options["user"] == {"id": b64url(HANDLE), "name": "ada@example.com", "displayName": "Ada Lovelace"}
    assert options["pubKeyCredParams"] == [
        {"type": "public-key", "alg": -8},
        {"type": "public-key", "alg": -7},
        {"type": "public-key", "alg": -257},
    ]
    assert options["authenticatorSelection"] == {"residentKey": "required", "userVerification": "preferred"}
    assert options["timeout"] == 60000
    assert B64URL.fullmatch(options["challenge"])
    assert len(unb64url(options["challenge"])) == 32


def test_each_begin_has_a_fresh_challenge_kept_in_the_state(passkeys: Passkeys) -> None:
    first, second = _begin(passkeys), _begin(passkeys)

    assert _options(first)["challenge"] != _options(second)["challenge"]
    assert first.state["challenge"] == _options(first)["challenge"]
    assert first.state["user_handle"] == b64url(HANDLE)
    assert first.state["rp_id"] == RP_ID
    # The state is sealed into an auth_session, so it has to survive JSON.
    assert json.loads(json.dumps(first.state)) == first.state
    assert json.loads(json.dumps(first.public)) == first.public


def test_user_verification_and_timeout_come_from_configuration() -> None:
    options = _options(_begin(_passkeys(user_verification="required", timeout_ms=120000)))

    assert options["authenticatorSelection"] == {"residentKey": "required", "userVerification": "required"}
    assert options["timeout"] == 120000


def test_exclude_credentials_lists_existing_passkeys_with_known_transports(passkeys: Passkeys) -> None:
    exclude = [ExistingCredential("AAEC", ["internal", "hybrid"]), ExistingCredential("AwQF")]

    options = _options(_begin(passkeys, exclude))

    assert options["excludeCredentials"] == [
        {"id": "AAEC", "type": "public-key", "transports": ["internal", "hybrid"]},
        {"id": "AwQF", "type": "public-key"},
    ]


def test_an_excluded_credential_is_not_created_twice(passkeys: Passkeys) -> None:
    authenticator = SoftAuthenticator()
    enrolled = _enroll(passkeys, authenticator)
    assert enrolled.credential_id is not None

    options = _options(_begin(passkeys, [ExistingCredential(enrolled.credential_id, ["internal"])]))

    with pytest.raises(ExcludedCredentialError, match=enrolled.credential_id):
        authenticator.create(options, origin=ORIGIN)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"origins": []}, "at least one origin"),
        ({"origins": ["https://evil.example"]}, "not within the RP ID"),
        ({"origins": ["http://login.example.com"]}, "https"),
        ({"origins": ["https://login.example.com/path"]}, "scheme://host"),
        ({"rp_id": "https://login.example.com"}, "host name"),
        ({"user_verification": "always"}, "user_verification"),
        ({"timeout_ms": 0}, "timeout_ms"),
    ],
)
def test_configuration_mistakes_are_refused_at_startup(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _passkeys(**overrides)


def test_localhost_may_use_http_and_subdomains_are_origins() -> None:
    local = _passkeys(rp_id="localhost", origins=["http://localhost:8000"])
    nested = _passkeys(origins=[ORIGIN, "https://account.login.example.com"])

    assert local.origins == ["http://localhost:8000"]
    assert nested.origins[1] == "https://account.login.example.com"


def test_a_user_handle_longer_than_64_bytes_is_refused(passkeys: Passkeys) -> None:
    subject = Subject(user_id="auth0|1", email=None, name=None, webauthn_user_handle=b"x" * 65)

    with pytest.raises(ValueError, match="64 bytes"):
        passkeys.begin(subject, display_name="x", user_name="x", exclude=[])


# Successful enrollment.


def test_enrolls_with_none_attestation(passkeys: Passkeys) -> None:
    authenticator = SoftAuthenticator()
    challenge = _begin(passkeys)
    response = authenticator.create(_options(challenge), origin=ORIGIN)

    enrolled = passkeys.complete(challenge.state, response, user_agent=CHROME_MAC)

    assert passkeys.type is MethodType.PASSKEY
    assert enrolled.name is None  # the all-zero AAGUID names nobody
    assert enrolled.secret is None
    assert enrolled.credential_id == response["id"]
    assert enrolled.data == {
        "key_id": response["id"],
        "public_key": enrolled.data["public_key"],
        "user_handle": b64url(HANDLE),
        "aaguid": ZERO,
        "credential_device_type": "single_device",
        "credential_backed_up": False,
        "transports": ["internal"],
        "user_agent": "Chrome 131.0.0 / Mac OS X 10.15.7",
        "relying_party_id": RP_ID,
        "sign_count": 0,
        "backup_eligible": False,
        "attestation_format": "none",
    }


def test_enrolls_with_packed_self_attestation_and_names_the_provider(passkeys: Passkeys) -> None:
    enrolled = _enroll(passkeys, SoftAuthenticator(aaguid=GOOGLE, attestation="packed"))

    assert enrolled.data["attestation_format"] == "packed"
    assert enrolled.data["aaguid"] == GOOGLE
    assert enrolled.name == "Google Password Manager"


def test_public_key_is_padded_standard_base64_of_the_cose_key(passkeys: Passkeys) -> None:
    authenticator = SoftAuthenticator()
    enrolled = _enroll(passkeys, authenticator)

    public_key = enrolled.data["public_key"]
    assert len(public_key) % 4 == 0  # padded, as Swift's Data(base64Encoded:) needs
    assert "-" not in public_key and "_" not in public_key
    cose = cbor2.loads(base64.b64decode(public_key, validate=True))
    (credential,) = authenticator.credentials.values()
    numbers = credential.private_key.public_key().public_numbers()
    assert cose == {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}


def test_key_id_is_unpadded_base64url_of_the_credential_id(passkeys: Passkeys) -> None:
    authenticator = SoftAuthenticator()
    enrolled = _enroll(passkeys, authenticator)

    assert B64URL.fullmatch(enrolled.data["key_id"])
    assert unb64url(enrolled.data["key_id"]) in authenticator.credentials


def test_aaguid_is_in_uuid_form(passkeys: Passkeys) -> None:
    enrolled = _enroll(passkeys, SoftAuthenticator(aaguid=GOOGLE.upper()))

    assert enrolled.data["aaguid"] == GOOGLE
    assert str(uuid.UUID(enrolled.data["aaguid"])) == enrolled.data["aaguid"]


@pytest.mark.parametrize(
    ("backup_eligible", "backed_up", "device_type"),
    [(True, True, "multi_device"), (True, False, "multi_device"), (False, False, "single_device")],
)
def test_backup_flags_give_the_device_type(
    passkeys: Passkeys, backup_eligible: bool, backed_up: bool, device_type: str
) -> None:
    authenticator = SoftAuthenticator(backup_eligible=backup_eligible, backed_up=backed_up)

    data = _enroll(passkeys, authenticator).data

    assert data["credential_device_type"] == device_type
    assert data["credential_backed_up"] is backed_up
    assert data["backup_eligible"] is backup_eligible


def test_any_configured_origin_is_accepted() -> None:
    passkeys = _passkeys(origins=[ORIGIN, "https://account.login.example.com"])
    challenge = _begin(passkeys)
    response = SoftAuthenticator().create(_options(challenge), origin="https://account.login.example.com")

    assert passkeys.complete(challenge.state, response, user_agent=None).data["user_agent"] is None


def test_response_without_transports_stores_an_empty_list(passkeys: Passkeys) -> None:
    challenge = _begin(passkeys)
    response = SoftAuthenticator().create(_options(challenge), origin=ORIGIN)
    del response["response"]["transports"]

    assert passkeys.complete(challenge.state, response, user_agent=None).data["transports"] == []


def test_user_verification_is_optional_unless_required(passkeys: Passkeys) -> None:
    enrolled = _enroll(passkeys, SoftAuthenticator(user_verification=False))

    assert enrolled.credential_id is not None


# Refused enrollments: each names the part of the request body that is wrong.


@pytest.mark.parametrize(
    ("create", "pointer", "says"),
    [
        pytest.param({"challenge": b64url(b"not our challenge")}, CLIENT_DATA, "challenge", id="wrong-challenge"),
        pytest.param({"client_data_type": "webauthn.get"}, CLIENT_DATA, "type", id="wrong-type"),
        pytest.param({"origin": "https://evil.example"}, CLIENT_DATA, "origin", id="wrong-origin"),
        pytest.param({"origin": "https://login.example.com:8443"}, CLIENT_DATA, "origin", id="wrong-port"),
        pytest.param({"client_data_extra": {"crossOrigin": True}}, CLIENT_DATA, "cross-origin", id="cross-origin"),
        pytest.param(
            {"client_data_extra": {"topOrigin": "https://evil.example"}}, CLIENT_DATA, "cross-origin", id="top"
        ),
        pytest.param({"rp_id_hash": hashlib.sha256(b"evil.example").digest()}, ATTESTATION, "RP ID", id="rp-id-hash"),
        pytest.param({"rp_id": "example.com"}, ATTESTATION, "RP ID", id="parent-domain-rp-id"),
        pytest.param({"attestation": "packed", "corrupt_signature": True}, ATTESTATION, "signature", id="packed-sig"),
    ],
)
def test_a_response_that_does_not_match_is_refused(
    passkeys: Passkeys, create: dict[str, Any], pointer: str, says: str
) -> None:
    challenge = _begin(passkeys)
    origin = create.pop("origin", ORIGIN)
    response = SoftAuthenticator().create(_options(challenge), origin=origin, **create)

    error = _refused(lambda: passkeys.complete(challenge.state, response, user_agent=None), pointer)

    assert says in error.detail


def test_missing_user_verification_is_refused_when_required() -> None:
    passkeys = _passkeys(user_verification="required", require_user_verification=True)
    challenge = _begin(passkeys)
    response = SoftAuthenticator(user_verification=False).create(_options(challenge), origin=ORIGIN)

    error = _refused(lambda: passkeys.complete(challenge.state, response, user_agent=None), ATTESTATION)

    assert "verif" in error.detail


def test_backed_up_but_not_backup_eligible_is_refused(passkeys: Passkeys) -> None:
    challenge = _begin(passkeys)
    response = SoftAuthenticator(backup_eligible=False, backed_up=True).create(_options(challenge), origin=ORIGIN)

    _refused(lambda: passkeys.complete(challenge.state, response, user_agent=None), ATTESTATION)


def test_none_attestation_with_a_statement_is_refused_by_py_webauthn(passkeys: Passkeys) -> None:
    challenge = _begin(passkeys)
    response = SoftAuthenticator().create(_options(challenge), origin=ORIGIN)
    _recode_attestation(response, lambda attestation: attestation.update(attStmt={"sig": b"\x00"}))

    _refused(lambda: passkeys.complete(challenge.state, response, user_agent=None), ATTESTATION)


def test_unknown_attestation_format_is_refused(passkeys: Passkeys) -> None:
    challenge = _begin(passkeys)
    response = SoftAuthenticator().create(_options(challenge), origin=ORIGIN)
    _recode_attestation(response, lambda attestation: attestation.update(fmt="homebrew"))

    _refused(lambda: passkeys.complete(challenge.state, response, user_agent=None), ATTESTATION)


def _mutated(mutate: Callable[[dict[str, Any]], None]) -> Callable[[Passkeys], tuple[Challenge, dict[str, Any]]]:
    def build(passkeys: Passkeys) -> tuple[Challenge, dict[str, Any]]:
        challenge = _begin(passkeys)
        response = SoftAuthenticator().create(_options(challenge), origin=ORIGIN)
        mutate(response)
        return challenge, response

    return build


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split("/")

    def mutate(response: dict[str, Any]) -> None:
        target = response
        for key in parents:
            target = target[key]
        target[last] = value

    return mutate


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split("/")

    def mutate(response: dict[str, Any]) -> None:
        target = response
        for key in parents:
            target = target[key]
        del target[last]

    return mutate


@pytest.mark.parametrize(
    ("mutate", "pointer"),
    [
        (_set("response/clientDataJSON", "!!not base64!!"), CLIENT_DATA),
        (_set("response/clientDataJSON", "QUJDRA=+"), CLIENT_DATA),
        (_set("response/clientDataJSON", "QUJDR"), CLIENT_DATA),
        (_set("response/attestationObject", "a b c"), ATTESTATION),
        (_set("response/attestationObject", "YWJj/w+9"), ATTESTATION),  # standard base64, not base64url
        (_set("rawId", "***"), f"{ROOT}/rawId"),
        (_set("id", "%%%"), f"{ROOT}/id"),
        (_set("response/clientDataJSON", b64url(b"not json")), CLIENT_DATA),
        (_set("response/clientDataJSON", b64url(b"[1, 2]")), CLIENT_DATA),
        (_set("response/clientDataJSON", b64url(b'{"type": "webauthn.create"}')), CLIENT_DATA),
        (_set("response/clientDataJSON", b64url(b"\xff\xfe{}")), CLIENT_DATA),
        (_set("response/clientDataJSON", b64url(b"[" * 100_000)), CLIENT_DATA),
        (_set("response/attestationObject", b64url(b"not cbor at all")), ATTESTATION),
        (_set("response/attestationObject", b64url(cbor2.dumps([1, 2, 3]))), ATTESTATION),
        (_set("response/attestationObject", b64url(cbor2.dumps({"fmt": "none", "attStmt": {}}))), ATTESTATION),
        (
            _set("response/attestationObject", b64url(cbor2.dumps({"fmt": 1, "attStmt": {}, "authData": b""}))),
            ATTESTATION,
        ),
        (_set("response/attestationObject", "A" * 40_000), ATTESTATION),
        (_set("response/transports", "internal"), "/authn_response/response/transports"),
        (_set("response/transports", [1]), "/authn_response/response/transports"),
        (_set("rawId", ""), f"{ROOT}/rawId"),
        (_set("id", b64url(b"another credential")), f"{ROOT}/id"),
        (_set("type", "password"), f"{ROOT}/type"),
        (_set("response", "not an object"), "/authn_response/response"),
        (_set("response", None), "/authn_response/response"),
        (_set("response/clientDataJSON", 42), CLIENT_DATA),
        (_set("response/attestationObject", None), ATTESTATION),
        (_drop("id"), f"{ROOT}/id"),
        (_drop("rawId"), f"{ROOT}/rawId"),
        (_drop("type"), f"{ROOT}/type"),
        (_drop("response"), "/authn_response/response"),
        (_drop("response/clientDataJSON"), CLIENT_DATA),
        (_drop("response/attestationObject"), ATTESTATION),
    ],
)
def test_malformed_responses_are_refused_with_a_pointer(
    passkeys: Passkeys, mutate: Callable[[dict[str, Any]], None], pointer: str
) -> None:
    challenge, response = _mutated(mutate)(passkeys)

    _refused(lambda: passkeys.complete(challenge.state, response, user_agent=None), pointer)


def test_raw_id_must_be_the_credential_in_the_attestation(passkeys: Passkeys) -> None:
    challenge = _begin(passkeys)
    response = SoftAuthenticator().create(_options(challenge), origin=ORIGIN)
    response["id"] = response["rawId"] = b64url(b"some other credential id")

    _refused(lambda: passkeys.complete(challenge.state, response, user_agent=None), f"{ROOT}/rawId")


@pytest.mark.parametrize("value", ["a string", ["a", "list"], None, 42, 1.5, True])
def test_an_authn_response_that_is_not_an_object_is_refused(passkeys: Passkeys, value: object) -> None:
    challenge = _begin(passkeys)

    _refused(lambda: passkeys.complete(challenge.state, value, user_agent=None), ROOT)


def test_truncated_attestation_objects_only_ever_raise_method_error(passkeys: Passkeys) -> None:
    challenge = _begin(passkeys)
    response = SoftAuthenticator(attestation="packed").create(_options(challenge), origin=ORIGIN)
    whole = unb64url(response["response"]["attestationObject"])

    for cut in range(len(whole)):
        response["response"]["attestationObject"] = b64url(whole[:cut])
        _refused(lambda: passkeys.complete(challenge.state, response, user_agent=None), ATTESTATION)


@pytest.mark.parametrize("junk", [None, 0, "", "x", [], {}, {"a": 1}, b64url(b"\x00" * 40)])
def test_junk_in_any_field_only_ever_raises_method_error(passkeys: Passkeys, junk: object) -> None:
    fields = ["id", "rawId", "type", "response", "response/clientDataJSON", "response/attestationObject"]
    for field in fields + ["response/transports", "authenticatorAttachment", "clientExtensionResults"]:
        challenge, response = _mutated(_set(field, junk))(passkeys)
        try:
            passkeys.complete(challenge.state, response, user_agent=None)
        except MethodError as error:
            assert error.problems and error.problems[0].pointer is not None
            assert error.problems[0].pointer.startswith(ROOT)
        else:
            assert field not in fields, f"{field}={junk!r} was accepted"


def test_a_state_from_another_ceremony_is_refused(passkeys: Passkeys) -> None:
    challenge = passkeys.begin_authentication()
    response = SoftAuthenticator().create(_options(_begin(passkeys)), origin=ORIGIN)

    _refused(lambda: passkeys.complete(challenge.state, response, user_agent=None), None)


def test_each_challenge_is_bound_to_its_own_state(passkeys: Passkeys) -> None:
    first, second = _begin(passkeys), _begin(passkeys)
    response = SoftAuthenticator().create(_options(first), origin=ORIGIN)

    _refused(lambda: passkeys.complete(second.state, response, user_agent=None), CLIENT_DATA)


# Sign-in.


def _enrolled(passkeys: Passkeys, authenticator: SoftAuthenticator | None = None) -> tuple[SoftAuthenticator, Enrolled]:
    authenticator = authenticator or SoftAuthenticator()
    return authenticator, _enroll(passkeys, authenticator)


def _verify(passkeys: Passkeys, challenge: Challenge, response: dict[str, Any], enrolled: Enrolled) -> Assertion:
    return passkeys.verify_authentication(
        challenge.state,
        response,
        credential_public_key_b64=enrolled.data["public_key"],
        current_sign_count=enrolled.data["sign_count"],
    )


def test_request_options_have_auth0s_shape(passkeys: Passkeys) -> None:
    options = _options(passkeys.begin_authentication())

    assert set(options) == {"challenge", "timeout", "rpId", "userVerification"}
    assert options["rpId"] == RP_ID
    assert options["userVerification"] == "preferred"
    assert options["timeout"] == 60000
    assert len(unb64url(options["challenge"])) == 32


def test_request_options_list_allowed_credentials_only_when_given(passkeys: Passkeys) -> None:
    options = _options(passkeys.begin_authentication(allow=[ExistingCredential("AAEC", ["usb"])]))

    assert options["allowCredentials"] == [{"id": "AAEC", "type": "public-key", "transports": ["usb"]}]


def test_a_discoverable_sign_in_verifies(passkeys: Passkeys) -> None:
    authenticator, enrolled = _enrolled(passkeys, SoftAuthenticator(backup_eligible=True, backed_up=True))
    challenge = passkeys.begin_authentication()
    response = authenticator.get(_options(challenge), origin=ORIGIN)

    assert credential_id_of(response) == enrolled.credential_id
    assertion = _verify(passkeys, challenge, response, enrolled)

    assert assertion == Assertion(
        credential_id=enrolled.data["key_id"],
        new_sign_count=1,
        backed_up=True,
        user_verified=True,
        user_handle=enrolled.data["user_handle"],
    )


def test_a_sign_in_with_allow_credentials_verifies(passkeys: Passkeys) -> None:
    authenticator, enrolled = _enrolled(passkeys)
    assert enrolled.credential_id is not None
    challenge = passkeys.begin_authentication(allow=[ExistingCredential(enrolled.credential_id)])
    response = authenticator.get(_options(challenge), origin=ORIGIN)
    del response["response"]["userHandle"]  # optional when the user was identified first (§7.2 step 6)

    assertion = _verify(passkeys, challenge, response, enrolled)

    assert assertion.user_handle is None
    assert assertion.credential_id == enrolled.credential_id


def test_allowed_credentials_match_whatever_base64url_spelling_was_stored(passkeys: Passkeys) -> None:
    authenticator, enrolled = _enrolled(passkeys)
    padded = f"{enrolled.credential_id}=="
    challenge = passkeys.begin_authentication(allow=[ExistingCredential(padded)])

    assertion = _verify(passkeys, challenge, authenticator.get(_options(challenge), origin=ORIGIN), enrolled)

    assert assertion.credential_id == enrolled.credential_id


def test_counters_that_stay_at_zero_are_accepted(passkeys: Passkeys) -> None:
    authenticator, enrolled = _enrolled(passkeys, SoftAuthenticator(counter=False))
    challenge = passkeys.begin_authentication()

    assertion = _verify(passkeys, challenge, authenticator.get(_options(challenge), origin=ORIGIN), enrolled)

    assert assertion.new_sign_count == 0


@pytest.mark.parametrize(("stored", "forced_before_get"), [(5, 2), (5, 4), (1, -1)], ids=["lower", "equal", "zero"])
def test_a_sign_count_that_does_not_increase_is_refused(
    passkeys: Passkeys, stored: int, forced_before_get: int
) -> None:
    # The authenticator adds one before signing, so forcing `stored - 1` replays the stored count exactly.
    authenticator, enrolled = _enrolled(passkeys)
    assert enrolled.credential_id is not None
    authenticator.set_sign_count(enrolled.credential_id, forced_before_get)
    challenge = passkeys.begin_authentication()
    response = authenticator.get(_options(challenge), origin=ORIGIN)

    with pytest.raises(SignCountRegressed) as caught:
        passkeys.verify_authentication(
            challenge.state, response, credential_public_key_b64=enrolled.data["public_key"], current_sign_count=stored
        )

    assert [problem.pointer for problem in caught.value.problems] == [AUTH_DATA]


def test_a_sign_count_regression_is_only_reported_for_a_good_signature(passkeys: Passkeys) -> None:
    authenticator, enrolled = _enrolled(passkeys)
    challenge = passkeys.begin_authentication()
    response = authenticator.get(_options(challenge), origin=ORIGIN, corrupt_signature=True)

    error = _refused(
        lambda: passkeys.verify_authentication(
            challenge.state, response, credential_public_key_b64=enrolled.data["public_key"], current_sign_count=9
        ),
        SIGNATURE,
    )

    assert not isinstance(error, SignCountRegressed)


def test_a_signature_from_another_credential_is_refused(passkeys: Passkeys) -> None:
    authenticator, first = _enrolled(passkeys)
    _, second = _enrolled(passkeys, authenticator)
    challenge = passkeys.begin_authentication()
    response = authenticator.get(_options(challenge), origin=ORIGIN, credential_id=first.credential_id)

    _refused(lambda: _verify(passkeys, challenge, response, second), SIGNATURE)


@pytest.mark.parametrize(
    ("get", "pointer"),
    [
        ({"corrupt_signature": True}, SIGNATURE),
        ({"challenge": b64url(b"stale")}, CLIENT_DATA),
        ({"client_data_type": "webauthn.create"}, CLIENT_DATA),
        ({"origin": "https://evil.example"}, CLIENT_DATA),
        ({"rp_id_hash": hashlib.sha256(b"evil.example").digest()}, AUTH_DATA),
    ],
    ids=["tampered-signature", "wrong-challenge", "wrong-type", "wrong-origin", "wrong-rp-id-hash"],
)
def test_a_sign_in_that_does_not_match_is_refused(passkeys: Passkeys, get: dict[str, Any], pointer: str) -> None:
    authenticator, enrolled = _enrolled(passkeys)
    challenge = passkeys.begin_authentication()
    origin = get.pop("origin", ORIGIN)
    response = authenticator.get(_options(challenge), origin=origin, **get)

    _refused(lambda: _verify(passkeys, challenge, response, enrolled), pointer)


def test_sign_in_without_user_verification_is_refused_when_required() -> None:
    passkeys = _passkeys(user_verification="required")
    authenticator, enrolled = _enrolled(passkeys)
    strict = _passkeys(user_verification="required", require_user_verification=True)
    authenticator.user_verification = False
    challenge = strict.begin_authentication()
    response = authenticator.get(_options(challenge), origin=ORIGIN)

    _refused(lambda: _verify(strict, challenge, response, enrolled), AUTH_DATA)


def test_a_credential_not_asked_for_is_refused(passkeys: Passkeys) -> None:
    authenticator, enrolled = _enrolled(passkeys)
    challenge = passkeys.begin_authentication(allow=[ExistingCredential(b64url(b"another one"))])
    response = authenticator.get(_options(challenge), origin=ORIGIN, credential_id=enrolled.credential_id)

    _refused(lambda: _verify(passkeys, challenge, response, enrolled), f"{ROOT}/id")


def test_a_discoverable_sign_in_needs_a_user_handle(passkeys: Passkeys) -> None:
    authenticator, enrolled = _enrolled(passkeys)
    challenge = passkeys.begin_authentication()
    response = authenticator.get(_options(challenge), origin=ORIGIN)
    response["response"]["userHandle"] = None

    _refused(lambda: _verify(passkeys, challenge, response, enrolled), USER_HANDLE)


def test_the_user_handle_must_be_the_owners(passkeys: Passkeys) -> None:
    authenticator, enrolled = _enrolled(passkeys)
    challenge = passkeys.begin_authentication()
    response = authenticator.get(_options(challenge), origin=ORIGIN)

    def verify(expected: str) -> Assertion:
        return passkeys.verify_authentication(
            challenge.state,
            response,
            credential_public_key_b64=enrolled.data["public_key"],
            current_sign_count=0,
            expected_user_handle=expected,
        )

    _refused(lambda: verify(b64url(b"somebody else")), USER_HANDLE)
    assert verify(enrolled.data["user_handle"]).user_handle == enrolled.data["user_handle"]


@pytest.mark.parametrize(
    ("mutate", "pointer"),
    [
        (_set("response/authenticatorData", "!!"), AUTH_DATA),
        (_set("response/authenticatorData", b64url(b"short")), AUTH_DATA),
        (_set("response/signature", 7), SIGNATURE),
        (_set("response/userHandle", "*"), USER_HANDLE),
        (_drop("response/signature"), SIGNATURE),
        (_drop("response/authenticatorData"), AUTH_DATA),
        (_set("response", []), "/authn_response/response"),
    ],
)
def test_malformed_sign_ins_are_refused_with_a_pointer(
    passkeys: Passkeys, mutate: Callable[[dict[str, Any]], None], pointer: str
) -> None:
    authenticator, enrolled = _enrolled(passkeys)
    challenge = passkeys.begin_authentication()
    response = authenticator.get(_options(challenge), origin=ORIGIN)
    mutate(response)

    _refused(lambda: _verify(passkeys, challenge, response, enrolled), pointer)


def test_an_enrollment_state_cannot_verify_a_sign_in(passkeys: Passkeys) -> None:
    authenticator, enrolled = _enrolled(passkeys)
    response = authenticator.get(_options(passkeys.begin_authentication()), origin=ORIGIN)

    _refused(lambda: _verify(passkeys, _begin(passkeys), response, enrolled), None)


def test_credential_id_of_refuses_what_is_not_a_credential() -> None:
    _refused(lambda: credential_id_of(["not", "an", "object"]), ROOT)
    _refused(lambda: credential_id_of({"id": "AA", "rawId": "AQ", "type": "public-key", "response": {}}), f"{ROOT}/id")


# User agents, as stored on the passkey.


@pytest.mark.parametrize(
    ("user_agent", "summary"),
    [
        (CHROME_MAC, "Chrome 131.0.0 / Mac OS X 10.15.7"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
            "Edge 131.0.0 / Windows 10",
        ),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox 133.0.0 / Linux"),
        (
            "Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:115.0) Gecko/20100101 Firefox/115.0",
            "Firefox 115.0.0 / Windows 7",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/18.1 Safari/605.1.15",
            "Safari 18.1.0 / Mac OS X 10.15.7",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.5 Mobile/15E148 Safari/604.1",
            "Mobile Safari 17.5.0 / iOS 17.5.0",
        ),
        (
            "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Mobile Safari/537.36",
            "Chrome Mobile 131.0.0 / Android 10.0.0",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chromium/131.0.6778.85 Chrome/131.0.6778.85 Safari/537.36",
            "Chromium 131.0.6778 / Linux",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "HeadlessChrome/156.0.0.0 Safari/537.36",
            "HeadlessChrome 156.0.0 / Linux",
        ),
        (
            "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
            "Chrome Mobile iOS 131.0.6778 / iOS 17.5.0",
        ),
        (
            "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
            "Firefox Mobile 133.0.0 / Android 14.0.0",
        ),
        # Auth0's Swift SDK on iOS: no browser, kept as sent (the Swift fixtures show exactly this).
        ("OAuth2/1 CFNetwork/1568.100.1 Darwin/24.4.0", "OAuth2/1 CFNetwork/1568.100.1 Darwin/24.4.0"),
    ],
)
def test_user_agents_are_summarised_like_auth0(user_agent: str, summary: str) -> None:
    assert summarise(user_agent) == summary


def test_unknown_user_agents_are_kept_but_shortened_and_cleaned() -> None:
    assert summarise("curl/8.5.0") == "curl/8.5.0"
    assert summarise("x" * 500) == "x" * 200
    assert summarise("bot\r\nX-Injected: 1") == "botX-Injected: 1"
    assert summarise(None) is None
    assert summarise("   ") is None
