"""Every refusal becomes JSON ``{error, message}`` with a fitting status."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from stamping.admission import Overloaded, overloaded_body
from stamping.document_error import DocumentError
from stamping.gateway import NotificationError
from stamping.pool import PoolUnavailable
from stamping.store import StoreError
from stamping.throttle import Throttled

__all__ = ["DATABASE_DOWN", "ApiError", "exception_handlers", "json_error"]

logger = logging.getLogger(__name__)

#: HTTP status for each document error code (all 4xx: the caller sent something unusable).
DOCUMENT_STATUS = {"not_pdf": 415, "too_large": 413}


class ApiError(Exception):
    """Raise from a handler to answer ``{error, message}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(code, message)
        self.status, self.code, self.message = status, code, message
        self.headers, self.extra = headers or {}, extra


def json_error(status: int, code: str, message: str, headers: dict[str, str] | None = None,
               **extra: Any) -> JSONResponse:
    """The JSON error body every endpoint uses."""
    return JSONResponse({"error": code, "message": message, **extra}, status_code=status,
                        headers=headers)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return json_error(exc.status, exc.code, exc.message, exc.headers, **exc.extra)


async def _store_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StoreError | NotificationError)
    return json_error(exc.status, exc.code, exc.message)


async def _document_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DocumentError)
    request.app.state.service.metrics.bad_input.labels(exc.code).inc()
    return json_error(DOCUMENT_STATUS.get(exc.code, 422), exc.code, exc.message)


async def _overloaded(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Overloaded)
    request.app.state.service.metrics.rejected.labels(exc.gate).inc()
    return JSONResponse(overloaded_body(exc), status_code=503,
                        headers={"Retry-After": str(exc.retry_after)})


async def _throttled(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Throttled)
    return json_error(429, "too_many_requests",
                      f"too many attempts; retry in {exc.retry_after} s",
                      {"Retry-After": str(exc.retry_after)}, retry_after=exc.retry_after)


async def _pool_unavailable(request: Request, exc: Exception) -> Response:
    return json_error(503, "signing_unavailable", str(exc), {"Retry-After": "2"})


#: Errors that mean "the database cannot be reached" rather than "this request is wrong".
DATABASE_DOWN = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError,
                 sa_exc.DisconnectionError)
#: Seconds a client should wait while the database is down.
DATABASE_RETRY_AFTER = 10


async def _database_down(request: Request, exc: Exception) -> Response:
    logger.error("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    return json_error(503, "database_unavailable",
                      "the service's database is unavailable; retry later",
                      {"Retry-After": str(DATABASE_RETRY_AFTER)})


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return json_error(exc.status_code, code, str(exc.detail))


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.exception("unhandled error on %s %s", request.method, request.url.path,
                     exc_info=exc)
    return json_error(500, "internal_error", "an unexpected error occurred")


exception_handlers: dict[Any, Any] = {
    ApiError: _api_error,
    StoreError: _store_error,
    NotificationError: _store_error,
    DocumentError: _document_error,
    Overloaded: _overloaded,
    PoolUnavailable: _pool_unavailable,
    Throttled: _throttled,
    HTTPException: _http_exception,
    **{error: _database_down for error in DATABASE_DOWN},
    Exception: _unexpected,
}
