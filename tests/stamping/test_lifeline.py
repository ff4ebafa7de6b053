"""A child dies with its parent, even when the parent ended before the child asked the kernel
to watch it (the race a signing worker forked just before its forkserver was killed runs)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")

# The parent forks a child and exits; the child waits until it has been handed to init (or a
# subreaper) and only then calls die_with_parent, as the late worker would.
RACE = """
import os, sys, time
from stamping.lifeline import die_with_parent
me = os.getpid()
r, w = os.pipe()
child = os.fork()
if child == 0:
    os.close(w)
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)  # the test reads the parent's output to its end
    os.dup2(quiet, 2)
    os.read(r, 1)  # end of file: the parent has exited
    while os.getppid() == me:
        time.sleep(0.01)
    with open(sys.argv[1], "w") as marker:
        marker.write("asked;")
        marker.flush()
        try:
            die_with_parent({argument})
        except BaseException as e:
            marker.write(repr(e))
            marker.flush()
            os._exit(2)
        marker.write("outlived its parent")
    time.sleep(30)
    os._exit(0)
print(child, flush=True)
os._exit(0)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def _run_race(argument: str, marker: Path) -> int:
    out = subprocess.run([sys.executable, "-c", RACE.format(argument=argument), str(marker)],
                         capture_output=True, text=True, check=True, timeout=30)
    return int(out.stdout.strip())


def test_a_child_whose_known_parent_is_gone_exits(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    child = _run_race("parent=me", marker)
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(child), "the child outlived its parent"
    assert marker.read_text() == "asked;"


def test_without_a_known_parent_the_child_adopts_its_new_one(tmp_path: Path) -> None:
    """What the web process does (its parent may be init by design): it carries on."""
    marker = tmp_path / "marker"
    child = _run_race("", marker)
    try:
        deadline = time.monotonic() + 10
        while "outlived" not in _read(marker) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert marker.read_text() == "asked;outlived its parent"
    finally:
        subprocess.run(["kill", "-9", str(child)], check=False)
