"""Stamping and verification endpoints, plus health, metrics and the CA certificate."""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from stamping import actions, ledger, store
from stamping.errors import ApiError
from stamping.rules import SERIAL_ALPHABET, SERIAL_LENGTH
from stamping.upload import read_upload
from stamping.views.common import authenticate, pdf_response, placement_headers, service

__all__ = ["ca_pem", "create_stamp", "get_stamp", "get_stamp_document", "healthz", "metrics",
           "readyz", "verify_serial", "verify_upload"]

logger = logging.getLogger(__name__)
#: A readiness check must answer even when the database hangs (a blocked connection).
READY_DB_TIMEOUT_SECONDS = 2.0


async def create_stamp(request: Request) -> Response:
    """Stamp an uploaded PDF: one quota unit is spent only if the stamped PDF is produced."""
    svc = service(request)
    account = await authenticate(request)
    faults = await svc.faults.current()
    async with svc.stamp_gate.admit(faults.capacity):
        upload = await read_upload(request, svc.settings.max_upload_bytes)
        key = request.headers.get("idempotency-key", "").strip() or None
        done = await actions.stamp(svc, account, upload.data, upload.fields.get("page", ""),
                                   upload.fields.get("box", ""), key)
    response = pdf_response(done.pdf, done.serial, status_code=200 if done.replayed else 201,
                            replayed=done.replayed)
    response.headers.update(placement_headers(done.placement))
    return response



async def get_stamp(request: Request) -> Response:
    """Status of one of the caller's stamps (the partner-API "stamp status")."""
    svc = service(request)
    account = await authenticate(request)
    record = await svc.db.read(ledger.stamp_record, request.path_params["serial"].upper())
    if record is None or record.account_id != account.id:
        raise ApiError(404, "unknown_serial", "no such stamp on this account")
    return JSONResponse({
        "serial": record.serial, "status": record.status,
        "stamped_at": record.stamped_at.isoformat() if record.stamped_at else None,
        "sha256_before": record.sha256_before, "document_sha256": record.sha256_after,
        "placement": record.placement})


async def get_stamp_document(request: Request) -> Response:
    """Download one of the caller's stamped documents again (kept for a few days).

    A client whose connection dropped after the stamp was issued gets what it paid for
    instead of losing the unit: the serial is in ``GET /api/v1/stamps/{serial}`` or the
    account page.
    """
    svc = service(request)
    account = await authenticate(request)
    serial = request.path_params["serial"].upper()
    pdf = await svc.db.read(ledger.stamped_document, serial, account.id) if _serial_ok(
        serial) else None
    if pdf is None:
        raise ApiError(404, "unknown_document",
                       "no kept document for this serial on this account (unknown, or older "
                       f"than {svc.settings.document_retention_hours} hours)")
    return pdf_response(pdf, serial)


async def verify_upload(request: Request) -> Response:
    """Validate an uploaded stamped PDF: signature, trust, serial and document hash."""
    svc = service(request)
    async with svc.verify_gate.admit():
        upload = await read_upload(request, svc.settings.max_upload_bytes)
        verdict = await actions.verify(svc, upload.data)
    return JSONResponse(verdict)


def _serial_ok(serial: str) -> bool:
    return len(serial) == SERIAL_LENGTH and all(c in SERIAL_ALPHABET for c in serial)


async def verify_serial(request: Request) -> Response:
    """The QR target: whether a serial exists, when it was used, and the document hash."""
    svc = service(request)
    serial = request.path_params["serial"].strip().upper()
    record = await svc.db.read(ledger.stamp_record, serial) if _serial_ok(serial) else None
    issued = record is not None and record.status == "issued"
    data = {
        "serial": serial,
        "exists": issued,
        "stamped_at": record.stamped_at.isoformat() if issued and record and record.stamped_at
        else None,
        "document_sha256": record.sha256_after if issued and record else None,
    }
    status = 200 if issued else 404
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(data, status_code=status)
    html = svc.templates.get_template("verify.html").render(
        record=data, public_url=svc.settings.public_url)
    return HTMLResponse(html, status_code=status)


async def ca_pem(request: Request) -> Response:
    """The service CA certificate, for verifiers."""
    return Response(service(request).ca_pem, media_type="application/x-pem-file")


async def healthz(request: Request) -> Response:
    """Liveness: the process answers."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Readiness: the database answers and the signing pool can sign; says what is wrong."""
    svc = service(request)
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(svc.db.read(store.quota_probe), READY_DB_TIMEOUT_SECONDS)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unavailable: {type(exc).__name__}: {str(exc)[:200]}"
    health = svc.pool.health()
    checks["signing_pool"] = health.detail
    ready = all(v == "ok" for v in checks.values())
    body = {"status": "ready" if ready else "unavailable", "checks": checks,
            "workers": health.workers, "overdue_jobs": health.overdue_jobs,
            "pool_restarts": health.restarts,
            "queue": {g.name: g.waiting for g in svc.gates}}
    return JSONResponse(body, status_code=200 if ready else 503,
                        headers=None if ready else {"Retry-After": "5"})


async def metrics(request: Request) -> Response:
    """Prometheus exposition."""
    svc = service(request)
    svc.metrics.observe_gates(svc.gates)
    return Response(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)
