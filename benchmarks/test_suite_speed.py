"""How much faster ``make test`` runs than the suite did, same tests, same run.

Runs the suite (or the paths given) twice with pytest. The baseline is the way the suite ran
when issue 9 was filed: in one process (``-n 0``), every test that needs a migrated database
running every migration on an empty one (``TESTS_MIGRATE_EACH=1``); ``--baseline templates``
keeps the templates and measures the workers alone. Then the suite as ``make test`` runs it
(``-n auto``: one worker per CPU, a test file per worker at a time, tests that start processes
or a browser first; migrated databases copied from templates). Both runs build their own
templates (``-p no:cacheprovider``), so neither profits from the other. Prints each run's wall
time, CPU time (of pytest and the processes it waited for) and outcome line, then the ratio.
Issue 9's goal: at least 2x on a 2-core machine.

    .venv/bin/python benchmarks/test_suite_speed.py [--baseline migrate-each|templates]
        [--workers auto] [pytest paths...]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(workers: str, paths: list[str], migrate_each: bool) -> tuple[float, float, str]:
    """(wall s, CPU s of pytest and everything it started, pytest's last line)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", workers,
         *paths],
        cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "CI": "true", "TESTS_MIGRATE_EACH": "1" if migrate_each else "0"})
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    outcome = next((line.strip("= ") for line in reversed(lines)
                    if re.search(r"\d+ (passed|failed)", line)), lines[-1] if lines else "")
    failed = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
    return wall, cpu, "\n  ".join([outcome, *failed])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="auto", help="pytest-xdist -n for the fast run")
    parser.add_argument("--baseline", choices=("migrate-each", "templates"),
                        default="migrate-each")
    parser.add_argument("paths", nargs="*", default=["tests"])
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; tests: {' '.join(args.paths)}")
    results = {}
    runs = ((f"one process, {args.baseline}", "0", args.baseline == "migrate-each"),
            (f"-n {args.workers}, templates", args.workers, False))
    for label, workers, migrate_each in runs:
        wall, cpu, outcome = run(workers, args.paths, migrate_each)
        results[label] = wall
        print(f"{label:28s} wall {wall:7.1f} s  CPU {cpu:7.1f} s  {outcome}")
    base, fast = results.values()
    print(f"ratio: {base / fast:.2f}x faster (goal >= 2x)")


if __name__ == "__main__":
    main()
