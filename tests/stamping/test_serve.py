"""The real CLI: ``python -m stamping serve`` plus ``account add`` on the same data dir."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.stamping.pdfs import make_pdf

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_and_account_add_share_the_database(
        make_database_url: Callable[[str], str], tmp_path: Path) -> None:
    data_dir = tmp_path / "svc"
    port = _free_port()
    env = {**os.environ, "STAMPING_DATABASE_URL": make_database_url("serve"),
           "STAMPING_ADMIN_TOKEN": "adm", "STAMPING_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    proc = subprocess.Popen([sys.executable, "-m", "stamping", "--log-level", "warning",
                             "serve", "--port", str(port), "--data-dir", str(data_dir),
                             "--workers", "1"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail("the service did not become ready")
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
