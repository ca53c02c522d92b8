"""Operational endpoints: `/healthz` (the process answers), `/readyz` (store and Redis reachable), `/metrics`."""

from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from myaccount.observability import metrics_payload
from myaccount.web.http import core_of

__all__ = ["routes"]


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


def _checks(request: Request) -> dict[str, str]:
    core = core_of(request)
    results: dict[str, str] = {}
    try:
        with core.db.read() as conn:
            conn.execute(text("SELECT 1"))
        results["database"] = "ok"
    except Exception as exc:
        results["database"] = f"error: {type(exc).__name__}"
    if core.settings.redis_url:
        try:
            import redis

            client = redis.Redis.from_url(core.settings.redis_url, socket_timeout=1, socket_connect_timeout=1)
            client.ping()
            client.close()
            results["redis"] = "ok"
        except Exception as exc:
            results["redis"] = f"error: {type(exc).__name__}"
    return results


async def readyz(request: Request) -> Response:
    results = await run_in_threadpool(_checks, request)
    ready = all(value == "ok" for value in results.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": results},
        status_code=200 if ready else 503,
        headers={"Cache-Control": "no-store"},
    )


async def metrics(request: Request) -> Response:
    return Response(metrics_payload(), media_type="text/plain; version=0.0.4; charset=utf-8")


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
