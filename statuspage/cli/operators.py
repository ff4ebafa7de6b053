"""Subcommands of this module (being built)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

__all__ = ["register"]


def register(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add this module's subcommands."""
