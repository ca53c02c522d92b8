"""A software WebAuthn authenticator and client in one, for tests.

It answers the JSON options our server sends with the JSON a browser's `PublicKeyCredential.toJSON()` gives
(WebAuthn Level 3 §5.1, base64url strings), building what a CTAP2 authenticator would: authenticator data
rpIdHash ‖ flags ‖ signCount ‖ attested credential data (§6.1, §6.5.1), an ES256 key (COSE, RFC 9053), and
`none` (§8.7) or `packed` self attestation (§8.2). Negative tests override what a real browser would never send.
"""

import base64
import hashlib
import json
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["ExcludedCredentialError", "SoftAuthenticator", "SoftCredential", "b64url", "unb64url"]

ZERO_AAGUID = "00000000-0000-0000-0000-000000000000"

# Flags byte of authenticator data (§6.1).
UP = 0x01
UV = 0x04
BE = 0x08
BS = 0x10
AT = 0x40

_ES256 = -7

Attestation = Literal["none", "packed"]


class ExcludedCredentialError(Exception):
    """The authenticator already holds a credential listed in excludeCredentials (§6.3.2 step 3: InvalidStateError)."""


@dataclass
class SoftCredential:
    credential_id: bytes
    private_key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def cose_es256(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """RFC 9053 §7.1.1 EC2 key: kty 2, alg -7, crv 1 (P-256), x, y; canonical CTAP2 key order."""
    numbers = public_key.public_numbers()
    key = {1: 2, 3: _ES256, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
    return cbor2.dumps(key, canonical=True)


class SoftAuthenticator:
    """A platform authenticator holding discoverable ES256 credentials.

    `counter=False` keeps every signature counter at 0, as synced passkey providers do (§6.1.1).
    """

    def __init__(
        self,
        *,
        aaguid: str = ZERO_AAGUID,
        user_verification: bool = True,
        backup_eligible: bool = False,
        backed_up: bool = False,
        attestation: Attestation = "none",
        counter: bool = True,
        transports: tuple[str, ...] = ("internal",),
        attachment: str = "platform",
    ) -> None:
        self.aaguid = uuid.UUID(aaguid).bytes
        self.user_verification = user_verification
        self.backup_eligible = backup_eligible
        self.backed_up = backed_up
        self.attestation: Attestation = attestation
        self.counter = counter
        self.transports = transports
        self.attachment = attachment
        self.credentials: dict[bytes, SoftCredential] = {}

    def create(
        self,
        options_json: Mapping[str, Any],
        *,
        origin: str,
        rp_id: str | None = None,
        attestation: Attestation | None = None,
        client_data_type: str = "webauthn.create",
        challenge: str | None = None,
        client_data_extra: Mapping[str, Any] | None = None,
        rp_id_hash: bytes | None = None,
        corrupt_signature: bool = False,
    ) -> dict[str, Any]:
        """navigator.credentials.create() (§5.1.3) answered by authenticatorMakeCredential (§6.3.2), as JSON.

        `options_json` is PublicKeyCredentialCreationOptionsJSON. The keyword arguments after `rp_id` exist for
        negative tests: a different clientDataJSON type or challenge, extra clientDataJSON members, another
        rpIdHash, and (packed only) a signature that does not verify.
        """
        rp_id = rp_id or options_json.get("rp", {}).get("id") or _host(origin)
        algs = [param.get("alg") for param in options_json.get("pubKeyCredParams", [])]
        if algs and _ES256 not in algs:
            raise ValueError("this authenticator only makes ES256 credentials")
        for excluded in options_json.get("excludeCredentials", []):
            if unb64url(excluded["id"]) in self.credentials:
                raise ExcludedCredentialError(excluded["id"])

        private_key = ec.generate_private_key(ec.SECP256R1())
        credential = SoftCredential(
            credential_id=secrets.token_bytes(16),
            private_key=private_key,
            rp_id=rp_id,
            user_handle=unb64url(options_json["user"]["id"]),
        )
        self.credentials[credential.credential_id] = credential

        attested = self.aaguid + len(credential.credential_id).to_bytes(2, "big") + credential.credential_id
        attested += cose_es256(private_key.public_key())
        auth_data = self._authenticator_data(credential, rp_id_hash=rp_id_hash, extra_flags=AT) + attested
        client_data = self._client_data(
            client_data_type, challenge or options_json["challenge"], origin, client_data_extra
        )

        fmt = attestation or self.attestation
        statement: dict[str, Any] = {}
        if fmt == "packed":
            # §8.2 self attestation: no x5c, signed by the credential key itself.
            signature = _sign(private_key, auth_data + hashlib.sha256(client_data).digest())
            statement = {"alg": _ES256, "sig": _corrupt(signature) if corrupt_signature else signature}
        attestation_object = cbor2.dumps({"fmt": fmt, "attStmt": statement, "authData": auth_data})

        return {
            "id": b64url(credential.credential_id),
            "rawId": b64url(credential.credential_id),
            "type": "public-key",
            "authenticatorAttachment": self.attachment,
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation_object),
                "transports": list(self.transports),
            },
        }

    def get(
        self,
        options_json: Mapping[str, Any],
        *,
        origin: str,
        rp_id: str | None = None,
        credential_id: str | None = None,
        client_data_type: str = "webauthn.get",
        challenge: str | None = None,
        rp_id_hash: bytes | None = None,
        corrupt_signature: bool = False,
    ) -> dict[str, Any]:
        """navigator.credentials.get() (§5.1.4) answered by authenticatorGetAssertion (§6.3.3), as JSON.

        The credential is `credential_id` if given, else the first of allowCredentials this authenticator holds,
        else the first it holds for the RP ID (a discoverable credential).
        """
        rp_id = rp_id or options_json.get("rpId") or _host(origin)
        credential = self._pick(rp_id, credential_id, options_json.get("allowCredentials", []))
        if self.counter:
            credential.sign_count += 1
        auth_data = self._authenticator_data(credential, rp_id_hash=rp_id_hash, extra_flags=0)
        client_data = self._client_data(client_data_type, challenge or options_json["challenge"], origin, None)
        signature = _sign(credential.private_key, auth_data + hashlib.sha256(client_data).digest())
        return {
            "id": b64url(credential.credential_id),
            "rawId": b64url(credential.credential_id),
            "type": "public-key",
            "authenticatorAttachment": self.attachment,
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(_corrupt(signature) if corrupt_signature else signature),
                "userHandle": b64url(credential.user_handle),
            },
        }

    def set_sign_count(self, credential_id: str, value: int) -> None:
        """Force a credential's counter, e.g. below what the server stored, to play a cloned authenticator."""
        self.credentials[unb64url(credential_id)].sign_count = value

    def _pick(self, rp_id: str, credential_id: str | None, allow: list[dict[str, Any]]) -> SoftCredential:
        if credential_id is not None:
            return self.credentials[unb64url(credential_id)]
        wanted = [unb64url(item["id"]) for item in allow]
        for candidate in self.credentials.values():
            if candidate.rp_id == rp_id and (not wanted or candidate.credential_id in wanted):
                return candidate
        raise LookupError(f"no credential for {rp_id}")

    def _authenticator_data(self, credential: SoftCredential, *, rp_id_hash: bytes | None, extra_flags: int) -> bytes:
        flags = UP | extra_flags
        if self.user_verification:
            flags |= UV
        if self.backup_eligible:
            flags |= BE
        if self.backed_up:
            flags |= BS
        rp_hash = rp_id_hash if rp_id_hash is not None else hashlib.sha256(credential.rp_id.encode()).digest()
        return rp_hash + bytes([flags]) + credential.sign_count.to_bytes(4, "big")

    @staticmethod
    def _client_data(kind: str, challenge: str, origin: str, extra: Mapping[str, Any] | None) -> bytes:
        """CollectedClientData (§5.8.1) serialised the way browsers do: compact, type first."""
        data: dict[str, Any] = {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}
        data.update(extra or {})
        return json.dumps(data, separators=(",", ":")).encode()


def _sign(private_key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """ES256 as WebAuthn carries it: an ASN.1 DER ECDSA signature (§6.5.5)."""
    return private_key.sign(data, ec.ECDSA(hashes.SHA256()))


def _corrupt(signature: bytes) -> bytes:
    return signature[:-1] + bytes([signature[-1] ^ 0x01])


def _host(origin: str) -> str:
    return urlsplit(origin).hostname or ""
