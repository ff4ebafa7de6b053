"""``statuspage serve | web | worker``: run the whole service or one role of it.

``serve`` is the one-command start: it migrates, optionally seeds demo data, then runs the worker
role (scheduler, bundled stamping service, probes) as a child process and the web role under
uvicorn in the foreground. ``web`` and ``worker`` run one role each, for scale-out: many ``web``
processes and one ``worker`` sharing one PostgreSQL.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from statuspage.db import Database, prepare_database
from statuspage.settings import Settings

__all__ = ["public_url", "register", "run_web"]

log = logging.getLogger(__name__)


def register(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``serve``, ``web`` and ``worker``."""
    for name, handler, helptext in (
        ("serve", _serve, "run everything: web, worker, bundled stamping service"),
        ("web", _web, "run the web role only"),
    ):
        parser = sub.add_parser(name, help=helptext)
        common(parser)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1, help="web processes")
        parser.add_argument("--demo", action="store_true",
                            help="fill a fresh database with 90 days of labelled sample history")
        parser.set_defaults(handler=handler)
    worker = sub.add_parser("worker", help="run the worker role only (scheduler, probes)")
    common(worker)
    worker.add_argument("--stamping-port", type=int, default=None,
                        help="start the bundled stamping service on this port")
    worker.set_defaults(handler=_worker)


def _settings(args: argparse.Namespace) -> Settings:
    from statuspage.cli import settings_from_args

    return settings_from_args(args)


def _prepare(args: argparse.Namespace) -> Settings:
    settings = _settings(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    prepare_database(settings)
    if getattr(args, "demo", False):
        from statuspage.demo import seed_demo

        if seed_demo(settings):
            log.info("demo history written (clearly labelled as sample data)")
        _demo_operator(settings)
    return settings


DEMO_OPERATOR = "admin@demo.invalid"


def _demo_operator(settings: Settings) -> None:
    """With --demo and no operator yet, create an admin so the console can be tried at once.

    The password is random and written once to the terminal and to ``DATA_DIR/demo-admin.txt``
    (mode 0600); nothing is created when any operator exists.
    """
    import secrets

    from statuspage.auth import password_hasher
    from statuspage.store.operators import create_operator, list_operators

    db = Database(settings.database_url)
    try:
        with db.session() as session:
            if list_operators(session):
                return
            password = secrets.token_urlsafe(12)
            create_operator(session, password_hasher(settings.argon2_profile), email=DEMO_OPERATOR,
                            password=password, role="admin")
    finally:
        db.dispose()
    note = settings.data_dir / "demo-admin.txt"
    note.write_text(f"{DEMO_OPERATOR}\n{password}\n")
    note.chmod(0o600)
    print(f"demo console login: {DEMO_OPERATOR} / {password}  (also in {note})", flush=True)


def _env_for(settings: Settings) -> dict[str, str]:
    """Environment that makes a child process act on the same data as this one."""
    env = dict(os.environ)
    env["STATUSPAGE_DATA_DIR"] = str(settings.data_dir)
    env["STATUSPAGE_DATABASE_URL"] = settings.database_url
    env["STATUSPAGE_SECRET_KEY"] = settings.secret_key
    if settings.config_path is not None:
        env["STATUSPAGE_CONFIG"] = str(settings.config_path)
    return env


#: Wildcard binds and the address links use for them.
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}  # noqa: S104


def public_url(host: str, port: int) -> str:
    """The URL a visitor reaches when nothing else is configured: the served host and port.

    A wildcard bind (0.0.0.0, ::) names no address, so the local one stands in for it (set
    page.url for a public page).
    """
    shown = _WILDCARDS.get(host, host)
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def _served(settings: Settings, args: argparse.Namespace) -> tuple[Settings, dict[str, str]]:
    """Settings and child environment with the page URL derived from --host/--port when the
    config sets none (JSON, feeds and short links then point where the page really is)."""
    if not settings.config.page.url_configured:
        settings = settings.with_page_url(public_url(args.host, args.port))
        if args.host in _WILDCARDS:
            log.warning("no page.url configured; links say %s", settings.config.page.url)
    env = _env_for(settings)
    if not settings.config.page.url_configured:
        env["STATUSPAGE_PAGE_URL"] = settings.config.page.url
    return settings, env


def _stop_on_signal(signum: int, _frame: object) -> None:
    # uvicorn restores this handler after its graceful shutdown and raises the signal again;
    # with the default SIGTERM action the process would die before stopping its worker
    raise SystemExit(0)


def _serve(args: argparse.Namespace) -> int:
    from statuspage.supervisor import WorkerSupervisor

    settings, env = _served(_prepare(args), args)
    if getattr(args, "demo", False):
        from statuspage.cli.demo_faults import demo_fault_token, fault_commands

        token = demo_fault_token(settings, env)  # the worker and its stamping child inherit it
        if token is not None:
            print(fault_commands(token, args.port + 1), flush=True)
    status = settings.data_dir / "serve-worker.json"
    status.unlink(missing_ok=True)
    env["STATUSPAGE_WORKER_STATUS"] = str(status)
    cmd = [sys.executable, "-m", "statuspage", "worker", "--stamping-port", str(args.port + 1)]
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _stop_on_signal)
    supervisor = WorkerSupervisor(cmd, env, status, count=2)  # a leader and a warm stand-by
    supervisor.start()
    try:
        run_web(settings, args.host, args.port, args.workers, env)
    finally:
        supervisor.stop()
    return 0


def _web(args: argparse.Namespace) -> int:
    settings, env = _served(_prepare(args), args)
    run_web(settings, args.host, args.port, args.workers, env)
    return 0


def run_web(settings: Settings, host: str, port: int, workers: int, env: dict[str, str]) -> None:
    """Serve the web role with uvicorn (``workers`` processes; settings travel by environment)."""
    import uvicorn

    os.environ.update(env)
    log.info("status page on http://%s:%d (%d web process(es))", host, port, workers)
    from statuspage.guards import MAX_HEADER_BYTES

    # h11, not httptools: h11 bounds the request head (a single 50 MB header was accepted).
    # Forwarded headers are handled by the app, from STATUSPAGE_TRUSTED_PROXIES only.
    uvicorn.run("statuspage.asgi:app_from_env", factory=True, host=host, port=port,
                workers=workers, proxy_headers=False, log_level="warning", access_log=False,
                http="h11", h11_max_incomplete_event_size=MAX_HEADER_BYTES)


def _worker(args: argparse.Namespace) -> int:
    settings = _settings(args)
    prepare_database(settings)
    from statuspage.worker import run_worker

    run_worker(settings, stamping_port=args.stamping_port)
    return 0
