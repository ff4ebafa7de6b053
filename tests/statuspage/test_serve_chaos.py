"""Chaos for ``statuspage serve`` (issue 8, item 6): kill its worker and itself every way.

A real ``serve`` runs the packaged config: web, worker, bundled stamping service (with its
forkserver and signing workers). In turn: SIGKILL and SIGTERM of the worker (``serve`` must
restart it, ``/readyz`` must report the restart and be ready again within 10 s, and nothing the
old worker started may survive), then SIGTERM and SIGKILL of ``serve`` itself (every process it
started must be gone, and a new ``serve`` on the same ports must come back). The public URL
is derived from the port actually served (item 15).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.slow

BACK_WITHIN_S = 10.0
GONE_WITHIN_S = 10.0
FIRST_START_S = 120.0  # migrations, demo-free start, the stamping service's key and pool


def _free_ports() -> int:
    """A port P with P + 1 free too (the bundled stamping service listens on P + 1)."""
    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = int(a.getsockname()[1])
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return port
    raise RuntimeError("no two adjacent free ports")


def _stat(pid: int) -> tuple[int, str, str] | None:
    """(parent pid, state, start time) of a live process, None when gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return int(fields[1]), fields[0], fields[19]


def _tree(root: int) -> dict[int, str]:
    """Every live descendant of ``root`` (and root), with its start time (pids get reused)."""
    children: dict[int, list[int]] = {}
    starts: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[1] != "Z":
                children.setdefault(stat[0], []).append(int(entry.name))
                starts[int(entry.name)] = stat[2]
    found, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in starts:
            found[pid] = starts[pid]
            todo.extend(children.get(pid, []))
    return found


def _alive(processes: dict[int, str]) -> list[int]:
    return [pid for pid, start in processes.items()
            if (stat := _stat(pid)) is not None and stat[1] != "Z" and stat[2] == start]


def _wait_gone(processes: dict[int, str], within: float) -> list[int]:
    deadline = time.monotonic() + within
    while (left := _alive(processes)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def _has_database_open(pid: int) -> bool:
    try:
        links = [os.readlink(f) for f in Path(f"/proc/{pid}/fd").iterdir()]
    except (FileNotFoundError, PermissionError):
        return False
    return any(link.endswith("statuspage.sqlite3") for link in links)


def _pid(body: dict[str, Any]) -> int | None:
    """The leading worker's pid, from /readyz's ``leader`` ("host:pid"); None while a new
    leader holds the lock but has not written its name yet (SQLite says "unknown")."""
    host, _, pid = str(body.get("leader") or "").rpartition(":")
    return int(pid) if host and pid.isdigit() else None


class Serve:
    """``python -m statuspage serve`` on fixed ports and a data directory of its own."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("STATUSPAGE_")}
        env["STATUSPAGE_DATA_DIR"] = str(data_dir)
        self.log = open(data_dir.parent / f"serve-{port}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "statuspage", "serve", "--port", str(port)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def readyz(self) -> tuple[int, dict[str, Any]]:
        try:
            response = httpx.get(self.base + "/readyz", timeout=2.0)
        except httpx.HTTPError:
            return 0, {}
        return response.status_code, response.json()

    def wait_ready(self, within: float, not_leader: int | None = None) -> float:
        """Seconds until /readyz is 200 with a leading worker (other than ``not_leader``)."""
        start = time.monotonic()
        while time.monotonic() - start < within:
            assert self.proc.poll() is None, f"serve exited with {self.proc.returncode}"
            status, body = self.readyz()
            if status == 200 and _pid(body) not in (None, not_leader):
                return time.monotonic() - start
            time.sleep(0.05)
        raise AssertionError(f"not ready within {within} s: {self.readyz()}")

    def leader_pid(self) -> int:
        pid = _pid(self.readyz()[1])
        assert pid is not None, self.readyz()
        return pid

    def wait_standby(self, within: float) -> None:
        """Wait until the stand-by worker is past its start-up: it has the database open
        (its webhook loop polls it), so it is polling the leader lock too."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            body = self.readyz()[1]
            if _pid(body) is not None:
                others = [w["pid"] for w in body["worker"]["workers"]
                          if w["pid"] != _pid(body) and w["state"] == "running"]
                if others and all(_has_database_open(pid) for pid in others):
                    return
            time.sleep(0.2)
        raise AssertionError(f"no stand-by within {within} s: {self.readyz()}")

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "data"
    path.mkdir()
    yield path


def test_serve_supervises_its_worker_and_leaves_no_orphans(data_dir: Path) -> None:
    port = _free_ports()
    serve = Serve(data_dir, port)
    try:
        serve.wait_ready(FIRST_START_S)
        summary = httpx.get(serve.base + "/api/v2/summary.json").json()
        assert summary["page"]["url"] == serve.base  # item 15: the port actually served
        for sig in (signal.SIGKILL, signal.SIGTERM):
            serve.wait_standby(FIRST_START_S)
            worker = serve.leader_pid()
            restarts = serve.readyz()[1]["worker"]["restarts"]
            before = _tree(worker)
            assert len(before) >= 2, before  # the leader and its bundled stamping service
            os.kill(worker, sig)
            took = serve.wait_ready(BACK_WITHIN_S, not_leader=worker)
            assert _wait_gone(before, GONE_WITHIN_S) == [], f"orphans after {sig!r}"
            deadline = time.monotonic() + BACK_WITHIN_S  # the dead one comes back as stand-by
            while time.monotonic() < deadline:
                record = serve.readyz()[1].get("worker") or {}
                if record.get("restarts") == restarts + 1 and record.get("state") == "running":
                    break
                time.sleep(0.1)
            assert record["restarts"] == restarts + 1 and record["state"] == "running", record
            assert worker not in [w["pid"] for w in record["workers"]]
            print(f"leader {signal.Signals(sig).name}: ready again in {took:.1f} s")
        for sig in (signal.SIGTERM, signal.SIGKILL):
            everything = _tree(serve.proc.pid)
            assert len(everything) >= 3, everything  # serve, worker, stamping service...
            os.kill(serve.proc.pid, sig)
            serve.proc.wait(timeout=30)
            left = _wait_gone(everything, GONE_WITHIN_S + (20 if sig == signal.SIGTERM else 0))
            assert left == [], f"orphans after {signal.Signals(sig).name} of serve: {left}"
            serve.close()
            serve = Serve(data_dir, port)  # the ports are free again: nothing holds them
            took = serve.wait_ready(FIRST_START_S)
            print(f"serve {signal.Signals(sig).name}: no orphans; a new serve was ready in "
                  f"{took:.1f} s")
    finally:
        everything = _tree(serve.proc.pid)
        serve.close()
        _wait_gone(everything, GONE_WITHIN_S)
