"""Webhook fan-out: one incident update to 10,000 confirmed subscriptions on >= 100 endpoints.

Starts the real roles (``statuspage web`` and ``statuspage worker`` as processes, SQLite by
default or ``--database-url`` for PostgreSQL), real HTTP receivers on ``--endpoints`` loopback
ports (one process) and a keep-alive load generator on the public home page (one process that
timestamps every response). Then: create an incident (fanned out to nobody), insert the
confirmed subscriptions, measure the page for ``--baseline`` seconds, post one update, and wait
until every subscription has it. Prints commit-to-last-delivery time, deliveries/s, p50/p99
commit-to-delivery, first-delivery latency, and the page's requests/s during the fan-out as a
ratio of its rate before it (same run, same load generator).

Goals (issue 10): all within 30 s, the first within 1 s, page >= 0.5 of its usual rate.

    .venv/bin/python benchmarks/webhook_fanout.py [--subscriptions 10000] [--endpoints 100]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/DB] [--baseline 8]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from statuspage.db import Database, prepare_database  # noqa: E402
from statuspage.models import WebhookDelivery, WebhookEvent, WebhookSubscription  # noqa: E402
from statuspage.settings import Settings  # noqa: E402
from statuspage.store import incidents  # noqa: E402
from statuspage.webhooks.signing import new_secret  # noqa: E402

CONFIG = """
[page]
name = "Bench"
url = "http://127.0.0.1:{port}"

[[components]]
id = "pembelian"
name = "Pembelian"

[[components]]
id = "pembubuhan"
name = "Pembubuhan"
"""

#: Keep-alive HTTP/1.1 GET load on one URL; prints response times (ms since epoch) on SIGTERM.
LOADGEN = r'''
import asyncio, json, signal, sys, time
host, port, conns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
done = []
stop = asyncio.Event()
async def one():
    reader, writer = await asyncio.open_connection(host, port)
    req = f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    while not stop.is_set():
        writer.write(req)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        if head.startswith(b"HTTP/1.1 200"):
            done.append(time.time())
async def main():
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    tasks = [asyncio.create_task(one()) for _ in range(conns)]
    await stop.wait()
    for t in tasks:
        t.cancel()
    print(json.dumps([round(t, 4) for t in done]), flush=True)
asyncio.run(main())
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited early ({process.returncode})")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"server did not answer at {url}")


def wait_for(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.1)


def add_subscriptions(db: Database, count: int, ports: list[int]) -> None:
    rows = []
    for n in range(count):
        port = ports[n % len(ports)]
        rows.append({"id": f"b{n:011d}", "url": f"http://127.0.0.1:{port}/ok",
                     "endpoint": f"http://127.0.0.1:{port}", "format": "statuspage",
                     "language": "id", "state": "active", "secret": new_secret(),
                     "manage_digest": f"{n:064d}", "verify_attempts": 0,
                     "created_via": "bench"})
    with db.session() as session:
        session.execute(sa.insert(WebhookSubscription), rows)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> float:
    return os.getloadavg()[0]


def rate(times: list[float], start: float, end: float) -> float:
    inside = sum(1 for t in times if start <= t < end)
    return inside / max(end - start, 1e-9)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--endpoints", type=int, default=100)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--baseline", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="webhook-fanout-"))
    web_port = free_port()
    config = tmp / "statuspage.toml"
    config.write_text(CONFIG.format(port=web_port))
    env = {**os.environ, "STATUSPAGE_DATA_DIR": str(tmp), "STATUSPAGE_CONFIG": str(config),
           "STATUSPAGE_WEBHOOKS_ALLOW_PRIVATE": "true"}
    if args.database_url:
        env["STATUSPAGE_DATABASE_URL"] = args.database_url
    settings = Settings.from_env(env)
    env["STATUSPAGE_SECRET_KEY"] = settings.secret_key
    prepare_database(settings)
    db = Database(settings.database_url)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        receivers = subprocess.Popen(
            [sys.executable, "-m", "tests.webhook_receiver", "--ports", str(args.endpoints)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        procs.append(receivers)
        assert receivers.stdout is not None and receivers.stdin is not None
        ports = json.loads(receivers.stdout.readline())
        statuspage = str(Path(sys.executable).with_name("statuspage"))
        web = subprocess.Popen([statuspage, "web", "--port", str(web_port)], env=env)
        procs.append(web)
        worker = subprocess.Popen([statuspage, "worker"], env=env)
        procs.append(worker)
        wait_ready(f"http://127.0.0.1:{web_port}/", web)

        with db.session() as session:
            iid = incidents.create_incident(
                session, name="Pembubuhan lambat", status="investigating", impact="minor",
                body="Kami menyelidiki.", components={"pembubuhan": "degraded_performance"},
                notify=True, author="bench").id

        def fanned() -> bool:
            with db.session() as session:
                return not session.scalar(sa.select(sa.func.count()).select_from(WebhookEvent)
                                          .where(WebhookEvent.fanned_out_at.is_(None)))

        wait_for(fanned, 30, "the first events to be fanned out (to nobody)")
        add_subscriptions(db, args.subscriptions, ports)

        load = subprocess.Popen([sys.executable, "-c", LOADGEN, "127.0.0.1", str(web_port),
                                 str(args.connections)], stdout=subprocess.PIPE)
        procs.append(load)
        time.sleep(args.baseline)
        cpu_before = {name: cpu_seconds(p.pid) for name, p in
                      (("worker", worker), ("web", web), ("receivers", receivers))}
        load_before = load_average()
        with db.session() as session:
            incidents.post_update(session, iid, status="identified", body="Penyebab ditemukan.",
                                  components=None, notify=True, author="bench")
        committed = time.time()
        with db.session() as session:
            event_id = session.scalar(sa.select(sa.func.max(WebhookEvent.id)))

        def delivered() -> bool:
            with db.session() as session:
                return (session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery)
                                       .where(WebhookDelivery.event_id == event_id,
                                              WebhookDelivery.state == "delivered"))
                        or 0) >= args.subscriptions

        wait_for(delivered, 300, "every delivery")
        recorded = time.time()
        cpu = {name: cpu_seconds(p.pid) - cpu_before[name] for name, p in
               (("worker", worker), ("web", web), ("receivers", receivers))}
        load.send_signal(signal.SIGTERM)
        assert load.stdout is not None
        page_times = json.loads(load.stdout.readline())
        receivers.stdin.write(b"dump incident.updated\n")
        receivers.stdin.flush()
        arrivals = json.loads(receivers.stdout.readline())
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        db.dispose()

    first: dict[str, float] = {}
    for msg_id, at in arrivals:
        first[msg_id] = min(at, first.get(msg_id, at))
    latencies = sorted(at - committed for at in first.values())
    last = committed + latencies[-1]
    pct = statistics.quantiles(latencies, n=100)
    before = rate(page_times, committed - args.baseline + 1.0, committed)
    during = rate(page_times, committed, last)
    print(f"subscriptions:                {args.subscriptions} over {args.endpoints} endpoints "
          f"({'PostgreSQL' if args.database_url else 'SQLite'})")
    print(f"distinct deliveries received: {len(first)} (requests: {len(arrivals)}; "
          f"duplicates {len(arrivals) - len(first)})")
    print(f"commit -> last delivery:      {latencies[-1]:.2f} s   (goal <= 30 s)")
    print(f"commit -> first delivery:     {latencies[0]:.3f} s   (goal <= 1 s)")
    print(f"commit -> delivery p50/p99:   {pct[49]:.2f} s / {pct[98]:.2f} s")
    print(f"deliveries/s:                 {len(first) / latencies[-1]:.0f}")
    print(f"all recorded as delivered:    {recorded - committed:.2f} s after commit")
    print(f"CPU during fan-out:           worker {cpu['worker']:.1f} s "
          f"({cpu['worker'] / len(first) * 1000:.2f} ms per delivery), web {cpu['web']:.1f} s, "
          f"receivers {cpu['receivers']:.1f} s; host load average {load_before:.1f} (2 cores)")
    print(f"home page before fan-out:     {before:.0f} req/s")
    print(f"home page during fan-out:     {during:.0f} req/s   ratio {during / before:.2f} "
          f"(goal >= 0.5)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
