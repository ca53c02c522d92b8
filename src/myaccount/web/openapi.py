"""`GET /openapi.json`: our OpenAPI 3.1 document (built by `myaccount.openapi`), for clients and the fuzz suite."""

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from myaccount.openapi import document_json
from myaccount.web.http import core_of

__all__ = ["routes"]


async def openapi(request: Request) -> Response:
    body = document_json(core_of(request).settings.origin)
    return Response(body, media_type="application/json", headers={"Cache-Control": "public, max-age=300"})


routes = [Route("/openapi.json", openapi, methods=["GET"])]
