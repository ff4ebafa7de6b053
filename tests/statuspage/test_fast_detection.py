"""How fast a hard-down service shows, and how recovery waits: the real stamping service, the
real worker, time scaled down tenfold.

The default configuration probes every 30 s, confirms a hard failure 5 s later and evaluates
every 10 s over a 180 s window. This test runs the same rules at a tenth of those times (3 s,
0.5 s, 1 s, 18 s) against the real stamping service, switches its fault injection to "down"
and back, and measures when the component's measured status moves. It runs once with the fast
path and once without (``fast_failures = 0``, the window alone) in the same session, so the
figures are compared with a baseline of the same run. Multiply by ten for the real times.
"""

from __future__ import annotations

import asyncio
import math

import httpx
import pytest

from statuspage import worker
from statuspage.db import Database
from statuspage.jobs import Intervals
from statuspage.settings import Settings
from tests.statuspage.test_probes_integration import (
    Stamping,
    set_faults,
    stamping,
    wait_for_status,
)

__all__ = ["stamping"]  # the module-scoped fixture, used here by name

pytestmark = [pytest.mark.slow]

SCALE = 10  # real times are ten times these
INTERVAL_S = 3.0
CONFIRM_S = 0.5
EVALUATE_S = 1.0
WINDOW_S = 18
#: Worst case with the fast path: a run that just missed the switch waits one interval (plus
#: the scheduler's 10% jitter), then a run and its confirmation, then an evaluation at once.
FAST_BOUND_S = INTERVAL_S * 1.1 + CONFIRM_S + 0.6

CONFIG = f"""
[[components]]
id = "situs"
name = "Situs web"

[[probes]]
name = "healthz"
kind = "http"
component = "situs"
path = "/healthz"
interval = {INTERVAL_S}
timeout = 2
latency_budget_ms = 2000

[evaluation]
window_s = {WINDOW_S}
failures_to_down = 3
successes_to_recover = 3
fast_failures = FAST
confirm_after_s = {CONFIRM_S}
"""

FIGURES: dict[str, dict[str, float]] = {}


@pytest.fixture(params=[2, 0], ids=["fast", "window-only"])
def fast_failures(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture
def config_text(fast_failures: int) -> str:
    return CONFIG.replace("FAST", str(fast_failures))


@pytest.fixture
def backend() -> str:
    """One backend is enough for timing (test_probes_integration compares the two)."""
    return "sqlite"


def test_detection_and_recovery_times(settings: Settings, db: Database, stamping: Stamping,
                                      fast_failures: int) -> None:
    settings = settings.with_changes(stamping_url=stamping.url, stamping_token=stamping.token)
    figures: dict[str, float] = {}

    async def scenario() -> None:
        stop = asyncio.Event()
        async with httpx.AsyncClient(timeout=10) as admin:
            await set_faults(admin, stamping.url, {})
            task = asyncio.create_task(worker.worker_main(
                settings, stop=stop, intervals=Intervals(evaluate_s=EVALUATE_S, flush_s=5.0)))
            try:
                # a full clean window first, as in real life
                assert await wait_for_status(db, ["situs"], "operational", 10) < 10
                await asyncio.sleep(WINDOW_S / 3)
                await set_faults(admin, stamping.url, {"down": True})
                figures["down_after_s"] = await wait_for_status(db, ["situs"], "major_outage",
                                                                WINDOW_S * 2)
                await set_faults(admin, stamping.url, {})
                figures["operational_after_s"] = await wait_for_status(
                    db, ["situs"], "operational", WINDOW_S * 3)
            finally:
                stop.set()
                await set_faults(admin, stamping.url, {})
                await asyncio.wait_for(task, 30)

    asyncio.run(scenario())
    name = "fast" if fast_failures else "window-only"
    FIGURES[name] = figures
    print(f"\n{name} (x{SCALE} for real seconds): {figures}")
    assert math.isfinite(figures["down_after_s"]), figures
    assert math.isfinite(figures["operational_after_s"]), figures
    if fast_failures:
        # a hard-down service shows within one interval and a confirmation (40 s for real)
        assert figures["down_after_s"] <= FAST_BOUND_S, figures
        # recovery does not take the fast path: three clean runs at least
        assert figures["operational_after_s"] >= 2 * INTERVAL_S, figures


def test_fast_path_against_the_window_alone() -> None:
    """The ratio of the two runs above (same machine, same session)."""
    if set(FIGURES) != {"fast", "window-only"}:
        pytest.skip("needs both runs in this session")
    fast, window = FIGURES["fast"], FIGURES["window-only"]
    ratio = fast["down_after_s"] / window["down_after_s"]
    print(f"\ndetection: fast {fast['down_after_s'] * SCALE:.0f} s, window only "
          f"{window['down_after_s'] * SCALE:.0f} s (ratio {ratio:.2f}); recovery: fast "
          f"{fast['operational_after_s'] * SCALE:.0f} s, window only "
          f"{window['operational_after_s'] * SCALE:.0f} s (real-time equivalents)")
    assert ratio < 1, (fast, window)
