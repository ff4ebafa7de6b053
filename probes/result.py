"""The outcome of one probe run, and its JSON form (pushed by remote agents, stored centrally)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["MAX_MILLIS", "OUTCOMES", "ProbeResult"]

#: Every outcome a probe run can have, best first.
OUTCOMES: tuple[str, ...] = ("ok", "degraded", "failed")

# Bounds for text pushed by remote agents: a result is evidence, not a log file.
_MAX_NAME = 200
_MAX_ERROR_CLASS = 64
_MAX_MESSAGE = 2000
_MAX_PHASES = 32
#: The longest timing a result may carry: a day. Probes time out in seconds; anything larger is
#: a broken or hostile agent, and summing such values overflowed hourly rollups.
MAX_MILLIS = 86_400_000.0
#: Start times outside these years are refused (converting year 1 or 9999 between zones
#: overflows).
_YEARS = (2000, 2100)


@dataclass(frozen=True)
class ProbeResult:
    """One probe run: when it started, how it ended, and how long each phase took.

    ``phases`` holds milliseconds per phase: ``connect`` and ``ttfb`` (time from the start of
    the first request to its response headers) for the first request of the transaction,
    ``total`` for the whole transaction, and one entry per step of a transaction (``order``,
    ``pay``, ``credit``, ``stamp``, ``validate``, ``verify_serial``, ``verify``...).
    ``total_ms`` equals ``phases["total"]``. ``error_class`` is a short stable name
    (``timeout``, ``connect_error``, ``http_5xx``, ``http_4xx``, ``overloaded``, ``service_down``,
    ``invalid_signature``, ``wrong_serial``, ``bad_response``...) set whenever the outcome is
    not ``ok`` (``slow`` for ``degraded``). ``kind`` is not limited to
    :data:`~probes.PROBE_KINDS`, so a newer remote agent's results are still accepted.
    """

    probe: str
    kind: str
    started_at: datetime
    outcome: str
    total_ms: float
    phases: dict[str, float] = field(default_factory=dict)
    error_class: str | None = None
    message: str | None = None
    location: str = "local"

    @property
    def ok(self) -> bool:
        """Whether the run fully succeeded (``degraded`` counts as a success that was slow)."""
        return self.outcome == "ok"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict; ``started_at`` is ISO-8601 with its UTC offset."""
        return {
            "probe": self.probe,
            "kind": self.kind,
            "started_at": self.started_at.isoformat(),
            "outcome": self.outcome,
            "total_ms": self.total_ms,
            "phases": dict(self.phases),
            "error_class": self.error_class,
            "message": self.message,
            "location": self.location,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProbeResult:
        """Parse and validate a dict made by :meth:`to_dict` (for example pushed by an agent).

        Raises :class:`ValueError` on a missing or unknown key, a wrong type, a naive or
        unparsable time, an unknown outcome, or negative or non-finite timings.
        """
        if not isinstance(data, Mapping):
            raise ValueError("a probe result must be a JSON object")
        known = {
            "probe", "kind", "started_at", "outcome", "total_ms", "phases",
            "error_class", "message", "location",
        }
        unknown = set(data) - known
        if unknown:
            names = ", ".join(sorted(map(str, unknown)))
            raise ValueError(f"unknown keys in probe result: {names}")
        missing = {"probe", "kind", "started_at", "outcome", "total_ms"} - set(data)
        if missing:
            raise ValueError(f"missing keys in probe result: {', '.join(sorted(missing))}")
        phases_raw = data.get("phases", {})
        if not isinstance(phases_raw, Mapping) or len(phases_raw) > _MAX_PHASES:
            raise ValueError("phases must be an object of at most 32 timings")
        phases = {
            _text(k, "phase name", 64): _millis(v, f"phase {k!r}") for k, v in phases_raw.items()
        }
        total_ms = _millis(data["total_ms"], "total_ms")
        phases.setdefault("total", total_ms)
        return cls(
            probe=_text(data["probe"], "probe", _MAX_NAME),
            kind=_text(data["kind"], "kind", 32),
            started_at=_utc_time(data["started_at"]),
            outcome=_choice(data["outcome"], "outcome", OUTCOMES),
            total_ms=total_ms,
            phases=phases,
            error_class=_optional_text(data.get("error_class"), "error_class", _MAX_ERROR_CLASS),
            message=_optional_text(data.get("message"), "message", _MAX_MESSAGE),
            location=_text(data.get("location", "local"), "location", _MAX_NAME),
        )

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {self.outcome!r}")
        if self.started_at.tzinfo is None:
            raise ValueError("started_at must be timezone-aware")


def _text(value: Any, name: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string")
    if len(value) > limit:
        raise ValueError(f"{name} is longer than {limit} characters")
    return value


def _optional_text(value: Any, name: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string or null")
    # Messages come from arbitrary failing services; truncate rather than reject them.
    return value[:limit] if name == "message" else _text(value, name, limit)


def _choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return str(value)


def _millis(value: Any, name: str) -> float:
    # bool is an int subclass; true/false are not timings.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number of milliseconds")
    try:
        number = float(value)
    except OverflowError:  # a 400-digit integer
        raise ValueError(f"{name} must be at most {MAX_MILLIS:.0f} ms") from None
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{name} must be a finite, non-negative number")
    if number > MAX_MILLIS:
        raise ValueError(f"{name} must be at most {MAX_MILLIS:.0f} ms")
    return number


def _utc_time(value: Any) -> datetime:
    if not isinstance(value, str) or len(value) > 64:
        raise ValueError("started_at must be an ISO-8601 string")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"started_at is not an ISO-8601 time: {value!r}") from None
    if moment.tzinfo is None:
        raise ValueError("started_at must carry a UTC offset")
    if not _YEARS[0] <= moment.year <= _YEARS[1]:
        raise ValueError(f"started_at must fall between the years {_YEARS[0]} and {_YEARS[1]}")
    return moment.astimezone(UTC)
