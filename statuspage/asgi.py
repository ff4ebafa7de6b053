"""ASGI entry point for uvicorn and other servers: settings come from the environment."""

from __future__ import annotations

import multiprocessing
import signal

from starlette.applications import Starlette

from statuspage.app import create_app
from statuspage.lifeline import die_with_parent
from statuspage.settings import Settings

__all__ = ["app_from_env"]


def app_from_env() -> Starlette:
    """Build the app from STATUSPAGE_* variables (uvicorn ``--factory``).

    Under ``--workers N`` uvicorn spawns each web process with multiprocessing; those follow
    their parent when it dies, even by SIGKILL, instead of holding the port as orphans.
    """
    if multiprocessing.parent_process() is not None:
        die_with_parent(signal.SIGTERM)
    return create_app(Settings.from_env())
