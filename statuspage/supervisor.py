"""``statuspage serve`` keeps its worker running and takes it down with itself.

Each worker (scheduler, probes, bundled stamping service when it leads) runs as a child in its
own process group. One supervising thread per worker starts it, watches it, and restarts it
whenever it exits while ``serve`` is not stopping (a ``kill -9``, a crash, an OOM kill), with a
back-off that grows while it keeps dying and resets once it has run a minute. The same thread
stops it: SIGTERM to the group, SIGKILL after ``stop_timeout_s``.

The child gets ``PR_SET_PDEATHSIG`` (SIGTERM) bound to that thread, so even a SIGKILLed ``serve``
takes its workers down, and a worker then stops its bundled stamping service, which has its
own death signal bound to the worker. The state is written to a small JSON file that the web
role's ``/readyz`` reads (several web processes may answer it): per worker ``running``,
``restarting`` (with the exit code) or ``stopped``, and the number of restarts.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from statuspage.lifeline import parent_death_signal

__all__ = ["WorkerSupervisor", "read_status"]

log = logging.getLogger(__name__)

_BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)
_HEALTHY_AFTER_S = 60.0
_POLL_S = 0.2


def read_status(path: Path) -> dict[str, Any] | None:
    """The supervisor's last written state, or None when there is none (or it is unreadable)."""
    try:
        value = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


class _Slot:
    """One supervised worker process and the thread that owns it."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.state = "starting"
        self.last_exit: int | None = None
        self.started = threading.Event()
        self.thread: threading.Thread | None = None


class WorkerSupervisor:
    """Start, watch, restart and stop ``count`` worker processes.

    ``serve`` runs two: one leads (scheduler, probes, bundled stamping service), the other
    stands by and takes over within its lock poll when the leader dies, so a killed leader
    costs seconds instead of a cold start (interpreter, imports, migrations check); the dead
    one is started again as the new stand-by.
    """

    def __init__(self, cmd: Sequence[str], env: Mapping[str, str], status_path: Path, *,
                 count: int = 2, stop_timeout_s: float = 15.0) -> None:
        self.cmd = list(cmd)
        self.env = dict(env)
        self.status_path = status_path
        self.stop_timeout_s = stop_timeout_s
        self.slots = [_Slot(i) for i in range(count)]
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start every worker (each from its own supervising thread)."""
        for slot in self.slots:
            slot.thread = threading.Thread(target=self._run, args=(slot,), daemon=True,
                                           name=f"worker-supervisor-{slot.index}")
            slot.thread.start()
        for slot in self.slots:
            slot.started.wait(timeout=30)

    def stop(self) -> None:
        """Stop every worker and its process group (in parallel: each thread stops its own)."""
        self._stopping.set()
        for slot in self.slots:
            if slot.thread is not None:
                slot.thread.join(timeout=self.stop_timeout_s + 10)
        self._write()

    @property
    def restarts(self) -> int:
        """Restarts so far, all workers together."""
        return sum(slot.restarts for slot in self.slots)

    def pids(self) -> list[int]:
        """The current workers' pids."""
        return [s.process.pid for s in self.slots if s.process is not None]

    def _write(self) -> None:
        with self._lock:
            states = {slot.state for slot in self.slots}
            state = next(iter(states)) if len(states) == 1 else (
                "restarting" if "restarting" in states else "starting")
            data = {"state": state, "restarts": self.restarts, "supervisor_pid": os.getpid(),
                    "updated_at": time.time(),
                    "workers": [{"pid": s.process.pid if s.process else None, "state": s.state,
                                 "restarts": s.restarts, "last_exit": s.last_exit}
                                for s in self.slots]}
            temporary = self.status_path.with_suffix(".tmp")
            try:
                temporary.write_text(json.dumps(data), "utf-8")
                temporary.replace(self.status_path)  # readers never see half a file
            except OSError:
                log.exception("cannot write the worker status to %s", self.status_path)

    def _spawn(self, slot: _Slot) -> None:
        slot.process = subprocess.Popen(self.cmd, env=self.env, start_new_session=True,
                                        preexec_fn=parent_death_signal(signal.SIGTERM))
        slot.state = "running"
        log.info("worker %d started (pid %d)", slot.index, slot.process.pid)
        self._write()

    def _run(self, slot: _Slot) -> None:
        try:
            self._spawn(slot)
        finally:
            slot.started.set()
        failures = 0
        while not self._stopping.is_set():
            process = slot.process
            assert process is not None
            began = time.monotonic()
            while process.poll() is None and not self._stopping.wait(_POLL_S):
                pass
            if self._stopping.is_set():
                break
            slot.last_exit = process.returncode
            failures = 0 if time.monotonic() - began > _HEALTHY_AFTER_S else failures + 1
            delay = _BACKOFF_S[min(failures, len(_BACKOFF_S)) - 1] if failures else 0.0
            log.error("worker %d (pid %d) exited with %s; restarting it in %.1f s",
                      slot.index, process.pid, process.returncode, delay)
            _signal_group(process.pid, signal.SIGKILL)  # anything it left in its group
            slot.restarts += 1
            slot.state = "restarting"
            self._write()
            if self._stopping.wait(delay):
                break
            self._spawn(slot)
        self._terminate(slot)

    def _terminate(self, slot: _Slot) -> None:
        process = slot.process
        if process is not None and process.poll() is None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("worker %d did not stop in %.0f s; killing it", slot.index,
                            self.stop_timeout_s)
        if process is not None:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
            slot.last_exit = process.returncode
            log.info("worker %d stopped (%s)", slot.index, process.returncode)
        slot.state = "stopped"


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
