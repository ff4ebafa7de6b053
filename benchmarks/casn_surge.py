"""The CASN surge drill: the shape of 3-6 September 2024, replayed in a few minutes.

Starts the real processes on this machine: ``stamping serve``, ``statuspage web`` and
``statuspage worker`` (PostgreSQL when it answers on 127.0.0.1:5432, else SQLite), with probes
every ``--probe-interval`` seconds, a deadline a few minutes ahead that needs the purchase and
stamping components, and a webhook subscriber on loopback. Then:

1. **capacity**: 8 applicants in a closed loop stamp a one-page letter; stamps/s is capacity.
2. **surge**: open-loop applicant arrivals (they come whatever the service answers) at 0.5x
   capacity, ramping to ``--peak`` x capacity (3x), held, then easing off; meanwhile public
   readers load the home page with ``wrk`` at a steady rate (``--page-rate``).
3. it prints a timeline (shedding began, the probes saw it, each component changed status, the
   draft incident appeared, the subscriber heard, the deadline notice level) and a table:
   goodput as a share of capacity per phase, page requests/s and p99 before and during the
   surge, applicants served vs refused with a retry time.

Goals (issue 14): goodput >= 90% of capacity throughout; the status changes within two probe
intervals of the overload; subscribers hear within 5 s of the change; page p99 < 50 ms.

    .venv/bin/python benchmarks/casn_surge.py [--peak 3] [--hold 40] [--probe-interval 5]

Applicants use ``--applicants`` accounts of their own in rotation (one per applicant, as in
2024, so the gate's fair share per account shields nobody), created verified and with orders
paid at once so the drill needs no payment simulation; the admission gate treats every account,
the probe's included, alike. The page readers (``--page-rate``) also run while capacity is
measured, so goodput is compared with a capacity measured under the same load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu_speed import SpeedMeter, capacity_at  # noqa: E402
from drill_cluster import (  # noqa: E402
    CONFIG,
    CpuMeter,
    Drill,
    Receiver,
    applicant_accounts,
    cpu_report,
    pay_orders,
    ready,
    seconds_since,
    stamp_probe_runs,
    wrk,
)
from stamping_throughput import a4_pdf, stamp_request  # noqa: E402
from surge_report import Answer, Timeline, report  # noqa: E402


async def send(port: int, raw: bytes) -> tuple[int, bool, str]:
    """One request on its own connection: (status, whether a Retry-After came with it, and
    the error when there was no answer, status 0)."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as exc:
        return 0, False, f"connect: {type(exc).__name__}"
    try:
        writer.write(raw)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        match = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
        if match:
            await reader.readexactly(int(match.group(1)))
        return status, b"retry-after:" in head.lower(), ""
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
        return 0, False, type(exc).__name__
    finally:
        writer.close()


async def closed_loop(port: int, raws: list[bytes], concurrency: int, seconds: float) -> float:
    """Stamps per second with ``concurrency`` applicants who wait for each answer."""
    ok = 0
    deadline = time.perf_counter() + seconds

    async def applicant(i: int) -> None:
        nonlocal ok
        while time.perf_counter() < deadline:  # each applicant's accounts in rotation
            status, _, _ = await send(port, raws[i % len(raws)])
            ok += status == 201
            i += concurrency

    started = time.perf_counter()
    await asyncio.gather(*(applicant(i) for i in range(concurrency)))
    return ok / (time.perf_counter() - started)


def rate_at(t: float, capacity: float, peak: float, hold: float) -> float:
    """Arrivals per second at ``t`` seconds into the surge (the 3-6 September shape)."""
    base, ramp = 0.5 * capacity, 20.0
    if t < 15:
        return base
    if t < 15 + ramp:
        return base + (peak * capacity - base) * (t - 15) / ramp
    if t < 15 + ramp + hold:
        return peak * capacity
    return base


async def surge(port: int, raws: list[bytes], capacity: float, peak: float, hold: float,
                total: float, started: float) -> list[Answer]:
    """Open-loop arrivals following ``rate_at`` for ``total`` seconds."""
    return await arrivals(port, raws, lambda t: rate_at(t, capacity, peak, hold), total,
                          started)


async def arrivals(port: int, raws: list[bytes], rate: Callable[[float], float], total: float,
                   started: float) -> list[Answer]:
    """Open-loop arrivals, ``rate(t)`` a second at ``t`` seconds after ``started``
    (a perf_counter time), until ``total``: they come whatever the service answers."""
    answers: list[Answer] = []
    tasks: set[asyncio.Task[None]] = set()
    sent = 0.0

    async def one(i: int, at: float) -> None:
        t0 = time.perf_counter()
        status, retry, error = await send(port, raws[i % len(raws)])
        answers.append(Answer(at, status, time.perf_counter() - t0, retry, error))

    n = 0
    last = time.perf_counter()
    while (now := time.perf_counter()) - started < total:
        sent += rate(now - started) * (now - last)
        last = now
        while n < int(sent):
            task = asyncio.create_task(one(n, now - started))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
        await asyncio.sleep(0.002)
    await asyncio.gather(*tasks)
    return answers


def watch(drill: Drill, start_wall: float, timeline: Timeline, stop: threading.Event,
          levels: list[tuple[float, str]]) -> None:
    """Poll the page, the database and the deadline while the surge runs."""
    web = f"http://127.0.0.1:{drill.web_port}"
    engine = sa.create_engine(drill.status_url)
    since = datetime.fromtimestamp(start_wall, UTC).replace(tzinfo=None)
    seen: dict[str, str] = {}
    try:
        while not stop.is_set():
            now = time.time() - start_wall
            with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
                data = httpx.get(web + "/api/v2/components.json", timeout=2).json()
                for comp in data["components"]:
                    old = seen.get(comp["id"])
                    if old is not None and old != comp["status"]:
                        timeline.mark(f"{comp['id']}: {old} -> {comp['status']}", now)
                    seen[comp["id"]] = comp["status"]
            with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
                level = httpx.get(web + "/api/v1/deadlines/drill/impact.json",
                                  timeout=2).json().get("level")
                if not levels or levels[-1][1] != level:
                    levels.append((now, str(level)))
            with contextlib.suppress(sa.exc.SQLAlchemyError), engine.connect() as conn:
                failed = conn.execute(sa.text(
                    "SELECT min(started_at) FROM probe_results WHERE outcome <> 'ok'"
                    " AND started_at >= :s"), {"s": since}).scalar()
                if failed is not None:
                    timeline.mark("probes saw a failure", seconds_since(failed, start_wall))
                drafted = conn.execute(sa.text(
                    "SELECT min(created_at) FROM incidents WHERE created_at >= :s"),
                    {"s": since}).scalar()
                if drafted is not None:
                    timeline.mark("incident drafted", seconds_since(drafted, start_wall))
            stop.wait(0.25)
    finally:
        engine.dispose()


def setup(drill: Drill, args: argparse.Namespace) -> tuple[list[bytes], Receiver]:
    """Start everything; return applicants' pre-encoded requests and the subscriber."""
    window = max(30, int(args.probe_interval * 6))
    deadline = (datetime.now(UTC) + timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    (drill.base / "statuspage.toml").write_text(CONFIG.format(
        web=drill.web_port, interval=args.probe_interval, window=window, deadline=deadline,
        confirm=max(0.5, args.probe_interval / 5)),
        "utf-8")
    drill.start(["-m", "stamping", "--log-level", "warning", "serve", "--port",
                 str(drill.stamping_port)], drill.stamping_env(), "stamping.log",
                nice=args.stamping_nice, cpus=args.stamping_cpus)
    ready(drill.stamping_port)
    probe_token = drill.cli(["-m", "stamping", "--log-level", "warning", "account", "add",
                             "--phone", "081200000000", "--name", "Probe", "--probe"],
                            drill.stamping_env()).strip().splitlines()[-1]
    tokens = [probe_token, *applicant_accounts(drill.stamping_db, args.applicants)]
    pay_orders(drill.stamping_port, tokens[1:])
    env = drill.status_env(tokens[0])
    drill.cli(["-m", "statuspage", "db", "upgrade"], env)
    drill.start(["-m", "statuspage", "web", "--port", str(drill.web_port)], env, "web.log")
    ready(drill.web_port)
    drill.start(["-m", "statuspage", "worker"], env, "worker.log")
    receiver = Receiver()
    answer = httpx.post(f"http://127.0.0.1:{drill.web_port}/api/v1/subscriptions", timeout=10,
                        json={"url": receiver.url, "format": "statuspage"})
    answer.raise_for_status()
    pdf = a4_pdf()
    return [stamp_request(t, pdf) for t in tokens[1:]], receiver


@dataclass
class Capacity:
    """Stamps/s of 8 applicants in a closed loop, with the page readers reading meanwhile."""

    stamps_per_s: float
    page: tuple[float, float]  # the readers' requests/s and p99 (ms)
    window: tuple[float, float]  # perf_counter times of the measurement


def measure_capacity(port: int, raws: list[bytes], page: str, script: Path,
                     page_rate: float) -> Capacity:
    """Capacity under the same page load as the surge: a fair baseline."""
    readers: list[tuple[float, float]] = []
    reader = threading.Thread(target=lambda: readers.append(wrk(page, 12, page_rate, script)))
    reader.start()
    time.sleep(1)
    began = time.perf_counter()
    stamps = asyncio.run(closed_loop(port, raws, 8, 10))
    window = (began, time.perf_counter())
    reader.join()
    return Capacity(stamps, readers[0], window)


def _mean_ms(measured: list[tuple[float, float]]) -> float:
    return sum(ms for _, ms in measured) / len(measured)


def _at_speed(measured: list[tuple[float, float]], ms: float) -> tuple[float, float]:
    return ms, capacity_at(measured, ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peak", type=float, default=3.0, help="peak arrivals x capacity")
    parser.add_argument("--hold", type=float, default=40.0, help="seconds at the peak")
    parser.add_argument("--probe-interval", type=float, default=5.0)
    parser.add_argument("--applicants", type=int, default=500,
                        help="applicant accounts, used in rotation")
    parser.add_argument("--page-rate", type=float, default=500.0,
                        help="home page requests/s of the public readers")
    parser.add_argument("--stamping-nice", type=int, default=0,
                        help="niceness of the stamping service and its signing workers (in "
                        "production they have hosts of their own); measured here at 10: page "
                        "p99 no better, goodput lower, as the load generator then outranks "
                        "signing")
    parser.add_argument("--split-cores", action="store_true",
                        help="model separate hosts on one machine: the stamping service on the "
                        "last CPU, everything else (page, worker, load generator, wrk) on the "
                        "others")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args()
    args.stamping_cpus = None
    if args.split_cores:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            raise SystemExit("--split-cores needs at least 2 CPUs")
        args.stamping_cpus = {cpus[-1]}
        os.sched_setaffinity(0, set(cpus[:-1]))  # inherited by every other process started
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed (Debian package wrk; `make bench` installs it)")
    base = Path(tempfile.mkdtemp(prefix="casn-surge-"))
    drill = Drill(base, args.probe_interval)
    speed = SpeedMeter(args.stamping_cpus)  # readings of the stamping service's CPU
    print(f"data and logs in {base}; status database {drill.status_url.split('@')[-1]}")
    try:
        raws, receiver = setup(drill, args)
        meter = CpuMeter(drill.procs[0].pid)  # the stamping service's process group
        meter.start()
        speed.start()
        time.sleep(max(15.0, args.probe_interval * 3))  # probes settle: all operational
        page, script = f"http://127.0.0.1:{drill.web_port}/", base / "pace.lua"
        for _ in range(20):  # the readers' first requests would otherwise render a cold page
            httpx.get(page, timeout=10)
        # and the signing workers' first stamps are slower (measured: 30 stamps/s in the first
        # 10 s against 39 after the surge), which would make the baseline low
        asyncio.run(closed_loop(drill.stamping_port, raws, 8, 5))
        before = measure_capacity(drill.stamping_port, raws, page, script, args.page_rate)
        time.sleep(args.probe_interval * 2)
        total = 35 + args.hold + 15
        timeline, stop = Timeline(), threading.Event()
        levels: list[tuple[float, str]] = []
        start_wall = time.time()
        watcher = threading.Thread(target=watch, args=(drill, start_wall, timeline, stop, levels))
        watcher.start()
        readers: list[tuple[float, float]] = []
        reader = threading.Thread(target=lambda: readers.append(
            wrk(page, total - 5, args.page_rate, script)))
        reader.start()
        surge_t0 = time.perf_counter()
        answers = asyncio.run(surge(drill.stamping_port, raws, before.stamps_per_s, args.peak,
                                    args.hold, total, surge_t0))
        with (base / "answers.csv").open("w") as out:  # kept with --keep, for a closer look
            out.write("sent_s,status,latency_s,retry_after,error\n")
            out.writelines(f"{a.sent:.3f},{a.status},{a.latency:.4f},{int(a.retry_after)},"
                           f"{a.error}\n" for a in answers)
        reader.join()
        time.sleep(args.probe_interval * 2)  # the last status changes and deliveries
        stop.set()
        watcher.join()
        # measured again after the surge: the machine's speed drifts by minutes (a shared VM),
        # and goodput is compared with the mean of both
        after = measure_capacity(drill.stamping_port, raws, page, script, args.page_rate)
        speed.stop()
        measured = [(c.stamps_per_s, speed.mean_ms(*c.window)) for c in (before, after)]
        print(f"\ncapacity before the surge {before.stamps_per_s:.1f} stamps/s, after it "
              f"{after.stamps_per_s:.1f}: goodput below is a share of their mean; the CPU's "
              f"speed reading was {measured[0][1]:.2f} and {measured[1][1]:.2f} ms, so at the "
              f"mean speed these were {capacity_at(measured[:1], _mean_ms(measured)):.1f} "
              f"and {capacity_at(measured[1:], _mean_ms(measured)):.1f} stamps/s")
        capacity = (before.stamps_per_s + after.stamps_per_s) / 2
        report(args, capacity, answers, timeline, levels, receiver, start_wall, before.page,
               readers[0], stamp_probe_runs(drill, start_wall),
               lambda lo, hi: _at_speed(measured, speed.mean_ms(surge_t0 + lo, surge_t0 + hi)))
        meter.stop()
        cpu_report(meter, [before.window, after.window], surge_t0, args.hold, args.peak,
                   [a.sent for a in answers])
    finally:
        speed.stop()
        drill.stop()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
