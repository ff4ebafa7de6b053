"""Standard Webhooks 1.0 signatures (https://www.standardwebhooks.com/).

``webhook-signature`` is a space-separated list of ``v1,<base64 HMAC-SHA256>`` over
``{webhook-id}.{webhook-timestamp}.{body}`` with the secret's raw bytes; a secret is ``whsec_``
followed by base64 of 32 random bytes. During a rotation both the new and the previous secret
sign each message, so a receiver still holding the old one keeps verifying for 24 hours.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable

__all__ = ["SECRET_PREFIX", "new_secret", "sign", "signature_headers", "valid_secret"]

SECRET_PREFIX = "whsec_"  # noqa: S105 - the spec's prefix, not a secret
_SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh signing secret (``whsec_`` + base64 of 32 random bytes)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode("ascii")


def _key(secret: str) -> bytes:
    raw = secret[len(SECRET_PREFIX):] if secret.startswith(SECRET_PREFIX) else secret
    return base64.b64decode(raw)


def valid_secret(secret: str) -> bool:
    """Whether ``secret`` is a ``whsec_`` secret of 24 to 64 bytes."""
    if not secret.startswith(SECRET_PREFIX):
        return False
    try:
        return 24 <= len(_key(secret)) <= 64
    except ValueError:
        return False


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature."""
    mac = hmac.new(_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode("ascii")


def signature_headers(secrets_: Iterable[str], msg_id: str, timestamp: int,
                      body: bytes) -> dict[str, str]:
    """The three ``webhook-*`` headers, signed with every secret given (rotation overlap)."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, msg_id, timestamp, body) for s in secrets_),
    }
