"""The operator console (``/admin``) and the automation JSON API (``/api/v1``).

Every ``/admin`` handler is wrapped by ``common.console`` (login, role, CSRF, Origin), except
the login form itself; ``tests/statuspage/test_admin_routes.py`` walks the route table to prove
it. The API authenticates bearer tokens made in the console.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from statuspage.views.admin import (
    accounts,
    api,
    deadlines,
    deadlines_api,
    incidents,
    mail,
    maintenance,
    recovery,
    session,
    templates,
    webhooks,
)

__all__ = ["routes"]


def routes() -> list[BaseRoute]:
    """Console and automation API routes."""
    return [
        *session.routes(),
        *incidents.routes(),
        *recovery.routes(),
        *maintenance.routes(),
        *templates.routes(),
        *accounts.routes(),
        *api.routes(),
        *deadlines_api.routes(),
        *webhooks.routes(),
        *mail.routes(),
        *deadlines.routes(),
    ]
