"""A lexer for PDF content streams: ``(operator, operands)`` pairs from untrusted bytes.

Only what the content scan needs: numbers as floats, names as ``str``, strings as the bytes
they encode (escapes and hex decoded), arrays as lists, dictionaries dropped (they only
hold operands of marked-content and inline-image operators, which the scan does not read).
Inline image data (``BI ... ID ... EI``) is skipped and reported as one ``BI`` operation.
Malformed input never raises: an unterminated string ends the stream; stray bytes are
ignored.  Arrays nest at most :data:`MAX_ARRAY_DEPTH` deep.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

__all__ = ["MAX_ARRAY_DEPTH", "ContentTooDeep", "operations"]

MAX_ARRAY_DEPTH = 32

_TOKEN = re.compile(rb"""
    (?P<ws>[\s\x00]+|%[^\r\n]*)
  | (?P<num>[+-]?(?:\d+\.?\d*|\.\d+))
  | (?P<name>/[^\s\x00/\[\]()<>{}%]*)
  | (?P<str>\()
  | (?P<hex><[0-9A-Fa-f\s]*>)
  | (?P<dict><<|>>)
  | (?P<arr>[\[\]])
  | (?P<op>[A-Za-z'"*][A-Za-z0-9'"*]*)
  | (?P<other>.)
""", re.VERBOSE | re.DOTALL)
_PAREN = re.compile(rb"\\.|[()]", re.DOTALL)
_ESCAPE = re.compile(rb"\\(?:[0-7]{1,3}|\r\n|.)", re.DOTALL)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f", b"\r\n": b"",
            b"\n": b"", b"\r": b""}
_END_IMAGE = re.compile(rb"\sEI(?=[\s\x00]|$)")
_SPACE = re.compile(rb"\s")


class ContentTooDeep(ValueError):
    """Arrays nested deeper than :data:`MAX_ARRAY_DEPTH`."""


def _unescape(match: re.Match[bytes]) -> bytes:
    """One escape of a literal string (PDF 32000 7.3.4.2)."""
    body = match.group()[1:]
    if body[:1].isdigit():
        return bytes([int(body, 8) & 0xFF])
    return _ESCAPES.get(body, body)


def _literal(data: bytes, pos: int) -> tuple[bytes, int]:
    """The literal string starting after the ``(`` at ``pos``, and where it ends."""
    depth, scan, end = 1, pos, len(data)
    while depth:
        found = _PAREN.search(data, scan)
        if found is None:
            return _ESCAPE.sub(_unescape, data[pos:]), end
        token = found.group()
        depth += 1 if token == b"(" else -1 if token == b")" else 0
        scan = found.end()
    return _ESCAPE.sub(_unescape, data[pos:scan - 1]), scan


def operations(data: bytes) -> Iterator[tuple[bytes, list[object]]]:
    """Every operator of ``data`` with the operands before it."""
    operands: list[object] = []
    arrays: list[list[object]] = []
    pos, end = 0, len(data)
    while pos < end:
        match = _TOKEN.match(data, pos)
        assert match is not None  # the last alternative matches any byte
        pos = match.end()
        kind = match.lastgroup
        value: object
        if kind == "ws" or kind == "other":
            continue
        if kind == "num":
            value = float(match.group())
        elif kind == "name":
            value = match.group().decode("latin-1")
        elif kind == "str":
            value, pos = _literal(data, pos)
        elif kind == "hex":
            digits = _SPACE.sub(b"", match.group()[1:-1])
            value = bytes.fromhex((digits + b"0" * (len(digits) % 2)).decode())
        elif kind == "dict":
            value = None
        elif kind == "arr":
            if match.group() == b"[":
                arrays.append([])
                if len(arrays) > MAX_ARRAY_DEPTH:
                    raise ContentTooDeep(f"arrays nested deeper than {MAX_ARRAY_DEPTH}")
            elif arrays:
                done = arrays.pop()
                (arrays[-1] if arrays else operands).append(done)
            continue
        else:
            op = match.group()
            if op == b"BI":
                found = _END_IMAGE.search(data, pos)
                pos = found.end() if found else end
            arrays.clear()
            yield op, operands
            operands = []
            continue
        (arrays[-1] if arrays else operands).append(value)
