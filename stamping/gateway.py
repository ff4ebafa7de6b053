"""A simulated QRIS-like payment gateway and the verification of its notifications.

The gateway signs each notification with HMAC-SHA256 over the raw body
(header ``X-Gateway-Signature: <hex>``).  A notification is accepted once: its
``event_id`` is recorded in the same transaction that credits the quota.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

__all__ = ["Notification", "NotificationError", "build_notification", "parse_notification",
           "qris_payload", "sign"]

SIGNATURE_HEADER = "X-Gateway-Signature"


class NotificationError(Exception):
    """A notification the service refuses (forged, stale or malformed)."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(code, message)
        self.code, self.message, self.status = code, message, status


@dataclass(frozen=True)
class Notification:
    """A verified payment notification."""

    event_id: str
    order_id: str
    amount: int
    paid_at: dt.datetime


def _tlv(tag: str, value: str) -> str:
    return f"{tag}{len(value):02d}{value}"


def _crc16(data: bytes) -> str:
    crc = 0xFFFF  # CRC-16/CCITT-FALSE, as EMVCo QR codes use
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return f"{crc:04X}"


def qris_payload(payment_ref: str, amount: int) -> str:
    """An EMVCo-shaped dynamic QRIS string for the order (simulation, not a real merchant)."""
    merchant = _tlv("00", "ID.CO.QRIS.WWW") + _tlv("01", "ID1024000000001") + \
        _tlv("02", payment_ref[:20])
    body = (_tlv("00", "01") + _tlv("01", "12") + _tlv("26", merchant) + _tlv("52", "4814")
            + _tlv("53", "360") + _tlv("54", str(amount)) + _tlv("58", "ID")
            + _tlv("59", "METERAI SIMULASI") + _tlv("60", "JAKARTA")
            + _tlv("62", _tlv("05", payment_ref[:25])) + "6304")
    return body + _crc16(body.encode())


def sign(key: bytes, body: bytes) -> str:
    """The gateway's signature of a raw notification body."""
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def build_notification(key: bytes, order_id: str, amount: int,
                       now: dt.datetime) -> tuple[bytes, str]:
    """What the gateway sends when an order is paid: (raw body, signature)."""
    body = json.dumps({"event_id": "EV" + secrets.token_hex(12), "order_id": order_id,
                       "amount": amount, "status": "PAID",
                       "paid_at": now.isoformat()}).encode()
    return body, sign(key, body)


def parse_notification(key: bytes, body: bytes, signature: str | None, now: dt.datetime,
                       max_age: dt.timedelta) -> Notification:
    """Verify and parse a notification; raise NotificationError when it must be refused."""
    if not signature or not hmac.compare_digest(sign(key, body), signature.strip().lower()):
        raise NotificationError("bad_signature", "the notification signature is invalid", 401)
    try:
        data = json.loads(body)
        event_id, order_id = str(data["event_id"]), str(data["order_id"])
        amount, status = int(data["amount"]), str(data["status"])
        paid_at = dt.datetime.fromisoformat(str(data["paid_at"]))
    except (ValueError, KeyError, TypeError):
        raise NotificationError("bad_notification", "the notification is malformed", 400) \
            from None
    if status != "PAID":
        raise NotificationError("not_paid", f"status {status!r} does not credit anything", 400)
    if paid_at.tzinfo is None or abs(now - paid_at) > max_age:
        raise NotificationError("stale_notification",
                                "the notification is too old (replay?)", 400)
    return Notification(event_id, order_id, amount, paid_at)
