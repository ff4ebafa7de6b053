"""Email subscriptions on ``/subscribe``: the form, the confirmation link, the management page
and the one-click unsubscribe (no JavaScript anywhere).

- ``POST /subscribe/email``: the form (CSRF bound to the ``/subscribe`` form cookie, Origin
  checked). Rate-limited per client address (``PER_ADDRESS`` an hour) and per recipient
  (``PER_RECIPIENT`` a day, keyed on a digest of the address), so the form cannot be used to
  flood someone's mailbox. Only a confirmation message is queued (double opt-in).
- ``/subscribe/email/confirm/{id}/{token}``: GET shows a button, POST confirms (link scanners
  and chat previews only GET, so they cannot confirm anyone).
- ``/subscribe/email/manage/{id}/{token}``: change the choices, or delete everything.
- ``/subscribe/email/unsubscribe/{id}/{token}``: GET shows a button; POST unsubscribes with
  no CSRF token or cookie (RFC 8058: the mail provider posts ``List-Unsubscribe=One-Click``;
  the HMAC in the URL is the proof, and a cross-site page cannot know it).
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from statuspage.auth import CSRF_FIELD, csrf_token, csrf_valid
from statuspage.models import MailSubscriber
from statuspage.services import Services
from statuspage.store import mail_subscribers as mail
from statuspage.store import ratelimits
from statuspage.store.audit import Actor
from statuspage.store.subscriptions import SubscriptionError
from statuspage.views.subscribe import (
    FORM_COOKIE,
    HEADERS,
    allowed_origin,
    choices,
    client_address,
    form_page,
    run_db,
    show,
)

__all__ = ["PER_ADDRESS", "PER_RECIPIENT", "routes"]

#: Subscription requests per client address and hour.
PER_ADDRESS = 10
#: Messages the form may cause to one recipient per day.
PER_RECIPIENT = 3
#: Who acts in the audit log: no client address (personal data is the email address, its
#: choices and timestamps only; the rate counters keyed on the client address expire hourly).
_SUBSCRIBER = Actor(None, "subscriber")
_FORBIDDEN = "Token formulir tidak valid / Invalid form token. Reload the page."
_LIMIT = ("Terlalu banyak permintaan; coba lagi nanti / Too many requests; try again later.")


def _svc(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def _values(form: Any) -> dict[str, Any]:
    return {"email": str(form.get("email") or "")[:320],
            "language": str(form.get("language") or "id"),
            "scope": str(form.get("scope") or "all"),
            "components": [str(v) for v in form.getlist("components")][:100],
            "deadlines": [str(v) for v in form.getlist("deadlines")][:100]}


def _within_limits(svc: Services, address: str | None, email: str) -> bool:
    # counted before the work, in their own transaction: a refused request still counts
    with svc.db.session() as session:
        by_address = ratelimits.hit(session, "mail-subscribe", address, limit=PER_ADDRESS,
                                    window_s=3600)
        by_recipient = ratelimits.hit(session, "mail-recipient", mail.recipient_key(email),
                                      limit=PER_RECIPIENT, window_s=86400)
    return by_address and by_recipient


async def subscribe_email(request: Request) -> Response:
    """The email form: queue a confirmation (or the management link of a known address)."""
    svc = _svc(request)
    binding = request.cookies.get(FORM_COOKIE)
    form = await request.form(max_files=0, max_fields=250, max_part_size=16 * 1024)
    if not allowed_origin(request) or not binding or not csrf_valid(
            svc.settings.secret_key, "subscribe:" + binding, str(form.get(CSRF_FIELD) or "")):
        return Response(_FORBIDDEN, status_code=403, headers=HEADERS)
    values = _values(form)
    address = client_address(request)
    if not await asyncio.to_thread(_within_limits, svc, address, values["email"]):
        return await form_page(request, binding, {}, {}, 429, email_values=values,
                               email_errors={"_": _LIMIT})
    request_ = mail.MailRequest(
        email=values["email"], language=values["language"],
        components=values["components"] if values["scope"] == "some" else None,
        deadlines=values["deadlines"])
    if values["scope"] == "some" and not values["components"]:
        return await form_page(request, binding, {}, {}, 422, email_values=values, email_errors={
            "components": "Pilih setidaknya satu komponen / Choose at least one component."})

    def work(session: Session) -> str:
        _sub, kind = mail.request_subscription(session, request_,
                                               actor=_SUBSCRIBER)
        return kind

    try:
        await run_db(request, work)
    except SubscriptionError as exc:
        return await form_page(request, binding, {}, {}, 422, email_values=values,
                               email_errors=exc.errors)
    # the same answer for a new and a known address: the page does not tell who subscribes
    return show(request, "subscribe_email.html", {"message": "sent"})


def _subscriber(session: Session, sid: str) -> MailSubscriber | None:
    return session.get(MailSubscriber, sid[:16])


async def confirm_page(request: Request) -> Response:
    """The link in the confirmation message: a button that confirms."""
    token = request.path_params["token"]
    return show(request, "subscribe_email.html", {
        "message": "confirm", "action": request.url.path,
        "csrf_token": csrf_token(_svc(request).settings.secret_key, "mail-confirm:" + token)})


async def confirm_post(request: Request) -> Response:
    """Confirm the address of this link; the page then links to its management page."""
    svc = _svc(request)
    sid, token = request.path_params["sid"], request.path_params["token"]
    form = await request.form(max_files=0, max_fields=5, max_part_size=1024)
    if not allowed_origin(request) or not csrf_valid(
            svc.settings.secret_key, "mail-confirm:" + token, str(form.get(CSRF_FIELD) or "")):
        return Response(_FORBIDDEN, status_code=403, headers=HEADERS)
    key = svc.settings.secret_key
    found = await run_db(request, lambda s: mail.confirm(s, sid, token, secret_key=key)
                         is not None)
    if not found:
        return show(request, "subscribe_email.html", {"message": "unknown"}, status_code=404)
    manage = f"/subscribe/email/manage/{sid}/{mail.link_token(key, 'manage', sid)}"
    return show(request, "subscribe_email.html", {"message": "confirmed", "manage": manage})


async def manage_page(request: Request) -> Response:
    """The management page: the address's choices, and deleting everything."""
    svc = _svc(request)
    sid, token = request.path_params["sid"], request.path_params["token"]
    if not mail.link_valid(svc.settings.secret_key, "manage", sid, token):
        return show(request, "subscribe_email.html", {"message": "unknown"}, status_code=404)

    def view(session: Session) -> dict[str, Any] | None:
        sub = _subscriber(session, sid)
        return None if sub is None else {"sub": sub, **choices(session)}

    found = await run_db(request, view)
    if found is None:
        return show(request, "subscribe_email.html", {"message": "unknown"}, status_code=404)
    return show(request, "subscribe_email_manage.html", {
        **found, "action": request.url.path, "done": request.query_params.get("done", ""),
        "csrf_token": csrf_token(svc.settings.secret_key, "mail-manage:" + sid)})


async def manage_post(request: Request) -> Response:
    """Save new choices (``save``) or delete the address and everything about it
    (``delete``)."""
    svc = _svc(request)
    sid, token, action = (request.path_params[k] for k in ("sid", "token", "action"))
    if action not in ("save", "delete") or not mail.link_valid(
            svc.settings.secret_key, "manage", sid, token):
        return show(request, "subscribe_email.html", {"message": "unknown"}, status_code=404)
    form = await request.form(max_files=0, max_fields=250, max_part_size=16 * 1024)
    if not allowed_origin(request) or not csrf_valid(
            svc.settings.secret_key, "mail-manage:" + sid, str(form.get(CSRF_FIELD) or "")):
        return Response(_FORBIDDEN, status_code=403, headers=HEADERS)
    values = _values(form)
    actor = _SUBSCRIBER

    def work(session: Session) -> bool:
        sub = _subscriber(session, sid)
        if sub is None:
            return False
        if action == "delete":
            mail.delete_subscriber(session, sub, actor=actor, how="delete")
        else:
            mail.update_choices(
                session, sub, language=values["language"],
                components=values["components"] if values["scope"] == "some" else None,
                deadlines=values["deadlines"], actor=actor)
        return True

    try:
        found = await run_db(request, work)
    except SubscriptionError as exc:
        return Response(" ".join(exc.errors.values()), status_code=422, headers=HEADERS)
    if not found:
        return show(request, "subscribe_email.html", {"message": "unknown"}, status_code=404)
    if action == "delete":
        return show(request, "subscribe_email.html", {"message": "deleted"})
    return RedirectResponse(f"/subscribe/email/manage/{sid}/{token}?done=1", status_code=303)


async def unsubscribe_page(request: Request) -> Response:
    """The unsubscribe link: a button (its form posts to the same one-click URL)."""
    sid, token = request.path_params["sid"], request.path_params["token"]
    if not mail.link_valid(_svc(request).settings.secret_key, "unsubscribe", sid, token):
        return show(request, "subscribe_email.html", {"message": "unknown"}, status_code=404)
    return show(request, "subscribe_email.html", {"message": "unsubscribe",
                                                  "action": request.url.path})


async def unsubscribe_post(request: Request) -> Response:
    """One-click unsubscribe (RFC 8058): the token in the URL is the proof; forgets the
    address. Answers the same when it was already gone (a provider may post twice)."""
    sid, token = request.path_params["sid"], request.path_params["token"]
    if not mail.link_valid(_svc(request).settings.secret_key, "unsubscribe", sid, token):
        return show(request, "subscribe_email.html", {"message": "unknown"}, status_code=404)
    await request.body()  # "List-Unsubscribe=One-Click", or the button's empty form
    actor = _SUBSCRIBER

    def work(session: Session) -> None:
        sub = _subscriber(session, sid)
        if sub is not None:
            mail.delete_subscriber(session, sub, actor=actor)

    await run_db(request, work)
    return show(request, "subscribe_email.html", {"message": "unsubscribed"})


def routes() -> list[BaseRoute]:
    """Email subscription routes."""
    base = "/subscribe/email"
    return [
        Route(base, subscribe_email, methods=["POST"]),
        Route(base + "/confirm/{sid}/{token}", confirm_page, methods=["GET"]),
        Route(base + "/confirm/{sid}/{token}", confirm_post, methods=["POST"]),
        Route(base + "/manage/{sid}/{token}", manage_page, methods=["GET"]),
        Route(base + "/manage/{sid}/{token}/{action}", manage_post, methods=["POST"]),
        Route(base + "/unsubscribe/{sid}/{token}", unsubscribe_page, methods=["GET"]),
        Route(base + "/unsubscribe/{sid}/{token}", unsubscribe_post, methods=["POST"]),
    ]
