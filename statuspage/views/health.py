"""Liveness and readiness probes for the process manager and load balancer."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from statuspage.leadership import current_leader
from statuspage.supervisor import read_status

__all__ = ["routes"]


async def healthz(request: Request) -> Response:
    """Liveness: the process answers. Touches no database on purpose."""
    return PlainTextResponse("ok", headers={"Cache-Control": "no-store"})


async def readyz(request: Request) -> Response:
    """Readiness: the database answers. Also says which worker leads (None: no worker runs
    the scheduled jobs now, which does not make a lone web process unready).

    Under ``statuspage serve`` the workers are part of the service: the supervisor's record
    (states, restarts, last exit codes) is included, and while no worker leads (the leader
    died and the stand-by has not yet taken over) the answer is 503.
    """
    services = request.app.state.services
    db = services.db
    headers = {"Cache-Control": "no-store"}
    try:
        await asyncio.to_thread(db.ping)
        leader = await asyncio.to_thread(current_leader, db.engine)
    except Exception as exc:  # any driver error means "not ready", never a 500
        return JSONResponse({"ready": False, "error": type(exc).__name__}, status_code=503,
                            headers=headers)
    body: dict[str, Any] = {"ready": True, "leader": leader}
    path = services.settings.worker_status_path
    if path is not None:
        worker = await asyncio.to_thread(read_status, path)
        body["worker"] = worker
        state = (worker or {}).get("state")
        if worker is None or state == "stopped" or leader is None:
            # a stand-by restarting while another worker leads is reported, not unready
            reason = ("worker not started" if worker is None else "workers stopped"
                      if state == "stopped" else "no worker leads (one is restarting)"
                      if state == "restarting" else "no worker leads yet")
            return JSONResponse({**body, "ready": False, "error": reason}, status_code=503,
                                headers={**headers, "Retry-After": "2"})
    return JSONResponse(body, headers=headers)


def routes() -> list[BaseRoute]:
    """The health routes."""
    return [Route("/healthz", healthz), Route("/readyz", readyz)]
