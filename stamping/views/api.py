"""JSON API: accounts, orders, payments, quota and the fault-injection admin."""

from __future__ import annotations

import datetime as dt
import logging
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from stamping import gateway, store
from stamping.errors import ApiError
from stamping.faults import parse_fault_spec
from stamping.rules import normalise_phone
from stamping.service import Service, now
from stamping.views.common import authenticate, bearer, json_body, service

__all__ = ["admin_faults", "create_account", "create_order", "get_order", "get_quota", "login",
           "payment_callback", "simulate_payment", "verify_account"]

logger = logging.getLogger(__name__)
_hasher = PasswordHasher()


def _phone(data: dict[str, object]) -> str:
    try:
        return normalise_phone(str(data.get("phone", "")))
    except ValueError as exc:
        raise ApiError(422, "bad_phone", str(exc)) from None


async def create_account(request: Request) -> Response:
    """Register (or re-send the OTP to) a phone number."""
    svc = service(request)
    data = await json_body(request)
    phone = _phone(data)
    name = str(data.get("name", "")).strip()
    password = str(data.get("password", ""))
    if not 1 <= len(name) <= 200:
        raise ApiError(422, "bad_name", "name must be 1 to 200 characters")
    if not 8 <= len(password) <= 200:
        raise ApiError(422, "bad_password", "password must be 8 to 200 characters")
    password_hash = await run_in_threadpool(_hasher.hash, password)
    code = f"{secrets.randbelow(10**6):06d}"
    expires = await svc.db.write(store.register, phone, name, password_hash, code,
                                 dt.timedelta(seconds=svc.settings.otp_ttl_seconds), now())
    # The default OTP sender: the service log and the outbox table.
    logger.info("OTP for %s: %s (valid until %s)", phone, code, expires.isoformat())
    return JSONResponse({"phone": phone, "name": name, "status": "pending_verification",
                         "otp_expires_at": expires.isoformat()}, status_code=201)


async def verify_account(request: Request) -> Response:
    """Check the OTP and hand out an API token."""
    svc = service(request)
    data = await json_body(request)
    phone = _phone(data)
    otp = str(data.get("otp", "")).strip()
    if not (len(otp) == 6 and otp.isdigit()):
        raise ApiError(422, "bad_otp", "the code has 6 digits")
    result = await svc.db.write(store.verify_otp, phone, otp, svc.settings.otp_max_attempts,
                                now())
    if isinstance(result, store.StoreError):
        raise result
    return JSONResponse({"token": result})


async def login(request: Request) -> Response:
    """Exchange phone + password of a verified account for a new token."""
    svc = service(request)
    data = await json_body(request)
    phone = _phone(data)
    found = await svc.db.read(store.login_hash, phone)
    try:
        if found is None:
            raise VerificationError
        await run_in_threadpool(_hasher.verify, found[1], str(data.get("password", "")))
    except VerificationError:
        raise ApiError(401, "bad_credentials", "wrong phone number or password") from None
    token = await svc.db.write(store.issue_token, found[0], now())
    return JSONResponse({"token": token})


def order_json(svc: Service, order: store.OrderView) -> dict[str, object]:
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
    if not 1 <= len(key) <= 200:
        raise ApiError(400, "missing_idempotency_key", "send an Idempotency-Key header")
    data = await json_body(request)
    quantity = data.get("quantity")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or \
            not 1 <= quantity <= svc.settings.max_order_quantity:
        raise ApiError(422, "bad_quantity",
                       f"quantity must be an integer from 1 to {svc.settings.max_order_quantity}")
    async with svc.purchase_gate.admit(), svc.purchase_gate.slot():
        order, created = await svc.db.write(
            store.create_order, account, key, quantity, svc.settings.stamp_price,
            svc.settings.service_fee, dt.timedelta(seconds=svc.settings.order_ttl_seconds),
            now())
    if created and order.status == "paid":
        svc.metrics.quota_sold.labels("probe" if order.is_probe else "real").inc(order.quantity)
    headers = {} if created else {"Idempotent-Replayed": "true"}
    return JSONResponse(order_json(svc, order), status_code=201, headers=headers)


async def get_order(request: Request) -> Response:
    """One of the caller's orders."""
    svc = service(request)
    account = await authenticate(request)
    order = await svc.db.read(store.get_order, account.id, request.path_params["order_id"],
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


async def process_notification(svc: Service, body: bytes,
                               signature: str | None) -> dict[str, object]:
    """Verify a gateway notification and credit the order once (shared by both paths)."""
    note = gateway.parse_notification(
        svc.payment_key, body, signature, now(),
        dt.timedelta(seconds=svc.settings.callback_max_age_seconds))
    async with svc.purchase_gate.admit(), svc.purchase_gate.slot():
        order, credited = await svc.db.write(store.apply_payment, note.event_id, note.order_id,
                                             note.amount, now())
    if credited:
        svc.metrics.quota_sold.labels("probe" if order.is_probe else "real").inc(order.quantity)
    return {"order_id": order.id, "status": order.status, "credited": credited}


async def payment_callback(request: Request) -> Response:
    """The gateway's HMAC-signed notification."""
    svc = service(request)
    body = await request.body()
    result = await process_notification(svc, body,
                                        request.headers.get(gateway.SIGNATURE_HEADER))
    return JSONResponse(result)


async def simulate_payment(request: Request) -> Response:
    """The simulated payer: 'pays' a QRIS reference, making the gateway send its callback."""
    svc = service(request)
    order = await svc.db.read(store.order_by_payment_ref, request.path_params["payment_ref"],
                              now())
    if order is None:
        raise ApiError(404, "unknown_payment", "no such payment reference")
    body, signature = gateway.build_notification(svc.payment_key, order.id, order.amount, now())
    callback = await process_notification(svc, body, signature)
    return JSONResponse({"callback": callback, "notification": body.decode(),
                         "signature": signature})


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
