"""``statuspage db upgrade``: apply migrations and sync the configured components."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

__all__ = ["register"]


def register(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add the ``db`` subcommands."""
    parser = sub.add_parser("db", help="database maintenance")
    dbsub = parser.add_subparsers(dest="db_command", required=True)
    upgrade = dbsub.add_parser("upgrade", help="apply all migrations")
    common(upgrade)
    upgrade.set_defaults(handler=_upgrade)


def _upgrade(args: argparse.Namespace) -> int:
    from statuspage.cli import settings_from_args
    from statuspage.db import prepare_database

    settings = settings_from_args(args)
    prepare_database(settings)
    print(f"database at {_redacted(settings.database_url)} is up to date")
    return 0


def _redacted(url: str) -> str:
    import sqlalchemy as sa

    return sa.make_url(url).render_as_string(hide_password=True)
