"""ProbeResult: JSON round trip and rejection of bad input (results pushed by remote agents)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from probes import OUTCOMES, ProbeResult


def make(**overrides: Any) -> ProbeResult:
    values: dict[str, Any] = {
        "probe": "stamp-local",
        "kind": "stamp",
        "started_at": datetime(2026, 11, 27, 18, 0, 0, 123456, tzinfo=UTC),
        "outcome": "failed",
        "total_ms": 812.5,
        "phases": {"connect": 1.5, "ttfb": 40.0, "stamp": 700.0, "total": 812.5},
        "error_class": "invalid_signature",
        "message": "the signature does not match the document",
        "location": "jakarta",
    }
    values.update(overrides)
    return ProbeResult(**values)


def test_round_trip_through_json() -> None:
    result = make()
    data = json.loads(json.dumps(result.to_dict()))
    assert data["started_at"] == "2026-11-27T18:00:00.123456+00:00"
    assert ProbeResult.from_dict(data) == result


def test_from_dict_normalises_offsets_to_utc_and_accepts_z() -> None:
    data = make().to_dict()
    data["started_at"] = "2026-11-28T01:00:00+07:00"
    assert ProbeResult.from_dict(data).started_at == datetime(2026, 11, 27, 18, tzinfo=UTC)
    data["started_at"] = "2026-11-27T18:00:00Z"
    assert ProbeResult.from_dict(data).started_at.utcoffset() == timedelta(0)


def test_optional_keys_default() -> None:
    data = make(outcome="ok", error_class=None, message=None).to_dict()
    for key in ("phases", "error_class", "message", "location"):
        del data[key]
    result = ProbeResult.from_dict(data)
    assert result.location == "local"
    assert result.phases == {"total": 812.5}
    assert result.ok


def test_long_message_is_truncated_not_rejected() -> None:
    data = make(message="x" * 10_000).to_dict()
    assert len(ProbeResult.from_dict(data).message or "") == 2000


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"outcome": "meh"}, "outcome"),
        ({"started_at": "2026-11-27T18:00:00"}, "offset"),
        ({"started_at": "yesterday"}, "ISO-8601"),
        ({"started_at": 1764266400}, "ISO-8601"),
        ({"total_ms": -1}, "non-negative"),
        ({"total_ms": "fast"}, "milliseconds"),
        ({"total_ms": True}, "milliseconds"),
        ({"total_ms": float("nan")}, "finite"),
        ({"phases": {"ttfb": "1"}}, "phase"),
        ({"phases": [1, 2]}, "phases"),
        ({"probe": ""}, "probe"),
        ({"probe": 7}, "probe"),
        ({"location": "x" * 500}, "location"),
        ({"error_class": 5}, "error_class"),
        ({"surprise": 1}, "unknown keys"),
    ],
)
def test_from_dict_rejects_bad_input(change: dict[str, Any], match: str) -> None:
    data = make().to_dict()
    data.update(change)
    with pytest.raises(ValueError, match=match):
        ProbeResult.from_dict(data)


@pytest.mark.parametrize("missing", ["probe", "kind", "started_at", "outcome", "total_ms"])
def test_from_dict_rejects_missing_keys(missing: str) -> None:
    data = make().to_dict()
    del data[missing]
    with pytest.raises(ValueError, match="missing"):
        ProbeResult.from_dict(data)


def test_from_dict_rejects_non_objects() -> None:
    with pytest.raises(ValueError):
        ProbeResult.from_dict([("probe", "x")])  # type: ignore[arg-type]


def test_constructor_rejects_naive_time_and_unknown_outcome() -> None:
    with pytest.raises(ValueError):
        make(started_at=datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        make(outcome="bad")
    assert make(started_at=datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=7))))


def test_outcomes_best_first() -> None:
    assert OUTCOMES == ("ok", "degraded", "failed")
