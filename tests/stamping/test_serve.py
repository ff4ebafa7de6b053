"""The real CLI: ``python -m stamping serve`` plus ``account add`` on the same data dir."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.stamping.pdfs import make_pdf
from tests.stamping.served import free_port, wait_ready

pytestmark = pytest.mark.slow


def test_serve_and_account_add_share_the_database(
        make_database_url: Callable[[str], str], tmp_path: Path) -> None:
    data_dir = tmp_path / "svc"
    port = free_port()
    env = {**os.environ, "STAMPING_DATABASE_URL": make_database_url("serve"),
           "STAMPING_ADMIN_TOKEN": "adm", "STAMPING_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    proc = subprocess.Popen([sys.executable, "-m", "stamping", "--log-level", "warning",
                             "serve", "--port", str(port), "--data-dir", str(data_dir),
                             "--workers", "1"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base)
        assert (data_dir / "pki" / "ca.pem").exists()
        out = subprocess.run([sys.executable, "-m", "stamping", "account", "add", "--phone",
                              "081200002222", "--name", "Probe", "--probe", "--data-dir",
                              str(data_dir)], env=env, capture_output=True, text=True,
                             check=True)
        token = out.stdout.strip().splitlines()[-1]
        headers = {"Authorization": f"Bearer {token}"}
        r = httpx.post(f"{base}/api/v1/orders", json={"quantity": 2},
                       headers={**headers, "Idempotency-Key": "1"})
        assert r.status_code == 201 and r.json()["status"] == "paid"
        r = httpx.post(f"{base}/api/v1/stamps", headers=headers,
                       files={"file": ("a.pdf", make_pdf(), "application/pdf")}, timeout=30)
        assert r.status_code == 201
        serial = r.headers["x-serial-number"]
        j = httpx.get(f"{base}/verify/{serial}", headers={"Accept": "application/json"}).json()
        assert j["exists"] is True
        assert httpx.get(f"{base}/api/v1/quota", headers=headers).json() == {"available": 1,
                                                                              "spent": 1}
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_the_real_server_refuses_a_full_gate_from_the_head(
        make_database_url: Callable[[str], str], tmp_path: Path) -> None:
    """Capacity 0: every stamp is refused by the HTTP protocol's early path, with the body,
    Retry-After and security headers the app would give, counted in the metrics; quota is
    untouched, and stamping works again once the capacity is lifted."""
    data_dir = tmp_path / "svc"
    port = free_port()
    env = {**os.environ, "STAMPING_DATABASE_URL": make_database_url("early"),
           "STAMPING_ADMIN_TOKEN": "adm", "STAMPING_REFUSAL_HOLD_SECONDS": "0.2"}
    proc = subprocess.Popen([sys.executable, "-m", "stamping", "--log-level", "warning",
                             "serve", "--port", str(port), "--data-dir", str(data_dir),
                             "--workers", "1"], env=env)
    base = f"http://127.0.0.1:{port}"
    admin = {"Authorization": "Bearer adm"}
    try:
        wait_ready(base)
        token = subprocess.run([sys.executable, "-m", "stamping", "account", "add", "--phone",
                                "081200003333", "--name", "Probe", "--probe", "--data-dir",
                                str(data_dir)], env=env, capture_output=True, text=True,
                               check=True).stdout.strip().splitlines()[-1]
        headers = {"Authorization": f"Bearer {token}"}
        r = httpx.post(f"{base}/api/v1/orders", json={"quantity": 1},
                       headers={**headers, "Idempotency-Key": "1"})
        assert r.status_code == 201 and r.json()["status"] == "paid"  # probes pay at once
        assert httpx.post(f"{base}/api/v1/admin/faults", json={"capacity": 0},
                          headers=admin).status_code == 200
        files = {"file": ("a.pdf", make_pdf(), "application/pdf")}
        for _ in range(3):
            started = time.monotonic()
            r = httpx.post(f"{base}/api/v1/stamps", headers=headers, files=files, timeout=30)
            assert r.status_code == 503, r.text
            assert time.monotonic() - started >= 0.09  # held 0.5-1x the hold
            assert r.json()["reason"] == "full" and int(r.headers["retry-after"]) >= 1
            assert r.headers["x-frame-options"] == "DENY"
        metrics = httpx.get(f"{base}/metrics").text
        assert 'stamping_rejected_total{gate="stamp"} 3.0' in metrics
        assert 'stamping_refused_from_head_total{gate="stamp"} 3.0' in metrics  # not the app
        assert httpx.get(f"{base}/api/v1/quota", headers=headers).json() == {
            "available": 1, "spent": 0}
        assert httpx.post(f"{base}/api/v1/admin/faults", json={},
                          headers=admin).status_code == 200
        r = httpx.post(f"{base}/api/v1/stamps", headers=headers, files=files, timeout=30)
        assert r.status_code == 201, r.text
    finally:
        proc.terminate()
        proc.wait(timeout=20)

