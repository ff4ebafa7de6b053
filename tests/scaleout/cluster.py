"""A small cluster of real processes on loopback over one PostgreSQL, for the scale-out tests.

Two stamping services share one stamping database (and one PKI and payment secret, copied as a
deployment would), two web processes and two workers share one status database. Everything is
started with the real command lines (``python -m statuspage ...``, ``python -m stamping ...``).
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa

from tests.conftest import PG_ADMIN_URL

ADMIN_TOKEN = "scaleout-admin-token"
SECRET_KEY = "scaleout-secret-key-" + "x" * 32


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def create_database(prefix: str) -> str:
    name = f"t_{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def wait_ready(url: str, within_s: float = 60.0) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not become ready in {within_s} s")


class Receiver:
    """A webhook receiver on loopback: echoes URL challenges, records every delivery."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[str, str, float]] = []  # (webhook-id, event type, time)
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                data = json.loads(body or b"{}")
                if data.get("type") == "url_verification":
                    answer = json.dumps({"challenge": data["challenge"]}).encode()
                else:
                    with receiver.lock:
                        receiver.deliveries.append((self.headers.get("webhook-id", ""),
                                                    self.headers.get("webhook-event-type", ""),
                                                    time.time()))
                    answer = b"{}"
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def ids(self) -> set[str]:
        with self.lock:
            return {d[0] for d in self.deliveries}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Cluster:
    """The processes and their addresses."""

    base: Path
    status_url: str
    stamping_db: str
    config: Path
    stamping: list[str] = field(default_factory=list)
    web: list[str] = field(default_factory=list)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    probe_token: str = ""
    api_token: str = ""

    def env(self) -> dict[str, str]:
        return {**os.environ, "STATUSPAGE_DATABASE_URL": self.status_url,
                "STATUSPAGE_CONFIG": str(self.config), "STATUSPAGE_SECRET_KEY": SECRET_KEY,
                "STATUSPAGE_DATA_DIR": str(self.base / "status"),
                "STATUSPAGE_STAMPING_URL": self.stamping[0],
                "STATUSPAGE_STAMPING_TOKEN": self.probe_token,
                "STATUSPAGE_WEBHOOKS_ALLOW_PRIVATE": "1", "STATUSPAGE_COOKIE_SECURE": "0"}

    def stamping_env(self, data: Path) -> dict[str, str]:
        return {**os.environ, "STAMPING_DATABASE_URL": self.stamping_db,
                "STAMPING_DATA_DIR": str(data), "STAMPING_ADMIN_TOKEN": ADMIN_TOKEN}

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(self.base / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen([sys.executable, *args], env=env, stdout=log, stderr=log,
                                start_new_session=True)
        self.procs[name] = proc
        return proc

    def start_worker(self, name: str) -> subprocess.Popen[bytes]:
        return self.start(name, ["-m", "statuspage", "worker"], self.env())

    def run(self, args: list[str], env: dict[str, str]) -> str:
        done = subprocess.run([sys.executable, *args], env=env, capture_output=True, timeout=120,
                              check=True)
        return done.stdout.decode()

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                with_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with_group(proc, signal.SIGKILL)
                proc.wait(5)

    def leader(self) -> str | None:
        answer = httpx.get(self.web[0] + "/readyz", timeout=5).json()
        return answer.get("leader")


def with_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


CONFIG = """
[page]
name = "e-Meterai (scale-out test)"

[[components]]
id = "situs"
name = "Situs web"

[[components]]
id = "pembelian"
name = "Pembelian kuota"

[[probes]]
name = "healthz"
kind = "http"
component = "situs"
path = "/healthz"
interval = {interval}
timeout = 3

[[probes]]
name = "purchase"
kind = "purchase"
component = "pembelian"
interval = {interval}
timeout = 5
"""


def start_stamping_pair(cluster: Cluster) -> None:
    """Start two stamping services on one database; the second gets the first one's keys."""
    first = cluster.base / "stamping-a"
    for index, data in enumerate((first, cluster.base / "stamping-b")):
        if index == 1:  # the second host gets the first one's keys, as a deployment copies them
            data.mkdir(parents=True, exist_ok=True)
            shutil.copytree(first / "pki", data / "pki")
            for name in os.listdir(first):
                if name.endswith("secret"):
                    shutil.copy(first / name, data / name)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        cluster.start(f"stamping-{index}", ["-m", "stamping", "serve", "--port", str(port),
                                            "--workers", "1"], cluster.stamping_env(data))
        wait_ready(url)
        cluster.stamping.append(url)
    out = cluster.run(["-m", "stamping", "account", "add", "--phone", "081200000001",
                       "--name", "Probe scale-out", "--probe"], cluster.stamping_env(first))
    cluster.probe_token = out.strip().splitlines()[-1].strip()


def new_cluster(base: Path, *, interval_s: float = 1.0) -> Cluster:
    """Databases and config for a cluster; nothing started yet."""
    base.mkdir(parents=True, exist_ok=True)
    config = base / "statuspage.toml"
    config.write_text(CONFIG.format(interval=interval_s), "utf-8")
    return Cluster(base, create_database("scale_status"), create_database("scale_stamp"),
                   config)


def start_cluster(base: Path, *, interval_s: float = 1.0) -> Cluster:
    """Start 2 stamping services, 2 web processes and 2 workers; return when all are ready."""
    cluster = new_cluster(base, interval_s=interval_s)
    start_stamping_pair(cluster)
    env = cluster.env()
    cluster.run(["-m", "statuspage", "db", "upgrade"], env)
    cluster.run(["-m", "statuspage", "operator", "add", "ops@scale.invalid", "--role", "admin",
                 "--password", "a-long-enough-password-1"], env)
    out = cluster.run(["-m", "statuspage", "token", "create", "ops@scale.invalid", "--name",
                       "scale-out test"], env)
    cluster.api_token = out.strip().splitlines()[-1].strip()
    for index in range(2):
        port = free_port()
        cluster.start(f"web-{index}", ["-m", "statuspage", "web", "--port", str(port)], env)
        cluster.web.append(f"http://127.0.0.1:{port}")
    for url in cluster.web:
        wait_ready(url)
    cluster.start_worker("worker-0")
    cluster.start_worker("worker-1")
    return cluster
