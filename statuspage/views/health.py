"""Liveness and readiness probes for the process manager and load balancer."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from statuspage.leadership import current_leader

__all__ = ["routes"]


async def healthz(request: Request) -> Response:
    """Liveness: the process answers. Touches no database on purpose."""
    return PlainTextResponse("ok", headers={"Cache-Control": "no-store"})


async def readyz(request: Request) -> Response:
    """Readiness: the database answers. Also says which worker leads (None: no worker runs
    the scheduled jobs now, which does not make this web process unready)."""
    db = request.app.state.services.db
    try:
        await run_in_threadpool(db.ping)
        leader = await run_in_threadpool(current_leader, db.engine)
    except Exception as exc:  # any driver error means "not ready", never a 500
        return JSONResponse({"ready": False, "error": type(exc).__name__}, status_code=503,
                            headers={"Cache-Control": "no-store"})
    return JSONResponse({"ready": True, "leader": leader}, headers={"Cache-Control": "no-store"})


def routes() -> list[BaseRoute]:
    """The health routes."""
    return [Route("/healthz", healthz), Route("/readyz", readyz)]
