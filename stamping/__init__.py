"""An e-meterai-like stamping service that stays correct under load and sheds load at once.

Public names: :func:`stamping.app.create_app`, :class:`stamping.settings.Settings` and the
``stamping`` CLI (:func:`stamping.cli.main`).  The package imports nothing from
``statuspage`` or ``probes``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Settings", "create_app"]


def __getattr__(name: str) -> Any:
    # Lazy, so that `import stamping` (and the CLI's start-up) stays cheap.
    if name == "create_app":
        from stamping.app import create_app

        return create_app
    if name == "Settings":
        from stamping.settings import Settings

        return Settings
    raise AttributeError(name)
