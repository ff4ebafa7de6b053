"""Login, logout, "log out everywhere" and the operator's own password."""

from __future__ import annotations

import asyncio

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from statuspage.auth import (
    CSRF_FIELD,
    PRELOGIN_COOKIE,
    SESSION_COOKIE,
    SESSION_MAX_AGE,
    csrf_valid,
    new_secret,
    origin_allowed,
)
from statuspage.models import utcnow
from statuspage.store.login_throttle import refund
from statuspage.store.operators import (
    check_password,
    end_all_sessions,
    end_session,
    login_check,
    record_login,
    set_password,
    start_session,
)
from statuspage.views.admin.common import (
    actor,
    allowed_origins,
    client_address,
    console,
    forbidden,
    hasher,
    in_session,
    parse_form,
    redirect,
    render,
    services,
)

__all__ = ["routes"]

MAX_EMAIL = 320
MAX_PASSWORD = 256


def _next_path(value: object) -> str:
    """Where to go after login: only a local /admin path (no open redirect)."""
    text = value if isinstance(value, str) else ""
    if text.startswith("/admin") and not text.startswith("//") and "\\" not in text:
        return text
    return "/admin"


def _login_page(request: Request, binding: str, *, email: str = "", error: str = "",
                status_code: int = 200) -> Response:
    response = render(request, "admin/login.html", {
        "email": email, "error": error, "next": _next_path(request.query_params.get("next")),
    }, status_code=status_code, csrf_binding=binding)
    response.set_cookie(PRELOGIN_COOKIE, binding, max_age=3600, path="/admin/login",
                        secure=services(request).settings.cookie_secure, httponly=True,
                        samesite="lax")
    return response


async def login_form(request: Request) -> Response:
    """The login form; sets a pre-login cookie that binds its CSRF token."""
    binding = request.cookies.get(PRELOGIN_COOKIE) or new_secret()
    return _login_page(request, binding)


async def login(request: Request) -> Response:
    """Check the credentials against the database throttles; start a session on success."""
    svc = services(request)
    binding = request.cookies.get(PRELOGIN_COOKIE)
    if not origin_allowed(request.headers, allowed_origins(request)):
        return forbidden("Permintaan dari situs lain ditolak.")
    form = await parse_form(request)
    token = form.get(CSRF_FIELD)
    if not csrf_valid(svc.settings.secret_key, binding, token if isinstance(token, str) else None):
        return _login_page(request, new_secret(), status_code=403,
                           error="Formulir kedaluwarsa. Silakan coba lagi.")
    assert binding is not None
    email = str(form.get("email") or "").strip()[:MAX_EMAIL]
    password = str(form.get("password") or "")[:MAX_PASSWORD]
    if not email or not password:
        return _login_page(request, binding, email=email, status_code=400,
                           error="Isi email dan kata sandi.")
    address = client_address(request)
    agent = request.headers.get("user-agent")

    pw_hasher = hasher(request)

    def attempt() -> tuple[str, int]:
        with svc.db.session() as session:  # 1: admit (and count) or refuse, atomically
            check = login_check(session, email, address=address)
        ok, new_hash = check_password(pw_hasher, check, password)  # 2: slow, no lock held
        with svc.db.session() as session:  # 3: refund the count and open a session, or audit
            result = record_login(session, check, ok=ok, address=address, new_hash=new_hash)
            if result.operator is None:
                return (result.reason or "invalid"), check.retry_after_s
            return "ok:" + start_session(session, result.operator, address=address,
                                         user_agent=agent), 0

    outcome, retry_after = await asyncio.to_thread(attempt)
    if outcome == "invalid":
        return _login_page(request, binding, email=email, status_code=401,
                           error="Email atau kata sandi salah.")
    if outcome == "locked":
        page = _login_page(request, binding, email=email, status_code=429,
                           error="Terlalu banyak percobaan gagal dari alamat ini atau untuk "
                                 f"akun ini. Coba lagi dalam {retry_after} detik, atau minta "
                                 "admin membukanya.")
        page.headers["Retry-After"] = str(retry_after)
        return page
    response = redirect(_next_path(form.get("next")))
    response.set_cookie(SESSION_COOKIE, outcome[3:], max_age=int(SESSION_MAX_AGE.total_seconds()),
                        path="/admin", secure=svc.settings.cookie_secure, httponly=True,
                        samesite="lax")
    response.delete_cookie(PRELOGIN_COOKIE, path="/admin/login")
    return response


@console()
async def logout(request: Request) -> Response:
    """End this browser's session."""
    svc = services(request)
    secret = request.cookies.get(SESSION_COOKIE)
    who = actor(request)

    def work() -> None:
        with svc.db.session() as session:
            end_session(session, secret, actor=who)

    await asyncio.to_thread(work)
    response = redirect("/admin/login")
    response.delete_cookie(SESSION_COOKIE, path="/admin")
    return response


@console()
async def logout_everywhere(request: Request) -> Response:
    """End every session of this operator (a lost phone, a shared computer)."""
    svc = services(request)
    viewer = request.state.viewer
    who = actor(request)

    def work() -> int:
        with svc.db.session() as session:
            return end_all_sessions(session, viewer.id, actor=who)

    await asyncio.to_thread(work)
    response = redirect("/admin/login")
    response.delete_cookie(SESSION_COOKIE, path="/admin")
    return response


@console()
async def account(request: Request) -> Response:
    """The operator's own page: change password, log out everywhere."""
    return render(request, "admin/account.html", {"errors": {}})


@console()
async def change_password(request: Request) -> Response:
    """Change one's own password (needs the current one); ends every session, then log in."""
    svc = services(request)
    form = await parse_form(request)
    current = str(form.get("current_password") or "")[:MAX_PASSWORD]
    new = str(form.get("new_password") or "")[:MAX_PASSWORD]
    viewer = request.state.viewer
    who = actor(request)
    address = client_address(request)
    pw_hasher = hasher(request)

    def work() -> str | None:
        # the same three steps as a login: a stolen session cannot guess the current password
        # without hitting the account's lockout, and argon2 runs outside any transaction
        with svc.db.session() as session:
            check = login_check(session, viewer.email, address=address)
        ok, _rehash = check_password(pw_hasher, check, current)
        if not ok:
            with svc.db.session() as session:
                result = record_login(session, check, ok=False, address=address)
            if result.reason == "locked":
                return (f"Terlalu banyak percobaan gagal; coba lagi dalam "
                        f"{check.retry_after_s} detik.")
            return "Kata sandi saat ini salah."
        with svc.db.session() as session:  # the right current password: not an attempt
            refund(session, check, address, utcnow())
        return None

    def change(session: Session) -> str | None:
        set_password(session, pw_hasher, viewer.email, new, actor=who)
        return None

    error = await asyncio.to_thread(work) or await in_session(
        request, change, lambda _session, exc: str(exc))
    if error:
        return render(request, "admin/account.html", {"errors": {"password": error}},
                      status_code=422)
    response = redirect("/admin/login")
    response.delete_cookie(SESSION_COOKIE, path="/admin")
    return response


def routes() -> list[BaseRoute]:
    """Login and session routes."""
    return [
        Route("/admin/login", login_form, methods=["GET"]),
        Route("/admin/login", login, methods=["POST"]),
        Route("/admin/logout", logout, methods=["POST"]),
        Route("/admin/logout-everywhere", logout_everywhere, methods=["POST"]),
        Route("/admin/account", account, methods=["GET"]),
        Route("/admin/account/password", change_password, methods=["POST"]),
    ]
