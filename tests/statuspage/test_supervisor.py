"""``serve``'s worker supervision: restart on death, stop the whole group, tell /readyz.

The real ``serve`` is driven in ``test_serve_chaos.py`` (slow); here a stand-in child (a
sleeping interpreter that starts a grandchild in its group) shows the mechanics quickly.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

from starlette.testclient import TestClient

from statuspage.app import create_app
from statuspage.leadership import leader_lock
from statuspage.settings import Settings
from statuspage.supervisor import WorkerSupervisor, read_status

CHILD = ("import os, subprocess, sys, time; "
         "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); "
         "time.sleep(120)")


def _alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return False
    return fields[0] != "Z"


def _group(pgid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def _until(condition: object, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_a_dead_worker_is_restarted_and_stop_takes_its_group(tmp_path: Path) -> None:
    status = tmp_path / "workers.json"
    supervisor = WorkerSupervisor([sys.executable, "-c", CHILD], os.environ, status, count=2,
                                  stop_timeout_s=5)
    supervisor.start()
    try:
        first, second = supervisor.pids()
        _until(lambda: len(_group(first)) == 2)  # the child and its grandchild
        grandchild = next(p for p in _group(first) if p != first)
        os.kill(first, signal.SIGKILL)
        _until(lambda: supervisor.restarts == 1 and first not in supervisor.pids()
               and len(supervisor.pids()) == 2)
        _until(lambda: not _alive(grandchild))  # what it left in its group went with it
        record = read_status(status)
        assert record is not None and record["restarts"] == 1
        assert {w["last_exit"] for w in record["workers"]} == {-9, None}
        assert second in supervisor.pids()
        os.kill(second, signal.SIGTERM)  # a clean exit is still a worker gone: restarted
        _until(lambda: supervisor.restarts == 2 and second not in supervisor.pids())
        groups = [pid for pid in supervisor.pids()]
    finally:
        supervisor.stop()
    # every member got SIGKILL; the kernel takes a moment to end each one
    _until(lambda: all(_group(pid) == [] for pid in groups), within=5.0)
    record = read_status(status)
    assert record is not None and record["state"] == "stopped"


def test_readyz_under_serve_needs_a_leading_worker(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "workers.json"
    supervised = settings.with_changes(worker_status_path=path)
    with TestClient(create_app(supervised)) as client:
        missing = client.get("/readyz")
        assert missing.status_code == 503 and missing.json()["error"] == "worker not started"
        path.write_text(json.dumps({"state": "running", "restarts": 2, "workers": []}))
        no_leader = client.get("/readyz")
        assert no_leader.status_code == 503 and "no worker leads" in no_leader.json()["error"]
        lock = leader_lock(settings.database_url, "test-host:4242")
        assert lock.try_acquire()
        try:
            ready = client.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["leader"] == "test-host:4242"
            assert ready.json()["worker"]["restarts"] == 2
            path.write_text(json.dumps({"state": "stopped", "restarts": 2, "workers": []}))
            assert client.get("/readyz").status_code == 503
        finally:
            lock.release()
    with TestClient(create_app(settings)) as client:  # a lone web process: no worker needed
        assert client.get("/readyz").status_code == 200
