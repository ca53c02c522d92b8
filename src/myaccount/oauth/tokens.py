"""Access and ID tokens: RS256 JWTs shaped like Auth0's, and their verification for our own APIs.

Verification trusts nothing in the header but the kid: the algorithm comes from the key we hold for that kid, so
`alg: none` and HS256-signed-with-our-public-key are refused before any signature check. Verified tokens are
cached until they expire; a cached entry is honoured only while its key is still accepted and its jti not revoked.
"""

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from myaccount.clock import Clock
from myaccount.oauth.errors import InvalidToken
from myaccount.oauth.keyring import KeyRing
from myaccount.timefmt import unix

__all__ = ["AccessClaims", "IssuedToken", "TokenService"]

# Clock skew we tolerate on `iat`/`nbf` from our own tokens (several nodes, several clocks).
_SKEW = 60


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    jti: str
    expires_at: datetime
    expires_in: int


@dataclass(frozen=True, slots=True)
class AccessClaims:
    subject: str
    audiences: tuple[str, ...]
    client_id: str
    scopes: frozenset[str]
    expires_at: int
    issued_at: int
    jti: str
    kid: str
    claims: Mapping[str, Any]

    @property
    def is_user(self) -> bool:
        return self.claims.get("gty") != "client-credentials"


class TokenService:
    def __init__(self, keyring: KeyRing, clock: Clock, *, issuer: str, cache_size: int = 50_000) -> None:
        self._keyring = keyring
        self._clock = clock
        self.issuer = issuer
        self._cache: dict[str, tuple[AccessClaims, int]] = {}
        self._cache_size = cache_size
        self._generation = keyring.generation
        self.revoked_jtis: set[str] = set()

    # issuing
    def access_token(
        self,
        *,
        subject: str,
        audience: str | None,
        client_id: str,
        scope: str,
        ttl: timedelta,
        userinfo_audience: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> IssuedToken:
        now = self._clock.now()
        expires_at = now + ttl
        jti = secrets.token_hex(16)
        audiences = [a for a in (audience, userinfo_audience) if a]
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject,
            "aud": audiences[0] if len(audiences) == 1 else audiences,
            "iat": unix(now),
            "exp": unix(expires_at),
            "scope": scope,
            "jti": jti,
            "azp": client_id,
        }
        if extra:
            claims.update({k: v for k, v in extra.items() if k not in claims or k == "scope"})
        return IssuedToken(self._sign(claims, typ="at+jwt"), jti, expires_at, int(ttl.total_seconds()))

    def id_token(self, *, subject: str, client_id: str, ttl: timedelta, claims: Mapping[str, Any]) -> str:
        now = self._clock.now()
        body = {"iss": self.issuer, "sub": subject, "aud": client_id, "iat": unix(now), "exp": unix(now + ttl)}
        body.update({k: v for k, v in claims.items() if v is not None and k not in body})
        return self._sign(body, typ="JWT")

    def _sign(self, claims: dict[str, Any], *, typ: str) -> str:
        key = self._keyring.signing_key
        return jwt.encode(claims, key.private_key, algorithm=key.alg, headers={"kid": key.kid, "typ": typ})

    # verifying
    def verify_access_token(self, token: str, *, audience: str) -> AccessClaims:
        if self._generation != self._keyring.generation:
            self._cache.clear()
            self._generation = self._keyring.generation
        now = unix(self._clock.now())
        cached = self._cache.get(token)
        if cached is not None:
            claims, _ = cached
            if claims.expires_at <= now:
                del self._cache[token]
                raise InvalidToken("The access token has expired.")
            if not self._keyring.accepts(claims.kid) or claims.jti in self.revoked_jtis:
                del self._cache[token]
                raise InvalidToken("The access token is no longer valid.")
            if audience not in claims.audiences:
                raise InvalidToken("The access token was not issued for this API.")
            return claims
        claims = self._verify(token, now=now)
        if audience not in claims.audiences:
            raise InvalidToken("The access token was not issued for this API.")
        if len(self._cache) >= self._cache_size:
            # Drop the oldest tenth; dicts keep insertion order.
            for stale in list(self._cache)[: max(1, self._cache_size // 10)]:
                del self._cache[stale]
        self._cache[token] = (claims, now)
        return claims

    def _verify(self, token: str, *, now: int) -> AccessClaims:
        if not isinstance(token, str) or token.count(".") != 2 or len(token) > 8192:
            raise InvalidToken("Malformed access token.")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("Malformed access token.") from exc
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidToken("The access token has no key id.")
        key = self._keyring.verification_key(kid)
        if key is None:
            raise InvalidToken("The access token was signed with an unknown or retired key.")
        try:
            # The allowed algorithm is the key's own; pyjwt refuses any header alg outside that list.
            payload = jwt.decode(
                token,
                key.key,
                algorithms=[key.alg],
                issuer=self.issuer,
                options={
                    "require": ["iss", "sub", "aud", "exp", "iat"],
                    "verify_aud": False,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidIssuerError as exc:
            raise InvalidToken("The access token has the wrong issuer.") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken("The access token is invalid.") from exc
        exp, iat, nbf = payload.get("exp"), payload.get("iat"), payload.get("nbf", 0)
        if not (isinstance(exp, int) and isinstance(iat, int) and isinstance(nbf, int)):
            raise InvalidToken("The access token has malformed time claims.")
        if exp <= now:
            raise InvalidToken("The access token has expired.")
        if iat > now + _SKEW or nbf > now + _SKEW:
            raise InvalidToken("The access token is not valid yet.")
        aud = payload["aud"]
        audiences = tuple(aud) if isinstance(aud, list) else (aud,)
        scope = payload.get("scope", "")
        jti = str(payload.get("jti", ""))
        if jti and jti in self.revoked_jtis:
            raise InvalidToken("The access token has been revoked.")
        return AccessClaims(
            subject=str(payload["sub"]),
            audiences=tuple(str(a) for a in audiences),
            client_id=str(payload.get("azp") or payload.get("client_id") or ""),
            scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
            expires_at=exp,
            issued_at=iat,
            jti=jti,
            kid=kid,
            claims=payload,
        )

    def forget(self, tokens: Iterable[str]) -> None:
        for token in tokens:
            self._cache.pop(token, None)
