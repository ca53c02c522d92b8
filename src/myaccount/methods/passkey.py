"""Passkeys: the WebAuthn Level 3 registration (§7.1) and authentication (§7.2) ceremonies, in Auth0's JSON shapes.

py_webauthn does the cryptography and the attestation formats (none, packed, tpm, android-key, apple, fido-u2f).
Before handing a response to it we parse every field ourselves, strictly, and run the checks the spec lists in
its order, so each failure names the part of the request that is wrong (`/authn_response/response/…`): the
library's own messages do not say which field they are about, and its base64url decoder skips invalid characters.
"""

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from webauthn import verify_authentication_response, verify_registration_response
from webauthn.helpers import parse_attestation_object, parse_authenticator_data
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationFormat,
    AttestationObject,
    AuthenticationCredential,
    AuthenticatorAssertionResponse,
    AuthenticatorAttestationResponse,
    AuthenticatorData,
    RegistrationCredential,
)

from myaccount.methods import authenticators, user_agents
from myaccount.methods.base import Challenge, Enrolled, FieldProblem, MethodError, MethodType, Subject

__all__ = ["Assertion", "ExistingCredential", "Passkeys", "SignCountRegressed", "credential_id_of"]

# The algorithms Auth0 offers, in its order: Ed25519, P-256, RSA PKCS#1 v1.5 (§5.4 pubKeyCredParams).
_ALGORITHMS = (
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
)
_USER_VERIFICATION = ("required", "preferred", "discouraged")
_CREATE = "webauthn.create"
_GET = "webauthn.get"
_CHALLENGE_BYTES = 32  # §13.4.3: at least 16 random bytes
_MAX_USER_HANDLE = 64  # §5.4.3 user.id: at most 64 bytes
_MAX_CREDENTIAL_ID = 1023  # §7.1: longer credential ids must be refused
# A bound on any one base64url field, so a hostile body cannot make us decode and parse megabytes. A TPM attestation
# with its certificate chain is a few KiB.
_MAX_FIELD_CHARS = 32_768
_MAX_TRANSPORTS = 8
_B64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")

_ROOT = "/authn_response"
_RESPONSE = f"{_ROOT}/response"
_CLIENT_DATA = f"{_RESPONSE}/clientDataJSON"
_ATTESTATION_OBJECT = f"{_RESPONSE}/attestationObject"
_AUTHENTICATOR_DATA = f"{_RESPONSE}/authenticatorData"
_SIGNATURE = f"{_RESPONSE}/signature"
_USER_HANDLE = f"{_RESPONSE}/userHandle"


@dataclass(frozen=True, slots=True)
class ExistingCredential:
    """A credential the user already has: listed in excludeCredentials (enrolling) or allowCredentials (signing in)."""

    credential_id: str  # base64url
    transports: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class Assertion:
    """A verified sign-in (§7.2): store `new_sign_count` and `backed_up` on the credential."""

    credential_id: str  # base64url
    new_sign_count: int
    backed_up: bool
    user_verified: bool
    user_handle: str | None  # base64url, as the authenticator returned it


class SignCountRegressed(MethodError):
    """§6.1.1: the signature counter did not move forward, a sign that the authenticator may have been cloned."""


def credential_id_of(authn_response: object) -> str:
    """The base64url credential id of a response, to find the stored credential before verifying (§7.2)."""
    raw_id, _ = _envelope(authn_response)
    return _b64url(raw_id)


class Passkeys:
    """Passkeys (Auth0 type `passkey`): discoverable WebAuthn credentials used as a primary sign-in method."""

    type = MethodType.PASSKEY

    def __init__(
        self,
        *,
        rp_id: str,
        rp_name: str,
        origins: list[str],
        timeout_ms: int = 60000,
        user_verification: str = "preferred",
        require_user_verification: bool = False,
    ) -> None:
        if not rp_id or rp_id != rp_id.lower() or any(c in rp_id for c in ":/ "):
            raise ValueError("the RP ID must be a lower-case host name, without scheme or port (§5.1.3)")
        if not origins:
            raise ValueError("at least one origin is needed")
        for origin in origins:
            _check_origin(origin, rp_id)
        if user_verification not in _USER_VERIFICATION:
            raise ValueError(f"user_verification must be one of {', '.join(_USER_VERIFICATION)}")
        if timeout_ms <= 0:
            raise ValueError("timeout_ms must be positive")
        self.rp_id = rp_id
        self.rp_name = rp_name
        self.origins = list(origins)
        self.timeout_ms = timeout_ms
        self.user_verification = user_verification
        self.require_user_verification = require_user_verification

    def begin(
        self, subject: Subject, *, display_name: str, user_name: str, exclude: Sequence[ExistingCredential]
    ) -> Challenge:
        """PublicKeyCredentialCreationOptionsJSON (§5.1.3, §5.4) for a discoverable credential, as Auth0 sends it."""
        handle = subject.webauthn_user_handle
        if not 1 <= len(handle) <= _MAX_USER_HANDLE:
            raise ValueError("a WebAuthn user handle is 1 to 64 bytes (§5.4.3)")
        challenge = _b64url(secrets.token_bytes(_CHALLENGE_BYTES))
        options: dict[str, Any] = {
            "challenge": challenge,
            "rp": {"id": self.rp_id, "name": self.rp_name},
            "user": {"id": _b64url(handle), "name": user_name, "displayName": display_name},
            "pubKeyCredParams": [{"type": "public-key", "alg": int(alg)} for alg in _ALGORITHMS],
            # Auth0's SDKs decode authenticatorSelection and timeout as non-optional, so both are always sent.
            "authenticatorSelection": {"residentKey": "required", "userVerification": self.user_verification},
            "timeout": self.timeout_ms,
        }
        if exclude:
            options["excludeCredentials"] = [_descriptor(credential) for credential in exclude]
        state = {"ceremony": _CREATE, "challenge": challenge, "user_handle": _b64url(handle), "rp_id": self.rp_id}
        return Challenge(public={"authn_params_public_key": options}, state=state)

    def complete(self, state: Mapping[str, Any], authn_response: object, *, user_agent: str | None) -> Enrolled:
        """Verify a registration response (§7.1) and return what to store about the new credential.

        `authn_response` is the request's JSON as parsed, unchecked: anything that is not a registration
        response is refused with a pointer to where it goes wrong.

        Raises:
            MethodError: with a `FieldProblem` pointing into the request body at what failed.
        """
        challenge, rp_id = _read_state(state, _CREATE)
        user_handle = state.get("user_handle")
        if not isinstance(user_handle, str) or not user_handle:
            raise MethodError("The enrollment state holds no user handle.")

        raw_id, response = _envelope(authn_response)
        client_data = _b64url_field(response, "clientDataJSON", _CLIENT_DATA)
        attestation_object = _b64url_field(response, "attestationObject", _ATTESTATION_OBJECT)
        transports = _transports(response.get("transports"))

        self._check_client_data(client_data, ceremony=_CREATE, challenge=challenge)
        parsed = _parse_attestation_object(attestation_object)
        auth_data = parsed.auth_data
        self._check_authenticator_data(auth_data, rp_id, pointer=_ATTESTATION_OBJECT)
        attested = auth_data.attested_credential_data
        if not auth_data.flags.at or attested is None:
            raise _problem("authenticatorData has no attested credential data.", _ATTESTATION_OBJECT)
        if len(attested.credential_id) > _MAX_CREDENTIAL_ID:
            raise _problem("The credential id is longer than 1023 bytes.", _ATTESTATION_OBJECT)
        if not hmac.compare_digest(attested.credential_id, raw_id):
            raise _problem("rawId is not the credential id in attestationObject.", f"{_ROOT}/rawId")

        # py_webauthn repeats the checks above; what it adds is the public key algorithm (it must be one we offered)
        # and the attestation statement. Our own credential struct spares it a second, lenient, decode.
        credential = RegistrationCredential(
            id=_b64url(raw_id),
            raw_id=raw_id,
            response=AuthenticatorAttestationResponse(
                client_data_json=client_data, attestation_object=attestation_object
            ),
        )
        try:
            verified = verify_registration_response(
                credential=credential,
                expected_challenge=challenge,
                expected_rp_id=rp_id,
                expected_origin=self.origins,
                require_user_verification=self.require_user_verification,
                supported_pub_key_algs=list(_ALGORITHMS),
            )
        except WebAuthnException as exc:
            raise _problem(f"The attestation did not verify: {exc}", _ATTESTATION_OBJECT) from exc
        except Exception as exc:
            # The format verifiers index CBOR maps and load certificates without wrapping every builtin error
            # (python-fido2 guards the same spot with its `catch_builtins`); any of those means a bad attestation.
            raise _problem("The attestation statement is malformed.", _ATTESTATION_OBJECT) from exc

        aaguid = verified.aaguid
        found = authenticators.describe(aaguid)
        key_id = _b64url(verified.credential_id)
        return Enrolled(
            name=found.name if found else None,
            credential_id=key_id,
            data={
                "key_id": key_id,
                # Standard base64 with padding: Auth0's Swift SDK decodes it with Data(base64Encoded:).
                "public_key": base64.b64encode(verified.credential_public_key).decode("ascii"),
                "user_handle": user_handle,
                "aaguid": aaguid,
                "credential_device_type": verified.credential_device_type.value,
                "credential_backed_up": verified.credential_backed_up,
                "transports": transports,
                "user_agent": user_agents.summarise(user_agent),
                "relying_party_id": rp_id,
                "sign_count": verified.sign_count,
                "backup_eligible": auth_data.flags.be,
                "attestation_format": AttestationFormat(verified.fmt).value,
            },
        )

    def begin_authentication(self, *, allow: Sequence[ExistingCredential] = ()) -> Challenge:
        """PublicKeyCredentialRequestOptionsJSON (§5.5) as Auth0's `/passkey/challenge` sends it.

        Without `allow` the ceremony is for a discoverable credential: the response's userHandle names the user.
        """
        challenge = _b64url(secrets.token_bytes(_CHALLENGE_BYTES))
        options: dict[str, Any] = {
            "challenge": challenge,
            "timeout": self.timeout_ms,
            "rpId": self.rp_id,
            "userVerification": self.user_verification,
        }
        if allow:
            options["allowCredentials"] = [_descriptor(credential) for credential in allow]
        state = {
            "ceremony": _GET,
            "challenge": challenge,
            "rp_id": self.rp_id,
            "allow": [credential.credential_id for credential in allow],
        }
        return Challenge(public={"authn_params_public_key": options}, state=state)

    def verify_authentication(
        self,
        state: Mapping[str, Any],
        authn_response: object,
        *,
        credential_public_key_b64: str,
        current_sign_count: int,
        expected_user_handle: str | None = None,
    ) -> Assertion:
        """Verify an authentication response (§7.2) against the stored credential.

        `credential_public_key_b64` is the stored `public_key` (standard base64 COSE key); `expected_user_handle`,
        when given, is the stored user handle the response's userHandle must match (step 6).

        Raises:
            SignCountRegressed: the counter did not increase (§6.1.1); the signature itself was good.
            MethodError: any other failure, with a `FieldProblem` pointing into the request body.
        """
        challenge, rp_id = _read_state(state, _GET)
        allow = state.get("allow", [])
        if not isinstance(allow, list) or not all(isinstance(item, str) for item in allow):
            raise MethodError("The sign-in state is malformed.")
        # Compared as bytes, so a stored id with padding or in another base64url spelling still matches.
        allowed = {_decode_b64url(item) for item in allow} - {None}
        try:
            public_key = base64.b64decode(credential_public_key_b64, validate=True)
        except (binascii.Error, ValueError, TypeError) as exc:
            raise MethodError("The stored passkey public key is not valid base64.") from exc

        raw_id, response = _envelope(authn_response)
        credential_id = _b64url(raw_id)
        if allow and raw_id not in allowed:  # step 5
            raise _problem("This credential was not one of those asked for.", f"{_ROOT}/id")
        client_data = _b64url_field(response, "clientDataJSON", _CLIENT_DATA)
        authenticator_data = _b64url_field(response, "authenticatorData", _AUTHENTICATOR_DATA)
        signature = _b64url_field(response, "signature", _SIGNATURE)
        user_handle = self._user_handle(response, expected=expected_user_handle, discoverable=not allow)

        self._check_client_data(client_data, ceremony=_GET, challenge=challenge)
        try:
            auth_data = parse_authenticator_data(authenticator_data)
        except Exception as exc:  # py_webauthn raises its own errors and, on short input, builtins
            raise _problem("authenticatorData is malformed.", _AUTHENTICATOR_DATA) from exc
        self._check_authenticator_data(auth_data, rp_id, pointer=_AUTHENTICATOR_DATA)

        credential = AuthenticationCredential(
            id=credential_id,
            raw_id=raw_id,
            response=AuthenticatorAssertionResponse(
                client_data_json=client_data,
                authenticator_data=authenticator_data,
                signature=signature,
                user_handle=user_handle,
            ),
        )
        try:
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=challenge,
                expected_rp_id=rp_id,
                expected_origin=self.origins,
                credential_public_key=public_key,
                # Zero turns py_webauthn's counter check off: we check after the signature, in the spec's order,
                # so a regression is reported only for a response the credential really signed.
                credential_current_sign_count=0,
                require_user_verification=self.require_user_verification,
            )
        except Exception as exc:  # the checks left to the library are the key and the signature
            raise _problem("The signature does not verify with this credential's public key.", _SIGNATURE) from exc

        new_count = verified.new_sign_count
        if (new_count or current_sign_count) and new_count <= current_sign_count:
            detail = f"The signature counter went from {current_sign_count} to {new_count}; it must increase."
            raise SignCountRegressed(
                detail, problems=(FieldProblem(detail=detail, pointer=_AUTHENTICATOR_DATA, field="authenticatorData"),)
            )
        return Assertion(
            credential_id=credential_id,
            new_sign_count=new_count,
            backed_up=verified.credential_backed_up,
            user_verified=verified.user_verified,
            user_handle=None if user_handle is None else _b64url(user_handle),
        )

    def _check_client_data(self, raw: bytes, *, ceremony: str, challenge: bytes) -> None:
        """§7.1 and §7.2, on the client data: type, challenge, origin, and no cross-origin embedding."""
        try:
            # UTF-8 by hand: given bytes, json.loads would also guess UTF-16 and UTF-32.
            data = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError) as exc:
            raise _problem("clientDataJSON is not JSON text.", _CLIENT_DATA) from exc
        if not isinstance(data, dict):
            raise _problem("clientDataJSON is not a JSON object.", _CLIENT_DATA)
        if data.get("type") != ceremony:
            raise _problem(f"clientDataJSON.type must be {ceremony}.", _CLIENT_DATA)
        sent = data.get("challenge")
        decoded = _decode_b64url(sent) if isinstance(sent, str) else None
        if decoded is None or not hmac.compare_digest(decoded, challenge):
            raise _problem("clientDataJSON.challenge is not the challenge of this session.", _CLIENT_DATA)
        if data.get("origin") not in self.origins:
            raise _problem("clientDataJSON.origin is not an origin of this server.", _CLIENT_DATA)
        # We never expect a ceremony inside a cross-origin iframe, so a top origin is refused (§7.1, §7.2 topOrigin).
        if data.get("crossOrigin") is True or "topOrigin" in data:
            raise _problem("The ceremony ran in a cross-origin frame.", _CLIENT_DATA)

    def _check_authenticator_data(self, auth_data: AuthenticatorData, rp_id: str, *, pointer: str) -> None:
        """§7.1 and §7.2, on authenticator data (§6.1): RP ID hash, user presence and verification, backup flags."""
        expected = hashlib.sha256(rp_id.encode("utf-8")).digest()
        if not hmac.compare_digest(auth_data.rp_id_hash, expected):
            raise _problem(f"The authenticator data is for another RP ID than {rp_id}.", pointer)
        if not auth_data.flags.up:
            raise _problem("The authenticator did not report user presence.", pointer)
        if self.require_user_verification and not auth_data.flags.uv:
            raise _problem("User verification is required but the authenticator did not verify the user.", pointer)
        if auth_data.flags.bs and not auth_data.flags.be:
            raise _problem("The credential claims a backup but is not backup eligible.", pointer)

    @staticmethod
    def _user_handle(response: Mapping[str, Any], *, expected: str | None, discoverable: bool) -> bytes | None:
        """§7.2 step 6: a discoverable credential must name its user, and any user handle must be the owner's."""
        value = response.get("userHandle")
        if value is None or value == "":
            if discoverable:
                raise _problem("userHandle is required to sign in with a discoverable credential.", _USER_HANDLE)
            return None
        handle = _b64url_field(response, "userHandle", _USER_HANDLE)
        owner = None if expected is None else _decode_b64url(expected)
        if expected is not None and (owner is None or not hmac.compare_digest(handle, owner)):
            raise _problem("userHandle is not the handle of this credential's user.", _USER_HANDLE)
        return handle


def _check_origin(origin: str, rp_id: str) -> None:
    """§5.1.3: the RP ID must be the origin's host or a registrable suffix of it; https except on localhost.

    Other schemes (an Android app's `android:apk-key-hash:…`) are compared as given.
    """
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https"):
        if not parts.scheme:
            raise ValueError(f"origin {origin!r} has no scheme")
        return
    host = parts.hostname or ""
    if host != rp_id and not host.endswith(f".{rp_id}"):
        raise ValueError(f"origin {origin!r} is not within the RP ID {rp_id!r}")
    if parts.scheme == "http" and host != "localhost" and not host.endswith(".localhost"):
        raise ValueError(f"origin {origin!r} must use https")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"origin {origin!r} must be scheme://host[:port] only")


def _read_state(state: Mapping[str, Any], ceremony: str) -> tuple[bytes, str]:
    """The challenge and RP ID our own `begin` put in the state, which must be for this ceremony."""
    if not isinstance(state, Mapping) or state.get("ceremony") != ceremony:
        raise MethodError("The session state is not for this WebAuthn ceremony.")
    challenge = state.get("challenge")
    rp_id = state.get("rp_id")
    decoded = _decode_b64url(challenge) if isinstance(challenge, str) else None
    if not decoded or not isinstance(rp_id, str) or not rp_id:
        raise MethodError("The session state is malformed.")
    return decoded, rp_id


def _envelope(authn_response: object) -> tuple[bytes, Mapping[str, Any]]:
    """The PublicKeyCredential JSON around a response (§5.1): id equal to rawId, type public-key."""
    if not isinstance(authn_response, Mapping):
        raise _problem("authn_response must be a JSON object.", _ROOT)
    raw_id = _b64url_field(authn_response, "rawId", f"{_ROOT}/rawId")
    if not raw_id:
        raise _problem("rawId is empty.", f"{_ROOT}/rawId")
    if _b64url_field(authn_response, "id", f"{_ROOT}/id") != raw_id:
        raise _problem("id is not the same credential id as rawId.", f"{_ROOT}/id")
    if authn_response.get("type") != "public-key":
        raise _problem('type must be "public-key".', f"{_ROOT}/type")
    response = authn_response.get("response")
    if not isinstance(response, Mapping):
        raise _problem("response must be a JSON object.", _RESPONSE)
    return raw_id, response


def _parse_attestation_object(raw: bytes) -> AttestationObject:
    try:
        parsed = parse_attestation_object(raw)
    except Exception as exc:  # py_webauthn's own errors, and builtins from authData that is too short or not bytes
        raise _problem("attestationObject is not a valid CBOR attestation object.", _ATTESTATION_OBJECT) from exc
    if not isinstance(parsed.fmt, str):
        raise _problem("attestationObject.fmt must be a string.", _ATTESTATION_OBJECT)
    return parsed


def _transports(value: object) -> list[str]:
    """§5.2.1 getTransports(): kept as sent, for excludeCredentials and allowCredentials hints later."""
    if value is None:
        return []
    pointer = f"{_RESPONSE}/transports"
    if not isinstance(value, list) or len(value) > _MAX_TRANSPORTS:
        raise _problem("transports must be a short list of strings.", pointer)
    if not all(isinstance(item, str) and 0 < len(item) <= 32 for item in value):
        raise _problem("transports must be a short list of strings.", pointer)
    return list(dict.fromkeys(value))


def _descriptor(credential: ExistingCredential) -> dict[str, Any]:
    """PublicKeyCredentialDescriptorJSON (§5.8.3); transports only when known."""
    descriptor: dict[str, Any] = {"id": credential.credential_id, "type": "public-key"}
    if credential.transports:
        descriptor["transports"] = list(credential.transports)
    return descriptor


def _b64url_field(container: Mapping[str, Any], key: str, pointer: str) -> bytes:
    if key not in container or container[key] is None:
        raise _problem(f"{key} is missing.", pointer)
    value = container[key]
    if not isinstance(value, str):
        raise _problem(f"{key} must be a base64url string.", pointer)
    if len(value) > _MAX_FIELD_CHARS:
        raise _problem(f"{key} is too long.", pointer)
    decoded = _decode_b64url(value)
    if decoded is None:
        raise _problem(f"{key} is not valid base64url.", pointer)
    return decoded


def _decode_b64url(value: str) -> bytes | None:
    """RFC 4648 §5 without padding, as WebAuthn's JSON uses it; trailing `=` tolerated, anything else refused."""
    if not _B64URL.fullmatch(value):
        return None
    bare = value.rstrip("=")
    if len(bare) % 4 == 1:
        return None
    try:
        return base64.urlsafe_b64decode(bare + "=" * (-len(bare) % 4))
    except (binascii.Error, ValueError):
        return None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _problem(detail: str, pointer: str) -> MethodError:
    return MethodError(detail, problems=(FieldProblem(detail=detail, pointer=pointer, field=pointer.rsplit("/")[-1]),))
