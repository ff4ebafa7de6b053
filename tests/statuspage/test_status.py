"""Pure status rules, as tables of cases."""

import pytest

from statuspage.status import page_indicator, shown_status, worst


@pytest.mark.parametrize(
    ("measured", "declared", "maintenance", "expected"),
    [
        ("operational", [], False, "operational"),
        ("degraded_performance", [], False, "degraded_performance"),
        ("operational", ["partial_outage"], False, "partial_outage"),
        ("major_outage", ["degraded_performance"], False, "major_outage"),
        ("major_outage", [], True, "under_maintenance"),
        ("operational", ["major_outage"], True, "major_outage"),
        ("partial_outage", ["under_maintenance"], True, "under_maintenance"),
    ],
)
def test_shown_status(measured: str, declared: list[str], maintenance: bool, expected: str) -> None:
    assert shown_status(measured, declared, maintenance) == expected


@pytest.mark.parametrize(
    ("statuses", "impacts", "expected"),
    [
        (["operational", "operational"], [], ("none", "All Systems Operational")),
        (["degraded_performance"], [], ("minor", "Minor Service Outage")),
        (["partial_outage", "operational"], [], ("major", "Partial System Outage")),
        (["major_outage"], [], ("critical", "Major Service Outage")),
        (["operational"], ["major"], ("major", "Partial System Outage")),
        (["under_maintenance", "operational"], [], ("maintenance", "Service Under Maintenance")),
        ([], [], ("none", "All Systems Operational")),
    ],
)
def test_page_indicator(statuses: list[str], impacts: list[str], expected: tuple[str, str]) -> None:
    assert page_indicator(statuses, impacts) == expected


def test_worst_of_nothing_is_operational() -> None:
    assert worst([]) == "operational"
