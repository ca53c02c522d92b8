"""`create_app(settings)`: the ASGI application, wired from a `Core`. Nothing is built at import time."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from myaccount.clock import Clock
from myaccount.core import Core, build_core
from myaccount.crypto.passwords import PasswordHashing
from myaccount.errors import Problem
from myaccount.lifecycle import checkpoint_forever, purge_forever
from myaccount.login_flow import LoginFlow
from myaccount.my_account.service import MyAccount
from myaccount.oauth import key_events
from myaccount.oauth.errors import OAuthError
from myaccount.observability import RequestMiddleware
from myaccount.settings import Settings
from myaccount.store.clients import ClientStore
from myaccount.web import (
    account_page,
    authenticators,
    connected_accounts,
    login,
    management,
    management_connections,
    mfa,
    my_account,
    oauth,
    openapi,
    ops,
    passkey_api,
)
from myaccount.web import push as push_api
from myaccount.web.cors import CorsMiddleware
from myaccount.web.http import BodyError, RefuseNul
from myaccount.web.problems import handle_body, handle_http, handle_oauth, handle_problem, handle_unexpected
from myaccount.web.proxy import ProxyHeadersMiddleware

__all__ = ["create_app"]

_STATIC = Path(__file__).parent / "web" / "static"


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    passwords: PasswordHashing | None = None,
    core: Core | None = None,
) -> Starlette:
    core = core or build_core(settings, clock=clock, passwords=passwords)
    account_page.ensure_account_page_client(core)

    def allowed_origins() -> set[str]:
        with core.db.read() as conn:
            origins: set[str] = set()
            for client in ClientStore(conn).all():
                origins.update(client.allowed_origins)
                origins.update(client.web_origins)
            return origins

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tasks = []
        if settings.purge_interval_seconds > 0:
            tasks.append(asyncio.create_task(purge_forever(core, settings.purge_interval_seconds)))
        if core.db.is_sqlite:
            tasks.append(asyncio.create_task(checkpoint_forever(core)))
        if settings.redis_url:
            tasks.append(
                asyncio.create_task(key_events.listen(settings.redis_url, core.keyring, prefix=settings.redis_prefix))
            )
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            core.db.dispose()

    # Starlette tries routes in order: the My Account API, the hottest, comes first (each miss costs a regex).
    routes = [
        *my_account.routes,
        *oauth.routes,
        *login.routes,
        *connected_accounts.routes,
        *management_connections.routes,
        *management.routes,
        *authenticators.routes,
        *account_page.routes,
        *push_api.routes,
        *mfa.routes,
        *ops.routes,
        *passkey_api.routes,
        *openapi.routes,
        Mount("/static", app=StaticFiles(directory=str(_STATIC)), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(ProxyHeadersMiddleware, trusted=settings.trusted_proxies),
            Middleware(RequestMiddleware, access_log=settings.access_log),
            Middleware(CorsMiddleware, own_origin=settings.origin, allowed=allowed_origins),
            Middleware(RefuseNul),
        ],
        exception_handlers={
            Problem: handle_problem,
            OAuthError: handle_oauth,
            BodyError: handle_body,
            HTTPException: handle_http,
            Exception: handle_unexpected,
        },
        lifespan=lifespan,
    )
    app.state.core = core
    app.state.my_account = MyAccount(core)
    app.state.login_flow = LoginFlow(core, app.state.my_account.passkeys)
    return app
