"""The bounds on what enters (text, JSON, times, figures): pure rules, tables of cases."""

from __future__ import annotations

import json
import math

import pytest

from statuspage.inputs import (
    MAX_JSON_DEPTH,
    InputError,
    clean_text,
    decode_json,
    finite,
    parse_time,
    strip_text,
)
from statuspage.views.public import sparkline

CONTROL = ["\x00", "\x01", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\ud800", "\udfff", "\uffff"]


@pytest.mark.parametrize("char", CONTROL)
def test_control_characters_are_refused_and_stripped(char: str) -> None:
    with pytest.raises(InputError) as refused:
        clean_text(f"Gangguan{char}pembelian", "name")
    assert refused.value.field == "name" and refused.value.status == 422
    assert strip_text(f"Gangguan{char}pembelian") == "Gangguanpembelian"


def test_newlines_and_tabs_are_text() -> None:
    assert clean_text("a\r\nb\rc\n\td") == "a\nb\nc\n\td"
    assert clean_text("Pembubuhan e-meterai — gagal ✕") == "Pembubuhan e-meterai — gagal ✕"


@pytest.mark.parametrize(("raw", "status"), [
    ("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1), 422),
    ('{"a":' * 100_000 + "1" + "}" * 100_000, 422),         # would hit the recursion limit
    ('{"total_ms": ' + "9" * 400 + "}", 422),                # 400-digit integer
    ('{"n": ' + str(2**63) + "}", 422),                      # just past 64 bits
    ('{"n": NaN}', 422), ('{"n": Infinity}', 422), ('{"n": -Infinity}', 422),
    ('{"n": 1e999}', 422),                                   # parses as inf
    ('{"name": "\\ud800"}', 422),                            # lone surrogate
    ('{"name": "a\\u000bb"}', 422), ('{"name": "a\\u0000b"}', 422),
    ('{"a\\u0000": 1}', 422),                                # in a key, too
    ('{"n": ' + "9" * 5000 + "}", 400),                      # past Python's digit limit
    ("{", 400), (b"\xff\xfe", 400),
])
def test_json_outside_the_bounds_is_refused(raw: str | bytes, status: int) -> None:
    with pytest.raises(InputError) as refused:
        decode_json(raw.encode() if isinstance(raw, str) else raw)
    assert refused.value.status == status


def test_json_inside_the_bounds_is_kept() -> None:
    nested = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert decode_json(nested.encode()) is not None
    value = {"name": "a\tb\nc", "n": 2**63 - 1, "m": -(2**63), "x": 1.5e300, "s": "[[[{"}
    assert decode_json(json.dumps(value).encode()) == value
    # text left to the caller (agent messages are stripped when stored, not refused)
    assert decode_json(b'{"m": "a\\u000bb"}', check_text=False) == {"m": "a\x0bb"}


@pytest.mark.parametrize("value", [
    "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "9999-12-31T23:00:00+00:00",
    "1999-12-31T23:59:59+00:00", "2024-09-06T12:00:00", "kemarin", 12, None, "2" * 100,
])
def test_times_outside_the_bounds_are_refused(value: object) -> None:
    with pytest.raises(InputError):
        parse_time(value, "scheduled_for")


def test_times_are_made_utc() -> None:
    assert parse_time("2024-09-06T20:00:00+07:00", "t").isoformat() == "2024-09-06T13:00:00+00:00"
    assert parse_time("2024-09-06T13:00:00Z", "t").isoformat() == "2024-09-06T13:00:00+00:00"


@pytest.mark.parametrize(("value", "expected"), [
    (12.5, 12.5), (0, 0.0), (None, None), (math.inf, None), (-math.inf, None),
    (math.nan, None), (1e308, None), (10**400, None),
])
def test_finite(value: float | None, expected: float | None) -> None:
    assert finite(value) == expected


@pytest.mark.parametrize("poison", [math.inf, math.nan, 1e308, -1e308, float(10**300)])
def test_sparkline_draws_around_a_poisoned_hour(poison: float) -> None:
    line = sparkline([120.0, poison, 130.0, None, 110.0])
    assert line is not None
    assert line.latest == 110 and line.average == 120
    assert all("nan" not in s and "inf" not in s for s in line.segments)
    assert sparkline([poison]) is None  # nothing readable: no line, not an error


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_deadline_times_follow_the_same_rule(value: str) -> None:
    from statuspage.store.deadline_records import parse_time as deadline_time

    assert deadline_time(value) is None  # a field error (422), not an OverflowError (500)
    assert deadline_time("2026-12-21T23:59:00+07:00") is not None
