"""The scenarios. Each one: a setup through myaccount's own API, a wrk Lua script, its arguments, a target.

To add one, write a setup function `(SetupContext) -> Fixture` and register a `Scenario` in `SCENARIOS`.
"""

from collections.abc import Sequence
from datetime import timedelta

from bench.framework import Fixture, Scenario, SetupContext
from myaccount import admin
from myaccount.audit import Caller
from myaccount.oauth.issuance import Authentication, issue_for_user
from myaccount.store.clients import Client
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
    """Token responses as an interactive login would end: the same `issue_for_user` every user grant ends in."""
    core = ctx.core
    now = core.clock.now()
    bodies = []
    for i in range(count):
        with core.db.write() as conn:
            issued = issue_for_user(
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


# userinfo: GET /userinfo with a bearer token (RS256 JWT, verified and cached, plus a user read)
def setup_userinfo(ctx: SetupContext) -> Fixture:
    """1,000 users, one My Account API access token each (aud also names /userinfo, as with `openid`)."""
    count = 1000
    users = _users(ctx, count, prefix="userinfo")
    spa = _spa(ctx)
    admin.create_client_grant(
        ctx.core,
        client_id=spa.client_id,
        audience=ctx.core.settings.my_account_audience,
        scope=list(MY_ACCOUNT_SCOPES),
        subject_type="user",
    )
    scope = "openid profile email read:me:authentication_methods"
    bodies = _issue(ctx, users, spa, count=count, audience=ctx.core.settings.my_account_audience, scope=scope)
    tokens = ctx.write_lines("access-tokens.txt", (str(body["access_token"]) for body in bodies))
    return Fixture(
        run_args=(str(tokens), str(ctx.threads)), facts={"users": count, "access_tokens": count, "scope": scope}
    )


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
