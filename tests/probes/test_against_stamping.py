"""The probes against a real ``stamping serve`` process on a free local port.

Real sockets, so ``connect`` and ``ttfb`` come from httpcore's trace; real signatures, so the
stamp probe's pyHanko check runs against the service's own CA.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from probes import ProbeSpec, reference_pdf, run_probe

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
ADMIN = "probe-integration-admin"
START_TIMEOUT_S = 60


@dataclass(frozen=True)
class Running:
    """A live stamping process."""

    base: str
    data_dir: Path
    env: dict[str, str]
    token: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stamping(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stamping", "--log-level", "warning", *args],
                          env=env, capture_output=True, text=True, timeout=60, check=True)


def add_probe_account(service: Running, phone: str) -> str:
    """Create a probe account with the CLI; returns its token (the last line printed)."""
    out = _stamping(service.env, "account", "add", "--phone", phone, "--name", "Probe",
                    "--probe", "--data-dir", str(service.data_dir))
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def stamping_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """``stamping serve`` with one signing worker, SQLite, and a probe account."""
    data_dir = Path(tmp_path_factory.mktemp("stamping-data"))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STAMPING_")}
    env.update(STAMPING_ADMIN_TOKEN=ADMIN, STAMPING_PUBLIC_URL=base,
               STAMPING_DATA_DIR=str(data_dir), STAMPING_FAULT_CACHE_SECONDS="0")
    token = add_probe_account(Running(base, data_dir, env, ""), "081200000001")
    log = (data_dir / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "stamping", "--log-level", "warning", "serve", "--port", str(port),
         "--workers", "1", "--data-dir", str(data_dir)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"stamping serve exited: {(data_dir / 'serve.log').read_text()}")
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("stamping serve did not become ready")
            time.sleep(0.1)
        yield Running(base, data_dir, env, token)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
async def client(stamping_service: Running) -> AsyncIterator[httpx.AsyncClient]:
    """A fresh client per test (so the first request opens a connection); faults cleared."""
    async with httpx.AsyncClient() as c:
        yield c
        await set_faults(c, stamping_service, {})


async def set_faults(client: httpx.AsyncClient, service: Running, faults: dict[str, Any]) -> None:
    response = await client.post(f"{service.base}/api/v1/admin/faults", json=faults,
                                 headers={"Authorization": f"Bearer {ADMIN}"})
    assert response.status_code == 200, response.text


def spec(service: Running, kind: str, **kw: Any) -> ProbeSpec:
    target = kw.pop("target", service.base)
    token = kw.pop("token", service.token)
    return ProbeSpec(name=f"{kind}-it", kind=kind, target=target, token=token,
                     timeout_s=kw.pop("timeout_s", 20.0), **kw)


async def test_stamp_buys_when_empty_then_validates_for_real(
    stamping_service: Running, client: httpx.AsyncClient
) -> None:
    token = await asyncio.to_thread(add_probe_account, stamping_service, "081200000002")
    result = await run_probe(spec(stamping_service, "stamp", token=token), client)
    assert result.outcome == "ok", result.message
    phases = result.phases
    assert {"order", "pay", "credit", "stamp", "validate", "verify_serial"} <= set(phases)
    assert 0 < phases["connect"] < phases["ttfb"] <= phases["total"] == result.total_ms


@pytest.mark.parametrize("kind", ["purchase", "stamp", "verify"])
async def test_each_transaction_is_ok(
    stamping_service: Running, client: httpx.AsyncClient, kind: str
) -> None:
    result = await run_probe(spec(stamping_service, kind), client)
    assert result.outcome == "ok", result.message
    assert result.error_class is None


async def test_http_availability(stamping_service: Running, client: httpx.AsyncClient) -> None:
    probe = spec(stamping_service, "http", target=f"{stamping_service.base}/healthz",
                 body_contains="ok", token=None)
    assert (await run_probe(probe, client)).outcome == "ok"


async def test_injected_latency_is_measured(
    stamping_service: Running, client: httpx.AsyncClient
) -> None:
    url = f"{stamping_service.base}/healthz"
    probe = spec(stamping_service, "http", target=url, token=None, latency_budget_ms=150)
    baseline = await run_probe(probe, client)
    await set_faults(client, stamping_service, {"latency_ms": 200, "endpoints": ["/healthz"]})
    runs = []
    for _ in range(3):  # a busy machine only adds time: the fastest run shows what was injected
        async with httpx.AsyncClient() as fresh:
            runs.append(await run_probe(probe, fresh))
    assert all((r.outcome, r.error_class) == ("degraded", "slow") for r in runs)
    slow = min(runs, key=lambda r: r.phases["ttfb"])
    added = slow.phases["ttfb"] - baseline.phases["ttfb"]
    assert abs(added - 200) <= max(0.05 * 200, 5) + baseline.phases["ttfb"], slow.phases


async def test_hard_down_fails_fast_as_service_down(
    stamping_service: Running, client: httpx.AsyncClient
) -> None:
    await set_faults(client, stamping_service, {"down": True})
    result = await run_probe(spec(stamping_service, "stamp"), client)
    # the service said it is down, not that it sheds load: the evidence must say which
    assert (result.outcome, result.error_class) == ("failed", "service_down")
    assert "Retry-After" in (result.message or "")
    assert result.total_ms < 2000


async def test_injected_errors_are_http_5xx(
    stamping_service: Running, client: httpx.AsyncClient
) -> None:
    await set_faults(client, stamping_service, {"error_rate": 1.0})
    result = await run_probe(spec(stamping_service, "purchase"), client)
    assert (result.outcome, result.error_class) == ("failed", "http_5xx")


async def test_service_rejects_a_tampered_stamped_document(
    stamping_service: Running, client: httpx.AsyncClient
) -> None:
    # Make sure there is quota, then stamp directly to get a genuine stamped document.
    assert (await run_probe(spec(stamping_service, "purchase"), client)).outcome == "ok"
    stamped = await client.post(
        f"{stamping_service.base}/api/v1/stamps",
        files={"file": ("x.pdf", reference_pdf(), "application/pdf")},
        headers={"Authorization": f"Bearer {stamping_service.token}"},
    )
    assert stamped.status_code == 201, stamped.text
    genuine = spec(stamping_service, "verify", options={"document": stamped.content})
    assert (await run_probe(genuine, client)).outcome == "ok"
    forged = stamped.content.replace(b"reference document", b"forged    document", 1)
    assert forged != stamped.content
    result = await run_probe(spec(stamping_service, "verify", options={"document": forged}),
                             client)
    assert (result.outcome, result.error_class) == ("failed", "invalid_signature")
