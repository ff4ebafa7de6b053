"""Bounds on everything that enters the status page: text, JSON, numbers and times.

One rule per kind of value, used by every door (automation API, agent pushes, console forms,
store verbs called from the CLI):

- **Text** carries no control characters except newline and tab. ``\\r\\n`` and ``\\r`` become
  ``\\n`` (browsers send textarea lines that way); any other control character (C0, DEL, C1),
  a lone surrogate or the non-characters U+FFFE/U+FFFF is refused. They break RSS/Atom (XML
  1.0 cannot carry them), PostgreSQL refuses NUL, and a surrogate cannot be encoded as UTF-8.
  Text quoted from elsewhere (a failing service's error message) is stripped instead.
- **JSON** is nested at most :data:`MAX_JSON_DEPTH` deep (checked before parsing, so a deep
  document never reaches the recursive parser), has no ``NaN``/``Infinity``, and its integers
  fit in 64 bits; every string in it follows the text rule.
- **Times** are aware and fall in years :data:`MIN_YEAR` to :data:`MAX_YEAR`, so converting them
  between zones can never overflow.
- **Figures read back** from storage pass through :func:`finite` before they are drawn, so a
  value stored before these rules existed degrades one number, never a page.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "INT64_MAX",
    "MAX_JSON_DEPTH",
    "MAX_YEAR",
    "MIN_YEAR",
    "InputError",
    "check_form",
    "clean_text",
    "decode_json",
    "finite",
    "parse_time",
    "strip_text",
]

MAX_JSON_DEPTH = 32
INT64_MAX = 2**63 - 1
MIN_YEAR = 2000
MAX_YEAR = 2100
#: Control characters (Unicode Cc) but tab and newline, surrogates, and U+FFFE/U+FFFF.
_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


class InputError(ValueError):
    """Refused input: ``field`` names where (``_`` for the whole request), ``message`` why."""

    def __init__(self, message: str, field: str = "_", status: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        #: 400 when the body cannot be parsed at all, 422 when it parses but is refused
        self.status = status


def clean_text(value: str, field: str = "_") -> str:
    """``value`` with line ends normalised to ``\\n``; :class:`InputError` on a control
    character (other than tab and newline), a lone surrogate or U+FFFE/U+FFFF."""
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    found = _FORBIDDEN.search(text)
    if found is not None:
        code = ord(found.group())
        raise InputError(f"{field}: contains control characters (U+{code:04X} at position "
                         f"{found.start()}); only newline and tab are allowed", field)
    return text


def strip_text(value: str) -> str:
    """``value`` with line ends normalised and every character :func:`clean_text` refuses
    removed (for text quoted from elsewhere, which is kept rather than refused)."""
    return _FORBIDDEN.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))


def check_form(form: Mapping[str, Any]) -> None:
    """Apply the text rule to every text field of a posted form (uploads are not text)."""
    for key, value in form.items():
        clean_text(key, "_")
        if isinstance(value, str):
            clean_text(value, key)


def _depth_ok(raw: str) -> bool:
    """Whether brackets outside strings nest at most ``MAX_JSON_DEPTH`` deep (linear scan)."""
    depth = 0
    in_string = escaped = False
    for char in raw:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return False
        elif char in "]}":
            depth -= 1
    return True


def _refuse_constant(name: str) -> Any:
    raise InputError(f"{name} is not a JSON number; numbers must be finite")


def _check_value(value: Any, path: str, check_text: bool) -> None:
    if isinstance(value, str):
        if check_text:
            clean_text(value, path)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not -INT64_MAX - 1 <= value <= INT64_MAX:
            raise InputError(f"{path}: integer out of the 64-bit range", path)
    elif isinstance(value, float):
        if not math.isfinite(value):  # 1e999 parses as inf
            raise InputError(f"{path}: number is not finite", path)
    elif isinstance(value, dict):
        for key, item in value.items():
            if check_text:
                clean_text(key, path)
            _check_value(item, f"{path}.{key}" if path != "_" else key, check_text)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_value(item, f"{path}[{index}]", check_text)


def decode_json(raw: bytes | str, *, check_text: bool = True) -> Any:
    """Parse a request body under the rules above; :class:`InputError` says what is wrong.

    ``check_text=False`` leaves strings to the caller (who strips text quoted from elsewhere).
    """
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise InputError("body is not UTF-8", status=400) from None
    if not _depth_ok(text):
        raise InputError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except InputError:
        raise
    except (ValueError, RecursionError) as exc:  # ValueError: bad JSON or > 4300 digits
        raise InputError(f"body is not valid JSON ({str(exc)[:80]})", status=400) from None
    _check_value(value, "_", check_text)
    return value


def parse_time(value: object, field: str) -> datetime:
    """An ISO-8601 time with a UTC offset, as aware UTC; :class:`InputError` otherwise.

    Years outside :data:`MIN_YEAR`..:data:`MAX_YEAR` are refused: they are typing mistakes
    here, and near year 1 or 9999 a change of zone overflows.
    """
    if not isinstance(value, str) or len(value) > 64:
        raise InputError(f"{field} must be an ISO-8601 time with a UTC offset", field)
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{field} is not an ISO-8601 time: {value[:40]!r}", field) from None
    if parsed.tzinfo is None:
        raise InputError(f"{field} must carry a UTC offset", field)
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise InputError(f"{field} must fall between the years {MIN_YEAR} and {MAX_YEAR}",
                         field)
    return parsed.astimezone(UTC)


def finite(value: float | int | None, limit: float = 1e12) -> float | None:
    """``value`` as a float if it is finite and within ``±limit``, else None (unknown)."""
    if value is None:
        return None
    try:
        number = float(value)
    except (OverflowError, ValueError, TypeError):
        return None
    return number if math.isfinite(number) and abs(number) <= limit else None
