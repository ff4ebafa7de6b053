"""Presentation helpers of the stamping service."""

from datetime import UTC, datetime

import pytest

from stamping.service import format_wib


@pytest.mark.parametrize(("value", "expected"), [
    (datetime(2024, 9, 6, 16, 59, 30, tzinfo=UTC), "6 Sep 2024, 23.59.30 WIB"),
    ("2024-09-06T16:59:30+00:00", "6 Sep 2024, 23.59.30 WIB"),
    (datetime(2024, 9, 6, 16, 59, 30), "6 Sep 2024, 23.59.30 WIB"),  # naive means UTC
    (None, "–"),
])
def test_times_are_shown_in_wib(value: datetime | str | None, expected: str) -> None:
    assert format_wib(value) == expected
