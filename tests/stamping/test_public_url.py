"""The QR code's URL reaches the service as actually served (issue 8 item 15, issue 15).

With no ``STAMPING_PUBLIC_URL``, ``stamping serve`` derives it from ``--host``/``--port``;
the app refuses to start without one rather than print a guessed address into stamps.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from stamping.app import create_app
from stamping.settings import Settings, SettingsError, derive_public_url
from tests.stamping.scan_pdfs import KINDS, SIZES
from tests.stamping.scanning import decode_qr, render_page
from tests.stamping.served import free_port, wait_ready


@pytest.mark.parametrize(("host", "port", "url"), [
    ("127.0.0.1", 8123, "http://127.0.0.1:8123"),
    ("meterai.example", 80, "http://meterai.example:80"),
    ("::1", 9000, "http://[::1]:9000"),
])
def test_derived_from_host_and_port(host: str, port: int, url: str) -> None:
    assert derive_public_url(host, port) == url
    assert Settings.from_env({}).served_at(host, port).public_url == url


def test_configured_url_wins_and_wildcards_become_the_machine_name() -> None:
    configured = Settings.from_env({"STAMPING_PUBLIC_URL": "https://meterai.example/"})
    assert configured.served_at("127.0.0.1", 9).public_url == "https://meterai.example"
    wildcard = derive_public_url("0.0.0.0", 8001)  # noqa: S104
    assert wildcard.endswith(":8001") and "0.0.0.0" not in wildcard  # noqa: S104
    with pytest.raises(SettingsError, match="port 0"):
        derive_public_url("127.0.0.1", 0)


def test_the_app_refuses_to_start_without_a_public_url(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="STAMPING_PUBLIC_URL"):
        create_app(Settings.from_env({}, data_dir=tmp_path))


@pytest.mark.slow
def test_serve_on_any_port_writes_a_qr_that_reaches_it(
        make_database_url: Callable[[str], str], tmp_path: Path) -> None:
    """``stamping serve --port P`` with no URL configured: the QR decoded from a 100 dpi
    render of the stamped page is ``http://127.0.0.1:P/verify/{serial}`` and answers 200."""
    data_dir = tmp_path / "svc"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "STAMPING_PUBLIC_URL"}
    env["STAMPING_DATABASE_URL"] = make_database_url("served")
    proc = subprocess.Popen([sys.executable, "-m", "stamping", "--log-level", "warning",
                             "serve", "--port", str(port), "--data-dir", str(data_dir),
                             "--workers", "1"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base)
        out = subprocess.run([sys.executable, "-m", "stamping", "account", "add", "--phone",
                              "081200003333", "--name", "Probe", "--probe", "--data-dir",
                              str(data_dir)], env=env, capture_output=True, text=True,
                             check=True)
        headers = {"Authorization": f"Bearer {out.stdout.strip().splitlines()[-1]}"}
        r = httpx.post(f"{base}/api/v1/orders", json={"quantity": 1},
                       headers={**headers, "Idempotency-Key": "1"})
        assert r.status_code == 201
        doc = KINDS["full-text"](SIZES["letter-landscape"])
        r = httpx.post(f"{base}/api/v1/stamps", headers=headers,
                       files={"file": ("a.pdf", doc, "application/pdf")}, timeout=60)
        assert r.status_code == 201, r.text
        serial = r.headers["x-serial-number"]
        [url] = decode_qr(render_page(r.content, tmp_path))
        assert url == f"{base}/verify/{serial}"
        assert httpx.get(url, timeout=10).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)
