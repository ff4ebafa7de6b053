"""``statuspage operator add | unlock`` and ``statuspage token create``.

``operator add`` prompts for the password (twice, hidden) on a terminal; ``--password`` is for
scripts; without either on a non-terminal a password is generated and printed once. Output goes
to stdout because it is this command's result; logging covers everything else.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import Any

from statuspage.auth import generate_password, password_hasher
from statuspage.db import Database
from statuspage.store.audit import Actor
from statuspage.store.operators import create_operator, create_token, unlock
from statuspage.store.refusal import Refused

__all__ = ["register"]


def register(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``operator add``, ``operator unlock`` and ``token create``."""
    operator = sub.add_parser("operator", help="console accounts")
    osub = operator.add_subparsers(dest="operator_command", required=True)
    add = osub.add_parser("add", help="add a console account")
    common(add)
    add.add_argument("email")
    add.add_argument("--role", choices=("admin", "operator"), default="operator")
    add.add_argument("--password", default=None,
                     help="for scripts; prompted when omitted on a terminal")
    add.set_defaults(handler=_add)
    lift = osub.add_parser("unlock", help="lift a login lockout of an account")
    common(lift)
    lift.add_argument("email")
    lift.set_defaults(handler=_unlock)

    token = sub.add_parser("token", help="API tokens for the automation API")
    tsub = token.add_subparsers(dest="token_command", required=True)
    create = tsub.add_parser("create", help="create a token (printed once)")
    common(create)
    create.add_argument("email", help="the operator the token acts as")
    create.add_argument("--name", required=True, help="what the token is for")
    create.set_defaults(handler=_token_create)


def _database(args: argparse.Namespace) -> tuple[Database, Any]:
    from statuspage.cli import settings_from_args
    from statuspage.db import prepare_database

    settings = settings_from_args(args)
    prepare_database(settings)
    return Database(settings.database_url), settings


def _cli_actor() -> Actor:
    return Actor(getpass.getuser(), "cli", None)


def _prompt_password() -> str | None:
    if not sys.stdin.isatty():
        return None
    first = getpass.getpass("Kata sandi: ")
    second = getpass.getpass("Ulangi kata sandi: ")
    if first != second:
        raise Refused("Kata sandi tidak sama.")
    return first


def _add(args: argparse.Namespace) -> int:
    generated = False
    try:
        password = args.password if args.password is not None else _prompt_password()
    except Refused as exc:
        print(f"statuspage: {exc}", file=sys.stderr)
        return 1
    if password is None:
        password, generated = generate_password(), True
    db, settings = _database(args)
    try:
        with db.session() as session:
            create_operator(session, password_hasher(settings.argon2_profile), email=args.email,
                            password=password, role=args.role, actor=_cli_actor())
    except Refused as exc:
        print(f"statuspage: {exc}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    print(f"operator {args.email.strip().lower()} ({args.role}) added")
    if generated:
        print(f"password (shown once): {password}")
    return 0


def _unlock(args: argparse.Namespace) -> int:
    db, _settings = _database(args)
    try:
        with db.session() as session:
            lifted = unlock(session, args.email, actor=_cli_actor())
    finally:
        db.dispose()
    print(f"{args.email}: {'lockout lifted' if lifted else 'was not locked'}")
    return 0


def _token_create(args: argparse.Namespace) -> int:
    db, _settings = _database(args)
    try:
        with db.session() as session:
            _row, secret = create_token(session, args.email, args.name, actor=_cli_actor())
    except Refused as exc:
        print(f"statuspage: {exc}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    print(secret)
    return 0
