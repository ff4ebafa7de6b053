"""The transaction kinds against a stamping-like API: ``purchase``, ``stamp`` and ``verify``.

Each function takes a :class:`~probes.http.Transaction`, raises
:class:`~probes.errors.ProbeFailure` when the service is wrong or unavailable, and records a
phase per step. The API is the one of the bundled stamping service: JSON under
``/api/v1``, errors as ``{error, message}``, ``GET /ca.pem`` and ``GET /verify/{serial}``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from pathlib import Path
from typing import Any

import httpx
from asn1crypto import x509 as asn1_x509

from probes.errors import ProbeFailure
from probes.http import Transaction
from probes.reference import reference_pdf
from probes.signature import check_signed_pdf, load_ca

__all__ = ["purchase", "run_purchase", "run_stamp", "run_verify", "stamp_once"]

log = logging.getLogger(__name__)

_FAILED_ORDER_STATES = frozenset({"expired", "failed", "cancelled", "canceled", "rejected"})
# Field names a verification answer may use for the hash of the stamped document.
_HASH_FIELDS = ("document_sha256", "sha256_after", "stamped_sha256", "sha256")
_DEFAULT_POLL_S = 0.2


def _poll_interval(tx: Transaction) -> float:
    value = tx.spec.options.get("poll_interval_s", _DEFAULT_POLL_S)
    return float(value) if isinstance(value, int | float) and value > 0 else _DEFAULT_POLL_S


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def _read_quota(tx: Transaction) -> tuple[int, int | None]:
    response = await tx.request("GET", f"{tx.spec.base_url}/api/v1/quota")
    tx.expect(response, 200)
    data = tx.json(response)
    available, spent = data.get("available"), data.get("spent")
    if not isinstance(available, int) or isinstance(available, bool):
        raise ProbeFailure("bad_response", "GET /api/v1/quota: no integer 'available'")
    return available, spent if isinstance(spent, int) and not isinstance(spent, bool) else None


def _credited(before: tuple[int, int | None], now: tuple[int, int | None], quantity: int) -> bool:
    # available + spent only grows with purchases, so stamps spent by another probe on the
    # same account while we wait do not hide (or fake) the credit.
    if before[1] is not None and now[1] is not None:
        return (now[0] + now[1]) - (before[0] + before[1]) >= quantity
    return now[0] - before[0] >= quantity


async def purchase(tx: Transaction, quantity: int = 1) -> None:
    """Order ``quantity`` stamps, wait until paid, then until the quota is credited.

    Phases: ``quota`` (reading the quota before), ``order``, ``pay`` and ``credit``.
    """
    base = tx.spec.base_url
    poll = _poll_interval(tx)
    with tx.step("quota"):
        before = await _read_quota(tx)
    with tx.step("order"):
        response = await tx.request(
            "POST",
            f"{base}/api/v1/orders",
            json_body={"quantity": quantity},
            # A fresh key per attempt: the service must return one order for one key.
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        tx.expect(response, 200, 201)
        order = tx.json(response)
    order_id = order.get("order_id", order.get("id"))
    if not isinstance(order_id, str | int) or isinstance(order_id, bool):
        raise ProbeFailure("bad_response", "POST /api/v1/orders: no order_id in the answer")
    status = order.get("status")
    with tx.step("pay"):
        while status != "paid":
            if status in _FAILED_ORDER_STATES:
                raise ProbeFailure("payment_failed", f"order {order_id} ended {status!r}")
            await asyncio.sleep(poll)
            response = await tx.request("GET", f"{base}/api/v1/orders/{order_id}")
            tx.expect(response, 200)
            status = tx.json(response).get("status")
    with tx.step("credit"):
        while True:
            if _credited(before, await _read_quota(tx), quantity):
                break
            await asyncio.sleep(poll)


async def run_purchase(tx: Transaction) -> None:
    """The ``purchase`` kind: one whole purchase of ``options["quantity"]`` (default 1)."""
    quantity = tx.spec.options.get("quantity", 1)
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        raise ProbeFailure("bad_config", "options.quantity must be a positive integer")
    await purchase(tx, quantity)


def _quota_exhausted(response: httpx.Response) -> bool:
    if response.status_code == 402:
        return True
    if not 400 <= response.status_code <= 499:
        return False
    try:
        data = response.json()
    except ValueError:
        return False
    text = f"{data.get('error', '')} {data.get('message', '')}" if isinstance(data, dict) else ""
    return "quota" in text.lower()


async def stamp_once(tx: Transaction, *, auto_purchase: bool) -> tuple[bytes, str]:
    """Stamp the reference PDF; returns the stamped PDF and its serial (phase ``stamp``).

    When the account's quota is exhausted (402, or a 4xx whose error mentions the quota) and
    ``auto_purchase`` is set, buy one stamp and try once more.
    """
    url = f"{tx.spec.base_url}/api/v1/stamps"
    files = {"file": ("probe-reference.pdf", reference_pdf(), "application/pdf")}
    with tx.step("stamp"):
        response = await tx.request("POST", url, files=files)
    if auto_purchase and _quota_exhausted(response):
        log.info("probe %s: quota exhausted, buying one stamp", tx.spec.name)
        await purchase(tx, 1)
        with tx.step("stamp"):
            response = await tx.request("POST", url, files=files)
    tx.expect(response, 200, 201)
    pdf = response.content
    if not pdf.startswith(b"%PDF-"):
        raise ProbeFailure("bad_response", "POST /api/v1/stamps: the answer is not a PDF")
    serial = response.headers.get("X-Serial-Number", "").strip()
    if not serial:
        raise ProbeFailure("bad_response", "POST /api/v1/stamps: no X-Serial-Number header")
    return pdf, serial


async def _fetch_ca(tx: Transaction) -> asn1_x509.Certificate:
    response = await tx.request("GET", f"{tx.spec.base_url}/ca.pem", auth=False)
    tx.expect(response, 200)
    try:
        ca = load_ca(response.content)
    except ValueError as exc:
        raise ProbeFailure("bad_response", f"GET /ca.pem: {exc}") from None
    tx.memory.ca.put(tx.spec.base_url, ca)
    return ca


async def _validate(tx: Transaction, pdf: bytes) -> None:
    cached = tx.memory.ca.get(tx.spec.base_url)
    ca = cached or await _fetch_ca(tx)
    check = await asyncio.to_thread(check_signed_pdf, pdf, ca)
    if cached is not None and check.signed and not check.trusted:
        # The service may have been re-created with a new CA since we cached the old one.
        check = await asyncio.to_thread(check_signed_pdf, pdf, await _fetch_ca(tx))
    if not check.readable:
        raise ProbeFailure("bad_response", "; ".join(check.reasons))
    if not check.ok:
        raise ProbeFailure("invalid_signature", "; ".join(check.reasons))


async def _verify_serial(tx: Transaction, serial: str, pdf: bytes) -> None:
    response = await tx.request(
        "GET", f"{tx.spec.base_url}/verify/{serial}", headers={"Accept": "application/json"}
    )
    if response.status_code == 404:
        raise ProbeFailure("wrong_serial", f"serial {serial} is unknown to /verify")
    tx.expect(response, 200)
    data = tx.json(response)
    if data.get("serial", serial) != serial:
        raise ProbeFailure("wrong_serial", f"/verify/{serial} answered for {data.get('serial')!r}")
    if any(data.get(flag) is False for flag in ("found", "exists", "valid")):
        raise ProbeFailure("wrong_serial", f"/verify/{serial} says the serial does not exist")
    recorded = next((data[f] for f in _HASH_FIELDS if isinstance(data.get(f), str)), None)
    if recorded is None:
        raise ProbeFailure("bad_response", f"/verify/{serial}: no document hash in the answer")
    if recorded.lower() != _sha256(pdf):
        raise ProbeFailure(
            "wrong_serial", f"/verify/{serial}: recorded hash differs from the returned document"
        )


async def run_stamp(tx: Transaction) -> None:
    """The ``stamp`` kind: stamp, validate the signature against the CA, resolve the serial.

    Phases: ``stamp`` (and ``quota``/``order``/``pay``/``credit`` when it had to buy),
    ``validate`` (including the fetch of ``/ca.pem`` when it is not cached) and
    ``verify_serial``.
    """
    auto_purchase = bool(tx.spec.options.get("auto_purchase", True))
    pdf, serial = await stamp_once(tx, auto_purchase=auto_purchase)
    with tx.step("validate"):
        await _validate(tx, pdf)
    with tx.step("verify_serial"):
        await _verify_serial(tx, serial, pdf)


async def _verify_document(tx: Transaction, document: bytes, serial: str | None) -> None:
    with tx.step("verify"):
        response = await tx.request(
            "POST",
            f"{tx.spec.base_url}/api/v1/verify",
            files={"file": ("probe-stamped.pdf", document, "application/pdf")},
        )
    tx.expect(response, 200)
    data: dict[str, Any] = tx.json(response)
    if data.get("valid") is not True:
        reasons = data.get("reasons")
        detail = "; ".join(map(str, reasons)) if isinstance(reasons, list) and reasons else ""
        raise ProbeFailure(
            "invalid_signature", f"the service calls a good document invalid {detail}".rstrip()
        )
    if serial is not None and data.get("serial", serial) != serial:
        raise ProbeFailure(
            "wrong_serial", f"verify answered serial {data.get('serial')!r}, not {serial}"
        )


async def run_verify(tx: Transaction) -> None:
    """The ``verify`` kind: POST a known stamped document to ``/api/v1/verify``, expect valid.

    The document is ``options["document"]`` (bytes) or the file at
    ``options["document_path"]`` (for TOML configuration), with an optional
    ``options["serial"]`` to cross-check; or else one stamped by this probe once per target
    and reused. If a reused document fails, it is dropped and a fresh one tried once in the
    same run, so a service re-created with a new CA does not look broken forever.
    """
    given = tx.spec.options.get("document")
    path = tx.spec.options.get("document_path")
    if given is None and isinstance(path, str):
        try:
            given = await asyncio.to_thread(Path(path).read_bytes)
        except OSError as exc:
            raise ProbeFailure("bad_config", f"options.document_path: {exc}") from None
    if given is not None:
        if not isinstance(given, bytes | bytearray):
            raise ProbeFailure("bad_config", "options.document must be bytes")
        serial = tx.spec.options.get("serial")
        await _verify_document(tx, bytes(given), serial if isinstance(serial, str) else None)
        return
    key = (tx.spec.base_url, tx.spec.token)
    cached = tx.memory.documents.get(key)
    if cached is not None:
        try:
            await _verify_document(tx, *cached)
            return
        except ProbeFailure as failure:
            if failure.error_class not in {"invalid_signature", "wrong_serial"}:
                raise
            log.info("probe %s: cached document rejected, stamping a fresh one", tx.spec.name)
            tx.memory.documents.drop(key)
    document, serial = await stamp_once(tx, auto_purchase=True)
    tx.memory.documents.put(key, (document, serial))
    await _verify_document(tx, document, serial)

