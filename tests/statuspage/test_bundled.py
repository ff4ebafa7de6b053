"""The bundled stamping service as a child process (never imported by statuspage)."""

from __future__ import annotations

import os
import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest

from statuspage.bundled import BundledStamping, BundledStampingError


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_child_that_dies_is_reported_with_its_log(tmp_path: Path) -> None:
    fake_python = tmp_path / "python"
    fake_python.write_text("#!/bin/sh\necho 'no such service' >&2\nexit 3\n")
    fake_python.chmod(0o755)
    service = BundledStamping(tmp_path / "stamping", free_port(), python=str(fake_python))
    with pytest.raises(BundledStampingError, match="exited with 3") as info:
        service.start(timeout_s=10)
    assert "no such service" in str(info.value)
    assert service.stop() is None  # nothing left running


@pytest.mark.slow
def test_stamps_of_the_bundled_service_link_to_its_real_port(tmp_path: Path) -> None:
    """Issue 8 item 15: on a port other than 8001, the QR code scanned from a 100 dpi render
    of a stamped page links to this service, and the link answers."""
    from tests.stamping.pdfs import make_pdf
    from tests.stamping.scanning import decode_qr, render_page

    env = {k: v for k, v in os.environ.items() if not k.startswith("STAMPING_")}
    service = BundledStamping(tmp_path / "stamping", free_port(), python=sys.executable,
                              workers=1, env=env)
    with service:
        headers = {"Authorization": f"Bearer {service.probe_token()}"}
        r = httpx.post(service.url + "/api/v1/orders", json={"quantity": 1},
                       headers={**headers, "Idempotency-Key": "qr"}, timeout=30)
        assert r.status_code == 201, r.text
        r = httpx.post(service.url + "/api/v1/stamps", headers=headers, timeout=60,
                       files={"file": ("a.pdf", make_pdf(), "application/pdf")})
        assert r.status_code == 201, r.text
        serial = r.headers["x-serial-number"]
        assert decode_qr(render_page(r.content, tmp_path)) == [
            f"{service.url}/verify/{serial}"]
        assert httpx.get(f"{service.url}/verify/{serial}", timeout=10).status_code == 200


@pytest.mark.slow
def test_start_probe_account_reuse_and_stop(tmp_path: Path) -> None:
    service = BundledStamping(tmp_path / "stamping", free_port(), python=sys.executable,
                              workers=1)
    with service:
        assert httpx.get(service.url + "/readyz", timeout=5).status_code == 200
        token = service.probe_token()
        assert token and service.token_valid(token)
        assert service.probe_token() == token  # kept in the data directory, reused
        assert (tmp_path / "stamping" / "probe_token").stat().st_mode & 0o077 == 0
        assert not service.token_valid("stm_not-a-token")
        assert service.ensure_running() is False  # alive: nothing to do
        crashed = service.process
        assert crashed is not None
        os.killpg(crashed.pid, signal.SIGKILL)  # the whole service crashes, workers too
        crashed.wait(timeout=10)
        assert service.ensure_running() is True  # the watchdog job's restart
        assert httpx.get(service.url + "/readyz", timeout=5).status_code == 200
        assert service.probe_token() == token  # same data directory, same account
        process = service.process
        assert process is not None and process is not crashed
    assert process.poll() is not None
    assert service.ensure_running() is False  # stopped on purpose stays stopped
    with pytest.raises(httpx.ConnectError):
        httpx.get(service.url + "/readyz", timeout=2)


@pytest.mark.slow
def test_an_orphan_left_by_a_killed_worker_is_stopped_first(tmp_path: Path) -> None:
    port = free_port()
    first = BundledStamping(tmp_path / "stamping", port, python=sys.executable, workers=1)
    first.start()
    orphan = first.process
    assert orphan is not None
    first.process = None  # the worker "dies" without stopping its child
    second = BundledStamping(tmp_path / "stamping", port, python=sys.executable, workers=1)
    with second:  # would fail on the busy port without reaping the orphan
        assert orphan.wait(timeout=20) is not None
        assert httpx.get(second.url + "/readyz", timeout=5).status_code == 200
        assert second.process is not None and second.process.pid != orphan.pid
    first.stop()  # closes its log file; its process is gone already


def test_an_unrelated_process_in_the_pid_file_is_left_alone(tmp_path: Path) -> None:
    data = tmp_path / "stamping"
    data.mkdir()
    (data / "stamping.pid").write_text(str(os.getpid()))  # this test runner, not a service
    BundledStamping(data, free_port())._reap_orphan()
    os.kill(os.getpid(), 0)  # still here
