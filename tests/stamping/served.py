"""Helpers for tests that run the real ``python -m stamping serve``."""

from __future__ import annotations

import socket
import time

import httpx
import pytest


def free_port() -> int:
    """A free TCP port on localhost."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(base: str, seconds: float = 30.0) -> None:
    """Wait until ``base``/readyz answers 200; fail the test after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail("the service did not become ready")
