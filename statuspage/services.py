"""The composition root: one object holding every shared resource, handed to every view.

Built once per process by ``create_app``; tests build their own. Nothing here lives at module
level, so several apps (and several processes sharing one PostgreSQL) never share hidden state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.templating import Jinja2Templates

from statuspage.db import Database
from statuspage.settings import Settings

__all__ = ["Services", "TEMPLATES_DIR"]

log = logging.getLogger(__name__)
TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


@dataclass
class Services:
    """Settings, database and templates of one status page process."""

    settings: Settings
    db: Database
    templates: Jinja2Templates
    state: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, settings: Settings) -> Services:
        """Connect to the database and load the templates (no I/O beyond that)."""
        templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
        templates.env.globals["page"] = settings.config.page
        return cls(settings=settings, db=Database(settings.database_url), templates=templates)

    async def start(self) -> None:
        """Start background work owned by the web process (cache polling, ...)."""

    async def stop(self) -> None:
        """Stop background work and release connections."""
        self.db.dispose()
