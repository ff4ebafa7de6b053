"""The ASGI application: ``create_app(settings)`` wires routes, middleware and lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from stamping import lifeline
from stamping.admission import SHEDDER_STATE, AdmissionMiddleware, Shedder
from stamping.errors import exception_handlers
from stamping.faults import FaultMiddleware
from stamping.headers import SecurityHeadersMiddleware
from stamping.limits import BodyLimitMiddleware, route_limits
from stamping.metrics import MetricsMiddleware
from stamping.otp import OtpSender
from stamping.service import Service
from stamping.settings import Settings, SettingsError
from stamping.views import api, favicon, pages, stamps
from stamping.views.pages import SESSION_COOKIE

__all__ = ["app_from_env", "create_app", "routes"]

logger = logging.getLogger(__name__)


def routes() -> list[Route]:
    """Every route of the service."""
    return [
        Route("/", pages.index),
        Route("/favicon.svg", favicon.favicon),
        Route("/daftar", pages.register_page, methods=["GET", "POST"]),
        Route("/daftar/otp", pages.otp_page, methods=["GET", "POST"]),
        Route("/masuk", pages.login_page, methods=["GET", "POST"]),
        Route("/keluar", pages.logout, methods=["POST"]),
        Route("/akun", pages.account_page),
        Route("/akun/beli", pages.buy, methods=["POST"]),
        Route("/akun/pesanan/{order_id}", pages.order_page),
        Route("/akun/pesanan/{order_id}/bayar", pages.pay, methods=["POST"]),
        Route("/akun/meterai", pages.stamp_upload, methods=["POST"]),
        Route("/akun/meterai/{serial}.pdf", pages.download_document),
        Route("/verify/{serial}", stamps.verify_serial),
        Route("/verifikasi", pages.verify_page, methods=["GET", "POST"]),
        Route("/ca.pem", stamps.ca_pem),
        Route("/healthz", stamps.healthz),
        Route("/readyz", stamps.readyz),
        Route("/metrics", stamps.metrics),
        Route("/api/v1/accounts", api.create_account, methods=["POST"]),
        Route("/api/v1/accounts/verify", api.verify_account, methods=["POST"]),
        Route("/api/v1/login", api.login, methods=["POST"]),
        Route("/api/v1/orders", api.create_order, methods=["POST"]),
        Route("/api/v1/orders/{order_id}", api.get_order),
        Route("/api/v1/quota", api.get_quota),
        Route("/api/v1/payments/callback", api.payment_callback, methods=["POST"]),
        Route("/api/v1/payments/simulate/{payment_ref}", api.simulate_payment,
              methods=["POST"]),
        Route("/api/v1/stamps", stamps.create_stamp, methods=["POST"]),
        Route("/api/v1/stamps/{serial}", stamps.get_stamp),
        Route("/api/v1/stamps/{serial}/document", stamps.get_stamp_document),
        Route("/api/v1/verify", stamps.verify_upload, methods=["POST"]),
        Route("/api/v1/admin/faults", api.admin_faults, methods=["GET", "POST"]),
    ]


def create_app(settings: Settings, otp_sender: OtpSender | None = None) -> Starlette:
    """Build the app; resources start in the lifespan (migrations, CA, signing pool).

    ``otp_sender`` delivers one-time codes (default: the service log; every code is also in
    the ``otp_outbox`` table).
    """
    if not settings.public_url:
        # The QR of every stamp links here: a guessed default pointed elsewhere (issue 15).
        raise SettingsError("STAMPING_PUBLIC_URL is not set: set it, or start the service with "
                            "`stamping serve`, which derives it from --host and --port")
    service = Service(settings, otp_sender)
    shedder = Shedder({
        "/api/v1/stamps": service.stamp_gate, "/akun/meterai": service.stamp_gate,
        "/api/v1/verify": service.verify_gate, "/verifikasi": service.verify_gate,
        "/api/v1/orders": service.purchase_gate, "/akun/beli": service.purchase_gate,
        "/api/v1/accounts": service.account_gate, "/api/v1/login": service.account_gate,
        "/daftar": service.account_gate, "/masuk": service.account_gate},
        hold_seconds=settings.refusal_hold_seconds, max_held=settings.max_held_refusals,
        on_refused=service.metrics.observe_refusal,
        cached_capacity=service.faults.cached_capacity)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        async with service.lifespan():
            # The lifespan state reaches every connection of the server: the HTTP protocol
            # (stamping.http_protocol) refuses requests to a full gate from their head.
            yield {SHEDDER_STATE: shedder}

    app = Starlette(
        routes=routes(),
        middleware=[
            Middleware(SecurityHeadersMiddleware),
            # Before the framework: a refused request costs no more than the HTTP parser and
            # an admitted one holds its place until its answer is sent (issue 12).
            Middleware(AdmissionMiddleware, shedder=shedder,
                       capacity=service.injected_capacity, account_key=service.account_key,
                       session_cookie=SESSION_COOKIE),
            Middleware(MetricsMiddleware, metrics=service.metrics),
            Middleware(BodyLimitMiddleware, limits=route_limits(settings.max_upload_bytes)),
            Middleware(FaultMiddleware, cache=service.faults),
        ],
        exception_handlers=exception_handlers,
        lifespan=lifespan,
    )
    app.state.service = service
    return app


def app_from_env() -> Starlette:
    """Factory for ``uvicorn --factory stamping.app:app_from_env`` (settings from env).

    It runs in each web process of ``stamping serve --web-workers N``: these die with
    uvicorn's supervisor (and take their signing pools with them) however it ends.
    """
    lifeline.die_with_parent()
    return create_app(Settings.from_env())
