"""Start and stop the bundled stamping service as a separate process.

The status page never imports ``stamping``: it runs ``python -m stamping serve`` and talks to it
over HTTP like any other service, so the page keeps working when the service is down (which is
what the page reports on). A probe account is created with ``python -m stamping account add
--probe`` (its token is the last line of stdout) and kept in the data directory, so restarts
reuse one account instead of piling up new ones.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import httpx

from statuspage.lifeline import parent_death_signal

__all__ = ["BundledStamping", "BundledStampingError"]

log = logging.getLogger(__name__)

_TOKEN_FILE = "probe_token"  # noqa: S105 - a file name
_PID_FILE = "stamping.pid"


class BundledStampingError(RuntimeError):
    """The bundled service could not be started or set up."""


class BundledStamping:
    """One child ``stamping serve`` process on ``host:port`` with its data in ``data_dir``."""

    def __init__(self, data_dir: Path, port: int = 8001, *, host: str = "127.0.0.1",
                 env: Mapping[str, str] | None = None, python: str = sys.executable,
                 workers: int | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = port
        self.host = host
        self.python = python
        self.workers = workers
        self.env = dict(os.environ if env is None else env)
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: int | None = None

    @property
    def url(self) -> str:
        """The service's base URL."""
        return f"http://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        """Where the child's output goes."""
        return self.data_dir / "stamping.log"

    def _child_env(self) -> dict[str, str]:
        env = dict(self.env)
        env["STAMPING_DATA_DIR"] = str(self.data_dir)
        return env

    def start(self, timeout_s: float = 60.0) -> None:
        """Start the child and wait until ``/readyz`` answers 200."""
        if self.process is not None and self.process.poll() is None:
            return
        if self.process is not None:  # it died: collect it and its log handle first
            self.stop()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._reap_orphan()
        cmd = [self.python, "-m", "stamping", "serve", "--host", self.host,
               "--port", str(self.port), "--data-dir", str(self.data_dir)]
        if self.workers is not None:
            cmd += ["--workers", str(self.workers)]
        self._log_file = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        log.info("starting the bundled stamping service on %s", self.url)
        # its own process group: the service forks signing workers, and stop() must be able to
        # take all of them down even when the main process died first. SIGTERM when the thread
        # that started it dies: a worker killed with SIGKILL leaves no service holding the port
        # (its signing workers follow it on their own).
        self.process = subprocess.Popen(cmd, env=self._child_env(), stdout=self._log_file,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True,
                                        preexec_fn=parent_death_signal(signal.SIGTERM))
        (self.data_dir / _PID_FILE).write_text(str(self.process.pid))
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    code = self.stop()
                    raise BundledStampingError(
                        f"stamping service exited with {code}; "
                        f"see {self.log_path}:\n{self._log_tail()}")
                try:
                    if client.get(self.url + "/readyz").status_code == 200:
                        log.info("bundled stamping service ready on %s", self.url)
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        self.stop()
        raise BundledStampingError(f"stamping service not ready within {timeout_s:g} s; "
                                   f"see {self.log_path}:\n{self._log_tail()}")

    def _reap_orphan(self) -> None:
        """Stop a service left running by a worker that was killed (SIGKILL, OOM) before it
        could stop its child: otherwise it holds the port and the new one cannot start.

        Only a process group whose leader is ``stamping serve`` on this data directory is
        touched, so a recycled pid never takes down an unrelated process.
        """
        pid_file = self.data_dir / _PID_FILE
        try:
            pid = int(pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return
        args = [part.decode("utf-8", "replace") for part in cmdline]
        if "stamping" not in args or "serve" not in args or str(self.data_dir) not in args:
            return
        log.warning("stopping an orphaned bundled stamping service (pid %d)", pid)
        try:
            os.killpg(pid, signal.SIGTERM)
            for _ in range(75):  # up to 15 s for a clean stop
                time.sleep(0.2)
                os.killpg(pid, 0)
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        except PermissionError:
            log.error("cannot stop the orphaned stamping service (pid %d)", pid)

    def _log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text("utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def create_probe_account(self, timeout_s: float = 60.0) -> str:
        """Create a probe account; return its API token (the command's last stdout line)."""
        phone = "0811" + "".join(secrets.choice("0123456789") for _ in range(8))
        cmd = [self.python, "-m", "stamping", "account", "add", "--phone", phone,
               "--name", "Probe Status Page", "--probe", "--data-dir", str(self.data_dir)]
        try:
            done = subprocess.run(cmd, env=self._child_env(), capture_output=True,
                                  timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired as exc:
            raise BundledStampingError("creating the probe account timed out") from exc
        lines = done.stdout.decode("utf-8", errors="replace").strip().splitlines()
        if done.returncode != 0 or not lines:
            raise BundledStampingError(
                f"creating the probe account failed ({done.returncode}): "
                f"{done.stderr.decode('utf-8', errors='replace').strip()[-500:]}")
        return lines[-1].strip()

    def token_valid(self, token: str) -> bool:
        """Whether ``token`` is accepted by the running service (``GET /api/v1/quota``)."""
        try:
            response = httpx.get(self.url + "/api/v1/quota", timeout=5.0,
                                 headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def probe_token(self) -> str:
        """The kept probe-account token, or a new account's (then kept, mode 0600)."""
        path = self.data_dir / _TOKEN_FILE
        if path.is_file():
            token = path.read_text("utf-8").strip()
            if token and self.token_valid(token):
                return token
            log.info("kept probe token no longer valid; creating a new probe account")
        token = self.create_probe_account()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(token)
        return token

    @property
    def alive(self) -> bool:
        """Whether the child process is running."""
        return self.process is not None and self.process.poll() is None

    def ensure_running(self) -> bool:
        """Restart the child if it died (a crash must not read as an outage forever).

        Returns whether a restart was needed. A service stopped with ``stop`` stays stopped.
        """
        if self.process is None or self.alive:
            return False
        log.error("the bundled stamping service exited with %s; restarting it",
                  self.process.returncode)
        self.start()
        return True

    def stop(self, timeout_s: float = 15.0) -> int | None:
        """SIGTERM the child (it stops its signing workers), SIGKILL after ``timeout_s``."""
        process, self.process = self.process, None
        code: int | None = None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=timeout_s)
                except subprocess.TimeoutExpired:
                    log.warning("stamping service did not stop in %.0f s; killing it", timeout_s)
                    process.kill()
                    process.wait(timeout=5)
            code = process.returncode
            try:  # signing workers left behind by a crashed main process
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            log.info("bundled stamping service stopped (%s)", code)
        if self._log_file is not None:
            os.close(self._log_file)
            self._log_file = None
        return code

    def __enter__(self) -> BundledStamping:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
