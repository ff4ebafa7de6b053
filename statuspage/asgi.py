"""ASGI entry point for uvicorn and other servers: settings come from the environment."""

from __future__ import annotations

from starlette.applications import Starlette

from statuspage.app import create_app
from statuspage.settings import Settings

__all__ = ["app_from_env"]


def app_from_env() -> Starlette:
    """Build the app from STATUSPAGE_* variables (uvicorn ``--factory``)."""
    return create_app(Settings.from_env())
