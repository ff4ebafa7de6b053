"""Public subscribing: ``/subscribe`` (feeds, JSON, webhook form), the JSON API, and the
subscriber's own pages (management link, Slack confirmation link, unsubscribe link).

No JavaScript anywhere. Every form is protected by a synchroniser token and an Origin check:
the ``/subscribe`` form binds its token to a random cookie (as the login form does); the
management, confirmation and unsubscribe forms bind theirs to the secret in their URL, which a
cross-site attacker cannot know. Links only show a page; every change is a POST, so a chat
app's link preview cannot confirm or unsubscribe anyone. New subscriptions are rate-limited per
client address with counters in the database (shared by every web process).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from statuspage.auth import (
    CSRF_FIELD,
    csrf_token,
    csrf_valid,
    new_secret,
    origin_allowed,
    token_digest,
)
from statuspage.services import Services
from statuspage.store import deliveries, ratelimits
from statuspage.store import subscriptions as subs
from statuspage.store.audit import Actor
from statuspage.store.components import list_components
from statuspage.store.deadline_records import list_deadlines
from statuspage.store.outbox import EVENT_TYPES

__all__ = ["FORM_COOKIE", "HEADERS", "SUBSCRIBE_LIMIT", "allowed_origin", "client_address",
           "choices", "form_page", "routes", "run_db", "show"]

log = logging.getLogger(__name__)
T = TypeVar("T")
FORM_COOKIE = "sp_subscribe"
#: New subscriptions per client address and hour (form and API together).
SUBSCRIBE_LIMIT = 10
MAX_JSON = 16 * 1024
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
           "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff"}


def _svc(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def _lang(request: Request) -> str:
    return _svc(request).language(request.query_params.get("lang"),
                                  request.headers.get("accept-language", "").encode("latin-1"))


def client_address(request: Request) -> str | None:
    """The client's address (after the trusted-proxy middleware), for limits and audit."""
    return request.client.host if request.client else None


def show(request: Request, template: str, context: dict[str, Any], *,
         status_code: int = 200) -> HTMLResponse:
    """A public subscription page in the request's language (never cached)."""
    svc = _svc(request)
    lang = _lang(request)
    html = svc.render_html(template, {"sample_data": False, **context}, lang, request.url.path)
    return HTMLResponse(html, status_code=status_code, headers=HEADERS)


async def run_db(request: Request, work: Callable[[Session], T]) -> T:
    """Run ``work`` in one transaction, in a thread."""
    svc = _svc(request)

    def run() -> T:
        with svc.db.session() as session:
            return work(session)

    return await asyncio.to_thread(run)


def allowed_origin(request: Request) -> bool:
    """The Origin/Referer check of every subscription form."""
    page_url = _svc(request).settings.config.page.url
    return origin_allowed(request.headers, [page_url, str(request.base_url)])


def _within_limit(svc: Services, address: str | None) -> bool:
    with svc.db.session() as session:
        return ratelimits.hit(session, "subscribe", address, limit=SUBSCRIBE_LIMIT,
                              window_s=3600)


# --- /subscribe -------------------------------------------------------------------------------

async def subscribe_page(request: Request) -> Response:
    """Every way to follow the page, and the webhook form."""
    binding = request.cookies.get(FORM_COOKIE) or new_secret()
    return await form_page(request, binding, {}, {})


def choices(session: Session) -> dict[str, Any]:
    """What a subscriber can choose: components, and deadlines (id, name id, name en)."""
    return {"components": [(c.id, c.name) for c in list_components(session)],
            "deadlines": [(d.id, d.name_id, d.name_en) for d in list_deadlines(session)]}


async def form_page(request: Request, binding: str, values: dict[str, Any],
                errors: dict[str, str], status_code: int = 200, *,
                email_values: dict[str, Any] | None = None,
                email_errors: dict[str, str] | None = None) -> Response:
    """The ``/subscribe`` page with both forms (values and errors of the one posted)."""
    options = await run_db(request, choices)
    response = show(request, "subscribe.html", {
        **options, "event_types": EVENT_TYPES, "values": values,
        "errors": errors, "email_values": email_values, "email_errors": email_errors or {},
        "csrf_token": csrf_token(_svc(request).settings.secret_key, "subscribe:" + binding)},
        status_code=status_code)
    response.set_cookie(FORM_COOKIE, binding, max_age=3600, path="/subscribe", httponly=True,
                        samesite="lax", secure=_svc(request).settings.cookie_secure)
    return response


def _request_from(values: dict[str, Any]) -> subs.SubscriptionRequest:
    return subs.SubscriptionRequest(
        url=str(values.get("url") or ""), components=values.get("components") or None,
        event_types=values.get("event_types") or None,
        language=str(values.get("language") or "id"),
        format=str(values.get("format") or "statuspage"),
        contact_email=str(values.get("contact_email") or "") or None)


def _create(svc: Services, values: dict[str, Any], address: str | None, via: str
            ) -> tuple[str, str, str]:
    with svc.db.session() as session:
        sub, token = subs.create_subscription(
            session, _request_from(values), actor=Actor(None, "subscriber", address), via=via,
            allow_private=svc.settings.webhooks_allow_private)
        return sub.id, sub.secret, token


def _manage_url(svc: Services, token: str) -> str:
    return svc.settings.config.page.url.rstrip("/") + "/subscribe/manage/" + token


async def subscribe_form_post(request: Request) -> Response:
    """Create a webhook subscription from the form; shows the management link once."""
    svc = _svc(request)
    binding = request.cookies.get(FORM_COOKIE)
    form = await request.form(max_files=0, max_fields=50, max_part_size=16 * 1024)
    if not allowed_origin(request) or not csrf_valid(
            svc.settings.secret_key, "subscribe:" + binding if binding else None,
            str(form.get(CSRF_FIELD) or "")):
        return Response("Token formulir tidak valid / Invalid form token. Reload the page.",
                        status_code=403, headers=HEADERS)
    values: dict[str, Any] = {
        "url": str(form.get("url") or ""), "format": str(form.get("format") or "statuspage"),
        "language": str(form.get("language") or "id"),
        "contact_email": str(form.get("contact_email") or ""),
        "components": [str(v) for v in form.getlist("components")][:100],
        "event_types": [str(v) for v in form.getlist("event_types")][:20],
    }
    assert binding is not None
    if not await asyncio.to_thread(_within_limit, svc, client_address(request)):
        return await form_page(request, binding, values, {"_": _LIMIT_MESSAGE}, 429)
    try:
        sid, secret, token = await asyncio.to_thread(_create, svc, values, client_address(request),
                                                     "public")
    except subs.SubscriptionError as exc:
        return await form_page(request, binding, values, exc.errors, 422)
    return show(request, "subscribe_done.html", {
        "subscription_id": sid, "secret": secret, "manage_url": _manage_url(svc, token),
        "format": values["format"]})


_LIMIT_MESSAGE = ("Terlalu banyak langganan dari alamat ini; coba lagi dalam satu jam / Too many "
                  "subscriptions from this address; try again in an hour.")


async def api_subscribe(request: Request) -> Response:
    """``POST /api/v1/subscriptions`` (JSON; public, rate-limited per address)."""
    svc = _svc(request)
    raw = await request.body()
    if len(raw) > MAX_JSON:
        return JSONResponse({"error": "body too large"}, status_code=413)
    try:
        values = json.loads(raw or b"{}")
    except ValueError:
        return JSONResponse({"error": "body is not JSON"}, status_code=400)
    if not isinstance(values, dict) or not all(
            isinstance(values.get(k), list | type(None)) for k in ("components", "event_types")):
        return JSONResponse({"error": "expected an object; components and event_types are "
                             "lists"}, status_code=422)
    if not await asyncio.to_thread(_within_limit, svc, client_address(request)):
        return JSONResponse({"error": _LIMIT_MESSAGE}, status_code=429,
                            headers={"Retry-After": "3600"})
    values = {k: v for k, v in values.items() if k in (
        "url", "components", "event_types", "language", "format", "contact_email")}
    for key in ("url", "language", "format", "contact_email"):
        if values.get(key) is not None and not isinstance(values[key], str):
            return JSONResponse({"error": "invalid fields", "errors": {key: "must be a string"}},
                                status_code=422)
    try:
        sid, secret, token = await asyncio.to_thread(_create, svc, values, client_address(request),
                                                     "api")
    except subs.SubscriptionError as exc:
        return JSONResponse({"error": "invalid fields", "errors": exc.errors}, status_code=422)
    return JSONResponse({"id": sid, "state": "pending", "secret": secret,
                         "manage_url": _manage_url(svc, token),
                         "note": "Ownership check sent: echo the challenge within 10 s "
                                 "(statuspage format) or follow the link in the test message "
                                 "(slack format)."}, status_code=202, headers=HEADERS)


# --- the subscriber's own pages ---------------------------------------------------------------

def _manage_view(session: Session, token: str) -> dict[str, Any] | None:
    sub = subs.find_by_manage_token(session, token)
    if sub is None:
        return None
    log_rows = deliveries.delivery_log(session, sub.id, limit=50)
    components = [(c.id, c.name) for c in list_components(session)]
    return {"sub": sub, "log": log_rows, "components": components}


async def manage_page(request: Request) -> Response:
    """What the management link opens: state, secret, deliveries and the actions."""
    token = request.path_params["token"]
    view = await run_db(request, lambda s: _manage_view(s, token))
    if view is None:
        return show(request, "subscribe_message.html", {"message": "unknown"}, status_code=404)
    svc = _svc(request)
    return show(request, "subscribe_manage.html", {
        **view, "event_types": EVENT_TYPES, "token": token,
        "done": request.query_params.get("done", ""),
        "csrf_token": csrf_token(svc.settings.secret_key, "manage:" + token_digest(token))})


async def manage_action(request: Request) -> Response:
    """Rotate the secret, change filters, send a test event or unsubscribe."""
    svc = _svc(request)
    token = request.path_params["token"]
    action = request.path_params["action"]
    if action not in ("rotate", "filters", "test", "unsubscribe"):
        return Response("Not found", status_code=404, headers=HEADERS)
    form = await request.form(max_files=0, max_fields=150, max_part_size=16 * 1024)
    if not allowed_origin(request) or not csrf_valid(
            svc.settings.secret_key, "manage:" + token_digest(token),
            str(form.get(CSRF_FIELD) or "")):
        return Response("Token formulir tidak valid / Invalid form token.", status_code=403,
                        headers=HEADERS)
    actor = Actor(None, "subscriber", client_address(request))

    def work(session: Session) -> str | None:
        sub = subs.find_by_manage_token(session, token)
        if sub is None:
            return None
        if action == "rotate":
            subs.rotate_secret(session, sub, actor=actor)
        elif action == "filters":
            subs.update_filters(session, sub,
                                components=[str(v) for v in form.getlist("components")][:100],
                                event_types=[str(v) for v in form.getlist("event_types")][:20],
                                language=str(form.get("language") or sub.language), actor=actor)
        elif action == "test":
            subs.send_test_event(session, sub, actor=actor)
        elif action == "unsubscribe":
            subs.unsubscribe(session, sub, actor=actor)
        return action

    try:
        done = await run_db(request, work)
    except subs.SubscriptionError as exc:
        return Response(" ".join(exc.errors.values()), status_code=422, headers=HEADERS)
    if done is None:
        return show(request, "subscribe_message.html", {"message": "unknown"}, status_code=404)
    return RedirectResponse(f"/subscribe/manage/{token}?done={done}", status_code=303)


async def confirm_page(request: Request) -> Response:
    """The link in a Slack-format test message: a button that confirms (POST)."""
    token = request.path_params["token"]
    svc = _svc(request)
    return show(request, "subscribe_message.html", {
        "message": "confirm", "action": f"/subscribe/confirm/{token}",
        "csrf_token": csrf_token(svc.settings.secret_key, "confirm:" + token_digest(token))})


async def confirm_post(request: Request) -> Response:
    """Activate the Slack-format subscription of this link."""
    token = request.path_params["token"]
    svc = _svc(request)
    form = await request.form(max_files=0, max_fields=5, max_part_size=1024)
    if not allowed_origin(request) or not csrf_valid(
            svc.settings.secret_key, "confirm:" + token_digest(token),
            str(form.get(CSRF_FIELD) or "")):
        return Response("Token formulir tidak valid / Invalid form token.", status_code=403,
                        headers=HEADERS)
    found = await run_db(request, lambda s: subs.confirm_by_token(s, token) is not None)
    return show(request, "subscribe_message.html",
                 {"message": "confirmed" if found else "unknown"},
                 status_code=200 if found else 404)


async def unsubscribe_page(request: Request) -> Response:
    """The unsubscribe link of every delivery: a button that unsubscribes (POST)."""
    sid, token = request.path_params["sid"], request.path_params["token"]
    svc = _svc(request)
    if not subs.unsubscribe_token_valid(svc.settings.secret_key, sid, token):
        return show(request, "subscribe_message.html", {"message": "unknown"}, status_code=404)
    return show(request, "subscribe_message.html", {
        "message": "unsubscribe", "action": f"/subscribe/unsubscribe/{sid}/{token}",
        "csrf_token": csrf_token(svc.settings.secret_key, "unsubscribe:" + sid)})


async def unsubscribe_post(request: Request) -> Response:
    """Stop the subscription of this link."""
    sid, token = request.path_params["sid"], request.path_params["token"]
    svc = _svc(request)
    form = await request.form(max_files=0, max_fields=5, max_part_size=1024)
    if not subs.unsubscribe_token_valid(svc.settings.secret_key, sid, token):
        return show(request, "subscribe_message.html", {"message": "unknown"}, status_code=404)
    if not allowed_origin(request) or not csrf_valid(
            svc.settings.secret_key, "unsubscribe:" + sid, str(form.get(CSRF_FIELD) or "")):
        return Response("Token formulir tidak valid / Invalid form token.", status_code=403,
                        headers=HEADERS)
    actor = Actor(None, "subscriber", client_address(request))

    def work(session: Session) -> bool:
        from statuspage.models import WebhookSubscription
        sub = session.get(WebhookSubscription, sid[:16])
        if sub is None:
            return False
        subs.unsubscribe(session, sub, actor=actor)
        return True

    found = await run_db(request, work)
    return show(request, "subscribe_message.html",
                 {"message": "unsubscribed" if found else "unknown"},
                 status_code=200 if found else 404)


def routes() -> list[BaseRoute]:
    """Public subscription routes."""
    return [
        Route("/subscribe", subscribe_page, methods=["GET"]),
        Route("/subscribe", subscribe_form_post, methods=["POST"]),
        Route("/api/v1/subscriptions", api_subscribe, methods=["POST"]),
        Route("/subscribe/manage/{token}", manage_page, methods=["GET"]),
        Route("/subscribe/manage/{token}/{action:str}", manage_action, methods=["POST"]),
        Route("/subscribe/confirm/{token}", confirm_page, methods=["GET"]),
        Route("/subscribe/confirm/{token}", confirm_post, methods=["POST"]),
        Route("/subscribe/unsubscribe/{sid}/{token}", unsubscribe_page, methods=["GET"]),
        Route("/subscribe/unsubscribe/{sid}/{token}", unsubscribe_post, methods=["POST"]),
    ]
