"""Hostile input gets a clear 4xx and costs nothing (issue 8, items 9, 11, 14 and 16)."""

from __future__ import annotations

import io

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from starlette.testclient import TestClient

from stamping.headers import SECURITY_HEADERS
from tests.stamping.conftest import auth, buy, pdf_file, register


@pytest.fixture
def funded(client: TestClient) -> str:
    """An account with 2 paid stamps."""
    token = register(client)
    buy(client, token, 2)
    return token


def _quota(client: TestClient, token: str) -> dict[str, int]:
    return dict(client.get("/api/v1/quota", headers=auth(token)).json())


#: Page fields that are not a page: non-ASCII digits, huge, signed, decimal.
BAD_PAGES = ["\u00b2", "\u0661", "\uff11", "1" * 4000, "-1", "0", "1.0", "1e3", "999999999"]


def test_page_field_is_ascii_digits_in_range(client: TestClient, funded: str,
                                             sample_pdf: bytes) -> None:
    for page in BAD_PAGES:
        r = client.post("/api/v1/stamps", files=pdf_file(sample_pdf), data={"page": page},
                        headers=auth(funded))
        assert r.status_code == 422 and r.json()["error"] == "bad_page", (page[:10], r.text)
    assert _quota(client, funded) == {"available": 2, "spent": 0}
    r = client.post("/api/v1/stamps", files=pdf_file(sample_pdf), data={"page": " "},
                    headers=auth(funded))
    assert r.status_code == 201  # blank means the last page


def test_quantity_fields_are_ascii_digits(client: TestClient, funded: str) -> None:
    client.get("/masuk")
    csrf = client.cookies["meterai_csrf"]
    login = client.post("/masuk", data={"csrf": csrf, "phone": "081234567890",
                                        "password": "rahasia-sekali"})
    assert login.status_code == 200, login.text
    for quantity in ["\u00b2", "\u0663", "9" * 5000, "1" * 10, "-1", "x"]:
        r = client.post("/akun/beli", data={"csrf": csrf, "quantity": quantity,
                                            "order_key": "k1"})
        assert r.status_code == 422 and "Jumlah meterai tidak valid." in r.text, quantity[:10]
    for json_quantity in ["\u00b2", "2", 10**400, 2.0]:
        r = client.post("/api/v1/orders", json={"quantity": json_quantity},
                        headers={**auth(funded), "Idempotency-Key": "q"})
        assert r.status_code == 422 and r.json()["error"] == "bad_quantity", json_quantity


#: JSON bodies no endpoint takes: each is refused with a 4xx and a message.
BAD_JSON = [
    b"[" * 30_000 + b"]" * 30_000,  # deeper than Python's stack
    b'{"a":' * 20 + b"1" + b"}" * 20,  # deeper than any body we take
    b'{"phone": "081234567890", "password": "\\ud800\\udfff\\ud800xxxxxxx"}',
    b'{"phone": "\\ud800", "password": "x"}',
    b'{"quantity": ' + b"9" * 5000 + b"}",
]


def test_json_bodies_are_bounded(client: TestClient) -> None:
    for body in BAD_JSON:
        r = client.post("/api/v1/login", content=body,
                        headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["error"] == "bad_json", (body[:30], r.text)
        assert r.json()["message"]


def test_lone_surrogates_and_control_characters_in_registration(client: TestClient) -> None:
    for name in ["Siti\\u0000", "A\\u000bB", "x\\ud800", "\\u202eevil"]:
        body = '{"phone": "081299990000", "name": "' + name + '", "password": "kata-sandi-1"}'
        r = client.post("/api/v1/accounts", content=body.encode(),
                        headers={"Content-Type": "application/json"})
        assert r.status_code in (400, 422) and r.json()["message"], r.text
    r = client.post("/api/v1/accounts", json={"phone": "08\u00b9\u00b2\u00b3456789",
                                               "name": "Ani", "password": "kata-sandi-1"})
    assert r.status_code == 422 and r.json()["error"] == "bad_phone"


def test_a_stamp_key_reused_for_another_document_is_a_conflict(
        client: TestClient, funded: str, sample_pdf: bytes) -> None:
    headers = {**auth(funded), "Idempotency-Key": "surat-1"}
    first = client.post("/api/v1/stamps", files=pdf_file(sample_pdf), headers=headers)
    assert first.status_code == 201
    other = sample_pdf + b"\n% another document\n"
    r = client.post("/api/v1/stamps", files=pdf_file(other), headers=headers)
    assert r.status_code == 409 and r.json()["error"] == "idempotency_conflict"
    assert _quota(client, funded) == {"available": 1, "spent": 1}
    again = client.post("/api/v1/stamps", files=pdf_file(sample_pdf), headers=headers)
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"


def _signed_without_byterange(stamped: bytes, *, remove: bool) -> bytes:
    """An incremental update that drops or breaks the /ByteRange of the Meterai_ signature."""
    writer = IncrementalPdfFileWriter(io.BytesIO(stamped), strict=False)
    fields = writer.root["/AcroForm"]["/Fields"]
    for ref in fields:
        field = ref.get_object()
        if str(field.get("/T", "")).startswith("Meterai_"):
            sig_ref = field.raw_get("/V")
            sig = sig_ref.get_object()
            if remove:
                del sig["/ByteRange"]
            else:
                sig[generic.NameObject("/ByteRange")] = generic.ArrayObject(
                    [generic.NumberObject(v) for v in (0, 10**9, -5, 7)])
            writer.mark_update(sig_ref)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_signature_without_or_with_a_malformed_byterange(client: TestClient, funded: str,
                                                         sample_pdf: bytes) -> None:
    stamped = client.post("/api/v1/stamps", files=pdf_file(sample_pdf),
                          headers=auth(funded)).content
    for remove in (True, False):
        r = client.post("/api/v1/verify",
                        files=pdf_file(_signed_without_byterange(stamped, remove=remove)))
        assert r.status_code == 422, r.text
        assert r.json()["error"] in {"malformed_signature", "corrupt_pdf"}
        assert "ByteRange" in r.json()["message"] or r.json()["message"]


@pytest.mark.parametrize("path", ["/", "/masuk", "/verifikasi", "/healthz", "/api/v1/quota",
                                  "/no-such-page", "/verify/AAAAAAAAAAAAAAAAAAAAAA"])
def test_every_response_refuses_framing(client: TestClient, path: str) -> None:
    r = client.get(path)
    for name, value in SECURITY_HEADERS.items():
        assert r.headers[name] == value, (path, name)
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
