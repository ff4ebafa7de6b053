"""ProbeSpec validation: a bad probe configuration fails when it is built, not at every run."""

from __future__ import annotations

from typing import Any

import pytest

from probes import PROBE_KINDS, ProbeSpec


def test_defaults() -> None:
    spec = ProbeSpec(name="stamp-local", kind="stamp", target="http://127.0.0.1:8001/")
    assert spec.timeout_s == 20.0
    assert spec.expect_status == 200
    assert spec.options == {}
    assert spec.base_url == "http://127.0.0.1:8001"
    assert set(PROBE_KINDS) == {"http", "purchase", "stamp", "verify"}


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"kind": "ping"}, "unknown kind"),
        ({"name": ""}, "name"),
        ({"target": "ftp://x"}, "http"),
        ({"timeout_s": 0}, "timeout"),
        ({"timeout_s": float("inf")}, "timeout"),
        ({"latency_budget_ms": 0}, "latency_budget"),
        ({"expect_status": 42}, "expect_status"),
    ],
)
def test_rejects_bad_values(change: dict[str, Any], match: str) -> None:
    values: dict[str, Any] = {"name": "p", "kind": "http", "target": "http://x/"}
    values.update(change)
    with pytest.raises(ValueError, match=match):
        ProbeSpec(**values)
