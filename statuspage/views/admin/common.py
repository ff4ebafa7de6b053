"""What every console handler shares: the login guard, CSRF and Origin checks, rendering.

``console()`` wraps a handler: it resolves the session cookie against the database (so "log out
everywhere" and deactivation hold in every process), redirects anonymous visitors to the login
form, refuses the wrong role with 403, and on every state-changing method checks the Origin or
Referer and the ``csrf_token`` form field before the handler runs.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

from argon2 import PasswordHasher
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from statuspage.auth import (
    CSRF_FIELD,
    SESSION_COOKIE,
    csrf_token,
    csrf_valid,
    origin_allowed,
    password_hasher,
)
from statuspage.guards import SECURITY_HEADERS
from statuspage.inputs import check_form
from statuspage.models.operators import Operator
from statuspage.services import Services
from statuspage.store.audit import Actor
from statuspage.store.operators import session_operator
from statuspage.store.refusal import Refused
from statuspage.views.admin.language import (
    CONSOLE_LANGUAGES,
    COOKIE,
    console_language,
    translated,
    translator,
)

__all__ = [
    "COMPONENT_LABELS",
    "IMPACT_LABELS",
    "STATUS_LABELS",
    "Viewer",
    "actor",
    "client_address",
    "console",
    "hasher",
    "in_session",
    "parse_form",
    "redirect",
    "render",
    "services",
]

log = logging.getLogger(__name__)
T = TypeVar("T")
Handler = Callable[[Request], Awaitable[Response]]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

#: Short Indonesian labels; values stay the Statuspage codes.
STATUS_LABELS: dict[str, str] = {
    "investigating": "Menyelidiki", "identified": "Penyebab diketahui", "monitoring": "Memantau",
    "resolved": "Selesai", "postmortem": "Postmortem", "scheduled": "Terjadwal",
    "in_progress": "Berlangsung", "verifying": "Verifikasi", "completed": "Selesai",
}
COMPONENT_LABELS: dict[str, str] = {
    "operational": "Normal", "degraded_performance": "Lambat",
    "partial_outage": "Gangguan sebagian", "major_outage": "Gangguan total",
    "under_maintenance": "Pemeliharaan",
}
IMPACT_LABELS: dict[str, str] = {"none": "Tidak ada", "minor": "Kecil", "major": "Besar",
                                 "critical": "Kritis"}
#: Headers of every console response: no caching, and the security headers every response has.
HEADERS: dict[str, str] = {"Cache-Control": "no-store", **SECURITY_HEADERS}


@dataclass(frozen=True)
class Viewer:
    """The logged-in operator of this request and their session digest (the CSRF binding)."""

    id: str
    email: str
    role: str
    session_digest: str

    @property
    def is_admin(self) -> bool:
        """Whether this operator may manage accounts, tokens and read the audit log."""
        return self.role == "admin"


def services(request: Request) -> Services:
    """The composition root."""
    services_: Services = request.app.state.services
    return services_


def hasher(request: Request) -> PasswordHasher:
    """The argon2 hasher for this app's settings (built once, kept in the services)."""
    svc = services(request)
    if svc.password_hasher is None:
        svc.password_hasher = password_hasher(svc.settings.argon2_profile)
    return svc.password_hasher


def client_address(request: Request) -> str | None:
    """The client address: the peer, or X-Forwarded-For when the peer is a configured proxy
    (``STATUSPAGE_TRUSTED_PROXIES``; resolved by the app's proxy-headers middleware)."""
    return request.client.host if request.client else None


def actor(request: Request) -> Actor:
    """The audit actor of a console request."""
    viewer: Viewer | None = getattr(request.state, "viewer", None)
    return Actor(viewer.email if viewer else None, "operator", client_address(request))


def allowed_origins(request: Request) -> list[str]:
    """Origins a form may be posted from: the configured page URL and this request's own."""
    own = f"{request.url.scheme}://{request.url.netloc}"
    return [services(request).settings.config.page.url, own]


#: Notices shown after a redirect, by code (a code, not text, so a link cannot inject words).
NOTICES: dict[str, str] = {
    "created": "Insiden diterbitkan.", "updated": "Pembaruan diterbitkan.",
    "resolved": "Insiden diselesaikan.", "edited": "Teks pembaruan dikoreksi.",
    "postmortem": "Postmortem disimpan.", "published": "Draf diterbitkan.",
    "discarded": "Draf dibuang.", "scheduled": "Pemeliharaan dijadwalkan.",
    "saved": "Perubahan disimpan.", "revoked": "Token dicabut.", "unlocked": "Kunci dibuka.",
    "logged_out_all": "Semua sesi lain telah keluar.", "password": "Kata sandi diganti.",
}


def redirect(path: str, *, notice: str | None = None) -> RedirectResponse:
    """A 303 See Other to ``path`` (POST/redirect/GET), with an optional notice code."""
    if notice:
        path += ("&" if "?" in path else "?") + "done=" + quote(notice)
    return RedirectResponse(path, status_code=303, headers={"Cache-Control": "no-store"})


def _load_viewer(svc: Services, secret: str | None) -> Viewer | None:
    with svc.db.session() as session:
        found = session_operator(session, secret)
        if found is None:
            return None
        op: Operator = found[0]
        return Viewer(op.id, op.email, op.role, found[1])


async def parse_form(request: Request) -> FormData:
    """The posted form, with limits (no files; console forms are small).

    Every field follows the text rule of ``statuspage.inputs``; a refusal raises
    ``InputError``, which the app answers with 422.
    """
    form = await request.form(max_files=0, max_fields=300, max_part_size=256 * 1024)
    check_form(form)
    return form


async def in_session(request: Request, work: Callable[[Session], T],
                      on_error: Callable[[Session, Refused], T] | None = None) -> T:
    """Run ``work`` in one transaction; when a store verb refuses (``Refused``) roll it all
    back and build the error page with ``on_error`` in a fresh one (so a refusal provably
    changes nothing). Without ``on_error`` the refusal propagates."""
    svc = services(request)

    def run() -> T:
        try:
            with svc.db.session() as session:
                return work(session)
        except Refused as exc:
            if on_error is None:
                raise
            with svc.db.session() as session:
                return on_error(session, exc)

    return await asyncio.to_thread(run)


def console(role: str = "operator") -> Callable[[Handler], Handler]:
    """Guard a console handler: login required, ``role`` admin optional, CSRF on writes."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: Request) -> Response:
            svc = services(request)
            viewer = await asyncio.to_thread(_load_viewer, svc,
                                             request.cookies.get(SESSION_COOKIE))
            if viewer is None:
                target = request.url.path
                if request.method in SAFE_METHODS and request.url.query:
                    target += "?" + request.url.query
                return redirect("/admin/login?next=" + quote(target, safe=""))
            request.state.viewer = viewer
            if role == "admin" and not viewer.is_admin:
                return forbidden("Halaman ini hanya untuk admin.")
            if request.method not in SAFE_METHODS:
                if not origin_allowed(request.headers, allowed_origins(request)):
                    log.warning("refused cross-origin %s %s", request.method, request.url.path)
                    return forbidden("Permintaan dari situs lain ditolak.")
                form = await parse_form(request)
                token = form.get(CSRF_FIELD)
                if not csrf_valid(svc.settings.secret_key, viewer.session_digest,
                                  token if isinstance(token, str) else None):
                    return forbidden("Token formulir tidak valid. Muat ulang halaman lalu coba "
                                     "lagi.")
            return await handler(request)

        return guarded

    return wrap


def forbidden(message: str) -> Response:
    """A plain 403 (no template: it must work even when rendering would not)."""
    return PlainTextResponse(message, status_code=403, headers=HEADERS)


def local_time(request: Request) -> Callable[[datetime | str | None], str]:
    """A formatter of UTC datetimes in the page's time zone, e.g. ``03-09-2024 15:04 WIB``."""
    page = services(request).settings.config.page
    zone = ZoneInfo(page.time_zone)

    def fmt(value: datetime | str | None) -> str:
        if isinstance(value, str):  # ISO text from probe evidence JSON
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                return value
            if parsed.tzinfo is None:
                return value
            value = parsed
        if value is None:
            return ""
        return value.astimezone(zone).strftime("%d-%m-%Y %H:%M") + " " + page.time_zone_label

    return fmt


def render(request: Request, name: str, context: Mapping[str, Any] | None = None, *,
           status_code: int = 200, csrf_binding: str | None = None) -> Response:
    """Render an admin template with the viewer, its CSRF token, labels and time formatting."""
    svc = services(request)
    viewer: Viewer | None = getattr(request.state, "viewer", None)
    binding = csrf_binding or (viewer.session_digest if viewer else None)
    lang = console_language(request)
    gettext = translator(lang)
    notice = NOTICES.get(request.query_params.get("done", ""), "")
    ctx: dict[str, Any] = {
        "viewer": viewer,
        "csrf_token": csrf_token(svc.settings.secret_key, binding) if binding else "",
        "status_labels": translated(STATUS_LABELS, lang),
        "component_labels": translated(COMPONENT_LABELS, lang),
        "impact_labels": translated(IMPACT_LABELS, lang),
        "t": local_time(request),
        "notice": gettext(notice) if notice else "",
        "page": svc.settings.config.page,
        "_": gettext,
        "lang": lang,
        "other_lang": "id" if lang == "en" else "en",
    }
    ctx.update(context or {})
    response = svc.templates.TemplateResponse(request, name, ctx, status_code=status_code,
                                              headers=HEADERS)
    if request.query_params.get("lang") in CONSOLE_LANGUAGES:  # remember the operator's choice
        response.set_cookie(COOKIE, lang, max_age=365 * 86400, httponly=True, samesite="lax",
                            secure=svc.settings.cookie_secure, path="/admin")
    return response
