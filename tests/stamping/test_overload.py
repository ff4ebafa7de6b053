"""Admission control and fault injection."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from starlette.testclient import TestClient

from stamping.app import create_app
from stamping.settings import Settings
from tests.stamping.conftest import ADMIN_TOKEN, auth, buy, pdf_file, register

ADMIN = auth(ADMIN_TOKEN)


def test_overload_is_refused_at_once_with_retry_after(make_settings: Callable[..., Settings],
                                                      sample_pdf: bytes) -> None:
    settings = make_settings(sign_workers=1, sign_slots_per_worker=1, stamp_queue=1,
                             refusal_hold_seconds=0)
    with TestClient(create_app(settings)) as client:
        token = register(client)
        buy(client, token, 40)

        def stamp(_: int) -> tuple[int, float, dict[str, str], dict[str, object]]:
            started = time.perf_counter()
            r = client.post("/api/v1/stamps", files=pdf_file(sample_pdf), headers=auth(token))
            body = {} if r.status_code == 201 else r.json()
            return r.status_code, time.perf_counter() - started, dict(r.headers), body

        with ThreadPoolExecutor(max_workers=16) as pool:
            results = list(pool.map(stamp, range(32)))
        ok = [r for r in results if r[0] == 201]
        shed = [r for r in results if r[0] == 503]
        assert ok and shed and len(ok) + len(shed) == len(results)
        for _, _elapsed, headers, body in shed:
            assert int(headers["retry-after"]) >= 1
            assert body["error"] == "overloaded" and body["reason"] in {"full", "account_share"}
            assert isinstance(body["estimated_wait_seconds"], float)
        # Refusals never wait for the signing pool.
        assert sorted(e for _, e, _, _ in shed)[len(shed) // 2] < 0.25
        quota = client.get("/api/v1/quota", headers=auth(token)).json()
        assert quota == {"available": 40 - len(ok), "spent": len(ok)}
        metrics = client.get("/metrics").text
        assert 'stamping_rejected_total{gate="stamp"}' in metrics


def test_admin_api_requires_the_token(make_settings: Callable[..., Settings]) -> None:
    with TestClient(create_app(make_settings(admin_token=""))) as client:
        r = client.post("/api/v1/admin/faults", json={}, headers=ADMIN)
        assert r.status_code == 403 and r.json()["error"] == "admin_disabled"
    with TestClient(create_app(make_settings())) as client:
        assert client.post("/api/v1/admin/faults", json={}).status_code == 401
        r = client.post("/api/v1/admin/faults", json={}, headers=auth("wrong"))
        assert r.status_code == 401
        for bad in [{"latency_ms": -1}, {"error_rate": 2}, {"capacity": "x"}, {"down": 1},
                    {"nonsense": 1}, {"endpoints": ["no-slash"]}]:
            r = client.post("/api/v1/admin/faults", json=bad, headers=ADMIN)
            assert r.status_code == 422, bad


def test_injected_latency_is_accurate_and_scoped(client: TestClient) -> None:
    r = client.post("/api/v1/admin/faults",
                    json={"latency_ms": 150, "endpoints": ["/healthz"]}, headers=ADMIN)
    assert r.status_code == 200
    assert r.json()["latency_ms"] == 150 and r.json()["endpoints"] == ["/healthz"]
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        assert client.get("/healthz").status_code == 200
        timings.append((time.perf_counter() - started) * 1000)
    # Never less than injected, and within 5% + 5 ms of it: a busy machine (the suite runs on
    # a worker per CPU) only ever adds time, so the fastest of five shows what was injected.
    assert min(timings) >= 150, timings
    assert min(timings) <= 150 * 1.05 + 5, timings
    readyz = []  # not delayed: the fastest of three is well under the injected 150 ms
    for _ in range(3):
        started = time.perf_counter()
        client.get("/readyz")
        readyz.append((time.perf_counter() - started) * 1000)
    assert min(readyz) < 100, readyz
    assert client.post("/api/v1/admin/faults", json={}, headers=ADMIN).json()["latency_ms"] is None


def test_error_rate_down_and_capacity(client: TestClient, sample_pdf: bytes) -> None:
    token = register(client)
    buy(client, token, 2)
    client.post("/api/v1/admin/faults", json={"error_rate": 1.0}, headers=ADMIN)
    r = client.get("/api/v1/quota", headers=auth(token))
    assert r.status_code == 500 and r.json()["error"] == "injected_error"
    client.post("/api/v1/admin/faults", json={"down": True}, headers=ADMIN)
    r = client.get("/healthz")
    assert r.status_code == 503 and r.json()["error"] == "service_down"
    assert client.get("/metrics").status_code == 200  # never faulted
    client.post("/api/v1/admin/faults", json={"capacity": 0}, headers=ADMIN)
    r = client.post("/api/v1/stamps", files=pdf_file(sample_pdf), headers=auth(token))
    assert r.status_code == 503 and r.json()["error"] == "overloaded"
    assert client.get("/api/v1/admin/faults", headers=ADMIN).json()["capacity"] == 0
    client.post("/api/v1/admin/faults", json={}, headers=ADMIN)
    r = client.post("/api/v1/stamps", files=pdf_file(sample_pdf), headers=auth(token))
    assert r.status_code == 201
    assert client.get("/api/v1/quota", headers=auth(token)).json() == {"available": 1,
                                                                        "spent": 1}


def wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Poll ``condition`` until it holds (fault settings are cached per process for
    ``fault_cache_seconds``: wait for the change to show instead of sleeping past it)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def _capacity_and_latency(client: TestClient) -> tuple[int, int]:
    got = client.get("/api/v1/admin/faults", headers=ADMIN).json()
    return got["capacity"], got["latency_ms"]


def _reads_faults(client: TestClient, expected: tuple[int, int]) -> Callable[[], bool]:
    """A ``wait_until`` condition: ``client`` reads ``expected`` (capacity, latency_ms)."""
    return lambda: _capacity_and_latency(client) == expected


def test_faults_are_shared_between_processes(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(fault_cache_seconds=0.2)
    with TestClient(create_app(settings)) as a, TestClient(create_app(settings)) as b:
        assert b.get("/healthz").status_code == 200
        # capacity 0 ("refuse every stamp") must survive the trip through the database.
        a.post("/api/v1/admin/faults", json={"capacity": 0, "latency_ms": 0}, headers=ADMIN)
        for client in (a, b):
            wait_until(_reads_faults(client, (0, 0)))
        a.post("/api/v1/admin/faults", json={"down": True}, headers=ADMIN)
        wait_until(lambda: b.get("/healthz").status_code == 503)
        b.post("/api/v1/admin/faults", json={}, headers=ADMIN)
        wait_until(lambda: a.get("/healthz").status_code == 200)


def test_registration_surge_is_shed_apart(make_settings: Callable[..., Settings]) -> None:
    # One test client address sends the whole surge: lift the per-address OTP throttle
    # (tests/stamping/test_throttle.py) so that only the admission gate sheds.
    settings = make_settings(account_slots=1, account_queue=0, otp_per_address=1000)
    with TestClient(create_app(settings)) as client:
        def register_one(n: int) -> int:
            r = client.post("/api/v1/accounts", json={"phone": f"08129000{n:04d}",
                                                       "name": "X", "password": "kata-sandi"})
            return r.status_code

        with ThreadPoolExecutor(max_workers=12) as pool:
            codes = list(pool.map(register_one, range(24)))
        assert set(codes) <= {201, 503} and 201 in codes and 503 in codes
        # Stamping and purchases keep their own capacity meanwhile.
        assert client.get("/readyz").json()["queue"]["account"] == 0
