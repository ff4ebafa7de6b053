"""Admin-only console pages: operators (and lockouts), API tokens, the audit log and its CSV."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from statuspage.auth import generate_password
from statuspage.models.operators import ROLES, Operator
from statuspage.store import operators as ops
from statuspage.store.audit import audit_csv, list_audit
from statuspage.store.refusal import Refused
from statuspage.views.admin.common import (
    HEADERS,
    actor,
    console,
    hasher,
    in_session,
    parse_form,
    redirect,
    render,
)

__all__ = ["routes"]


def _operators_context(session: Session, **extra: Any) -> dict[str, Any]:
    return {"operators": ops.list_operators(session), "locks": ops.list_locks(session),
            "roles": ROLES, "errors": {}, "values": {"email": "", "role": "operator"},
            "new_password": None, **extra}


def _email_of(session: Session, operator_id: str) -> str:
    operator = session.get(Operator, operator_id)
    if operator is None:
        raise Refused("Operator tidak ditemukan.")
    return operator.email


@console("admin")
async def operators(request: Request) -> Response:
    """Accounts, their roles and state, current lockouts."""
    return render(request, "admin/operators.html",
                  await in_session(request, _operators_context))


async def _operator_action(request: Request,
                           work: Callable[[Session], Response | dict[str, Any]],
                           **extra: Any) -> Response:
    """Run an account change; a refusal re-renders the page with the message (422)."""
    def refused(session: Session, exc: Refused) -> Response:
        return render(request, "admin/operators.html",
                      _operators_context(session, errors=exc.errors, **extra), status_code=422)

    result = await in_session(request, work, refused)
    if isinstance(result, Response):
        return result
    return render(request, "admin/operators.html", result)


@console("admin")
async def add_operator(request: Request) -> Response:
    """Add an account; an empty password field generates one, shown once."""
    form = await parse_form(request)
    email = str(form.get("email") or "")[:320]
    role = str(form.get("role") or "operator")
    password = str(form.get("password") or "")[:256] or generate_password()
    generated = not form.get("password")
    who, pw_hasher = actor(request), hasher(request)

    def work(session: Session) -> dict[str, Any]:
        ops.create_operator(session, pw_hasher, email=email, password=password, role=role,
                            actor=who)
        return _operators_context(session, new_password=(email, password) if generated
                                  else None)

    return await _operator_action(request, work, values={"email": email, "role": role})


@console("admin")
async def change_operator(request: Request) -> Response:
    """Change role or activate/deactivate (deactivation ends sessions and disables tokens)."""
    form = await parse_form(request)
    oid = request.path_params["operator_id"]
    role = str(form.get("role") or "") or None
    active = {"1": True, "0": False}.get(str(form.get("active") or ""))
    who = actor(request)

    def work(session: Session) -> Response:
        ops.update_operator(session, _email_of(session, oid), role=role, active=active,
                            actor=who)
        return redirect("/admin/operators", notice="saved")

    return await _operator_action(request, work)


@console("admin")
async def reset_password(request: Request) -> Response:
    """Give an operator a new generated password (shown once) and end their sessions."""
    oid = request.path_params["operator_id"]
    password = generate_password()
    who, pw_hasher = actor(request), hasher(request)

    def work(session: Session) -> dict[str, Any]:
        email = _email_of(session, oid)
        ops.set_password(session, pw_hasher, email, password, actor=who)
        return _operators_context(session, new_password=(email, password))

    return await _operator_action(request, work)


@console("admin")
async def logout_operator(request: Request) -> Response:
    """End every session of an operator."""
    oid = request.path_params["operator_id"]
    who = actor(request)

    def work(session: Session) -> Response:
        ops.end_all_sessions(session, oid, actor=who, email=_email_of(session, oid))
        return redirect("/admin/operators", notice="logged_out_all")

    return await _operator_action(request, work)


@console("admin")
async def unlock(request: Request) -> Response:
    """Lift a login lockout (an account or an address)."""
    form = await parse_form(request)
    key = str(form.get("key") or "")[:400]
    who = actor(request)

    def work(session: Session) -> Response:
        ops.unlock(session, key, actor=who)
        return redirect("/admin/operators", notice="unlocked")

    return await _operator_action(request, work)


def _tokens_context(session: Session, **extra: Any) -> dict[str, Any]:
    return {"tokens": ops.list_tokens(session), "operators": ops.list_operators(session),
            "errors": {}, "new_token": None, "values": {"name": "", "email": ""}, **extra}


@console("admin")
async def tokens(request: Request) -> Response:
    """API tokens: name, owner, created, last used, revoked."""
    return render(request, "admin/tokens.html", await in_session(request, _tokens_context))


@console("admin")
async def create_token(request: Request) -> Response:
    """Create a token and show it once (only its SHA-256 is kept)."""
    form = await parse_form(request)
    name = str(form.get("name") or "")[:200]
    email = str(form.get("email") or request.state.viewer.email)[:320]
    who = actor(request)

    def work(session: Session) -> Response:
        row, secret = ops.create_token(session, email, name, actor=who)
        return render(request, "admin/tokens.html",
                      _tokens_context(session, new_token=(row.name, secret)))

    def refused(session: Session, exc: Refused) -> Response:
        return render(request, "admin/tokens.html", _tokens_context(
            session, errors=exc.errors, values={"name": name, "email": email}), status_code=422)

    return await in_session(request, work, refused)


@console("admin")
async def revoke_token(request: Request) -> Response:
    """Revoke a token at once, in every process."""
    tid = request.path_params["token_id"]
    who = actor(request)
    await in_session(request, lambda s: ops.revoke_token(s, tid, actor=who))
    return redirect("/admin/tokens", notice="revoked")


def _audit_filters(request: Request) -> dict[str, Any]:
    before = request.query_params.get("before", "")
    return {"action": request.query_params.get("action") or None,
            "actor": request.query_params.get("actor") or None,
            "before_id": int(before) if before.isdigit() else None}


@console("admin")
async def audit(request: Request) -> Response:
    """The audit log, newest first, 200 per page, filterable by action and actor."""
    filters = _audit_filters(request)
    entries = await in_session(request, lambda s: list_audit(s, limit=200, **filters))
    return render(request, "admin/audit.html", {
        "entries": entries, "filters": filters,
        "older": entries[-1].id if len(entries) == 200 else None})


@console("admin")
async def audit_export(request: Request) -> Response:
    """The audit log as CSV (up to 100 000 newest entries, same filters)."""
    filters = _audit_filters(request)
    body = await in_session(request, lambda s: audit_csv(list_audit(s, limit=100_000,
                                                                    **filters)))
    return Response(body, media_type="text/csv; charset=utf-8", headers={
        **HEADERS, "Content-Disposition": 'attachment; filename="audit-log.csv"'})


def routes() -> list[BaseRoute]:
    """Admin-only routes."""
    return [
        Route("/admin/operators", operators, methods=["GET"]),
        Route("/admin/operators", add_operator, methods=["POST"]),
        Route("/admin/operators/{operator_id}", change_operator, methods=["POST"]),
        Route("/admin/operators/{operator_id}/password", reset_password, methods=["POST"]),
        Route("/admin/operators/{operator_id}/logout", logout_operator, methods=["POST"]),
        Route("/admin/locks/unlock", unlock, methods=["POST"]),
        Route("/admin/tokens", tokens, methods=["GET"]),
        Route("/admin/tokens", create_token, methods=["POST"]),
        Route("/admin/tokens/{token_id}/revoke", revoke_token, methods=["POST"]),
        Route("/admin/audit", audit, methods=["GET"]),
        Route("/admin/audit.csv", audit_export, methods=["GET"]),
    ]
