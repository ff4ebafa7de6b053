"""How fast the CPU is right now: a fixed piece of work, timed in CPU time, twice a second.

This machine is a shared virtual machine, and the speed of each of its CPUs changes from one
second to the next by up to 1.7x (measured: the same loop took 22 to 39 ms of CPU time on an
idle machine, on each CPU independently), as the host gives its cores to other guests. A
capacity measured in one minute and a goodput measured in the next then differ by the
machine's mood as much as by the service's behaviour (capacity before and after one surge:
45.5 and 36.2 stamps/s).

:class:`SpeedMeter` runs this file as a process pinned to the CPUs of the service it watches
(about 1% of one CPU). Each reading is the CPU time of the same work: it grows when the
host slows the CPU, and not when the CPU is merely busy with other processes, since CPU
time counts only the time the work ran. Throughput that scales with the CPU's speed scales
with ``1 / reading``: :func:`capacity_at` brings a capacity measured at one speed to another.

    python benchmarks/cpu_speed.py   # prints "<perf_counter> <milliseconds>" lines
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

#: Seconds between readings.
INTERVAL_S = 0.5


def work() -> float:
    """Milliseconds of CPU time taken by a fixed mix of arithmetic and dictionary writes."""
    started = time.thread_time()
    total = 0
    for i in range(40_000):
        total += i * i % 7
    table = {}
    for i in range(8_000):
        table[i] = total
    return 1000 * (time.thread_time() - started)


class SpeedMeter:
    """Readings of :func:`work` from a process pinned to ``cpus`` (all CPUs when None)."""

    def __init__(self, cpus: set[int] | None) -> None:
        self.cpus = cpus
        self.readings: list[tuple[float, float]] = []  # (perf_counter, ms)
        self._proc: subprocess.Popen[str] | None = None
        self._thread = threading.Thread(target=self._read, daemon=True)

    def start(self) -> None:
        cpus = self.cpus
        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve())], stdout=subprocess.PIPE, text=True,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
        self._thread.start()

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            at, ms = line.split()
            self.readings.append((float(at), float(ms)))

    def mean_ms(self, lo: float, hi: float) -> float:
        """The mean reading between two perf_counter times (perf_counter is system-wide on
        Linux: CLOCK_MONOTONIC), NaN without one."""
        inside = [ms for at, ms in self.readings if lo <= at < hi]
        return statistics.fmean(inside) if inside else float("nan")

    def stop(self) -> None:
        """Stop the readings (again: nothing)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(10)
            self._thread.join(10)


def capacity_at(measured: list[tuple[float, float]], ms: float) -> float:
    """The capacity at a speed of ``ms`` per reading, from capacities measured at known
    speeds: ``measured`` holds (stamps/s, mean ms during its measurement)."""
    return statistics.fmean(rate * at_ms for rate, at_ms in measured) / ms


def main() -> None:
    while True:
        print(f"{time.perf_counter():.3f} {work():.3f}", flush=True)
        time.sleep(INTERVAL_S)


if __name__ == "__main__":
    main()
