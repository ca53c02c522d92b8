"""A lean software passkey for the benchmarks: WebAuthn registration responses with `none` attestation.

What a browser returns from `navigator.credentials.create()` as JSON (`PublicKeyCredential.toJSON()`, base64url
strings): `clientDataJSON` (WebAuthn §5.8.1) and an attestation object (§6.5) whose authenticator data is
rpIdHash ‖ flags ‖ signCount ‖ AAGUID ‖ credential id ‖ COSE key (§6.1, §6.5.1). With `none` attestation (§8.7)
nothing is signed, so only clientDataJSON depends on the server's challenge: everything else is bytes put
together before the clock starts, and a response costs the load generator a few microseconds.

`tests/support/soft_authenticator.py` is the full authenticator the test suite uses (sign-in, packed attestation,
negative cases); this one only registers, and is written for speed.
"""

import base64
import hashlib
import os
import uuid
from typing import Any

__all__ = ["GOOGLE_PASSWORD_MANAGER", "SoftPasskeys", "b64url", "cose_es256_keys"]

# The commonest synced passkey provider; its AAGUID gives the stored passkey a name and an icon, as in real use.
GOOGLE_PASSWORD_MANAGER = "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4"

_UP, _UV, _BE, _BS, _AT = 0x01, 0x04, 0x08, 0x10, 0x40
_CREDENTIAL_ID_BYTES = 16


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _cbor_bytes_header(length: int) -> bytes:
    """RFC 8949 §3.1 major type 2 (byte string) head for `length`."""
    if length < 24:
        return bytes([0x40 | length])
    if length < 0x100:
        return bytes([0x58, length])
    return bytes([0x59]) + length.to_bytes(2, "big")


def cose_es256_keys(count: int) -> list[bytes]:
    """`count` fresh P-256 public keys as COSE EC2 keys (RFC 9053 §7.1.1: kty 2, alg -7 ES256, crv 1, x, y)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    keys = []
    for _ in range(count):
        numbers = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
        # Canonical CTAP2 order: 1, 3, -1, -2, -3 (CBOR: 01 02 | 03 26 | 20 01 | 21 bstr(32) | 22 bstr(32)).
        keys.append(
            b"\xa5\x01\x02\x03\x26\x20\x01\x21\x58\x20"
            + numbers.x.to_bytes(32, "big")
            + b"\x22\x58\x20"
            + numbers.y.to_bytes(32, "big")
        )
    return keys


class SoftPasskeys:
    """Registration responses for one RP and origin, each with a new random credential id.

    Public keys come from `keys` in turn (see `cose_es256_keys`): the server needs each credential id to be
    new, not each key, and making an EC key per enrollment would cost the load generator CPU the server needs.
    The defaults answer as a synced passkey of the commonest provider does (BE and BS flags, its AAGUID).
    """

    def __init__(
        self,
        *,
        rp_id: str,
        origin: str,
        keys: list[bytes],
        aaguid: str = GOOGLE_PASSWORD_MANAGER,
        synced: bool = True,
        transports: tuple[str, ...] = ("hybrid", "internal"),
    ) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self.keys = keys
        self.transports = list(transports)
        flags = _UP | _UV | _AT | ((_BE | _BS) if synced else 0)
        prefix = hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + (0).to_bytes(4, "big")
        self._auth_data_prefix = prefix + uuid.UUID(aaguid).bytes + _CREDENTIAL_ID_BYTES.to_bytes(2, "big")
        self._client_data_tail = f'","origin":"{origin}","crossOrigin":false}}'.encode()
        self._next = 0

    def attestation_object(self, credential_id: bytes, key: bytes) -> bytes:
        """CBOR {"fmt": "none", "attStmt": {}, "authData": …} (§6.5.4), written directly."""
        auth_data = self._auth_data_prefix + credential_id + key
        return b"\xa3\x63fmt\x64none\x67attStmt\xa0\x68authData" + _cbor_bytes_header(len(auth_data)) + auth_data

    def client_data(self, challenge: str) -> bytes:
        """CollectedClientData (§5.8.1) serialised as browsers do: compact, `type` first."""
        return b'{"type":"webauthn.create","challenge":"' + challenge.encode("ascii") + self._client_data_tail

    def create(self, options: dict[str, Any]) -> dict[str, Any]:
        """RegistrationResponseJSON answering PublicKeyCredentialCreationOptionsJSON `options` (its challenge)."""
        key = self.keys[self._next % len(self.keys)]
        self._next += 1
        credential_id = os.urandom(_CREDENTIAL_ID_BYTES)
        encoded_id = b64url(credential_id)
        return {
            "id": encoded_id,
            "rawId": encoded_id,
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(self.client_data(options["challenge"])),
                "attestationObject": b64url(self.attestation_object(credential_id, key)),
                "transports": self.transports,
            },
        }
