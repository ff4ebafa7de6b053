"""Shared helpers for the probe tests (no tests here): a config with probes, result factories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from probes import ProbeResult

PROBE_CONFIG = """
[page]
name = "Status Uji"
url = "http://testserver"

[[components]]
id = "pembelian"
name = "Pembelian kuota"

[[components]]
id = "pembubuhan"
name = "Pembubuhan e-meterai"

[[components]]
id = "situs"
name = "Situs web"

[[probes]]
name = "purchase"
kind = "purchase"
component = "pembelian"
interval = 60
latency_budget_ms = 3000

[[probes]]
name = "stamp"
kind = "stamp"
component = "pembubuhan"
interval = 60

[[probes]]
name = "availability"
kind = "http"
component = "situs"
target = "https://example.org"
path = "/healthz"
interval = 30

[evaluation]
window_s = 300
failures_to_down = 3
successes_to_recover = 3
fast_failures = 0  # these tests follow the window; test_probing covers the fast path
"""


def result(probe: str = "purchase", outcome: str = "ok", *, at: datetime | None = None,
           seconds_ago: float = 0.0, total_ms: float = 100.0, location: str = "local",
           kind: str | None = None) -> ProbeResult:
    """A ProbeResult with sensible defaults."""
    started = at or (datetime.now(UTC) - timedelta(seconds=seconds_ago))
    kinds = {"purchase": "purchase", "stamp": "stamp", "availability": "http"}
    return ProbeResult(
        probe=probe, kind=kind or kinds.get(probe, "http"), started_at=started, outcome=outcome,
        total_ms=total_ms, phases={"total": total_ms},
        error_class="timeout" if outcome == "failed" else None,
        message="no answer" if outcome == "failed" else None, location=location)


def pattern_results(pattern: str, probe: str = "purchase", location: str = "local",
                    step_s: float = 10.0) -> list[ProbeResult]:
    """Results from a pattern ending now: o = ok, x = failed, d = degraded."""
    outcomes = {"o": "ok", "x": "failed", "d": "degraded"}
    n = len(pattern)
    return [result(probe, outcomes[c], seconds_ago=(n - i) * step_s, location=location)
            for i, c in enumerate(pattern)]
