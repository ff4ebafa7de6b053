"""The processes of the CASN surge drill: the stamping service, the status page's web and
worker processes with the drill's configuration, their databases, the applicants' accounts and
a webhook subscriber on loopback; and what the drill reads from them: the stamping service's
CPU by role, the page readers' figures (wrk) and the probe's runs (used by ``casn_surge.py``)."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa
from stamping_throughput import free_port

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


class Receiver:
    """A webhook subscriber: echoes URL challenges, notes when each event type first arrived."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, str]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                data = json.loads(body or b"{}")
                answer = b"{}"
                if data.get("type") == "url_verification":
                    answer = json.dumps({"challenge": data["challenge"]}).encode()
                else:
                    outer.arrivals.append((time.time(),
                                           self.headers.get("webhook-event-type", "")))
                self.send_response(200)
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()



class Drill:
    """The processes and their addresses."""

    def __init__(self, base: Path, probe_interval: float) -> None:
        self.base = base
        self.procs: list[subprocess.Popen[bytes]] = []
        self.databases: list[str] = []
        self.status_url = self._database("drill_status")
        self.stamping_db = self._database("drill_stamp")
        self.stamping_port, self.web_port = free_port(), free_port()
        self.probe_interval = probe_interval

    def _database(self, prefix: str) -> str:
        try:
            admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            name = f"{prefix}_{uuid.uuid4().hex[:8]}"
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            self.databases.append(name)
            return PG_ADMIN.rsplit("/", 1)[0] + "/" + name
        except Exception:
            return f"sqlite:///{self.base / (prefix + '.sqlite3')}"

    def start(self, args: list[str], env: dict[str, str], log: str, nice: int = 0,
              cpus: set[int] | None = None) -> None:
        out = open(self.base / log, "ab")  # noqa: SIM115 - lives as long as the process

        def prepare() -> None:
            if nice:
                os.nice(nice)
            if cpus:
                os.sched_setaffinity(0, cpus)

        self.procs.append(subprocess.Popen([sys.executable, *args], env=env, stdout=out,
                                           stderr=out, start_new_session=True,
                                           preexec_fn=prepare if nice or cpus else None))

    def stamping_env(self) -> dict[str, str]:
        return {**os.environ, "STAMPING_DATABASE_URL": self.stamping_db,
                "STAMPING_DATA_DIR": str(self.base / "stamping")}

    def status_env(self, token: str) -> dict[str, str]:
        return {**os.environ, "STATUSPAGE_DATABASE_URL": self.status_url,
                "STATUSPAGE_DATA_DIR": str(self.base / "status"),
                "STATUSPAGE_CONFIG": str(self.base / "statuspage.toml"),
                "STATUSPAGE_STAMPING_URL": f"http://127.0.0.1:{self.stamping_port}",
                "STATUSPAGE_STAMPING_TOKEN": token, "STATUSPAGE_WEBHOOKS_ALLOW_PRIVATE": "1"}

    def cli(self, args: list[str], env: dict[str, str]) -> str:
        return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True,
                              check=True).stdout

    def stop(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        if self.databases:
            admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                for name in self.databases:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


CONFIG = """
[page]
name = "e-Meterai (CASN surge drill)"
url = "http://127.0.0.1:{web}"

[[components]]
id = "pembelian"
name = "Pembelian kuota"

[[components]]
id = "pembubuhan"
name = "Pembubuhan e-meterai"

[[probes]]
name = "purchase"
kind = "purchase"
component = "pembelian"
interval = {interval}
timeout = 10

[[probes]]
name = "stamp"
kind = "stamp"
component = "pembubuhan"
interval = {interval}
timeout = 10
# the stamping gate's queue holds an admitted request up to 0.5 s (stamp_queue_seconds), and a
# one-page stamp takes 50-200 ms here up to capacity: a slower answer waited in a full queue,
# which is where shedding starts, so it counts as a bad run (degraded) before any refusal
latency_budget_ms = 500

[evaluation]
window_s = {window}
# two failed runs in a row move the status: within two probe intervals of the overload
failures_to_down = 2
# a failure is confirmed a second later, not a probe interval later
confirm_after_s = {confirm}

[notices]
at_risk_hours = 0.01
extension_after_hours = 0.05
evaluate_s = 5

[[deadlines]]
id = "drill"
name = "Pendaftaran (latihan)"
agency = "BKN"
at = {deadline}
components = ["pembelian", "pembubuhan"]
window_days = 1
"""


def applicant_accounts(url: str, count: int) -> list[str]:
    """``count`` verified applicant accounts (orders paid at once), one per applicant: in
    September 2024 every applicant had an account of their own, so the gate's fair share per
    account does not shield the probe account from what applicants see."""
    from argon2 import PasswordHasher

    from stamping import store
    from stamping.db import Database

    db = Database(url)
    password = PasswordHasher().hash(uuid.uuid4().hex)  # one hash: they never log in
    now = datetime.now(UTC)
    try:
        return [db.write_sync(store.create_verified_account, f"+62813{i:08d}",
                              f"Pelamar {i}", password, True, now) for i in range(count)]
    finally:
        db.dispose()


def pay_orders(port: int, tokens: list[str], quantity: int = 1000) -> None:
    """An order of ``quantity`` stamps for each account, paid at once (the bundled service
    pays its orders itself), so that applicants stamp without a payment simulation."""
    with httpx.Client(timeout=30) as client:
        for token in tokens:
            client.post(f"http://127.0.0.1:{port}/api/v1/orders", json={"quantity": quantity},
                        headers={"Authorization": f"Bearer {token}",
                                 "Idempotency-Key": uuid.uuid4().hex}).raise_for_status()


def ready(port: int) -> None:
    for _ in range(600):
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise SystemExit(f"port {port} did not become ready")


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (its threads included, not its children)."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Usage:
    """What the stamping service's processes did per second in a span of time."""

    web_cores: float = float("nan")
    signing_cores: float = float("nan")
    #: times a signing worker was taken off its CPU while it could still run (preempted)
    signing_preempted: float = float("nan")
    #: context switches of the web process's threads (each a wake-up that can preempt a signer)
    web_switches: float = float("nan")


def _switches(path: Path) -> tuple[int, int]:
    voluntary = involuntary = 0
    for line in path.read_text().splitlines():
        if line.startswith("voluntary_ctxt_switches:"):
            voluntary = int(line.split()[1])
        elif line.startswith("nonvoluntary_ctxt_switches:"):
            involuntary = int(line.split()[1])
    return voluntary, involuntary


class CpuMeter:
    """CPU seconds and context switches of the stamping service's processes, split into the
    web process(es) (admission, refusals, HTTP, database) and the signing workers (children of
    the forkserver), sampled every second from /proc so that each phase of the surge can say
    where the CPU went."""

    def __init__(self, pgid: int) -> None:
        self.pgid = pgid
        self.tick = os.sysconf("SC_CLK_TCK")
        # (perf_counter, web s, signing s, signing preemptions, web switches)
        self.samples: list[tuple[float, float, float, int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def read(self) -> tuple[float, float, int, int]:
        """Totals over the living processes of the group: web CPU seconds, signing CPU
        seconds, signing preemptions, web context switches (all threads)."""
        web = signing = 0.0
        preempted = switches = 0
        stats: dict[int, list[str]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, IndexError):
                    fields = _stat(int(entry.name))
                    if int(fields[2]) == self.pgid:
                        stats[int(entry.name)] = fields
        forkservers = {pid for pid in stats
                       if b"forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes()}
        for pid, fields in stats.items():
            cpu = (int(fields[11]) + int(fields[12])) / self.tick
            with contextlib.suppress(OSError):
                if int(fields[1]) in forkservers:
                    signing += cpu
                    preempted += _switches(Path(f"/proc/{pid}/status"))[1]
                elif pid not in forkservers:
                    web += cpu
                    for task in Path(f"/proc/{pid}/task").iterdir():
                        switches += sum(_switches(task / "status"))
        return web, signing, preempted, switches

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), *self.read()))
            self._stop.wait(1.0)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def between(self, lo: float, hi: float) -> Usage:
        """Per-second use between two perf_counter times; signing workers that were replaced
        meanwhile lose their counts, so those are lower bounds."""
        inside = [s for s in self.samples if lo <= s[0] <= hi]
        if len(inside) < 2:
            return Usage()
        first, last = inside[0], inside[-1]
        span = last[0] - first[0]
        return Usage((last[1] - first[1]) / span, max(0.0, last[2] - first[2]) / span,
                     max(0, last[3] - first[3]) / span, max(0, last[4] - first[4]) / span)


def cpu_report(meter: CpuMeter, capacity_windows: list[tuple[float, float]], surge_t0: float,
               hold: float, peak: float, sent: list[float]) -> None:
    """Where the stamping service's CPU went in each phase: signing, or the web process
    (admitting, refusing, answering), with the web CPU per answer (mostly a refusal at the
    peak) and how often the signers lost their CPU to another process."""
    print("\nstamping, per second    web cores  signing cores  web ms/answer  signer "
          "preempted  web switches")
    used = [meter.between(lo, hi) for lo, hi in capacity_windows]
    capacity = Usage(*(sum(getattr(u, f) for u in used) / len(used)
                       for f in ("web_cores", "signing_cores", "signing_preempted",
                                 "web_switches")))
    rows = [("capacity (closed)", capacity, float("nan"))]
    hold_end = 35 + hold
    for label, a, b in (("before (0.5x)", 0.0, 15.0), ("ramp", 15.0, 35.0),
                        (f"peak ({peak:g}x)", 35.0, hold_end),
                        ("after (0.5x)", hold_end, hold_end + 15)):
        use = meter.between(surge_t0 + a, surge_t0 + b)
        count = sum(a <= at < b for at in sent)
        rows.append((label, use, 1000 * use.web_cores * (b - a) / max(count, 1)))
    for label, use, per_answer in rows:
        print(f"{label:22s} {use.web_cores:9.2f} {use.signing_cores:14.2f} {per_answer:14.2f} "
              f"{use.signing_preempted:16.0f} {use.web_switches:13.0f}")
    # a share of the CPU the signers had at capacity: it does not count stamps, which a
    # machine whose speed drifts by the minute (a shared VM) makes noisy
    print(f"signing CPU kept at the peak: {rows[3][1].signing_cores / capacity.signing_cores:.0%}"
          " of capacity's")


def wrk(url: str, seconds: float, rate: float, script: Path,
        connections: int = 8) -> tuple[float, float]:
    """Requests/s and p99 (ms) of ``wrk`` reading ``url`` at about ``rate`` requests/s: each
    connection pauses between requests (wrk's ``delay()``), so the readers are a steady load,
    not a saturating one that would take a core from signing on a 2-core machine."""
    script.write_text(f"function delay() return {max(1, round(connections * 1000 / rate))} end\n")
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "--latency",
                          "-s", str(script), url], capture_output=True, text=True,
                         check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99 is not None
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return rps, float(p99.group(1)) * scale


def stamp_probe_runs(drill: Drill, start_wall: float) -> list[tuple[float, str, float, str]]:
    """The stamp probe's runs since the surge began: (start, outcome, ms, error class)."""
    engine = sa.create_engine(drill.status_url)
    since = datetime.fromtimestamp(start_wall, UTC).replace(tzinfo=None)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT started_at, outcome, total_ms, error_class FROM probe_results"
                " WHERE probe = 'stamp' AND started_at >= :s ORDER BY started_at"),
                {"s": since}).all()
    finally:
        engine.dispose()
    return [(seconds_since(at, start_wall), outcome, float(ms), error or "")
            for at, outcome, ms, error in rows]


def seconds_since(value: datetime, start_wall: float) -> float:
    return value.replace(tzinfo=UTC).timestamp() - start_wall
