"""HTML pages for a person (Bahasa Indonesia): register, verify OTP, log in, buy, pay, stamp.

Sessions are an HttpOnly cookie holding a web session token of its own (``web_sessions``),
never an API token; logging out revokes it.  Every form carries a CSRF
token checked against a SameSite=Strict cookie (double submit); the pages call the same
``actions`` as the JSON API.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any
from urllib.parse import quote

import qrcode
from markupsafe import Markup
from qrcode.image.svg import SvgPathImage
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from stamping import actions, gateway, ledger, orders, store, web_sessions
from stamping.admission import Overloaded
from stamping.errors import DOCUMENT_STATUS, ApiError
from stamping.gateway import NotificationError
from stamping.service import now
from stamping.signer import DocumentError
from stamping.store import StoreError
from stamping.throttle import Throttled
from stamping.upload import read_upload
from stamping.views.common import client_address, pdf_response, placement_headers, service

__all__ = ["account_page", "buy", "download_document", "index", "login_page", "logout",
           "order_page", "otp_page", "pay", "register_page", "stamp_upload", "verify_page"]

SESSION_COOKIE = "meterai_sesi"
CSRF_COOKIE = "meterai_csrf"

MESSAGES = {
    "bad_phone": "Nomor WhatsApp tidak valid (contoh: 0812-3456-7890).",
    "bad_name": "Nama lengkap wajib diisi.",
    "bad_password": "Kata sandi minimal 8 karakter.",
    "phone_taken": "Nomor ini sudah terdaftar. Silakan masuk.",
    "bad_otp": "Kode OTP terdiri dari 6 angka.",
    "invalid_otp": "Kode OTP salah.",
    "otp_expired": "Kode OTP kedaluwarsa. Daftar ulang untuk mendapatkan kode baru.",
    "too_many_attempts": "Terlalu banyak percobaan. Daftar ulang untuk mendapatkan kode baru.",
    "bad_credentials": "Nomor atau kata sandi salah.",
    "bad_quantity": "Jumlah meterai tidak valid.",
    "quota_exhausted": "Kuota meterai habis. Beli kuota terlebih dahulu.",
    "not_pdf": "Berkas bukan PDF.",
    "corrupt_pdf": "Berkas PDF rusak atau tidak lengkap.",
    "encrypted_pdf": "PDF yang dienkripsi atau berkata sandi tidak dapat dibubuhi meterai.",
    "decompression_bomb": "Berkas PDF tidak wajar (isi terkompresi terlalu besar).",
    "too_large": "Berkas terlalu besar.",
    "bad_page": "Nomor halaman di luar dokumen.",
    "bad_box": ("Posisi meterai di luar halaman, atau kotak terlalu kecil untuk kode QR yang "
                "terbaca (minimal 108 x 80 poin)."),
    "order_expired": "Pesanan kedaluwarsa sebelum dibayar.",
    "overloaded": "Layanan sedang penuh. Silakan coba lagi sebentar lagi.",
    "csrf": "Formulir kedaluwarsa. Muat ulang halaman lalu coba lagi.",
    "throttled": "Terlalu banyak percobaan. Silakan coba lagi beberapa menit lagi.",
}

_REFUSALS = (ApiError, StoreError, NotificationError, DocumentError, Overloaded, Throttled)


def _message(exc: Exception) -> str:
    if isinstance(exc, Throttled):
        return MESSAGES["throttled"]
    code = getattr(exc, "code", None) or ("overloaded" if isinstance(exc, Overloaded) else "")
    return MESSAGES.get(code, "Terjadi kesalahan. Silakan coba lagi.")


def _status(exc: Exception) -> int:
    if isinstance(exc, Overloaded):
        return 503
    if isinstance(exc, Throttled):
        return 429
    if isinstance(exc, DocumentError):
        return DOCUMENT_STATUS.get(exc.code, 422)
    return int(getattr(exc, "status", 400))


def _csrf_token(request: Request) -> str:
    token = request.cookies.get(CSRF_COOKIE)
    if token and len(token) >= 20:
        return token
    new: str | None = getattr(request.state, "new_csrf", None)
    if new is None:
        new = request.state.new_csrf = secrets.token_urlsafe(24)
    return new


def _check_csrf(request: Request, form: FormData | dict[str, str]) -> None:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = str(form.get("csrf", ""))
    if not cookie or not secrets.compare_digest(cookie.encode(), sent.encode()):
        raise ApiError(403, "csrf", "CSRF token missing or wrong")


def _render(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    svc = service(request)
    csrf = _csrf_token(request)
    html = svc.templates.get_template(template).render(
        csrf=csrf, public_url=svc.settings.public_url, **context)
    # Pages may show account data and carry the CSRF token: never cache them.
    response = HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
    new = getattr(request.state, "new_csrf", None)
    if new:
        response.set_cookie(CSRF_COOKIE, new, httponly=True, samesite="strict", path="/")
    return response


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


async def _account(request: Request) -> store.AccountView | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    account = await service(request).db.read(web_sessions.account_for_session, token, now())
    if account is not None:
        request.state.account_kind = "probe" if account.is_probe else "real"
    return account


def _logged_in(response: Response, token: str) -> Response:
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", path="/")
    return response


async def index(request: Request) -> Response:
    """The landing page."""
    svc = service(request)
    return _render(request, "index.html", price=svc.settings.stamp_price,
                   fee=svc.settings.service_fee)


async def register_page(request: Request) -> Response:
    """Registration form (GET) and submission (POST)."""
    if request.method == "GET":
        return _render(request, "daftar.html")
    form = await request.form()
    try:
        _check_csrf(request, form)
        reg = await actions.register(service(request), form.get("phone"), form.get("name"),
                                     form.get("password"), client_address(request))
    except _REFUSALS as exc:
        return _render(request, "daftar.html", _status(exc), error=_message(exc),
                       phone=form.get("phone", ""), name=form.get("name", ""))
    return _redirect(f"/daftar/otp?phone={quote(reg.phone)}")


async def otp_page(request: Request) -> Response:
    """OTP form (GET) and verification (POST); logs the person in."""
    if request.method == "GET":
        return _render(request, "otp.html", phone=request.query_params.get("phone", ""))
    form = await request.form()
    try:
        _check_csrf(request, form)
        token = await actions.verify_otp(service(request), form.get("phone"), form.get("otp"),
                                         web=True)
    except _REFUSALS as exc:
        return _render(request, "otp.html", _status(exc), error=_message(exc),
                       phone=form.get("phone", ""))
    return _logged_in(_redirect("/akun"), token)


async def login_page(request: Request) -> Response:
    """Login form (GET) and submission (POST)."""
    if request.method == "GET":
        return _render(request, "masuk.html")
    form = await request.form()
    try:
        _check_csrf(request, form)
        token = await actions.web_login(service(request), form.get("phone"),
                                        form.get("password"), client_address(request))
    except _REFUSALS as exc:
        return _render(request, "masuk.html", _status(exc), error=_message(exc),
                       phone=form.get("phone", ""))
    return _logged_in(_redirect("/akun"), token)


async def logout(request: Request) -> Response:
    """Forget the session cookie."""
    form = await request.form()
    try:
        _check_csrf(request, form)
    except ApiError as exc:
        return _render(request, "masuk.html", 403, error=_message(exc))
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await actions.web_logout(service(request), token)
    response = _redirect("/masuk")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def account_page(request: Request, error: str | None = None,
                       status: int = 200) -> Response:
    """Quota, the buy form and the stamp form."""
    account = await _account(request)
    if account is None:
        return _redirect("/masuk")
    available, spent = await service(request).db.read(store.quota, account.id)
    documents = await service(request).db.read(ledger.recent_documents, account.id)
    return _render(request, "akun.html", status, account=account, available=available,
                   spent=spent, error=error, order_key=uuid.uuid4().hex, documents=documents,
                   retention_hours=service(request).settings.document_retention_hours,
                   max_mb=service(request).settings.max_upload_bytes // (1024 * 1024))


async def download_document(request: Request) -> Response:
    """A stamped document of the logged-in person, again (the download may have failed)."""
    account = await _account(request)
    if account is None:
        return _redirect("/masuk")
    serial = request.path_params["serial"].upper()
    pdf = await service(request).db.read(ledger.stamped_document, serial, account.id)
    if pdf is None:
        return await account_page(request, "Dokumen tidak ditemukan atau sudah terhapus.", 404)
    return pdf_response(pdf, serial)


async def buy(request: Request) -> Response:
    """Create an order (the hidden key makes a double submit harmless)."""
    account = await _account(request)
    if account is None:
        return _redirect("/masuk")
    form = await request.form()
    try:
        _check_csrf(request, form)
        order, _ = await actions.create_order(
            service(request), account, str(form.get("order_key", "")),
            actions.parse_quantity(str(form.get("quantity", ""))))
    except _REFUSALS as exc:
        return await account_page(request, _message(exc), _status(exc))
    return _redirect(f"/akun/pesanan/{order.id}")


async def order_page(request: Request) -> Response:
    """An order with its QRIS code and the simulated 'pay' button."""
    svc = service(request)
    account = await _account(request)
    if account is None:
        return _redirect("/masuk")
    order = await svc.db.read(orders.get_order, account.id, request.path_params["order_id"],
                              now())
    if order is None:
        return _render(request, "akun_pesanan.html", 404, order=None)
    payload = gateway.qris_payload(order.payment_ref, order.amount)
    svg = qrcode.make(payload, image_factory=SvgPathImage, box_size=8).to_string()
    return _render(request, "akun_pesanan.html", order=order, qris=payload,
                   qr_svg=Markup(svg.decode()),  # noqa: S704 - generated by qrcode, not input
                   error=request.query_params.get("galat"))


async def pay(request: Request) -> Response:
    """The simulated QRIS payment of one of the person's orders."""
    svc = service(request)
    account = await _account(request)
    if account is None:
        return _redirect("/masuk")
    order_id = request.path_params["order_id"]
    form = await request.form()
    order = await svc.db.read(orders.get_order, account.id, order_id, now())
    try:
        _check_csrf(request, form)
        if order is None:
            raise ApiError(404, "unknown_order", "no such order")
        await actions.pay_simulated(svc, order.payment_ref)
    except _REFUSALS as exc:
        return _redirect(f"/akun/pesanan/{quote(order_id)}?galat={quote(_message(exc))}")
    return _redirect(f"/akun/pesanan/{quote(order_id)}")


async def stamp_upload(request: Request) -> Response:
    """Stamp an uploaded PDF and send it back as a download."""
    svc = service(request)
    account = await _account(request)
    if account is None:
        return _redirect("/masuk")
    try:
        faults = await svc.faults.current()
        async with svc.stamp_gate.admit(faults.capacity):
            upload = await read_upload(request, svc.settings.max_upload_bytes)
            _check_csrf(request, upload.fields)
            done = await actions.stamp(svc, account, upload.data,
                                       upload.fields.get("page", ""),
                                       upload.fields.get("box", ""))
    except _REFUSALS as exc:
        return await account_page(request, _message(exc), _status(exc))
    response = pdf_response(done.pdf, done.serial, filename=f"bermeterai-{done.serial}.pdf")
    response.headers.update(placement_headers(done.placement))
    return response


async def verify_page(request: Request) -> Response:
    """Upload a stamped PDF to check it (GET: the form)."""
    svc = service(request)
    if request.method == "GET":
        return _render(request, "verifikasi.html")
    try:
        async with svc.verify_gate.admit():
            upload = await read_upload(request, svc.settings.max_upload_bytes)
            _check_csrf(request, upload.fields)
            verdict = await actions.verify(svc, upload.data)
    except _REFUSALS as exc:
        return _render(request, "verifikasi.html", _status(exc), error=_message(exc))
    return _render(request, "verifikasi.html", verdict=verdict)
