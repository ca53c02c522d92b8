"""DPoP, RFC 9449: sender-constrained tokens.

A proof is a JWT the client signs with its own key, naming the request it accompanies. We check it the way
§4.3 lists: `typ` is `dpop+jwt`; `alg` is asymmetric and the signature verifies with the `jwk` in the header,
which must hold no private key; `htm` and `htu` match this request (`htu` compared without query and fragment);
`iat` is recent; `jti` was never seen before (a replay cache shared by all nodes when Redis is configured);
`ath` is the hash of the access token presented with it; `nonce` is one we issued, when nonces are required.

Nonces are stateless: `base64url(timestamp ‖ HMAC(timestamp))`, so any node can check any other's, and they
expire with the time window.
"""

import base64
import hashlib
import hmac
import json
import logging
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import jwt
from jwt.algorithms import get_default_algorithms

from myaccount.crypto.keys import thumbprint

__all__ = [
    "DpopError",
    "DpopProof",
    "MemoryReplayCache",
    "NonceSource",
    "RedisReplayCache",
    "ReplayCache",
    "access_token_hash",
    "normalize_htu",
    "verify_proof",
]

ASYMMETRIC = frozenset({"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"})
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
MAX_PROOF = 8192


class DpopError(Exception):
    """A proof was refused. `use_nonce` means: retry with the nonce from the `DPoP-Nonce` header."""

    def __init__(self, description: str, *, use_nonce: bool = False) -> None:
        super().__init__(description)
        self.description = description
        self.use_nonce = use_nonce

    @property
    def error(self) -> str:
        return "use_dpop_nonce" if self.use_nonce else "invalid_dpop_proof"


@dataclass(frozen=True, slots=True)
class DpopProof:
    jkt: str  # RFC 7638 thumbprint of the proof's key
    jti: str
    claims: dict[str, Any]


class ReplayCache(Protocol):
    def first_use(self, key: str, ttl_seconds: int) -> bool: ...


class MemoryReplayCache:
    def __init__(self, *, max_entries: int = 500_000) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self._max = max_entries

    def first_use(self, key: str, ttl_seconds: int) -> bool:
        now = time.monotonic()
        with self._lock:
            expires = self._seen.get(key)
            if expires is not None and expires > now:
                return False
            if len(self._seen) >= self._max:
                self._seen = {k: v for k, v in self._seen.items() if v > now}
            self._seen[key] = now + ttl_seconds
            return True


class RedisReplayCache:
    """`SET key 1 NX EX ttl`: exactly one node sees a given jti first.

    If Redis cannot be reached, this process's own memory keeps refusing replays to this node (logged), rather
    than refusing every DPoP request: /readyz reports the outage.
    """

    def __init__(self, url: str, *, prefix: str = "myaccount:dpop:") -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._prefix = prefix
        self._fallback = MemoryReplayCache()

    def first_use(self, key: str, ttl_seconds: int) -> bool:
        import redis

        local = self._fallback.first_use(key, ttl_seconds)
        try:
            return bool(self._redis.set(self._prefix + key, b"1", nx=True, ex=ttl_seconds)) and local
        except redis.RedisError:
            logging.getLogger("myaccount.dpop").warning("replay cache unavailable; checking this node only")
            return local


class NonceSource:
    def __init__(self, secret: bytes, *, lifetime: int = 300) -> None:
        self._secret = secret
        self.lifetime = lifetime

    def issue(self, now: float) -> str:
        stamp = struct.pack(">Q", int(now))
        mac = hmac.new(self._secret, stamp, hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(stamp + mac).rstrip(b"=").decode()

    def valid(self, nonce: object, now: float) -> bool:
        if not isinstance(nonce, str) or len(nonce) > 64:
            return False
        try:
            raw = base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))
        except ValueError:
            return False
        if len(raw) != 24:
            return False
        stamp, mac = raw[:8], raw[8:]
        if not hmac.compare_digest(hmac.new(self._secret, stamp, hashlib.sha256).digest()[:16], mac):
            return False
        issued = int(struct.unpack(">Q", stamp)[0])
        return issued <= now + 5 and now - issued <= self.lifetime


def normalize_htu(url: str) -> str:
    """RFC 9449 §4.3 point 9: compare without query and fragment; scheme and host are case-insensitive, and a
    default port is the same as none (RFC 3986 §6.2.3)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


def access_token_hash(token: str) -> str:
    """§4.2 `ath`: base64url(SHA-256(ASCII(access token)))."""
    return base64.urlsafe_b64encode(hashlib.sha256(token.encode("ascii")).digest()).rstrip(b"=").decode()


def _b64json(part: str) -> dict[str, Any]:
    data = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    if not isinstance(data, dict):
        raise ValueError("not an object")
    return data


def verify_proof(
    proof: str | None,
    *,
    method: str,
    url: str,
    now: float,
    replay: ReplayCache,
    nonces: NonceSource,
    require_nonce: bool,
    access_token: str | None = None,
    iat_window: int = 60,
) -> DpopProof:
    if not proof:
        raise DpopError("A DPoP proof is required.")
    if len(proof) > MAX_PROOF or proof.count(".") != 2 or "," in proof:
        raise DpopError("Malformed DPoP proof (send exactly one).")
    try:
        header = _b64json(proof.split(".", 1)[0])
    except ValueError as exc:
        raise DpopError("Malformed DPoP proof header.") from exc
    if header.get("typ") != "dpop+jwt":
        raise DpopError('The DPoP proof must have typ "dpop+jwt".')
    alg = header.get("alg")
    if alg not in ASYMMETRIC:
        raise DpopError("The DPoP proof must be signed with an asymmetric algorithm.")
    jwk = header.get("jwk")
    if not isinstance(jwk, dict) or not isinstance(jwk.get("kty"), str):
        raise DpopError("The DPoP proof must carry the public key in its jwk header.")
    if _PRIVATE_MEMBERS & set(jwk):
        raise DpopError("The DPoP proof's jwk must hold only a public key.")
    try:
        key = get_default_algorithms()[str(alg)].from_jwk(json.dumps(jwk))
        claims: dict[str, Any] = jwt.decode(
            proof,
            key,
            algorithms=[str(alg)],
            options={
                "verify_aud": False,
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "require": ["jti", "htm", "htu", "iat"],
            },
        )
        jkt = thumbprint(jwk)
    except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
        raise DpopError("The DPoP proof's signature or claims are invalid.") from exc
    if hasattr(key, "private_numbers") or hasattr(key, "private_bytes_raw"):
        raise DpopError("The DPoP proof's jwk must hold only a public key.")
    if claims.get("htm") != method.upper():
        raise DpopError("The DPoP proof's htm does not match the request method.")
    htu = claims.get("htu")
    if not isinstance(htu, str) or normalize_htu(htu) != normalize_htu(url):
        raise DpopError("The DPoP proof's htu does not match the request URL.")
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or abs(now - float(iat)) > iat_window:
        raise DpopError("The DPoP proof is too old or from the future (iat).")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 8 <= len(jti) <= 256:
        raise DpopError("The DPoP proof needs a unique jti.")
    if access_token is not None:
        if not hmac.compare_digest(str(claims.get("ath", "")), access_token_hash(access_token)):
            raise DpopError("The DPoP proof's ath does not match the access token.")
    if require_nonce and not nonces.valid(claims.get("nonce"), now):
        raise DpopError("A fresh DPoP nonce is required.", use_nonce=True)
    # Last, so that a proof refused for another reason does not burn its jti.
    if not replay.first_use(f"{jkt}:{jti}", iat_window * 2 + 5):
        raise DpopError("The DPoP proof was already used (replayed jti).")
    return DpopProof(jkt=jkt, jti=jti, claims=claims)
