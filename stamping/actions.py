"""Operations shared by the JSON API and the HTML pages (one code path for both)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from stamping import gateway, ledger, orders, store, throttle, web_sessions
from stamping.errors import ApiError
from stamping.rules import clean_text, is_ascii_digits, new_serial, normalise_phone
from stamping.service import Service, now
from stamping.signer import DocumentError, StampJob, parse_box

__all__ = ["Registered", "Stamped", "create_order", "login", "parse_page", "parse_quantity",
           "password_or_error", "pay_simulated", "process_notification", "register", "stamp",
           "verify", "verify_otp", "web_login", "web_logout"]

logger = logging.getLogger(__name__)
_hasher = PasswordHasher()


@dataclass(frozen=True)
class Registered:
    """A registration waiting for its OTP."""

    phone: str
    name: str
    otp_expires_at: dt.datetime


@dataclass(frozen=True)
class Stamped:
    """A stamped document; ``replayed`` when an earlier request with the same key made it."""

    serial: str
    pdf: bytes
    replayed: bool = False
    #: where the stamp went and what it covers ({box, auto, overlaps}); None for stamps
    #: made before placement was recorded
    placement: dict[str, Any] | None = None


def password_or_error(raw: object) -> str:
    """A password of 8 to 200 characters that is valid Unicode, or a 422."""
    password = str(raw if raw is not None else "")
    if not 8 <= len(password) <= 200:
        raise ApiError(422, "bad_password", "password must be 8 to 200 characters")
    if not _encodable(password):
        raise ApiError(422, "bad_password", "the password is not valid Unicode")
    return password


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates ("\ud800") from JSON escapes
        return False
    return True


def phone_or_error(raw: object) -> str:
    """The E.164 phone number, or a 422."""
    try:
        return normalise_phone(str(raw or ""))
    except ValueError as exc:
        raise ApiError(422, "bad_phone", str(exc)) from None


async def register(svc: Service, phone_raw: object, name_raw: object,
                   password_raw: object, address: str) -> Registered:
    """Register (or re-send the OTP to) a phone number; OTP messages are throttled."""
    phone = phone_or_error(phone_raw)
    try:
        name = clean_text(name_raw, "name", 200)
    except ValueError as exc:
        raise ApiError(422, "bad_name", str(exc)) from None
    password = password_or_error(password_raw)
    await svc.db.write(throttle.otp_gate, svc.throttle, phone, address, now())
    async with svc.account_gate.admit(), svc.account_gate.slot():
        password_hash = await run_in_threadpool(_hasher.hash, password)
    code = f"{secrets.randbelow(10**6):06d}"
    expires = await svc.db.write(store.register, phone, name, password_hash, code,
                                 dt.timedelta(seconds=svc.settings.otp_ttl_seconds), now())
    await svc.otp_sender.send(phone, code, expires)
    return Registered(phone, name, expires)


async def verify_otp(svc: Service, phone_raw: object, otp_raw: object,
                     web: bool = False) -> str:
    """Check the OTP; returns a new API token, or a web session token when ``web``."""
    phone = phone_or_error(phone_raw)
    otp = str(otp_raw or "").strip()
    if not (len(otp) == 6 and is_ascii_digits(otp)):
        raise ApiError(422, "bad_otp", "the code has 6 digits")
    issue = web_sessions.opener(_session_ttl(svc)) if web else None
    result = await svc.db.write(store.verify_otp, phone, otp, svc.settings.otp_max_attempts,
                                now(), issue)
    if isinstance(result, store.StoreError):
        raise result
    return result


def _session_ttl(svc: Service) -> dt.timedelta:
    return dt.timedelta(hours=svc.settings.web_session_hours)


async def _check_password(svc: Service, phone_raw: object, password_raw: object,
                          address: str) -> int:
    """The account id for a right phone + password; throttled per address and per phone."""
    phone = phone_or_error(phone_raw)
    await svc.db.write(throttle.login_gate, svc.throttle, phone, address, now())
    found = await svc.db.read(store.login_hash, phone)
    try:
        if found is None:
            raise VerificationError
        password = str(password_raw or "")
        if not _encodable(password):
            raise VerificationError
        async with svc.account_gate.admit(), svc.account_gate.slot():
            await run_in_threadpool(_hasher.verify, found[1], password)
    except VerificationError:
        await svc.db.write(throttle.login_failed, svc.throttle, phone, address, now())
        raise ApiError(401, "bad_credentials", "wrong phone number or password") from None
    return found[0]


async def login(svc: Service, phone_raw: object, password_raw: object, address: str) -> str:
    """Phone + password of a verified account -> a new API token."""
    account_id = await _check_password(svc, phone_raw, password_raw, address)
    return await svc.db.write(store.issue_token, account_id, now())


async def web_login(svc: Service, phone_raw: object, password_raw: object,
                    address: str) -> str:
    """Phone + password on the HTML pages -> a new web session token (revocable)."""
    account_id = await _check_password(svc, phone_raw, password_raw, address)
    return await svc.db.write(web_sessions.opener(_session_ttl(svc)), account_id, now())


async def web_logout(svc: Service, token: str) -> None:
    """Revoke a web session."""
    await svc.db.write(web_sessions.revoke, token, now())


def parse_quantity(raw: str) -> int | str:
    """A form's quantity as an int when it is ASCII digits (at most 9), else the raw text
    (which :func:`create_order` refuses with 422)."""
    raw = raw.strip()
    return int(raw) if is_ascii_digits(raw) and len(raw) <= 9 else raw


async def create_order(svc: Service, account: store.AccountView, key: str,
                       quantity: object) -> tuple[orders.OrderView, bool]:
    """An order for ``quantity`` stamps, once per idempotency key: (order, created)."""
    if not 1 <= len(key) <= 200:
        raise ApiError(400, "missing_idempotency_key", "send an Idempotency-Key header")
    limit = svc.settings.max_order_quantity
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= limit:
        raise ApiError(422, "bad_quantity", f"quantity must be an integer from 1 to {limit}")
    async with svc.purchase_gate.admit(), svc.purchase_gate.slot():
        order, created = await svc.db.write(
            orders.create_order, account, key, quantity, svc.settings.stamp_price,
            svc.settings.service_fee, dt.timedelta(seconds=svc.settings.order_ttl_seconds),
            now())
    if created and order.status == "paid":
        svc.metrics.quota_sold.labels("probe" if order.is_probe else "real").inc(order.quantity)
    return order, created


async def process_notification(svc: Service, body: bytes,
                               signature: str | None) -> dict[str, object]:
    """Verify a gateway notification and credit the order once."""
    note = gateway.parse_notification(
        svc.payment_key, body, signature, now(),
        dt.timedelta(seconds=svc.settings.callback_max_age_seconds))
    async with svc.purchase_gate.admit(), svc.purchase_gate.slot():
        order, credited = await svc.db.write(orders.apply_payment, note.event_id, note.order_id,
                                             note.amount, now())
    if credited:
        svc.metrics.quota_sold.labels("probe" if order.is_probe else "real").inc(order.quantity)
    return {"order_id": order.id, "status": order.status, "credited": credited}


async def pay_simulated(svc: Service, payment_ref: str) -> dict[str, object]:
    """The simulated payer pays; the gateway sends its signed notification."""
    order = await svc.db.read(orders.order_by_payment_ref, payment_ref, now())
    if order is None:
        raise ApiError(404, "unknown_payment", "no such payment reference")
    body, signature = gateway.build_notification(svc.payment_key, order.id, order.amount, now())
    callback = await process_notification(svc, body, signature)
    return {"callback": callback, "notification": body.decode(), "signature": signature}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_page(raw: str) -> int | None:
    """The 1-based page number of a form, or None for the last page."""
    raw = raw.strip()
    if not raw:
        return None
    # ASCII digits only ("²" passes str.isdigit but not int()); 6 digits is past any document.
    if not is_ascii_digits(raw) or len(raw) > 6 or int(raw) < 1:
        raise DocumentError("bad_page", "page must be a positive integer (1-based), in ASCII "
                                        "digits")
    return int(raw)


async def _release(svc: Service, serial: str) -> None:
    try:
        await svc.db.write(ledger.release_stamp, serial)
    except Exception:  # the sweeper releases it later
        logger.exception("could not release reservation %s", serial)


async def _reserve(svc: Service, account: store.AccountView, key: str | None,
                   digest: str) -> str:
    for _ in range(3):
        serial = new_serial()
        try:
            if not await svc.db.write(ledger.reserve_stamp, account, serial, now(), key,
                                      digest):
                raise ApiError(402, "quota_exhausted", "no stamps left; buy more first")
            return serial
        except IntegrityError:
            # another request holds this key (a concurrent retry), or a serial collision
            # (astronomically rare): the debit rolled back with the insert
            if key is not None and await _replay(svc, account, key, digest) is not None:
                raise _AlreadyStamped(key) from None
            continue
    raise ApiError(500, "serial_allocation_failed", "could not allocate a serial number")


class _AlreadyStamped(Exception):
    """A concurrent request with the same key finished first; answer with its document."""


async def _replay(svc: Service, account: store.AccountView, key: str,
                  digest: str) -> Stamped | None:
    """The stamp an earlier request with ``key`` made, or None when there is none.

    The key names one document: the same key with a different document (``digest`` is the
    upload's SHA-256) is a client bug, answered 409 as orders do, never the first stamp.
    """
    found = await svc.db.read(ledger.stamp_for_key, account.id, key)
    if found is None:
        return None
    serial, status, first_digest = found
    if first_digest is not None and first_digest != digest:
        raise ApiError(409, "idempotency_conflict",
                       "this Idempotency-Key was used for a different document")
    if status != "issued":
        raise ApiError(409, "stamp_in_progress",
                       "a stamp with this Idempotency-Key is still being made; retry shortly")
    pdf = await svc.db.read(ledger.stamped_document, serial, account.id)
    if pdf is None:
        raise ApiError(410, "document_expired",
                       f"stamp {serial} was made with this key, but its document is no longer "
                       "kept; use a new key for a new stamp")
    record = await svc.db.read(ledger.stamp_record, serial)
    return Stamped(serial, pdf, replayed=True,
                   placement=record.placement if record is not None else None)


async def stamp(svc: Service, account: store.AccountView, pdf: bytes, page_raw: str,
                box_raw: str, idempotency_key: str | None = None) -> Stamped:
    """Stamp a document (call inside ``svc.stamp_gate.admit()``).

    One quota unit is reserved before signing and either committed with the ledger entry
    or given back: a unit is spent exactly when a stamped document exists. With an
    ``idempotency_key``, a retry of the same request returns the first stamp again.
    """
    digest = await run_in_threadpool(_sha256, pdf)
    if idempotency_key is not None:
        if not 1 <= len(idempotency_key) <= 100:
            raise ApiError(400, "bad_idempotency_key", "Idempotency-Key: 1 to 100 characters")
        replay = await _replay(svc, account, idempotency_key, digest)
        if replay is not None:
            return replay
    page = parse_page(page_raw)
    box = parse_box(box_raw.strip()) if box_raw.strip() else None
    if b"%PDF-" not in pdf[:1024]:
        raise DocumentError("not_pdf", "the file is not a PDF document")
    svc.pool.check_can_sign()  # 503 before a unit is reserved
    try:
        serial = await _reserve(svc, account, idempotency_key, digest)
    except _AlreadyStamped:
        assert idempotency_key is not None
        replay = await _replay(svc, account, idempotency_key, digest)
        assert replay is not None
        return replay
    try:
        async with svc.stamp_gate.slot():
            started = time.perf_counter()
            result = await svc.pool.stamp(StampJob(
                pdf=pdf, serial=serial, page=page, box=box,
                verify_url=f"{svc.settings.public_url}/verify/{serial}"))
            svc.metrics.signing.observe(time.perf_counter() - started)
        await svc.db.write(ledger.complete_stamp, serial, result.sha256_before,
                           result.sha256_after, now(), result.pdf, result.placement)
    except BaseException:
        # Shielded so that a cancelled request still gives its unit back.
        await asyncio.shield(_release(svc, serial))
        raise
    svc.metrics.quota_spent.labels("probe" if account.is_probe else "real").inc()
    return Stamped(serial, result.pdf, placement=result.placement)


async def verify(svc: Service, pdf: bytes) -> dict[str, object]:
    """Validate a stamped PDF (call inside ``svc.verify_gate.admit()``).

    The signature must be intact and chain to the service CA, the serial must be in the
    ledger, and the stamped revision must hash to what the ledger recorded.
    """
    svc.pool.check_can_sign()
    async with svc.verify_gate.slot():
        result = await svc.pool.verify(pdf)
    reasons = list(result.reasons)
    record = None
    if result.serial is not None:
        record = await svc.db.read(ledger.stamp_record, result.serial)
        if record is None or record.status != "issued":
            reasons.append("the serial number is not in the ledger")
        elif record.sha256_after != result.document_sha256:
            reasons.append("the document differs from the one stamped with this serial")
    if result.found and not result.whole_file:
        reasons.append("the document was changed after stamping")
    return {
        "valid": bool(result.found and result.intact and result.trusted and not reasons),
        "serial": result.serial,
        "stamped_at": record.stamped_at.isoformat() if record and record.stamped_at else None,
        "document_sha256": result.document_sha256,
        "reasons": reasons,
    }
