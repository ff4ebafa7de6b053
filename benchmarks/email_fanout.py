"""Email fan-out: one incident update to 10,000 confirmed email subscribers.

Starts a real ``statuspage worker`` process (SQLite by default or ``--database-url`` for
PostgreSQL) sending to a local aiosmtpd sink in its own process (``tests/smtp_sink.py``, which
advertises PIPELINING and does not parse). Then: create an incident (emailed to nobody), insert
the confirmed subscribers, post one update, and wait until the sink has every message. Prints
the time from the commit to the first and to the last message, messages/s, the CPU seconds of
the worker and of the sink per 1,000 messages, and the host's load average.

Baseline of the same run: the sink's rate with the simplest client (stdlib ``smtplib.sendmail``
on one connection, the same number of ready-made messages of the same size, no database, no
message building), so the engine's rate reads as a share of what the sink takes.

Goal (issue 16): all 10,000 within 60 s on a 2-core machine.

    .venv/bin/python benchmarks/email_fanout.py [--subscribers 10000]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/DB] [--baseline 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.webhook_fanout import cpu_seconds, wait_for  # noqa: E402
from statuspage.db import Database, prepare_database  # noqa: E402
from statuspage.models import MailFanout, MailSubscriber  # noqa: E402
from statuspage.settings import Settings  # noqa: E402
from statuspage.store import incidents  # noqa: E402

CONFIG = """
[page]
name = "Bench"
url = "https://status.example.id"

[[components]]
id = "pembelian"
name = "Pembelian"

[[components]]
id = "pembubuhan"
name = "Pembubuhan"
"""


class Sink:
    """The sink process: its port, and its counters on demand."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "tests.smtp_sink"], cwd=ROOT,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.process.stdout is not None
        self.port = int(json.loads(self.process.stdout.readline())["port"])

    def state(self) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(b"?\n")
        self.process.stdin.flush()
        found: dict[str, Any] = json.loads(self.process.stdout.readline())
        return found

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(10)


def baseline(port: int, count: int, size: int) -> float:
    """Messages/s of plain ``smtplib.sendmail`` on one connection to the same sink."""
    body = (b"Subject: baseline\r\nFrom: a@example.id\r\nTo: b@example.id\r\n\r\n"
            + b"x" * 76 + b"\r\n") * max(1, size // 140)
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as client:
        for n in range(count):
            client.sendmail("bench@example.id", [f"base{n}@example.id"], body)
    return count / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--baseline", type=int, default=2000)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="email-fanout-"))
    config = tmp / "statuspage.toml"
    config.write_text(CONFIG)
    sink = Sink()
    env = {**os.environ, "STATUSPAGE_DATA_DIR": str(tmp), "STATUSPAGE_CONFIG": str(config),
           "STATUSPAGE_SMTP_URL": f"smtp://127.0.0.1:{sink.port}",
           "STATUSPAGE_MAIL_FROM": "status@example.id"}
    if args.database_url:
        env["STATUSPAGE_DATABASE_URL"] = args.database_url
    settings = Settings.from_env(env)
    env["STATUSPAGE_SECRET_KEY"] = settings.secret_key
    prepare_database(settings)
    db = Database(settings.database_url)
    worker = None
    try:
        statuspage = str(Path(sys.executable).with_name("statuspage"))
        worker = subprocess.Popen([statuspage, "worker"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        with db.session() as s:
            iid = incidents.create_incident(
                s, name="Pembubuhan e-meterai gagal", status="investigating", impact="major",
                body="Kami menyelidiki.", components={"pembubuhan": "major_outage"},
                notify=True, author="bench@example.id").id

        def idle() -> bool:
            with db.session() as s:
                return not s.scalar(sa.select(sa.func.count()).select_from(MailFanout)
                                    .where(MailFanout.done_at.is_(None))) and bool(
                    s.scalar(sa.select(sa.func.count()).select_from(MailFanout)))

        wait_for(idle, 60, "the first incident's (empty) email fan-out")
        with db.session() as s:
            s.execute(sa.insert(MailSubscriber), [
                {"id": f"b{n:011d}", "email": f"user{n}@example.id",
                 "language": "id" if n % 3 else "en", "component_ids": None,
                 "deadline_ids": [], "state": "active", "confirm_nonce": "n"}
                for n in range(args.subscribers)])
        cpu_worker, cpu_sink = cpu_seconds(worker.pid), cpu_seconds(sink.process.pid)
        with db.session() as s:
            incidents.post_update(s, iid, status="identified",
                                  body="Penyebab ditemukan: antrean penandatanganan penuh.",
                                  components=None, notify=True, author="bench@example.id")
        committed = time.time()
        wait_for(lambda: sink.state()["count"] >= args.subscribers, 300, "every message")
        state = sink.state()
        cpu_worker = cpu_seconds(worker.pid) - cpu_worker
        cpu_sink = cpu_seconds(sink.process.pid) - cpu_sink
        load = os.getloadavg()
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
        worker = None
        size = 3000  # about the size of one of these messages (multipart, base64 parts)
        base = baseline(sink.port, args.baseline, size)
    finally:
        if worker is not None:
            worker.kill()
        sink.stop()
        db.dispose()
    n = args.subscribers
    first, last = state["first"] - committed, state["last"] - committed
    engine_rate = n / max(last, 1e-9)
    print(f"email fan-out: {n} subscribers, one incident update "
          f"({'PostgreSQL' if args.database_url else 'SQLite'}), "
          f"{state['connections']} SMTP connections opened")
    print(f"  commit -> first message  {first:7.2f} s")
    print(f"  commit -> last message   {last:7.2f} s   (goal: <= 60 s)")
    print(f"  messages/s               {engine_rate:7.0f}")
    print(f"  baseline: plain smtplib.sendmail, one connection, {args.baseline} ready-made "
          f"messages: {base:.0f} messages/s; engine/baseline = {engine_rate / base:.2f}")
    print(f"  CPU per 1,000 messages: worker {cpu_worker / n * 1000:.2f} s, "
          f"sink {cpu_sink / n * 1000:.2f} s")
    print(f"  load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          f"({os.cpu_count()} CPUs)")
    return 0 if last <= 60 else 1


if __name__ == "__main__":
    sys.exit(main())
