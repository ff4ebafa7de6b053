"""``statuspage probe-agent`` and ``statuspage agent-token``: remote probe locations.

An agent runs the configured probes from another place and pushes its results to the status
page's ``POST /api/v1/probe-results`` with a token bound to its location; the page stores them
exactly like its own and a component is only called down when most locations agree.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx

from statuspage.config import BUNDLED
from statuspage.db import Database
from statuspage.settings import Settings

__all__ = ["REPORT_PATH", "register", "report_url"]

log = logging.getLogger(__name__)

REPORT_PATH = "/api/v1/probe-results"


def register(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``probe-agent`` and ``agent-token``."""
    agent = sub.add_parser("probe-agent", help="run the probes here and push results to a page")
    common(agent)
    agent.add_argument("--report-to", required=True, metavar="URL",
                       help="the status page's base URL (or its full probe-results URL)")
    agent.add_argument("--token", required=True, help="agent token (statuspage agent-token)")
    agent.add_argument("--location", required=True, help="this agent's location name")
    agent.add_argument("--stamping-url", default=None,
                       help='base URL for probes whose target is "bundled" '
                            "(default $STATUSPAGE_STAMPING_URL; without it they are skipped)")
    agent.add_argument("--stamping-token", default=None,
                       help="probe-account token there (default $STATUSPAGE_STAMPING_TOKEN)")
    agent.set_defaults(handler=_probe_agent)

    tokens = sub.add_parser("agent-token", help="manage probe agents' tokens")
    tsub = tokens.add_subparsers(dest="token_command", required=True)
    create = tsub.add_parser("create", help="create a token for a location (shown once)")
    common(create)
    create.add_argument("--location", required=True)
    create.set_defaults(handler=_token_create)
    listing = tsub.add_parser("list", help="list tokens (never their values)")
    common(listing)
    listing.set_defaults(handler=_token_list)
    revoke = tsub.add_parser("revoke", help="revoke a token by its id")
    common(revoke)
    revoke.add_argument("id", type=int)
    revoke.set_defaults(handler=_token_revoke)


def report_url(value: str) -> str:
    """The probe-results endpoint for a page's base URL (a full endpoint URL is kept)."""
    value = value.rstrip("/")
    return value if value.endswith(REPORT_PATH) else value + REPORT_PATH


def _agent_settings(args: argparse.Namespace) -> Settings:
    # an agent has no database and no secrets: pass a placeholder so none is created on disk
    return Settings.from_env(data_dir=args.data_dir, config_path=args.config,
                             secret_key="probe-agent-has-no-secret")  # noqa: S106


def _token_location(url: str, token: str) -> str | bool | None:
    """The location the page binds ``token`` to; False when refused; None when unreachable."""
    try:
        response = httpx.post(url, json={"results": []}, timeout=10.0,
                              headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        log.warning("status page not reachable yet (%s); results will be buffered", exc)
        return None
    if response.status_code in (401, 403):
        return False
    if not response.is_success:
        log.warning("status page answered %d to a token check", response.status_code)
        return None
    location = response.json().get("location")
    return str(location) if location else None


def _probe_agent(args: argparse.Namespace) -> int:
    from statuspage.probing import build_specs
    from statuspage.worker import agent_main

    settings = _agent_settings(args)
    stamping_url = args.stamping_url or settings.stamping_url
    stamping_token = args.stamping_token or settings.stamping_token
    probes = settings.config.probes
    if stamping_url is None:
        skipped = [p.name for p in probes if p.target == BUNDLED]
        if skipped:
            log.warning("skipping probes of the bundled service (%s): give --stamping-url",
                        ", ".join(skipped))
        probes = tuple(p for p in probes if p.target != BUNDLED)
    if not probes:
        print("statuspage: no probe can run here (give --stamping-url)", file=sys.stderr)
        return 2
    config = replace(settings.config, probes=probes)
    specs = build_specs(config, bundled_url=stamping_url, bundled_token=stamping_token)
    url = report_url(args.report_to)
    bound = _token_location(url, args.token)
    if bound is False:
        print(f"statuspage: {url} refuses this agent token", file=sys.stderr)
        return 2
    if isinstance(bound, str) and bound != args.location:
        print(f"statuspage: this token reports for location {bound!r}, not "
              f"{args.location!r}", file=sys.stderr)
        return 2
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    unsent = asyncio.run(agent_main(config, specs, url, args.token, args.location))
    return 0 if unsent == 0 else 1


def _with_db(args: argparse.Namespace, fn: Callable[[Any], int]) -> int:
    from statuspage.cli import settings_from_args

    settings = settings_from_args(args)
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            return fn(session)
    finally:
        db.dispose()


def _token_create(args: argparse.Namespace) -> int:
    from statuspage.store.agents import create_agent_token

    def create(session: Any) -> int:
        try:
            token = create_agent_token(session, args.location)
        except ValueError as exc:
            print(f"statuspage: {exc}", file=sys.stderr)
            return 2
        print(f"agent token for location {args.location!r} (shown once; stored hashed):")
        print(token)
        return 0

    return _with_db(args, create)


def _token_list(args: argparse.Namespace) -> int:
    from statuspage.store.agents import list_agent_tokens

    def show(session: Any) -> int:
        for row in list_agent_tokens(session):
            state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
            used = f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never"
            print(f"{row.id}\t{row.location}\t{state}\tlast used {used}")
        return 0

    return _with_db(args, show)


def _token_revoke(args: argparse.Namespace) -> int:
    from statuspage.store.agents import revoke_agent_token

    def revoke(session: Any) -> int:
        if revoke_agent_token(session, args.id):
            print(f"token {args.id} revoked")
            return 0
        print(f"statuspage: no active token {args.id}", file=sys.stderr)
        return 1

    return _with_db(args, revoke)
