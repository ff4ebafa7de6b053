"""Helpers shared by the handlers: the service, authentication, JSON bodies."""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from stamping import store
from stamping.errors import ApiError
from stamping.rules import hash_token
from stamping.service import Service

__all__ = ["authenticate", "client_address", "json_body", "pdf_response", "placement_headers",
           "service"]

#: How long a token lookup is reused.  The cached account is only used for identity and an
#: early "no quota" answer; the quota itself is always decided by the database.
TOKEN_CACHE_SECONDS = 2.0


def service(request: Request) -> Service:
    """The app's composition root."""
    svc = request.app.state.service
    assert isinstance(svc, Service)
    return svc


def client_address(request: Request) -> str:
    """The TCP peer's address (forwarded headers are not trusted), for throttling."""
    return request.client.host if request.client else "unknown"


def bearer(request: Request) -> str | None:
    """The bearer token of the request, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def authenticate(request: Request) -> store.AccountView:
    """The calling account; 401 without a valid token."""
    token = bearer(request)
    if token is None:
        raise ApiError(401, "unauthorized", "send 'Authorization: Bearer <token>'",
                       {"WWW-Authenticate": "Bearer"})
    svc = service(request)
    key = hash_token(token)
    cached = svc.token_cache.get(key)
    if cached is not None and time.monotonic() - cached[0] < TOKEN_CACHE_SECONDS:
        account: store.AccountView | None = cached[1]
    else:
        account = await svc.db.read(store.account_for_token, key)
        if account is not None:
            if len(svc.token_cache) > 10_000:
                svc.token_cache.clear()
            svc.token_cache[key] = (time.monotonic(), account)
    if account is None:
        raise ApiError(401, "unauthorized", "unknown or revoked token",
                       {"WWW-Authenticate": "Bearer"})
    request.state.account_kind = "probe" if account.is_probe else "real"
    return account


async def json_body(request: Request, limit: int = 64 * 1024) -> dict[str, Any]:
    """A JSON object body (at most ``limit`` bytes); 400 otherwise."""
    body = await request.body()
    if len(body) > limit:
        raise ApiError(413, "too_large", "the request body is too large")
    try:
        data = json.loads(body or b"{}")
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than Python's stack
        raise ApiError(400, "bad_json", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "bad_json", "the body must be a JSON object")
    _check_json(data, 0)
    return data


#: Deepest nesting of a request body; every API body is a flat object.
MAX_JSON_DEPTH = 8


def _check_json(value: object, depth: int) -> None:
    """Refuse nesting deeper than MAX_JSON_DEPTH and strings that are not valid Unicode."""
    if depth > MAX_JSON_DEPTH:
        raise ApiError(400, "bad_json", f"the body nests deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ApiError(400, "bad_json",
                           "the body holds a lone surrogate (\\ud800-\\udfff)") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_json(key, depth + 1)
            _check_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json(item, depth + 1)


def pdf_response(pdf: bytes, serial: str, *, status_code: int = 200, filename: str | None = None,
                 replayed: bool = False) -> Response:
    """A stamped document as a download: serial in a header, never cached by a proxy."""
    headers = {"X-Serial-Number": serial, "Cache-Control": "no-store",
               "Content-Disposition": f'attachment; filename="{filename or serial + ".pdf"}"'}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(pdf, status_code=status_code, media_type="application/pdf", headers=headers)


def placement_headers(placement: dict[str, Any] | None) -> dict[str, str]:
    """``X-Stamp-Box`` (llx,lly,urx,ury in points) and ``X-Stamp-Overlap``: what the stamp
    covers ("text", "image", "graphics", "signature", "annotation", "unknown"), or "none".

    A client whose box covers content learns it here and can choose another box.
    """
    if not placement:
        return {}
    overlaps = [str(k) for k in placement.get("overlaps", [])]
    return {"X-Stamp-Box": ",".join(f"{float(v):g}" for v in placement.get("box", [])),
            "X-Stamp-Overlap": ", ".join(overlaps) or "none"}
