"""Push-notification devices and challenges: the server side of the protocol in `methods/push.py`.

- `enroll_device`: a device posts the ticket from the enrollment QR code with its public key. The push method
  (still unconfirmed) gets `data["device"]`, and the user's `verify` in My Account then confirms it
  (contracts/auth0-wire-notes.md §3.6: push verify carries only `auth_session`).
- `authenticate_device`: checks the `Authorization: Device <jwt>` proof of every later device request.
- `create_challenge` / `challenge_status` / `get_challenge`: for sign-in (MFA), a challenge any of the user's
  confirmed devices may answer within `CHALLENGE_TTL`.
- `pending_challenges` / `answer_challenge`: the device's side of a challenge.

Every refusal is a `Problem`, so the HTTP layer renders it as JSON with the right status.
"""

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.exc import IntegrityError

from myaccount.audit import Caller, record
from myaccount.core import Core
from myaccount.errors import BadRequest, Conflict, FieldError, Forbidden, NotFound, Problem, Unauthorized
from myaccount.ids import alnum
from myaccount.methods import push as protocol
from myaccount.methods.base import MethodType
from myaccount.store.clients import ClientStore
from myaccount.store.methods import MethodRecord, MethodStore
from myaccount.store.push import PushChallenge, PushStore
from myaccount.store.users import UserStore
from myaccount.timefmt import iso_ms

__all__ = [
    "CHALLENGE_TTL",
    "ChallengeAnswered",
    "ChallengeExpired",
    "Device",
    "NoPushDevice",
    "answer_challenge",
    "authenticate_device",
    "challenge_status",
    "create_challenge",
    "enroll_device",
    "get_challenge",
    "pending_challenges",
]

CHALLENGE_TTL = timedelta(minutes=2)
_KEEP_ANSWERED = timedelta(days=1)  # answered and expired challenges are pruned this long after expiry
MAX_TOKEN = 4096
_TICKET_ERROR = "The enrollment ticket is invalid, expired or already used. Start the enrollment again."
_AUTH_HEADERS = {"www-authenticate": 'Device realm="push"'}
_CHALLENGE_ID = re.compile(r"pch_[A-Za-z0-9]{24}")


class ChallengeAnswered(Conflict):
    title = "Challenge already answered"


class ChallengeExpired(Problem):
    """410: the challenge existed but can no longer be answered; the sign-in must ask again."""

    status = 410
    type = "https://auth0.com/api-errors/A0E-410-0001"
    title = "Gone"


class NoPushDevice(BadRequest):
    title = "No push device"


@dataclass(frozen=True, slots=True)
class Device:
    method_id: str
    user_id: str
    name: str | None
    jkt: str
    confirmed: bool
    public_key: ec.EllipticCurvePublicKey


def _invalid(detail: str, pointer: str | None = None) -> BadRequest:
    field = pointer.strip("/").split("/")[0] if pointer else None
    errors = [FieldError(detail=detail, pointer=pointer, field=field)] if pointer else []
    return BadRequest(detail, validation_errors=errors)


def _unauthorized(detail: str) -> Unauthorized:
    return Unauthorized(detail, headers=_AUTH_HEADERS)


def _device_name(value: object) -> str:
    if value is None:
        return "myaccount authenticator"
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise _invalid("device_name must be 1 to 200 characters.", "/device_name")
    if any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in value):
        raise _invalid("device_name must not contain control characters.", "/device_name")
    return value.strip()


# enrollment


def enroll_device(core: Core, body: object, caller: Caller) -> dict[str, str]:
    """Attach a device key to the push method whose ticket the device read from the QR code.

    The ticket is single-use (it is replaced by the device key in one conditional UPDATE) and lives as long as
    the enrollment's `auth_session`: `settings.auth_session_ttl` from the method's creation, the same instant
    the session was opened in `MyAccount._start_push`.
    """
    if not isinstance(body, dict):
        raise _invalid("The request body must be a JSON object.")
    extra = sorted(set(body) - {"enrollment_tx_id", "device_name", "public_key"})
    if extra:
        raise _invalid(f"Unexpected property: {extra[0]}", f"/{extra[0]}")
    ticket = body.get("enrollment_tx_id")
    if not isinstance(ticket, str) or not 0 < len(ticket) <= 128:
        raise _invalid("enrollment_tx_id is required: the ticket from the enrollment URI.", "/enrollment_tx_id")
    name = _device_name(body.get("device_name"))
    if "public_key" not in body:
        raise _invalid("public_key is required: the device's P-256 public key as a JWK.", "/public_key")
    try:
        _key, jwk = protocol.load_public_jwk(body["public_key"])
    except protocol.InvalidKey as exc:
        raise _invalid(str(exc), "/public_key") from exc
    jkt = protocol.thumbprint(jwk)
    ticket_key = protocol.ticket_key(ticket, core.fingerprint)
    now = core.clock.now()
    try:
        with core.db.write() as conn:
            methods = MethodStore(conn)
            pending = methods.by_credential_id(ticket_key)
            if (
                pending is None
                or pending.type != MethodType.PUSH
                or pending.confirmed
                or pending.created_at + core.settings.auth_session_ttl <= now
            ):
                raise _invalid(_TICKET_ERROR, "/enrollment_tx_id")
            if methods.by_credential_id(protocol.device_key(jkt)) is not None:
                raise Conflict("This device key is already enrolled. Use a new key for each enrollment.")
            device = {"name": name, "jwk": jwk, "jkt": jkt, "enrolled_at": iso_ms(now)}
            data = {k: v for k, v in pending.data.items() if k != "ticket_hash"} | {"device": device}
            claimed = PushStore(conn).claim_ticket(
                pending.id, ticket_key, credential_id=protocol.device_key(jkt), name=name, data=data
            )
            if not claimed:  # another enrollment with this ticket won the race
                raise _invalid(_TICKET_ERROR, "/enrollment_tx_id")
            user = UserStore(conn).get(pending.user_id)
            record(
                conn,
                core.clock,
                "push.device_enrolled",
                caller=caller,
                user_id=pending.user_id,
                description="push device enrolled; waiting for the user's verify",
                method_id=pending.id,
                device_name=name,
            )
    except IntegrityError as exc:  # the same key enrolled concurrently elsewhere
        raise Conflict("This device key is already enrolled. Use a new key for each enrollment.") from exc
    label = (user.email if user else None) or pending.user_id
    return {"device_id": pending.id, "user": label}


# device authentication


def _to_device(found: MethodRecord) -> Device | None:
    stored = found.data.get("device")
    if found.type != MethodType.PUSH or not isinstance(stored, dict):
        return None
    try:
        key, _jwk = protocol.load_public_jwk(stored.get("jwk"))
    except protocol.InvalidKey:
        return None
    return Device(
        method_id=found.id,
        user_id=found.user_id,
        name=found.name,
        jkt=str(stored.get("jkt")),
        confirmed=found.confirmed,
        public_key=key,
    )


def authenticate_device(core: Core, authorization: str | None, *, method: str, url: str) -> Device:
    """The enrolled device whose key signed this request's proof; each proof is accepted once."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "device" or not token:
        raise _unauthorized("Send Authorization: Device <jwt>, a proof signed with the enrolled device key.")
    if len(token) > MAX_TOKEN:
        raise _unauthorized("The device token is too long.")
    try:
        kid = protocol.proof_kid(token)
    except protocol.InvalidProof as exc:
        raise _unauthorized(str(exc)) from exc
    with core.db.read() as conn:
        found = MethodStore(conn).by_credential_id(protocol.device_key(kid))
    device = _to_device(found) if found else None
    if device is None:
        raise _unauthorized("Unknown device key: this device is not enrolled, or was removed from the account.")
    now = core.clock.now()
    try:
        proof = protocol.check_device_jwt(token, device.public_key, method=method, url=url, now=int(now.timestamp()))
    except protocol.InvalidProof as exc:
        raise _unauthorized(str(exc)) from exc
    expires_at = datetime.fromtimestamp(proof.exp + protocol.CLOCK_LEEWAY, UTC)
    replayed = "This device token was already used; make a new one for each request."
    try:
        with core.db.write() as conn:
            if not PushStore(conn).use_jti(device.jkt, proof.jti, expires_at=expires_at, now=now):
                raise _unauthorized(replayed)
    except IntegrityError as exc:  # the same proof presented twice at once
        raise _unauthorized(replayed) from exc
    return device


# challenges


def _scalar(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)  # NaN and infinities are not JSON (RFC 8259 §6)
    return value is None or isinstance(value, str | int | bool)


def create_challenge(core: Core, user_id: str, *, client_id: str, binding: dict[str, Any]) -> str:
    """A pending challenge for the user's confirmed push devices; returns its id.

    `binding` is what the device shows so the user can tell their own sign-in from someone else's, e.g.
    `{"client_name": …, "ip": …, "user_agent": …}`: flat, string keys, JSON scalars. The time of the request
    and the client's name (when not given) are added here.
    """
    if not all(isinstance(k, str) and _scalar(v) for k, v in binding.items()):
        raise ValueError("binding must map strings to JSON scalars")
    now = core.clock.now()
    challenge_id = f"pch_{alnum(24)}"
    with core.db.write() as conn:
        devices = [
            m for m in MethodStore(conn).list(user_id, type_=MethodType.PUSH) if m.confirmed and m.data.get("device")
        ]
        if not devices:
            raise NoPushDevice("The user has no confirmed push-notification device.")
        client = ClientStore(conn).get(client_id)
        details = {"client_id": client_id, "client_name": client.name if client else client_id, **binding}
        details["requested_at"] = iso_ms(now)
        store = PushStore(conn)
        store.prune(before=now - _KEEP_ANSWERED)
        store.add(
            PushChallenge(
                id=challenge_id,
                user_id=user_id,
                method_id=None,
                client_id=client_id,
                status="pending",
                created_at=now,
                expires_at=now + CHALLENGE_TTL,
                answered_at=None,
                details=details,
            )
        )
    return challenge_id


def get_challenge(core: Core, challenge_id: str) -> PushChallenge:
    """The challenge, with `status` "expired" once a pending one is past `expires_at`. NotFound if unknown."""
    found = _load(core, challenge_id)
    if found is None:
        raise NotFound("Push challenge not found.")
    if found.status == "pending" and found.expires_at <= core.clock.now():
        return PushChallenge(**{**_fields(found), "status": "expired"})
    return found


def _load(core: Core, challenge_id: str) -> PushChallenge | None:
    # Ids come from URL paths: anything not shaped like ours is unknown without a query (PostgreSQL refuses NUL).
    if not _CHALLENGE_ID.fullmatch(challenge_id):
        return None
    with core.db.read() as conn:
        return PushStore(conn).get(challenge_id)


def challenge_status(core: Core, challenge_id: str) -> str:
    """pending | approved | rejected | expired, for the sign-in that waits on the challenge."""
    return get_challenge(core, challenge_id).status


def _fields(challenge: PushChallenge) -> dict[str, Any]:
    return {f: getattr(challenge, f) for f in PushChallenge.__dataclass_fields__}


def _require_confirmed(device: Device) -> None:
    if not device.confirmed:
        raise Forbidden(
            "This device's enrollment is not confirmed yet: finish it in your account (verify), then try again."
        )


def _public(challenge: PushChallenge) -> dict[str, Any]:
    return {
        "id": challenge.id,
        "status": challenge.status,
        "created_at": iso_ms(challenge.created_at),
        "expires_at": iso_ms(challenge.expires_at),
        "details": challenge.details,
    }


def pending_challenges(core: Core, device: Device) -> list[dict[str, Any]]:
    _require_confirmed(device)
    with core.db.read() as conn:
        found = PushStore(conn).pending(device.user_id, now=core.clock.now())
    return [_public(c) for c in found]


def answer_challenge(core: Core, device: Device, challenge_id: str, body: object, caller: Caller) -> dict[str, Any]:
    """Approve or reject, signed with the device key (`methods/push.answer_signing_input`). First answer wins.

    404 for a challenge that is not this user's, 400 for a bad signature, 409 once answered, 410 once expired.
    """
    _require_confirmed(device)
    if not isinstance(body, dict):
        raise _invalid("The request body must be a JSON object.")
    extra = sorted(set(body) - {"approve", "signature"})
    if extra:
        raise _invalid(f"Unexpected property: {extra[0]}", f"/{extra[0]}")
    approve = body.get("approve")
    if not isinstance(approve, bool):
        raise _invalid("approve is required: true to approve, false to reject.", "/approve")
    signature = body.get("signature")
    if not isinstance(signature, str):
        raise _invalid("signature is required: ES256 over the answer, base64url.", "/signature")
    found = _load(core, challenge_id)
    if found is None or found.user_id != device.user_id:
        raise NotFound("Push challenge not found.")
    if not protocol.verify_answer(device.public_key, challenge_id, approve, signature):
        raise _invalid(
            "The signature does not verify with this device's key over this challenge and decision.", "/signature"
        )
    status = "approved" if approve else "rejected"
    now = core.clock.now()
    with core.db.write() as conn:
        store = PushStore(conn)
        if store.answer(challenge_id, status=status, method_id=device.method_id, signature=signature, now=now):
            record(
                conn,
                core.clock,
                f"push.challenge_{status}",
                caller=caller,
                user_id=device.user_id,
                client_id=found.client_id,
                description=f"push challenge {status} on the device",
                method_id=device.method_id,
                challenge_id=challenge_id,
            )
            return {"id": challenge_id, "status": status}
        current = store.get(challenge_id)
        if current is not None and current.status == "pending":
            store.expire(challenge_id, now=now)
    if current is None or current.status == "pending" or current.status == "expired":
        raise ChallengeExpired("This push challenge has expired; sign in again to get a new one.")
    raise ChallengeAnswered(f"This push challenge was already {current.status}.")
