"""run_probe's promises: never raises, ends within its timeout, honours cancellation."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from probes import PROBE_KINDS, ProbeSpec, run_probe
from tests.probes.fakes import BASE, TOKEN

pytestmark = pytest.mark.anyio


async def never(request: httpx.Request) -> httpx.Response:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


@pytest.mark.parametrize("kind", PROBE_KINDS)
async def test_every_kind_returns_within_its_timeout(kind: str) -> None:
    spec = ProbeSpec(name=f"{kind}-hang", kind=kind, target=BASE, token=TOKEN, timeout_s=0.15)
    began = time.perf_counter()
    async with httpx.AsyncClient(transport=httpx.MockTransport(never)) as client:
        result = await run_probe(spec, client)
    elapsed = time.perf_counter() - began
    # a hang ends at its timeout (plus what a machine busy with other tests adds), not later
    assert spec.timeout_s - 0.05 <= elapsed < spec.timeout_s + 1.0
    assert (result.outcome, result.error_class) == ("failed", "timeout")
    assert result.started_at.tzinfo is not None
    assert 100 <= result.total_ms == result.phases["total"] < 1150


async def test_a_crashing_transport_becomes_a_failed_result() -> None:
    def crash(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("bug in a transport")

    spec = ProbeSpec(name="crash", kind="stamp", target=BASE, token=TOKEN)
    async with httpx.AsyncClient(transport=httpx.MockTransport(crash)) as client:
        result = await run_probe(spec, client)
    assert (result.outcome, result.error_class) == ("failed", "probe_error")
    assert "bug in a transport" in (result.message or "")


async def test_cancellation_propagates() -> None:
    spec = ProbeSpec(name="cancel", kind="http", target=BASE, timeout_s=10)
    async with httpx.AsyncClient(transport=httpx.MockTransport(never)) as client:
        task = asyncio.create_task(run_probe(spec, client))
        await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
