"""Pure rules of the stamping service: phone numbers, serials, tokens, prices."""

from __future__ import annotations

import hashlib
import re
import secrets
import string
import unicodedata

__all__ = ["SERIAL_ALPHABET", "SERIAL_LENGTH", "clean_text", "hash_token", "is_ascii_digits",
           "new_serial", "new_token", "normalise_phone", "order_amount"]

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
    if not is_ascii_digits(text):
        raise ValueError("a phone number has only the digits 0-9")
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


def is_ascii_digits(text: str) -> bool:
    """Whether ``text`` is one or more of 0-9 (``str.isdigit`` also accepts "¹²³" and "٣")."""
    return bool(text) and text.isascii() and text.isdigit()


def clean_text(value: object, field: str, max_length: int) -> str:
    """A single line of text from a person: stripped, 1..``max_length`` characters, valid
    Unicode (no lone surrogates) and no control characters; raises ValueError otherwise."""
    text = str(value if value is not None else "").strip()
    if not 1 <= len(text) <= max_length:
        raise ValueError(f"{field} must be 1 to {max_length} characters")
    if any(unicodedata.category(c) in {"Cc", "Cs", "Cf"} and c not in _ALLOWED_FORMAT
           for c in text):
        raise ValueError(f"{field} contains control characters or invalid Unicode")
    return text


#: Format characters that occur in real names (zero-width joiners in Indic scripts).
_ALLOWED_FORMAT = {"\u200c", "\u200d"}


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
