"""What one refusal costs the stamping service's web process, in CPU.

At three times its capacity the stamping service refuses two requests of three, and each
refusal takes CPU from the signing workers on the same host (issue 14: goodput at the peak is
what signing gets after the web process has refused the rest). This measures that cost:

1. ``stamping serve`` starts on one CPU with a throw-away data directory and its stamping
   capacity set to 0 through the fault API, so that every stamp request is refused by the
   admission gate, exactly as at the peak (held ``refusal_hold_seconds``, with Retry-After).
2. A baseline starts on the same CPU: a bare ASGI app under the same uvicorn settings
   (httptools, uvloop) that answers every request with a 503 at once. Its cost is the floor
   of the HTTP server: accept, parse, answer, close.
3. An open loop sends the surge drill's stamp request (``--rate`` per second, a new connection
   each, as applicants' browsers do) to each server in alternating rounds, and reads each
   server's CPU time from /proc: CPU milliseconds per answer, and the ratio to the baseline.

    .venv/bin/python benchmarks/refusal_cost.py [--rate 100] [--seconds 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from casn_surge import send  # noqa: E402
from drill_cluster import cpu_seconds, ready  # noqa: E402
from stamping_throughput import a4_pdf, free_port, stamp_request  # noqa: E402

ADMIN_TOKEN = "refusal-cost-admin"


async def bare_app(scope: dict[str, object], receive: object, send: object) -> None:
    """The baseline: a 503 with a small JSON body, nothing else."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 503,  # type: ignore[operator]
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", b"2"), (b"retry-after", b"1")]})
    await send({"type": "http.response.body", "body": b"{}"})  # type: ignore[operator]


async def open_loop(port: int, raw: bytes, rate: float, seconds: float) -> Counter[int]:
    """``rate`` requests a second for ``seconds``, each on a new connection; their statuses."""
    tasks = []
    started, sent = time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        while sent < (time.perf_counter() - started) * rate:
            tasks.append(asyncio.create_task(send(port, raw)))
            sent += 1
        await asyncio.sleep(0.002)
    return Counter(status for status, _, _ in await asyncio.gather(*tasks))


def measure(pid: int, port: int, raw: bytes, rate: float, seconds: float) -> tuple[float, str]:
    """CPU milliseconds per answer of the server ``pid`` under the open loop."""
    before = cpu_seconds(pid)
    statuses = asyncio.run(open_loop(port, raw, rate, seconds))
    used = cpu_seconds(pid) - before
    answers = sum(statuses.values())
    return 1000 * used / max(answers, 1), ", ".join(f"{s}: {n}" for s, n in statuses.items())


def start(args: list[str], env: dict[str, str], cpu: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, preexec_fn=lambda: os.sched_setaffinity(
                                0, {cpu}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per server")
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    server_cpu = cpus[-1]
    if len(cpus) > 1:  # the load generator keeps off the servers' CPU
        os.sched_setaffinity(0, set(cpus[:-1]))
    base = Path(tempfile.mkdtemp(prefix="refusal-cost-"))
    env = {**os.environ, "STAMPING_DATA_DIR": str(base / "stamping"),
           "STAMPING_DATABASE_URL": f"sqlite:///{base / 'stamping.sqlite3'}",
           "STAMPING_ADMIN_TOKEN": ADMIN_TOKEN}
    stamping_port, bare_port = free_port(), free_port()
    here = str(Path(__file__).resolve().parent)
    procs = [start(["-m", "stamping", "--log-level", "warning", "serve", "--port",
                    str(stamping_port)], env, server_cpu),
             start(["-m", "uvicorn", "--app-dir", here, "refusal_cost:bare_app", "--port",
                    str(bare_port), "--http", "httptools", "--loop", "uvloop",
                    "--log-level", "warning", "--no-access-log"], env, server_cpu)]
    try:
        ready(stamping_port)
        token = subprocess.run(
            [sys.executable, "-m", "stamping", "account", "add", "--phone", "081200000001",
             "--name", "Pelamar"], env=env, capture_output=True, text=True, check=True,
        ).stdout.strip().splitlines()[-1]
        httpx.post(f"http://127.0.0.1:{stamping_port}/api/v1/admin/faults",
                   json={"capacity": 0}, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                   timeout=10).raise_for_status()
        raw = stamp_request(token, a4_pdf())
        servers = {"stamping (refused by the gate)": (procs[0].pid, stamping_port),
                   "bare uvicorn 503 (baseline)": (procs[1].pid, bare_port)}
        for pid, port in servers.values():  # warm both: first connections, imports, caches
            measure(pid, port, raw, args.rate, 2)
        costs: dict[str, list[float]] = {name: [] for name in servers}
        print(f"{args.rate:g} requests/s, {args.seconds:g} s a round, servers on CPU "
              f"{server_cpu}; request of {len(raw)} bytes")
        for round_ in range(args.rounds):
            for name, (pid, port) in servers.items():
                ms, statuses = measure(pid, port, raw, args.rate, args.seconds)
                costs[name].append(ms)
                print(f"  round {round_ + 1}  {name:32s} {ms:6.3f} CPU ms/answer  ({statuses})")
        stamping, bare = (statistics.median(values) for values in costs.values())
        # each round's ratio: the two servers measured a few seconds apart, on a machine
        # whose speed drifts by the minute
        ratio = statistics.median(s / b for s, b in zip(*costs.values(), strict=True))
        print(f"\nmedian CPU per answer: stamping {stamping:.3f} ms, bare uvicorn {bare:.3f} ms; "
              f"median ratio of a round {ratio:.2f}")
        print(f"at the drill's peak ({args.rate:g} refusals/s) refusing costs "
              f"{stamping * args.rate / 1000:.2f} cores")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)


if __name__ == "__main__":
    main()
