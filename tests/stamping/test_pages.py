"""The HTML pages: the whole person's flow, CSRF protection and escaping."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from tests.stamping.conftest import latest_otp


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def test_register_buy_pay_and_stamp_in_the_browser(client: TestClient,
                                                   sample_pdf: bytes) -> None:
    page = client.get("/daftar")
    assert page.status_code == 200 and "Daftar akun" in page.text
    csrf = _csrf(page.text)
    r = client.post("/daftar", data={"csrf": csrf, "phone": "0812-5555-1234",
                                     "name": "Dewi <b>Lestari</b>", "password": "kata-sandi"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/daftar/otp")
    otp = latest_otp(client, "+6281255551234")
    r = client.post("/daftar/otp", data={"csrf": csrf, "phone": "+6281255551234", "otp": otp},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/akun"
    akun = client.get("/akun")
    assert "Kuota tersedia: <strong>0</strong>" in akun.text
    assert "Dewi &lt;b&gt;Lestari&lt;/b&gt;" in akun.text  # autoescaped
    key = re.search(r'name="order_key" value="([^"]+)"', akun.text).group(1)  # type: ignore[union-attr]
    r = client.post("/akun/beli", data={"csrf": csrf, "quantity": "2", "order_key": key},
                    follow_redirects=False)
    assert r.status_code == 303
    order_url = r.headers["location"]
    # A double submit of the same form is the same order.
    again = client.post("/akun/beli", data={"csrf": csrf, "quantity": "2", "order_key": key},
                        follow_redirects=False)
    assert again.headers["location"] == order_url
    order = client.get(order_url)
    assert "menunggu pembayaran" in order.text and "<svg" in order.text
    r = client.post(order_url + "/bayar", data={"csrf": csrf}, follow_redirects=True)
    assert "lunas" in r.text
    r = client.post("/akun/meterai", data={"csrf": csrf}, files={
        "file": ("surat.pdf", sample_pdf, "application/pdf")})
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF") and len(r.headers["x-serial-number"]) == 22
    assert r.headers["x-stamp-overlap"] == "none"  # blank space found on the page
    akun = client.get("/akun")
    assert "Kuota tersedia: <strong>1</strong>" in akun.text
    # the download broke off on a phone: the account page offers the same document again
    serial = r.headers["x-serial-number"]
    assert f'href="/akun/meterai/{serial}.pdf"' in akun.text
    again = client.get(f"/akun/meterai/{serial}.pdf")
    assert again.status_code == 200 and again.content == r.content
    assert "Kuota tersedia: <strong>1</strong>" in client.get("/akun").text  # nothing spent
    assert client.get("/akun/meterai/AAAAAAAAAAAAAAAAAAAAAA.pdf").status_code == 404
    r = client.post("/akun/meterai", data={"csrf": csrf}, files={
        "file": ("x.pdf", b"bukan pdf", "application/pdf")})
    assert r.status_code == 415 and "Berkas bukan PDF." in r.text


def test_forms_require_the_csrf_token(client: TestClient) -> None:
    client.get("/daftar")
    r = client.post("/daftar", data={"phone": "081255551235", "name": "X",
                                     "password": "kata-sandi"})
    assert r.status_code == 403 and "Formulir kedaluwarsa" in r.text
    r = client.post("/daftar", data={"csrf": "forged-token-forged-token", "phone": "081255551235",
                                     "name": "X", "password": "kata-sandi"})
    assert r.status_code == 403
    r = client.post("/masuk", data={"csrf": "x", "phone": "081255551235", "password": "x"})
    assert r.status_code == 403


def test_account_pages_need_a_session(client: TestClient) -> None:
    assert client.get("/akun", follow_redirects=False).headers["location"] == "/masuk"
    r = client.get("/akun/meterai/AAAAAAAAAAAAAAAAAAAAAA.pdf", follow_redirects=False)
    assert r.headers["location"] == "/masuk"
    r = client.post("/akun/beli", data={"quantity": "1"}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/masuk")
    r = client.post("/masuk", data={"csrf": _csrf(page.text), "phone": "081200000000",
                                    "password": "salah-sekali"})
    assert r.status_code == 401 and "Nomor atau kata sandi salah." in r.text


def test_verification_page(client: TestClient, sample_pdf: bytes) -> None:
    from tests.stamping.conftest import auth, buy, pdf_file, register

    token = register(client)
    buy(client, token, 1)
    stamped = client.post("/api/v1/stamps", files=pdf_file(sample_pdf), headers=auth(token))
    page = client.get("/verifikasi")
    csrf = _csrf(page.text)
    r = client.post("/verifikasi", data={"csrf": csrf}, files=pdf_file(stamped.content))
    assert r.status_code == 200 and "Meterai elektronik sah." in r.text
    assert stamped.headers["x-serial-number"] in r.text
    r = client.post("/verifikasi", data={"csrf": csrf}, files=pdf_file(sample_pdf))
    assert "tidak sah" in r.text
    r = client.post("/verifikasi", files=pdf_file(sample_pdf))
    assert r.status_code == 403
