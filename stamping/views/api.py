"""JSON API: accounts, orders, payments, quota and the fault-injection admin."""

from __future__ import annotations

import logging
import secrets

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from stamping import actions, gateway, orders, store
from stamping.errors import ApiError
from stamping.faults import parse_fault_spec
from stamping.service import Service, now
from stamping.views.common import authenticate, bearer, client_address, json_body, service

__all__ = ["admin_faults", "create_account", "create_order", "get_order", "get_quota", "login",
           "order_json", "payment_callback", "simulate_payment", "verify_account"]

logger = logging.getLogger(__name__)


async def create_account(request: Request) -> Response:
    """Register (or re-send the OTP to) a phone number."""
    data = await json_body(request)
    reg = await actions.register(service(request), data.get("phone"), data.get("name"),
                                 data.get("password"), client_address(request))
    return JSONResponse({"phone": reg.phone, "name": reg.name, "status": "pending_verification",
                         "otp_expires_at": reg.otp_expires_at.isoformat()}, status_code=201)


async def verify_account(request: Request) -> Response:
    """Check the OTP and hand out an API token."""
    data = await json_body(request)
    token = await actions.verify_otp(service(request), data.get("phone"), data.get("otp"))
    return JSONResponse({"token": token})


async def login(request: Request) -> Response:
    """Exchange phone + password of a verified account for a new token."""
    data = await json_body(request)
    token = await actions.login(service(request), data.get("phone"), data.get("password"),
                                client_address(request))
    return JSONResponse({"token": token})


def order_json(svc: Service, order: orders.OrderView) -> dict[str, object]:
    """The API shape of an order, with its QRIS payment instructions."""
    return {
        "order_id": order.id,
        "quantity": order.quantity,
        "amount": order.amount,
        "currency": "IDR",
        "status": order.status,
        "created_at": order.created_at.isoformat(),
        "paid_at": order.paid_at.isoformat() if order.paid_at else None,
        "payment": {
            "method": "QRIS",
            "payment_ref": order.payment_ref,
            "qris": gateway.qris_payload(order.payment_ref, order.amount),
            "expires_at": order.expires_at.isoformat(),
            "simulate_url": f"{svc.settings.public_url}/api/v1/payments/simulate/"
                            f"{order.payment_ref}",
        },
    }


async def create_order(request: Request) -> Response:
    """Buy stamps; the Idempotency-Key makes retries return the same order."""
    svc = service(request)
    account = await authenticate(request)
    key = request.headers.get("idempotency-key", "").strip()
    if not key:
        raise ApiError(400, "missing_idempotency_key", "send an Idempotency-Key header")
    data = await json_body(request)
    order, created = await actions.create_order(svc, account, key, data.get("quantity"))
    headers = {} if created else {"Idempotent-Replayed": "true"}
    return JSONResponse(order_json(svc, order), status_code=201, headers=headers)


async def get_order(request: Request) -> Response:
    """One of the caller's orders."""
    svc = service(request)
    account = await authenticate(request)
    order = await svc.db.read(orders.get_order, account.id, request.path_params["order_id"],
                              now())
    if order is None:
        raise ApiError(404, "unknown_order", "no such order")
    return JSONResponse(order_json(svc, order))


async def get_quota(request: Request) -> Response:
    """Stamps available and spent."""
    svc = service(request)
    account = await authenticate(request)
    available, spent = await svc.db.read(store.quota, account.id)
    return JSONResponse({"available": available, "spent": spent})


async def payment_callback(request: Request) -> Response:
    """The gateway's HMAC-signed notification."""
    body = await request.body()
    result = await actions.process_notification(
        service(request), body, request.headers.get(gateway.SIGNATURE_HEADER))
    return JSONResponse(result)


async def simulate_payment(request: Request) -> Response:
    """The simulated payer: 'pays' a QRIS reference, making the gateway send its callback."""
    result = await actions.pay_simulated(service(request), request.path_params["payment_ref"])
    return JSONResponse(result)


async def admin_faults(request: Request) -> Response:
    """Read (GET) or replace (POST) the injected faults; admin token required."""
    svc = service(request)
    expected = svc.settings.admin_token
    if not expected:
        raise ApiError(403, "admin_disabled", "set STAMPING_ADMIN_TOKEN to enable the admin API")
    token = bearer(request)
    if token is None or not secrets.compare_digest(token.encode(), expected.encode()):
        raise ApiError(401, "unauthorized", "wrong admin token", {"WWW-Authenticate": "Bearer"})
    if request.method == "POST":
        try:
            spec = parse_fault_spec(await json_body(request))
        except ValueError as exc:
            raise ApiError(422, "bad_faults", str(exc)) from None
        await svc.faults.replace(spec)
        logger.warning("faults set: %s", spec.as_json())
    else:
        spec = await svc.faults.current()
    return JSONResponse(spec.as_json())
