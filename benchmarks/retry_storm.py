"""Goodput of the stamping service through a retry storm, driven by ``wrk``.

Starts ``python -m stamping serve`` (real uvicorn, real signing pool, SQLite) with a
throw-away data directory, creates a few accounts (one probe account, the others ordinary
applicants who pay through the simulated gateway) and then runs ``wrk`` posting a one-page
stamp request (multipart, ``retry_storm.lua``) on

1. ``--capacity-connections`` (8) connections: the capacity of this run;
2. ``--moderate-connections`` (64, 8x the working concurrency): moderate overload;
3. ``--storm-connections`` (384) connections: the storm.  wrk sends the next request the
   moment an answer arrives, ignoring ``Retry-After``, like applicants pressing "try again".

Goodput is read from the quota ledger (``stamps`` rows issued inside each phase's window),
not from the client, and printed as a ratio to the capacity measured in the same run, with
wrk's p99 time to any answer and the answer codes.  The goal (issue 12): goodput >= 80% of
capacity, p99 <= 2 s, only 201 and 503.

    .venv/bin/python benchmarks/retry_storm.py [--seconds 15] [--rounds 2] [--set STAMPING_X=V]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.front_proxy import start_nginx  # noqa: E402
from benchmarks.stamping_throughput import a4_pdf, free_port  # noqa: E402

LUA_SCRIPT = Path(__file__).with_name("retry_storm.lua")
#: The goal of issue 12.
GOAL_RATIO, GOAL_P99_S = 0.80, 2.0


@dataclass
class Phase:
    """One wrk run and what the ledger recorded during it."""

    name: str
    connections: int
    seconds: float
    issued: int
    requests: int
    p50_s: float
    p99_s: float
    max_s: float
    codes: dict[int, int]
    socket_errors: dict[str, int] = field(default_factory=dict)
    #: Stamps of the probe account (one of the accounts in rotation): no special treatment
    #: means about ``1 / accounts`` of the goodput.
    probe_issued: int = 0

    @property
    def goodput(self) -> float:
        """Units spent per second (from the ledger)."""
        return self.issued / self.seconds

    @property
    def only_201_503(self) -> bool:
        """Nothing but 201 and 503 answers, and no socket errors or timeouts."""
        return set(self.codes) <= {201, 503} and not any(self.socket_errors.values())


def start_service(data_dir: Path, port: int, workers: int,
                  env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``python -m stamping serve`` (its log in the data directory); wait for /readyz."""
    import httpx

    env = {**os.environ, "STAMPING_DATA_DIR": str(data_dir), **env}
    env.pop("STAMPING_DATABASE_URL", None)
    cmd = [sys.executable, "-m", "stamping", "--log-level", "warning", "serve", "--port",
           str(port), "--data-dir", str(data_dir)]
    if workers:
        cmd += ["--workers", str(workers)]
    log = (data_dir / "service.log").open("wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("the service did not become ready:\n"
                     + (data_dir / "service.log").read_text(errors="replace")[-2000:])


def _cli(data_dir: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "STAMPING_DATABASE_URL"}
    out = subprocess.run([sys.executable, "-m", "stamping", "--log-level", "warning", *args,
                          "--data-dir", str(data_dir)], check=True, capture_output=True,
                         text=True, env=env)
    return out.stdout.strip().splitlines()[-1]


def make_accounts(data_dir: Path, port: int, count: int, units_each: int) -> list[str]:
    """``count`` accounts with ``units_each`` units: the first a probe, the others paying.

    Probe accounts get no special treatment under load, so the storm mixes both kinds.
    """
    import httpx

    tokens = []
    base = f"http://127.0.0.1:{port}"
    for i in range(count):
        probe = i == 0
        token = _cli(data_dir, "account", "add", "--phone", f"0812999{i:05d}",
                     "--name", f"Pelamar {i}", *(["--probe"] if probe else []))
        left = units_each
        while left > 0:
            quantity = min(left, 1000)
            r = httpx.post(f"{base}/api/v1/orders", json={"quantity": quantity}, timeout=30,
                           headers={"Authorization": f"Bearer {token}",
                                    "Idempotency-Key": uuid.uuid4().hex})
            r.raise_for_status()
            if not probe:
                ref = r.json()["payment"]["payment_ref"]
                httpx.post(f"{base}/api/v1/payments/simulate/{ref}",
                           timeout=30).raise_for_status()
            left -= quantity
        tokens.append(token)
    return tokens


def multipart_body(pdf: bytes) -> tuple[bytes, str]:
    """The stamp request's multipart body and its boundary."""
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"surat.pdf\"\r\nContent-Type: application/pdf\r\n\r\n").encode() + \
        pdf + f"\r\n--{boundary}--\r\n".encode()
    return body, boundary


def issued_between(db_path: Path, start: dt.datetime, end: dt.datetime) -> tuple[int, int]:
    """Stamps the ledger records as issued inside ``[start, end)`` (UTC): (all, probe's)."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30) as conn:
        rows = conn.execute(
            "SELECT stamped_at, is_probe FROM stamps WHERE status = 'issued'").fetchall()
    count = probe = 0
    for value, is_probe in rows:
        stamped = dt.datetime.fromisoformat(str(value))
        if stamped.tzinfo is None:
            stamped = stamped.replace(tzinfo=dt.UTC)
        if start <= stamped < end:
            count += 1
            probe += bool(is_probe)
    return count, probe


_RESULT = re.compile(r"^RESULT (.*)$", re.M)


def run_wrk(port: int, body_file: Path, boundary: str, tokens: list[str], connections: int,
            seconds: float, threads: int) -> dict[str, str]:
    """One wrk run; returns the fields of the script's RESULT line."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed (apt-get install -y wrk, or `make bench`)")
    cmd = [wrk, "-t", str(min(threads, connections)), "-c", str(connections),
           "-d", f"{seconds:g}s", "--timeout", "10s", "-s", str(LUA_SCRIPT),
           f"http://127.0.0.1:{port}", "--", str(body_file), boundary, *tokens]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                         timeout=seconds + 60).stdout
    match = _RESULT.search(out)
    if match is None:
        raise SystemExit(f"wrk printed no RESULT line:\n{out}")
    return dict(part.split("=", 1) for part in match.group(1).split())


def settle(port: int, limit_s: float = 30) -> None:
    """Wait until no stamp request waits in the service (``/readyz`` reports the queues)."""
    import httpx

    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).json()
            if ready.get("queue", {}).get("stamp", 0) == 0:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    time.sleep(0.5)  # and the last ones in service are signed and committed


def phase(name: str, port: int, db_path: Path, body_file: Path, boundary: str,
          tokens: list[str], connections: int, seconds: float, threads: int) -> Phase:
    """Run wrk on ``connections`` and read the goodput of its window from the ledger."""
    start = dt.datetime.now(dt.UTC)
    began = time.monotonic()
    fields = run_wrk(port, body_file, boundary, tokens, connections, seconds, threads)
    elapsed = time.monotonic() - began
    end = dt.datetime.now(dt.UTC)
    settle(port)  # requests admitted before wrk stopped finish before the next phase
    codes = {int(k): int(v) for k, v in (c.split("=") for c in fields["codes"].split(",") if c)}
    issued, probe_issued = issued_between(db_path, start, end)
    return Phase(name, connections, elapsed, issued,
                 int(fields["requests"]), int(fields["p50_us"]) / 1e6,
                 int(fields["p99_us"]) / 1e6, int(fields["max_us"]) / 1e6, codes,
                 {k: int(fields[k]) for k in ("connect", "read", "write", "timeout")},
                 probe_issued)


def describe(p: Phase, capacity: float) -> str:
    """One line per phase."""
    ratio = f" = {p.goodput / capacity:.0%} of capacity" if p.name != "capacity" else ""
    errors = {k: v for k, v in p.socket_errors.items() if v}
    return (f"{p.name}: {p.connections} connections, {p.seconds:.1f}s, "
            f"{p.requests / p.seconds:.0f} req/s: goodput {p.goodput:.1f} stamps/s{ratio}; "
            f"p50 {p.p50_s * 1000:.0f} ms, p99 {p.p99_s * 1000:.0f} ms, "
            f"max {p.max_s * 1000:.0f} ms; codes {dict(sorted(p.codes.items()))}; "
            f"probe account {p.probe_issued / max(1, p.issued):.0%} of the stamps"
            + (f"; socket errors {errors}" if errors else ""))


def run(seconds: float, capacity_connections: int, moderate_connections: int,
        storm_connections: int, accounts: int, workers: int, threads: int,
        env: dict[str, str] | None = None, rounds: int = 1,
        proxy_rate: float = 0.0) -> list[dict[str, Phase]]:
    """Start the service, run ``rounds`` of the phases, stop the service.

    Each round measures its own capacity right before its overload phases, so that a
    ratio compares figures taken within a minute of each other on a shared machine.  With
    ``proxy_rate``, each round ends with a "proxied" storm through nginx on this machine,
    ``limit_req`` at ``proxy_rate`` times the first round's capacity.
    """
    pdf = a4_pdf()
    data_dir = Path(tempfile.mkdtemp(prefix="stamping-storm-"))
    port = free_port()
    proc = start_service(data_dir, port, workers, env or {})
    nginx: subprocess.Popen[bytes] | None = None
    nginx_port = 0
    try:
        phases = [("capacity", capacity_connections)]
        if moderate_connections:
            phases.append(("moderate", moderate_connections))
        phases.append(("storm", storm_connections))
        # Room for 400 stamps/s over every phase and the warm-up, shared by the accounts.
        units = int(400 * (seconds * (len(phases) + 1) * rounds + 3) / accounts) + 100
        tokens = make_accounts(data_dir, port, accounts, units)
        body, boundary = multipart_body(pdf)
        body_file = data_dir / "request-body"
        body_file.write_bytes(body)
        db_path = data_dir / "stamping.sqlite3"
        run_wrk(port, body_file, boundary, tokens, capacity_connections, 3, threads)  # warm-up
        settle(port)
        results: list[dict[str, Phase]] = []
        for _ in range(rounds):
            results.append({name: phase(name, port, db_path, body_file, boundary, tokens,
                                        connections, seconds, threads)
                            for name, connections in phases})
            if proxy_rate > 0:
                if nginx is None:
                    rate = int(proxy_rate * results[0]["capacity"].goodput)
                    nginx_port = free_port()
                    nginx = start_nginx(data_dir / "nginx", nginx_port, port, rate,
                                        burst=max(1, rate // 2))
                results[-1]["proxied"] = phase("proxied", nginx_port, db_path, body_file,
                                               boundary, tokens, storm_connections, seconds,
                                               threads)
        return results
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(timeout=20)
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(data_dir, ignore_errors=True)


def ratios(rounds: list[dict[str, Phase]], name: str) -> list[float]:
    """Goodput of phase ``name`` over the capacity of the same round, per round."""
    return [r[name].goodput / r["capacity"].goodput for r in rounds]


def main() -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--capacity-connections", type=int, default=8)
    parser.add_argument("--moderate-connections", type=int, default=64,
                        help="8x the working concurrency; 0 skips the phase")
    parser.add_argument("--storm-connections", type=int, default=384)
    parser.add_argument("--rounds", type=int, default=2,
                        help="capacity/moderate/storm rounds; ratios are per round, then median")
    parser.add_argument("--proxy-rate", type=float, default=0.0,
                        help="also storm through nginx limit_req at this times the capacity")
    parser.add_argument("--accounts", type=int, default=4)
    parser.add_argument("--workers", type=int, default=0, help="signing workers (default: CPUs)")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], metavar="STAMPING_X=VALUE",
                        help="a setting of the service for this run (repeatable)")
    args = parser.parse_args()
    env = dict(item.split("=", 1) for item in args.set)
    print(f"machine: {os.cpu_count()} CPUs; wrk {args.wrk_threads} threads; "
          f"{args.accounts} accounts (one probe); {args.seconds:g}s per phase"
          + (f"; settings {env}" if env else ""))
    rounds = run(args.seconds, args.capacity_connections, args.moderate_connections,
                 args.storm_connections, args.accounts, args.workers, args.wrk_threads, env,
                 args.rounds, args.proxy_rate)
    for i, results in enumerate(rounds, 1):
        print(f"round {i}:")
        for p in results.values():
            print("  " + describe(p, results["capacity"].goodput))
    summary: dict[str, float] = {
        "capacity": statistics.median(r["capacity"].goodput for r in rounds)}
    for name in rounds[0]:
        if name != "capacity":
            summary[f"{name}_ratio"] = statistics.median(ratios(rounds, name))
            summary[f"{name}_p99_s"] = max(r[name].p99_s for r in rounds)
    storms = [r["storm"] for r in rounds]
    met = summary["storm_ratio"] >= GOAL_RATIO and summary["storm_p99_s"] <= GOAL_P99_S and \
        all(p.only_201_503 for p in storms)
    print(f"median over {len(rounds)} round(s): storm goodput "
          f"{summary['storm_ratio']:.0%} of capacity, worst p99 "
          f"{summary['storm_p99_s'] * 1000:.0f} ms; goal (goodput >= {GOAL_RATIO:.0%}, "
          f"p99 <= {GOAL_P99_S:g} s, only 201/503): {'met' if met else 'NOT met'}")
    print(json.dumps({k: round(v, 3) for k, v in summary.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
