"""The drill's hardest goal alone: stamping goodput at three times capacity, as a share of it.

``casn_surge.py`` compares the goodput of a 40 s peak with capacities measured minutes before
and after it, on a shared VM whose CPUs change speed by the minute (``cpu_speed.py``); one run
says little about the service. This measures only that goal, many times, with each peak between
two capacity measurements taken right before and after it:

1. ``stamping serve`` starts alone on the last CPU (the reference deployment's stamping host;
   the load generator keeps to the other CPUs), on PostgreSQL when it answers, with
   ``--applicants`` accounts whose orders are paid; the signing workers are warmed.
2. Capacity (8 applicants in a closed loop, 10 s), then a peak (open-loop arrivals at
   ``--peak`` x that capacity for 15 s, counted after the first 3 s, when the queue is full),
   then capacity again, which is also the next peak's "before": ``--rounds`` peaks.
3. Per peak: goodput as a share of the mean of the capacities around it, the same at the CPU's
   speed during the peak, the signing CPU kept (signing cores at the peak against those at
   capacity) and the web process's CPU per refusal there, beside what stamps cost it.

    .venv/bin/python benchmarks/peak_share.py [--rounds 5] [--peak 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from casn_surge import arrivals, closed_loop  # noqa: E402
from cpu_speed import SpeedMeter, capacity_at  # noqa: E402
from drill_cluster import (  # noqa: E402
    CpuMeter,
    Drill,
    Usage,
    applicant_accounts,
    pay_orders,
    ready,
)
from stamping_throughput import a4_pdf, stamp_request  # noqa: E402

#: Seconds of each capacity measurement, of each peak, and of a peak's start left uncounted.
CAPACITY_S, PEAK_S, FILLING_S = 10.0, 15.0, 3.0


@dataclass
class Window:
    """What one phase measured: stamps/s (and refusals/s), its span and CPU by role."""

    stamps: float
    refused: float
    span: tuple[float, float]
    usage: Usage


def capacity(port: int, raws: list[bytes], meter: CpuMeter) -> Window:
    began = time.perf_counter()
    stamps = asyncio.run(closed_loop(port, raws, 8, CAPACITY_S))
    span = (began, time.perf_counter())
    return Window(stamps, 0.0, span, meter.between(*span))


def peak(port: int, raws: list[bytes], rate: float, meter: CpuMeter) -> Window:
    began = time.perf_counter()
    answers = asyncio.run(arrivals(port, raws, lambda t: rate, PEAK_S, began))
    counted = PEAK_S - FILLING_S
    span = (began + FILLING_S, began + PEAK_S)
    stamps = sum(a.status == 201 for a in answers if a.sent >= FILLING_S) / counted
    refused = sum(a.status == 503 for a in answers if a.sent >= FILLING_S) / counted
    return Window(stamps, refused, span, meter.between(*span))


def setup(drill: Drill, cpu: int, applicants: int) -> list[bytes]:
    drill.start(["-m", "stamping", "--log-level", "warning", "serve", "--port",
                 str(drill.stamping_port)], drill.stamping_env(), "stamping.log", cpus={cpu})
    ready(drill.stamping_port)
    tokens = applicant_accounts(drill.stamping_db, applicants)
    pay_orders(drill.stamping_port, tokens)
    pdf = a4_pdf()
    return [stamp_request(token, pdf) for token in tokens]


def _range(values: list[float], fmt: str = ".0%") -> str:
    return (f"median {statistics.median(values):{fmt}} "
            f"({min(values):{fmt}} to {max(values):{fmt}})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="peaks")
    parser.add_argument("--peak", type=float, default=3.0, help="arrivals x capacity")
    parser.add_argument("--applicants", type=int, default=300, help="accounts in rotation")
    args = parser.parse_args()
    if args.rounds < 1 or not 0 < args.peak <= 20 or args.applicants < 8:
        parser.error("need --rounds >= 1, 0 < --peak <= 20 and --applicants >= 8")
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise SystemExit("needs at least 2 CPUs: one for the service, one for the load")
    os.sched_setaffinity(0, set(cpus[:-1]))
    base = Path(tempfile.mkdtemp(prefix="peak-share-"))
    drill = Drill(base, probe_interval=5.0)
    speed = SpeedMeter({cpus[-1]})
    shares: list[float] = []
    at_speed: list[float] = []
    kept: list[float] = []
    refusal_ms: list[float] = []
    try:
        raws = setup(drill, cpus[-1], args.applicants)
        meter = CpuMeter(drill.procs[0].pid)
        meter.start()
        speed.start()
        port = drill.stamping_port
        asyncio.run(closed_loop(port, raws, 8, 5))  # the signing workers' first stamps are slow
        print(f"stamping on CPU {cpus[-1]}, database {drill.stamping_db.split('@')[-1]}; "
              f"{args.rounds} peaks at {args.peak:g}x, each between two capacity runs")
        before = capacity(port, raws, meter)
        for round_ in range(1, args.rounds + 1):
            high = peak(port, raws, args.peak * before.stamps, meter)
            after = capacity(port, raws, meter)
            cap = (before.stamps + after.stamps) / 2
            measured = [(w.stamps, speed.mean_ms(*w.span)) for w in (before, after)]
            servable = capacity_at(measured, speed.mean_ms(*high.span))
            signing = (before.usage.signing_cores + after.usage.signing_cores) / 2
            web = (before.usage.web_cores + after.usage.web_cores) / 2
            # the web CPU at the peak beyond what its stamps cost at capacity, per refusal
            per_refusal = (high.usage.web_cores - web / cap * high.stamps) / high.refused \
                if high.refused else float("nan")  # below capacity nothing is refused
            shares.append(high.stamps / cap)
            at_speed.append(high.stamps / servable)
            kept.append(high.usage.signing_cores / signing)
            refusal_ms.append(1000 * per_refusal)
            print(f"  peak {round_}: capacity {before.stamps:.1f} and {after.stamps:.1f} "
                  f"stamps/s; at the peak {high.stamps:.1f} served and {high.refused:.1f} "
                  f"refused a second: {shares[-1]:.0%} of capacity, {at_speed[-1]:.0%} at "
                  f"its speed; signing CPU kept {kept[-1]:.0%}; web cores {web:.2f} -> "
                  f"{high.usage.web_cores:.2f}, {refusal_ms[-1]:.2f} ms a refusal", flush=True)
            before = after
        meter.stop()
        print(f"\ngoodput at the peak: {_range(shares)} of capacity, {_range(at_speed)} at the "
              f"peak's speed; signing CPU kept {_range(kept)}; web CPU per refusal "
              f"{_range(refusal_ms, '.2f')} ms")
    finally:
        speed.stop()
        drill.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
