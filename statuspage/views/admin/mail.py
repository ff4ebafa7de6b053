"""Console page for email subscriptions: counts, why addresses were disabled, the demo outbox.

Operators see how many addresses are pending, active or disabled, the delivery queue by state
and, for each disabled address, when and why (the mail server's answer with the address taken
out): counts, not a list of addresses to copy (UU 27/2022). Without ``STATUSPAGE_SMTP_URL`` the
messages are ``.eml`` files; the newest are listed and shown as text, so a newcomer sees
exactly what would be sent.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from statuspage.store import mail_subscribers
from statuspage.views.admin.common import console, in_session, render, services

__all__ = ["routes"]

_NAME = re.compile(r"^[0-9]{1,12}-[a-z]{1,16}\.eml$")
_SHOWN = 50


def _outbox(request: Request) -> Path:
    return services(request).settings.data_dir / "mail" / "outbox"


def _files(directory: Path) -> list[tuple[str, int]]:
    if not directory.is_dir():
        return []
    found = sorted((p for p in directory.glob("*.eml") if _NAME.match(p.name)),
                   key=lambda p: p.name, reverse=True)[:_SHOWN]
    return [(p.name, p.stat().st_size) for p in found]


@console()
async def mail_overview(request: Request) -> Response:
    """Counts, disabled reasons and (in the demo) the written messages."""
    counts: dict[str, Any] = await in_session(request, mail_subscribers.mail_counts)
    settings = services(request).settings
    return render(request, "admin/mail.html", {
        **counts, "smtp": settings.smtp_url is not None,
        "files": _files(_outbox(request)) if settings.smtp_url is None else []})


@console()
async def mail_file(request: Request) -> Response:
    """One written message, as text (never rendered as HTML)."""
    name = request.path_params["name"]
    path = _outbox(request) / name
    if not _NAME.match(name) or not path.is_file():
        return PlainTextResponse("Tidak ditemukan / Not found", status_code=404)
    return PlainTextResponse(path.read_text("utf-8", errors="replace"),
                             headers={"X-Content-Type-Options": "nosniff",
                                      "Cache-Control": "no-store"})


def routes() -> list[BaseRoute]:
    """Email routes of the console."""
    return [
        Route("/admin/mail", mail_overview, methods=["GET"]),
        Route("/admin/mail/outbox/{name}", mail_file, methods=["GET"]),
    ]
