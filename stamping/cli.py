"""Command line: ``stamping serve`` and ``stamping account add``."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]

logger = logging.getLogger(__name__)
#: The request-head cap (also stamping.http_protocol.MAX_HEAD_BYTES) for the h11 parser.
MAX_HEAD = 32 * 1024


def _settings(args: argparse.Namespace, **extra: Any) -> Any:
    from stamping.settings import Settings

    overrides: dict[str, Any] = dict(extra)
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir)
    return Settings.from_env(**overrides)


def _serve(args: argparse.Namespace) -> int:
    if args.web_workers <= 1:  # each web process of a multi-process server starts its own
        from stamping import forkserver

        forkserver.start()  # its imports overlap ours: a restart is ready sooner
    import uvicorn

    from stamping.app import create_app
    from stamping.db import Database
    from stamping.http_protocol import BoundedHttpToolsProtocol
    from stamping.pki import ensure_pki

    extra: dict[str, Any] = {}
    if args.workers:
        extra["sign_workers"] = args.workers
    settings = _settings(args, **extra).served_at(args.host, args.port)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ensure_pki(settings.data_dir)
    settings.payment_key()
    if args.web_workers > 1:  # before any web process starts, so they never race on it
        db = Database(settings.effective_database_url)
        db.migrate()
        db.dispose()
    logger.info("stamping service on http://%s:%d, public URL %s (data in %s, %d signing "
                "workers)", args.host, args.port, settings.public_url, settings.data_dir,
                settings.workers)
    if args.web_workers <= 1:
        uvicorn.run(create_app(settings), host=args.host, port=args.port,
                    log_level=args.log_level, access_log=False, timeout_graceful_shutdown=5,
                    http=BoundedHttpToolsProtocol, h11_max_incomplete_event_size=MAX_HEAD)
        return 0
    # Several web processes: each builds its settings from the environment, and the
    # signing workers are shared out so the machine is not oversubscribed.
    os.environ["STAMPING_DATA_DIR"] = str(settings.data_dir)
    os.environ["STAMPING_PUBLIC_URL"] = settings.public_url
    os.environ["STAMPING_SIGN_WORKERS"] = str(max(1, settings.workers // args.web_workers))
    uvicorn.run("stamping.app:app_from_env", factory=True, host=args.host, port=args.port,
                workers=args.web_workers, log_level=args.log_level, access_log=False,
                timeout_graceful_shutdown=5, http=BoundedHttpToolsProtocol,
                h11_max_incomplete_event_size=MAX_HEAD)
    return 0


def _account_add(args: argparse.Namespace) -> int:
    from argon2 import PasswordHasher

    from stamping import store
    from stamping.db import Database
    from stamping.rules import normalise_phone

    settings = _settings(args)
    try:
        phone = normalise_phone(args.phone)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    password = args.password or secrets.token_urlsafe(16)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.effective_database_url)
    db.migrate()
    try:
        token = db.write_sync(store.create_verified_account, phone, args.name,
                              PasswordHasher().hash(password), args.probe,
                              dt.datetime.now(dt.UTC))
    except store.StoreError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    kind = "probe account" if args.probe else "account"
    print(f"created {kind} {phone} ({args.name})")
    print(token)  # the last line: scripts read the token from here
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``stamping``."""
    parser = argparse.ArgumentParser(prog="stamping", description=__doc__)
    parser.add_argument("--log-level", default="info",
                        choices=["debug", "info", "warning", "error"])
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the stamping service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8001)
    serve.add_argument("--data-dir", help="data directory (default $STAMPING_DATA_DIR)")
    serve.add_argument("--workers", type=int, default=0,
                       help="signing worker processes (default: one per CPU)")
    serve.add_argument("--web-workers", type=int, default=1,
                       help="web processes (they share faults and data via the database)")
    serve.set_defaults(func=_serve)
    account = sub.add_parser("account", help="manage accounts")
    account_sub = account.add_subparsers(dest="account_command", required=True)
    add = account_sub.add_parser("add", help="create a verified account; prints its token last")
    add.add_argument("--phone", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--password")
    add.add_argument("--probe", action="store_true",
                     help="a probe account: orders are paid at once, counted apart")
    add.add_argument("--data-dir", help="data directory (default $STAMPING_DATA_DIR)")
    add.set_defaults(func=_account_add)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``stamping`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        result: int = args.func(args)
    except Exception as exc:  # a clear one-line message instead of a traceback
        from stamping.settings import SettingsError

        if isinstance(exc, SettingsError):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise
    return result
