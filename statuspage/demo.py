"""Sample history for a new user's first look (being built)."""

from __future__ import annotations

from statuspage.settings import Settings

__all__ = ["seed_demo"]


def seed_demo(settings: Settings) -> bool:
    """Fill a fresh database with labelled sample history; False when it has data already."""
    return False
