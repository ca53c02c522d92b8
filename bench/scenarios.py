"""The scenarios. Each one: a setup through myaccount's own API, a load generator (wrk Lua script or a
`bench/loadgen.py` flow), its arguments, a target.

To add one, write a setup function `(SetupContext) -> Fixture` and register a `Scenario` in `SCENARIOS`.
"""

import base64
import json
import math
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from bench.framework import Fixture, Scenario, SetupContext
from bench.loadgen import USER_AGENT
from bench.soft_passkey import SoftPasskeys, cose_es256_keys
from myaccount import admin
from myaccount.audit import Caller
from myaccount.ids import alnum
from myaccount.methods import authenticators
from myaccount.methods.base import MethodType, Subject
from myaccount.methods.otp import normalize_email, normalize_phone
from myaccount.methods.passkey import Passkeys
from myaccount.methods.recovery_code import RecoveryCode
from myaccount.methods.totp import Totp
from myaccount.oauth.issuance import Authentication, persist_issue, prepare_issue
from myaccount.store.clients import Client
from myaccount.store.methods import MethodRecord, MethodStore
from myaccount.store.users import User
from myaccount.tenant import MY_ACCOUNT_SCOPES

__all__ = ["SCENARIOS"]

BENCH_API = "https://api.bench.test/"
CALLER = Caller(ip="127.0.0.1", user_agent="myaccount-bench")


def _users(ctx: SetupContext, count: int, *, prefix: str) -> list[User]:
    """Users without passwords (argon2 would cost 30 ms each and the scenarios here do not log in)."""
    return [
        admin.create_user(
            ctx.core, email=f"{prefix}{i}@bench.test", password=None, email_verified=True, name=f"Bench User {i}"
        )
        for i in range(count)
    ]


def _spa(ctx: SetupContext) -> Client:
    """A public SPA client (authorization code + refresh token), as the account page and auth0-spa-js use."""
    spa, _ = admin.create_client(
        ctx.core,
        name="Bench SPA",
        app_type="spa",
        callbacks=["http://localhost:3000/callback"],
        allowed_origins=["http://localhost:3000"],
        web_origins=["http://localhost:3000"],
    )
    return spa


def _issue(
    ctx: SetupContext, users: Sequence[User], client: Client, *, count: int, audience: str, scope: str
) -> list[dict[str, object]]:
    """Token responses as an interactive login would end: `prepare_issue` then `persist_issue`, as every user grant
    does (here on one connection: set-up has no concurrent writers)."""
    core = ctx.core
    now = core.clock.now()
    bodies = []
    for i in range(count):
        with core.db.write() as conn:
            prepared = prepare_issue(
                core,
                conn,
                user=users[i % len(users)],
                client=client,
                audience=audience,
                requested=scope.split(),
                authn=Authentication(auth_time=now - timedelta(minutes=1), amr=("pwd",)),
                caller=CALLER,
                grant_label="authorization_code",
            )
            issued = persist_issue(core, conn, prepared, caller=CALLER)
        bodies.append(issued.body)
    return bodies


# refresh_token: POST /oauth/token grant_type=refresh_token, with rotation
def setup_refresh_token(ctx: SetupContext) -> Fixture:
    """One refresh-token chain per connection and then some, separate sets for the warm-up and the measured run.

    Rotation makes every refresh token single use, and a reused one revokes its family; so the Lua script keeps a
    per-thread queue: a request takes a token, its response puts the rotated one back.
    """
    per_phase = max(256, 4 * ctx.connections)
    users = _users(ctx, min(per_phase, 256), prefix="refresh")
    spa = _spa(ctx)
    admin.create_resource_server(
        ctx.core, identifier=BENCH_API, name="Bench API", scopes=["read:things"], allow_offline_access=True
    )
    scope = "openid profile email offline_access read:things"
    bodies = _issue(ctx, users, spa, count=2 * per_phase, audience=BENCH_API, scope=scope)
    tokens = [str(body["refresh_token"]) for body in bodies]
    warmup = ctx.write_lines("refresh-warmup.txt", tokens[:per_phase])
    run = ctx.write_lines("refresh-run.txt", tokens[per_phase:])
    return Fixture(
        run_args=(str(run), spa.client_id, str(ctx.threads)),
        warmup_args=(str(warmup), spa.client_id, str(ctx.threads)),
        facts={"users": len(users), "refresh_tokens_per_phase": per_phase, "scope": scope},
    )


def _my_account_spa(ctx: SetupContext) -> Client:
    """The SPA, granted every My Account scope for users (the API's policy is require_client_grant)."""
    spa = _spa(ctx)
    admin.create_client_grant(
        ctx.core,
        client_id=spa.client_id,
        audience=ctx.core.settings.my_account_audience,
        scope=list(MY_ACCOUNT_SCOPES),
        subject_type="user",
    )
    return spa


def _my_account_tokens(ctx: SetupContext, users: Sequence[User], scope: str, name: str) -> str:
    """One My Account access token per user (a login a minute ago), one per line; the file's path."""
    spa = _my_account_spa(ctx)
    audience = ctx.core.settings.my_account_audience
    bodies = _issue(ctx, users, spa, count=len(users), audience=audience, scope=scope)
    return str(ctx.write_lines(name, (str(body["access_token"]) for body in bodies)))


# userinfo: GET /userinfo with a bearer token (RS256 JWT, verified and cached, plus a user read)
def setup_userinfo(ctx: SetupContext) -> Fixture:
    """1,000 users, one My Account API access token each (aud also names /userinfo, as with `openid`)."""
    count = 1000
    users = _users(ctx, count, prefix="userinfo")
    spa = _my_account_spa(ctx)
    scope = "openid profile email read:me:authentication_methods"
    bodies = _issue(ctx, users, spa, count=count, audience=ctx.core.settings.my_account_audience, scope=scope)
    tokens = ctx.write_lines("access-tokens.txt", (str(body["access_token"]) for body in bodies))
    return Fixture(
        run_args=(str(tokens), str(ctx.threads)), facts={"users": count, "access_tokens": count, "scope": scope}
    )


# me_list: GET /me/v1/authentication-methods, users with six methods each
METHODS_PER_USER = ("passkey", "passkey", "totp", "email", "phone", "recovery-code")


def _seed_methods(ctx: SetupContext, users: Sequence[User]) -> int:
    """Confirmed methods for every user, written through MethodStore as the enrollment service stores them.

    Each value is made by the method's own module: passkeys by `Passkeys.complete` on a software authenticator's
    registration response (so `data` has every field a real enrollment stores), the TOTP secret by `Totp.begin`,
    the recovery code's hash by `RecoveryCode`; secrets are sealed with the tenant's key, as the service does.
    """
    core = ctx.core
    settings = core.settings
    passkeys = Passkeys(rp_id=settings.rp_id, rp_name=settings.tenant_name, origins=settings.allowed_webauthn_origins)
    soft = SoftPasskeys(rp_id=settings.rp_id, origin=settings.allowed_webauthn_origins[0], keys=cose_es256_keys(64))
    totp = Totp(issuer=settings.tenant_name, clock=core.clock)
    recovery = RecoveryCode(fingerprint=lambda code: core.fingerprint(code, purpose="recovery-code"))

    def seal(secret: dict[str, Any]) -> str:
        return core.sealer.seal(json.dumps(secret).encode(), purpose="method-secret")

    def record(user: User, order: int, type_: str, **values: Any) -> MethodRecord:
        return MethodRecord(
            id=f"{type_}|dev_{alnum(16)}",
            user_id=user.id,
            type=type_,
            name=values.pop("name", None),
            confirmed=True,
            created_at=now + timedelta(milliseconds=order),
            **values,
        )

    now = core.clock.now() - timedelta(days=1)
    added = 0
    for first in range(0, len(users), 100):
        with core.db.write() as conn:
            store = MethodStore(conn)
            for number, user in enumerate(users[first : first + 100], first):
                handle = base64.urlsafe_b64decode((user.webauthn_user_handle or "") + "==")
                subject = Subject(user_id=user.id, email=user.email, name=user.name, webauthn_user_handle=handle)
                records = []
                for order, type_ in enumerate(METHODS_PER_USER):
                    if type_ == MethodType.PASSKEY:
                        challenge = passkeys.begin(
                            subject, display_name=user.name or "", user_name=user.email or user.id, exclude=[]
                        )
                        response = soft.create(challenge.public["authn_params_public_key"])
                        enrolled = passkeys.complete(challenge.state, response, user_agent=USER_AGENT)
                        info = authenticators.describe(str(enrolled.data.get("aaguid", "")))
                        has_icon = bool(info and (info.icon_light or info.icon_dark))
                        records.append(
                            record(
                                user,
                                order,
                                type_,
                                name=(info.name if info else None) or enrolled.name or "Passkey",
                                data=enrolled.data | {"has_icon": has_icon},
                                credential_id=enrolled.credential_id,
                            )
                        )
                    elif type_ == MethodType.TOTP:
                        secret = totp.begin(subject, account_label=user.email or user.id).state["secret"]
                        records.append(record(user, order, type_, secret=seal({"secret": secret, "last_step": None})))
                    elif type_ == MethodType.EMAIL:
                        records.append(record(user, order, type_, data={"email": normalize_email(user.email or "")}))
                    elif type_ == MethodType.PHONE:
                        phone = {
                            "phone_number": normalize_phone(f"+1555{number:07d}"),
                            "preferred_authentication_method": "sms",
                        }
                        records.append(record(user, order, type_, data=phone))
                    else:
                        hashed = recovery.complete(recovery.begin().state).secret
                        assert hashed is not None
                        records.append(record(user, order, type_, secret=seal(hashed)))
                for method in records:
                    store.add(method)
                added += len(records)
    return added


def setup_me_list(ctx: SetupContext) -> Fixture:
    """1,000 users with six confirmed methods each; one access token per user with the list scope."""
    count = 1000
    users = _users(ctx, count, prefix="list")
    methods = _seed_methods(ctx, users)
    scope = "read:me:authentication_methods"
    tokens = _my_account_tokens(ctx, users, scope, "access-tokens.txt")
    return Fixture(
        run_args=(tokens, str(ctx.threads)),
        facts={
            "users": count,
            "methods": methods,
            "methods_per_user": "+".join(METHODS_PER_USER),
            "access_tokens": count,
            "scope": scope,
        },
    )


# passkey_enroll and totp_enroll: POST /me/v1/authentication-methods, then …/verify (bench/loadgen.py)
ENROLL_USERS = 1000
ENROLL_SCOPE = "create:me:authentication_methods delete:me:authentication_methods"
# The default write limits (20 per user per minute, 10 enrollments started per 5 minutes, 10 codes a minute) are
# there to stop abuse, and would stop a benchmark after a few seconds. Raised, not switched off: the buckets are
# still taken on every request (in Redis with PostgreSQL), so their cost stays in the measurement.
RAISED_LIMITS = {
    "MYACCOUNT_RATE_LIMITS__USER_WRITE_CAPACITY": "1000000000",
    "MYACCOUNT_RATE_LIMITS__CODE_ATTEMPT_CAPACITY": "1000000000",
    "MYACCOUNT_RATE_LIMITS__ENROLLMENT_START_CAPACITY": "1000000000",
}
# The passkey cap is sized for this many enrollments per second over warm-up and run, spread over the users.
PASSKEY_HEADROOM_PER_SECOND = 4000


def setup_enroll(ctx: SetupContext, *, flow: str) -> Fixture:
    users = _users(ctx, ENROLL_USERS, prefix=f"{flow}-enroll")
    tokens = _my_account_tokens(ctx, users, ENROLL_SCOPE, "access-tokens.txt")
    facts: dict[str, Any] = {"users": len(users), "access_tokens": len(users), "scope": ENROLL_SCOPE}
    server_env: dict[str, str] = {}
    if flow == "passkey":
        # The default cap (20 passkeys per user) would be reached within the run: raise it so that every user has
        # room for PASSKEY_HEADROOM_PER_SECOND enrollments/s over warm-up + run (at least the default).
        cap = max(20, math.ceil(PASSKEY_HEADROOM_PER_SECOND * ctx.seconds / len(users)))
        server_env["MYACCOUNT_MAX_PASSKEYS_PER_USER"] = str(cap)
        facts["max_passkeys_per_user"] = cap
    else:
        facts["after_each_enrollment"] = "DELETE of the new TOTP (a user has at most one)"
    return Fixture(run_args=(tokens,), facts=facts, server_env=server_env)


def setup_passkey_enroll(ctx: SetupContext) -> Fixture:
    """1,000 users without methods, a token each (create + delete scopes, login a minute ago)."""
    return setup_enroll(ctx, flow="passkey")


def setup_totp_enroll(ctx: SetupContext) -> Fixture:
    return setup_enroll(ctx, flow="totp")


# jwks: GET /.well-known/jwks.json, no authentication, no database: the framework + server baseline
def setup_nothing(ctx: SetupContext) -> Fixture:
    return Fixture()


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            name="jwks",
            summary="GET /.well-known/jwks.json: bare JSON, no auth, no database (framework + server baseline)",
            method="GET",
            path="/.well-known/jwks.json",
            setup=setup_nothing,
        ),
        Scenario(
            name="userinfo",
            summary="GET /userinfo with Bearer tokens of 1,000 users, round robin",
            method="GET",
            path="/userinfo",
            setup=setup_userinfo,
            script="bearer_round_robin.lua",
            target_rps=8000,
            target_label="bearer-protected JSON endpoint",
        ),
        Scenario(
            name="me_list",
            summary="GET /me/v1/authentication-methods, 1,000 users with 6 methods each, round robin",
            method="GET",
            path="/me/v1/authentication-methods",
            setup=setup_me_list,
            script="bearer_round_robin.lua",
            target_rps=8000,
            target_p99_ms=25,
            target_label="My Account list endpoint",
        ),
        Scenario(
            name="passkey_enroll",
            summary="passkey enrollment (POST authentication-methods, then verify a 'none' attestation), 1,000 users",
            method="POST",
            path="/me/v1/authentication-methods",
            setup=setup_passkey_enroll,
            loadgen="passkey",
            unit="enrollment",
            target_rps=800,
            target_label="passkey enrollments",
            server_env=RAISED_LIMITS,
        ),
        Scenario(
            name="totp_enroll",
            summary="TOTP enrollment (POST authentication-methods, verify the RFC 6238 code, DELETE), 1,000 users",
            method="POST",
            path="/me/v1/authentication-methods",
            setup=setup_totp_enroll,
            loadgen="totp",
            unit="enrollment",
            target_rps=1000,
            target_label="TOTP enrollments",
            server_env=RAISED_LIMITS,
        ),
        Scenario(
            name="refresh_token",
            summary="POST /oauth/token grant_type=refresh_token with rotation (public SPA client, openid + API)",
            method="POST",
            path="/oauth/token",
            setup=setup_refresh_token,
            script="refresh_token.lua",
            target_rps=1000,
            target_label="refresh-token grant",
        ),
    )
}
