"""Machine time format of every JSON the page sends (v2 API, webhooks): one definition."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["iso"]


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with milliseconds, as Statuspage writes it (``...T10:15:00.000Z``)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
