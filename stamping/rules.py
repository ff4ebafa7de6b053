"""Pure rules of the stamping service: phone numbers, serials, tokens, prices."""

from __future__ import annotations

import hashlib
import re
import secrets
import string

__all__ = ["SERIAL_ALPHABET", "SERIAL_LENGTH", "hash_token", "new_serial", "new_token",
           "normalise_phone", "order_amount"]

SERIAL_LENGTH = 22
#: Upper-case letters and digits without look-alikes (0/O, 1/I) so a serial read off
#: paper can be typed back; 32 symbols ** 22 is about 2**110, so collisions are never a
#: practical concern, and the primary key catches one anyway.
SERIAL_ALPHABET = "".join(c for c in string.ascii_uppercase + string.digits if c not in "0O1I")

assert len(SERIAL_ALPHABET) == 32

_SEPARATORS = re.compile(r"[\s\-().]")


def normalise_phone(raw: str) -> str:
    """An Indonesian mobile (WhatsApp) number in E.164 form, e.g. ``+6281234567890``.

    Accepts ``08...``, ``+62...``, ``62...`` and ``8...`` with spaces, dashes, dots or
    parentheses; raises ValueError for anything else.
    """
    text = _SEPARATORS.sub("", raw or "")
    if text.startswith("+"):
        text = text[1:]
        if not text.startswith("62"):
            raise ValueError("only Indonesian (+62) numbers are accepted")
    if not text.isdigit():
        raise ValueError("a phone number has only digits")
    if text.startswith("62"):
        national = text[2:]
    elif text.startswith("0"):
        national = text[1:]
    else:
        national = text
    # Mobile numbers start with 8 and have 9 to 12 digits after the country code.
    if not national.startswith("8") or not 9 <= len(national) <= 12:
        raise ValueError("not an Indonesian mobile number (expected 08xx-xxxx-xxxx)")
    return "+62" + national


def new_serial() -> str:
    """A fresh 22-character alphanumeric serial number (110 random bits)."""
    # 32 symbols: each random byte modulo 32 is uniform, and one urandom call suffices.
    return "".join(SERIAL_ALPHABET[b % 32] for b in secrets.token_bytes(SERIAL_LENGTH))


def new_token() -> str:
    """A fresh API bearer token."""
    return "stm_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The stored form of a token (tokens are high-entropy, so a plain SHA-256 suffices)."""
    return hashlib.sha256(token.encode()).hexdigest()


def order_amount(quantity: int, stamp_price: int, service_fee: int) -> int:
    """Total to pay in rupiah: duty plus the channel's fee, per stamp."""
    return quantity * (stamp_price + service_fee)
