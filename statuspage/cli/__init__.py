"""The ``statuspage`` command. Each module of this package registers its own subcommands."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from statuspage.cli import agent, db, evidence, operators, serve
from statuspage.config import ConfigError
from statuspage.settings import Settings

__all__ = ["main", "settings_from_args"]


def common_options(parser: argparse.ArgumentParser) -> None:
    """``--data-dir`` and ``--config``, taken by every subcommand."""
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="data directory (default $STATUSPAGE_DATA_DIR or ./var)")
    parser.add_argument("--config", type=Path, default=None,
                        help="statuspage.toml (default $STATUSPAGE_CONFIG or ./statuspage.toml)")


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from the environment, overridden by the common options."""
    return Settings.from_env(data_dir=args.data_dir, config_path=args.config)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    parser = argparse.ArgumentParser(prog="statuspage", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (serve, db, operators, agent, evidence):
        module.register(sub, common_options)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except ConfigError as exc:
        print(f"statuspage: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
