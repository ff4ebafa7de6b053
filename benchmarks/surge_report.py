"""What the CASN surge drill (``casn_surge.py``) records of each applicant and event, and the
timeline and table it prints from them."""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from drill_cluster import Receiver
from stamping_throughput import pct


@dataclass
class Answer:
    """One applicant's attempt."""

    sent: float
    status: int
    latency: float
    retry_after: bool
    error: str = ""  # why there was no HTTP answer (status 0)


@dataclass
class Timeline:
    """When things happened, in seconds from the start of the surge."""

    marks: dict[str, float] = field(default_factory=dict)

    def mark(self, name: str, at: float) -> None:
        self.marks.setdefault(name, at)


def report(args: argparse.Namespace, capacity: float, answers: list[Answer],
           timeline: Timeline, levels: list[tuple[float, str]], receiver: Receiver,
           start_wall: float, page_before: tuple[float, float],
           page_during: tuple[float, float],
           probe_runs: list[tuple[float, str, float, str]],
           speed: Callable[[float, float], tuple[float, float]]) -> None:
    """Print the timeline and the table; ``speed(lo, hi)`` is the stamping CPU's mean speed
    reading (ms of ``cpu_speed.work``) between two times of the surge and the capacity at
    that speed."""
    overload = 15 + 20 * (1 - 0.5) / max(args.peak - 0.5, 0.01)  # when arrivals pass capacity
    refused = [a for a in answers if a.status == 503]
    if refused:
        timeline.mark("shedding began (first 503)", min(a.sent for a in refused))
    for at, kind in receiver.arrivals:
        if at >= start_wall:
            timeline.mark(f"subscriber heard {kind}", at - start_wall)
    print(f"\ncapacity (8 applicants, closed loop, page readers at {args.page_rate:g}/s): "
          f"{capacity:.1f} stamps/s; {args.applicants} applicant accounts")
    print(f"arrivals pass capacity at t = {overload:.1f} s; probes every {args.probe_interval} s")
    print("\ntimeline (seconds from the start of the surge)")
    for name, at in sorted(timeline.marks.items(), key=lambda kv: kv[1]):
        print(f"  {at:7.1f}  {name}")
    for at, level in levels:
        print(f"  {at:7.1f}  deadline notice level: {level}")
    changes = [at for name, at in timeline.marks.items() if "->" in name]
    heard = [at for name, at in timeline.marks.items()
             if name.startswith("subscriber heard component")]
    if changes:
        print(f"\nstatus change after overload start: {min(changes) - overload:.1f} s "
              f"(goal <= {2 * args.probe_interval:.0f} s)")
    if changes:
        print("stamp probe runs from the overload to the change:")
        for at, outcome, ms, error in probe_runs:
            if overload - args.probe_interval <= at <= min(changes):
                print(f"  {at:7.1f}  {outcome:8s} {ms:7.0f} ms  {error}")
    if changes and heard:
        print(f"subscriber heard after the change: {min(heard) - min(changes):.1f} s "
              "(goal <= 5 s)")
    print("\n(of servable: each second, the offer or the capacity, whichever is less; at its"
          " speed: that capacity\nscaled to the stamping CPU's speed in the phase, as "
          "cpu_speed.py measured it)")
    print("phase                 offered/s  goodput/s  of capacity  of servable  at its speed"
          "  503/s  speed ms")
    hold_end = 35 + args.hold
    for label, lo, hi in (("before (0.5x)", 0, 15), ("ramp", 15, 35),
                          (f"peak ({args.peak:g}x)", 35, hold_end),
                          ("after (0.5x)", hold_end, hold_end + 15)):
        part = [a for a in answers if lo <= a.sent < hi]
        span = hi - lo
        ok = sum(a.status == 201 for a in part) / span
        # what could be served: each second, the offer or the capacity, whichever is less
        offered_per_s = Counter(int(a.sent) for a in part)
        servable = sum(min(offered_per_s[t], capacity) for t in range(int(lo), int(hi))) / span
        reading, fast = speed(lo, hi)
        at_speed = sum(min(offered_per_s[t], fast) for t in range(int(lo), int(hi))) / span
        print(f"{label:20s} {len(part) / span:10.1f} {ok:10.1f} {ok / capacity:11.0%} "
              f"{ok / max(servable, 1e-9):12.0%} {ok / max(at_speed, 1e-9):13.0%} "
              f"{sum(a.status == 503 for a in part) / span:6.1f} {reading:9.2f}")
    served = sum(a.status == 201 for a in answers)
    with_retry = sum(a.retry_after for a in refused)
    others = len(answers) - served - len(refused)
    print(f"\napplicants: {len(answers)} attempts, {served} served, {len(refused)} refused "
          f"({with_retry} with Retry-After), {others} other answers")
    if others:
        kinds = Counter(a.error or f"HTTP {a.status}" for a in answers
                        if a.status not in (201, 503))
        print("  other answers: " + ", ".join(f"{k} {n}" for k, n in kinds.most_common()))
    print(f"time to a 503: p50 {pct([a.latency for a in refused], 0.5):.0f} ms, "
          f"p99 {pct([a.latency for a in refused], 0.99):.0f} ms; to a stamp: p99 "
          f"{pct([a.latency for a in answers if a.status == 201], 0.99):.0f} ms")
    print(f"\npage (/): before {page_before[0]:.0f} req/s p99 {page_before[1]:.1f} ms; "
          f"during the surge {page_during[0]:.0f} req/s p99 {page_during[1]:.1f} ms "
          f"(goal < 50 ms); ratio {page_during[0] / max(page_before[0], 1):.2f}")
