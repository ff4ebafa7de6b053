"""Browser-test fixtures: a real ``statuspage web`` process and real headless Chromium.

Reusable by every e2e test:

- ``start_server(*args, env=None, demo=True)`` (fixture ``server_factory``): start
  ``statuspage web`` on a free port with a fresh data directory; returns a ``LiveServer`` with
  ``url``, ``data_dir``, ``env`` and ``run_cli(*args)`` (runs another ``statuspage`` subcommand
  on the same data, e.g. ``operator add``). Stopped at the end of the test.
- ``live_server``: one demo server shared by a module.
- ``browser``: Playwright's Chromium driving Debian's ``/usr/bin/chromium``.
- ``new_page(width=360, height=800, lang="id-ID")``: a fresh page (own context) per call.

Without Chromium the tests are skipped, except under CI (env ``CI`` set), where they fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking"]
START_TIMEOUT_S = 180.0  # --demo writes a reconstruction of the CASN window first


def chromium_or_skip() -> str:
    """The Chromium executable, or skip (fail under CI) when it is missing."""
    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if not path:
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is required under CI (looked for {CHROMIUM})")
        pytest.skip("Chromium is not installed")
    return str(path)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    """A running ``statuspage web`` process."""

    url: str
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def run_cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run another ``statuspage`` subcommand on the same data directory."""
        return subprocess.run([sys.executable, "-m", "statuspage", *args], env=self.env,
                              capture_output=True, text=True, check=check, timeout=120)

    def stop(self) -> None:
        """Terminate the server (and wait for it)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def _wait_ready(server: LiveServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError("statuspage web exited early:\n" + server.log_path.read_text())
        try:
            if httpx.get(server.url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError("statuspage web did not become ready:\n" + server.log_path.read_text())


def start_server(base: Path, *args: str, env: dict[str, str] | None = None,
                 demo: bool = True) -> LiveServer:
    """Start ``statuspage web`` with a fresh data directory under ``base``."""
    port = free_port()
    data_dir = base / f"data-{port}"
    data_dir.mkdir(parents=True)
    environment = {**os.environ, "STATUSPAGE_DATA_DIR": str(data_dir), **(env or {})}
    if "STATUSPAGE_DATABASE_URL" not in (env or {}):
        environment.pop("STATUSPAGE_DATABASE_URL", None)  # the data directory's SQLite
    log_path = data_dir / "server.log"
    cmd = [sys.executable, "-m", "statuspage", "web", "--host", "127.0.0.1", "--port",
           str(port), *(["--demo"] if demo else []), *args]
    with log_path.open("wb") as log:
        process = subprocess.Popen(cmd, env=environment, stdout=log, stderr=subprocess.STDOUT)
    server = LiveServer(f"http://127.0.0.1:{port}", data_dir, environment, process, log_path)
    _wait_ready(server)
    return server


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """``start(*args, env=None, demo=True) -> LiveServer``; every server stops after the test."""
    started: list[LiveServer] = []

    def start(*args: str, env: dict[str, str] | None = None, demo: bool = True) -> LiveServer:
        server = start_server(tmp_path, *args, env=env, demo=demo)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One ``statuspage web --demo`` shared by the tests of a module."""
    server = start_server(tmp_path_factory.mktemp("live"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium through Playwright (Debian's binary, not a downloaded one)."""
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """``new_page(width=360, height=800, lang="id-ID")``: a page in a fresh context."""
    contexts: list[Any] = []

    def make(width: int = 360, height: int = 800, lang: str = "id-ID") -> Any:
        context = browser.new_context(viewport={"width": width, "height": height}, locale=lang,
                                      java_script_enabled=True)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
