"""Console pages for webhook subscriptions: list, add, delivery log, replay, disable.

Operators add a subscription for an agency (it still has to prove ownership of its URL), see
each subscription's delivery log (time, attempt, status code, latency, error, the start of the
answer, escaped by the template), replay a delivery (same ``webhook-id``), send a test event,
disable a subscription and acknowledge the banner of one disabled by failures.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from statuspage.models import UNFINISHED_STATES, WebhookDelivery, WebhookSubscription
from statuspage.store import deliveries
from statuspage.store import subscriptions as subs
from statuspage.store.components import list_components
from statuspage.store.outbox import EVENT_TYPES
from statuspage.store.refusal import Refused
from statuspage.views.admin.common import (
    actor,
    console,
    in_session,
    parse_form,
    redirect,
    render,
    services,
)

__all__ = ["routes"]

_STATES = ("pending", "active", "disabled", "unsubscribed", "expired")


def _list_context(session: Session, state: str | None, values: dict[str, Any],
                  errors: dict[str, str]) -> dict[str, Any]:
    counts = dict(session.execute(sa.select(WebhookSubscription.state, sa.func.count())
                                  .group_by(WebhookSubscription.state)).all())
    return {"subscriptions": subs.list_subscriptions(session, state=state), "state": state,
            "states": _STATES, "counts": counts, "queue": deliveries.queue_metrics(session),
            "components": list_components(session), "event_types": EVENT_TYPES,
            "values": values, "errors": errors, "webhook_alerts": subs.disabled_alerts(session)}


_EMPTY: dict[str, Any] = {"url": "", "format": "statuspage", "language": "id",
                          "contact_email": "", "components": [], "event_types": []}


@console()
async def webhook_list(request: Request) -> Response:
    """Every subscription (optionally one state), queue totals and the add form."""
    state = request.query_params.get("state")
    state = state if state in _STATES else None
    return render(request, "admin/webhooks.html",
                  await in_session(request, lambda s: _list_context(s, state, _EMPTY, {})))


@console()
async def webhook_add(request: Request) -> Response:
    """Add a subscription for an agency; it stays pending until its URL proves ownership."""
    form = await parse_form(request)
    values: dict[str, Any] = {
        "url": str(form.get("url") or ""), "format": str(form.get("format") or "statuspage"),
        "language": str(form.get("language") or "id"),
        "contact_email": str(form.get("contact_email") or ""),
        "components": [str(v) for v in form.getlist("components")][:100],
        "event_types": [str(v) for v in form.getlist("event_types")][:20]}
    who = actor(request)
    allow = services(request).settings.webhooks_allow_private
    base = services(request).settings.config.page.url.rstrip("/")

    def work(session: Session) -> dict[str, Any]:
        sub, token = subs.create_subscription(session, subs.SubscriptionRequest(
            url=values["url"], components=values["components"] or None,
            event_types=values["event_types"] or None, language=values["language"],
            format=values["format"], contact_email=values["contact_email"] or None),
            actor=who, via="console", allow_private=allow)
        return {"created": sub.id, "secret": sub.secret,
                "manage_url": f"{base}/subscribe/manage/{token}"}

    result = await in_session(request, work,
                              lambda s, exc: _list_context(s, None, values, exc.errors))
    if "created" in result:
        return render(request, "admin/webhook_created.html", result)
    return render(request, "admin/webhooks.html", result, status_code=422)


def _detail(session: Session, sid: str) -> dict[str, Any] | None:
    sub = session.get(WebhookSubscription, sid[:16])
    if sub is None:
        return None
    pending = session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery).where(
        WebhookDelivery.subscription_id == sub.id,
        WebhookDelivery.state.in_(UNFINISHED_STATES)))
    return {"sub": sub, "log": deliveries.delivery_log(session, sub.id, limit=200),
            "pending": pending or 0, "webhook_alerts": subs.disabled_alerts(session)}


@console()
async def webhook_detail(request: Request) -> Response:
    """One subscription and its delivery log."""
    sid = request.path_params["sid"]
    found = await in_session(request, lambda s: _detail(s, sid))
    if found is None:
        return render(request, "admin/message.html", _message("Webhook tidak ditemukan."),
                      status_code=404)
    return render(request, "admin/webhook.html", found)


@console()
async def webhook_action(request: Request) -> Response:
    """Replay a delivery, send a test event, disable, or acknowledge a disabled one."""
    sid, action = request.path_params["sid"], request.path_params["action"]
    if action not in ("replay", "test", "disable", "acknowledge"):
        return render(request, "admin/message.html", _message("Aksi tidak dikenal."),
                      status_code=404)
    form = await parse_form(request)
    who = actor(request)

    def work(session: Session) -> bool:
        sub = session.get(WebhookSubscription, sid[:16])
        if sub is None:
            return False
        if action == "replay":
            raw = str(form.get("delivery_id") or "")
            delivery = session.get(WebhookDelivery, int(raw)) if raw.isdigit() else None
            if delivery is None or delivery.subscription_id != sub.id:
                raise Refused("Pengiriman tidak ditemukan.", "delivery_id")
            if deliveries.replay_delivery(session, delivery.id, actor=who) is None:
                raise Refused("Langganan tidak aktif; tidak dapat dikirim ulang.",
                              "delivery_id")
        elif action == "test":
            subs.send_test_event(session, sub, actor=who)
        elif action == "disable":
            subs.disable_subscription(session, sub, "disabled by an operator", actor=who)
            sub.acknowledged_at = sub.disabled_at
        else:
            subs.acknowledge(session, sub, actor=who)
        return True

    def refused(session: Session, exc: Refused) -> bool | str:
        return " ".join(exc.errors.values())

    outcome = await in_session(request, work, refused)
    if outcome is False:
        return render(request, "admin/message.html", _message("Webhook tidak ditemukan."),
                      status_code=404)
    if isinstance(outcome, str):
        return render(request, "admin/message.html",
                      _message(outcome, f"/admin/webhooks/{sid}"), status_code=422)
    return redirect(f"/admin/webhooks/{sid}", notice="saved")


def _message(text: str, back: str = "/admin/webhooks") -> dict[str, str]:
    return {"title": "Webhook", "message": text, "back": back}


def routes() -> list[BaseRoute]:
    """Webhook routes of the console."""
    return [
        Route("/admin/webhooks", webhook_list, methods=["GET"]),
        Route("/admin/webhooks", webhook_add, methods=["POST"]),
        Route("/admin/webhooks/{sid}", webhook_detail, methods=["GET"]),
        Route("/admin/webhooks/{sid}/{action}", webhook_action, methods=["POST"]),
    ]
