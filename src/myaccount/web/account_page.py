"""`/account`: the account page, a plain HTML shell plus ES modules that use only the public My Account API.

Routes: the shell (`/account` and `/account/`, which is the registered callback), `/account/config.json` (the
page's settings, see `account_page.page_config`) and the static modules under `/account/static/`.

`standalone_app` serves the very same page from anywhere else (another origin, another port) with a fixed
configuration pointing at the identity server: the page then calls `/oauth/token` and `/me/v1` cross-origin,
which proves the CORS path works for any team's own copy of it.

QR codes are drawn in the browser by `static/qr.js` (a small encoder of our own, tested module for module
against `segno`), not by an endpoint here: the TOTP secret in `barcode_uri` then never leaves the page, never
lands in a URL or an access log, and a copy of the page on another origin needs nothing from us but the API.
"""

import json
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from myaccount.account_page import ensure_account_page_client, find_account_page_client, page_config, page_uses_dpop
from myaccount.store.clients import ClientStore
from myaccount.web.http import core_of

__all__ = ["ensure_account_page_client", "routes", "standalone_app", "standalone_routes"]

_DIR = Path(__file__).parent / "account"
STATIC_DIR = _DIR / "static"
STRINGS_DIR = _DIR / "strings"
DEFAULT_LANGUAGE = "en"
_templates = Jinja2Templates(directory=str(_DIR / "templates"))


@cache
def strings(language: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((STRINGS_DIR / f"{language}.json").read_text(encoding="utf-8"))
    return data


def languages() -> list[str]:
    return sorted(p.stem for p in STRINGS_DIR.glob("*.json"))


def negotiate(accept_language: str | None) -> str:
    """The first language of `Accept-Language` (RFC 9110 §12.5.4, weights honoured) that we have strings for."""
    available = set(languages())
    weighted: list[tuple[float, int, str]] = []
    for index, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        weighted.append((-quality, index, tag.strip().lower()))
    for _, _, tag in sorted(weighted):
        for candidate in (tag, tag.split("-")[0]):
            if candidate in available:
                return candidate
    return DEFAULT_LANGUAGE


def _security_headers(api_origin: str | None) -> dict[str, str]:
    other = f" {api_origin}" if api_origin else ""
    return {
        "Content-Security-Policy": (
            f"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:{other}; "
            f"connect-src 'self'{other}; form-action 'self'{other}; frame-ancestors 'none'; base-uri 'none'; "
            "object-src 'none'"
        ),
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",  # the callback URL carries the authorization code until the page strips it
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-cache",
    }


def _shell(request: Request, *, tenant_name: str, api_origin: str | None) -> Response:
    language = negotiate(request.headers.get("accept-language"))
    texts = strings(language)
    response = _templates.TemplateResponse(
        request,
        "account.html",
        {"lang": language, "t": texts, "strings": texts, "tenant_name": tenant_name},
    )
    response.headers.update(_security_headers(api_origin))
    response.headers["Vary"] = "Accept-Language"
    return response


async def page(request: Request) -> Response:
    return _shell(request, tenant_name=core_of(request).settings.tenant_name, api_origin=None)


async def config(request: Request) -> Response:
    core = core_of(request)

    def load() -> tuple[str | None, bool]:
        with core.db.read() as conn:
            client = find_account_page_client(ClientStore(conn))
        # The page binds its tokens with DPoP when the tenant says so or the My Account API requires it.
        return (client.client_id if client else None), page_uses_dpop(core)

    client_id, dpop = await run_in_threadpool(load)
    if client_id is None:
        return JSONResponse(
            {"error": "not_configured", "error_description": "The account page's application is missing."},
            status_code=503,
            headers={"Cache-Control": "no-store"},
        )
    return JSONResponse(page_config(core.settings, client_id, dpop=dpop), headers={"Cache-Control": "no-store"})


def _static() -> Mount:
    return Mount("/account/static", app=StaticFiles(directory=str(STATIC_DIR)), name="account-static")


routes: list[BaseRoute] = [
    Route("/account", page, methods=["GET"]),
    Route("/account/", page, methods=["GET"]),
    Route("/account/config.json", config, methods=["GET"]),
    _static(),
]


def standalone_routes(settings: Mapping[str, Any] | Callable[[], Mapping[str, Any]]) -> list[BaseRoute]:
    """The page's routes for serving it away from the identity server.

    `settings` holds the keys of `/account/config.json`: `origin` (the identity server), `client_id` (an SPA
    application whose callbacks, allowed logout URLs and web origins list this server's `/account/` and
    origin), `audience`, `scope`, `redirect_uri` (this server's `/account/`) and `tenant_name`.
    """

    def current() -> Mapping[str, Any]:
        return settings() if callable(settings) else settings

    async def standalone_page(request: Request) -> Response:
        values = current()
        return _shell(request, tenant_name=str(values.get("tenant_name", "")), api_origin=str(values["origin"]))

    async def standalone_config(request: Request) -> Response:
        return JSONResponse(dict(current()), headers={"Cache-Control": "no-store"})

    return [
        Route("/account", standalone_page, methods=["GET"]),
        Route("/account/", standalone_page, methods=["GET"]),
        Route("/account/config.json", standalone_config, methods=["GET"]),
        _static(),
    ]


def standalone_app(settings: Mapping[str, Any] | Callable[[], Mapping[str, Any]]) -> Starlette:
    """An ASGI app serving the account page on its own (e.g. `granian --interface asgi` with a factory)."""
    return Starlette(routes=standalone_routes(settings))
