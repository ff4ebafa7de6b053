"""Stamping and verification, checked with pyHanko, qpdf and pdfsig."""

from __future__ import annotations

import io
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from starlette.testclient import TestClient

from stamping.settings import Settings
from tests.stamping.conftest import auth, buy, pdf_file, register
from tests.stamping.pdfs import make_pdf
from tests.tools import require_tools

SERIAL = re.compile(r"^[A-Z0-9]{22}$")


def _stamp(client: TestClient, token: str, data: bytes, **form: str) -> tuple[int, bytes, dict]:
    r = client.post("/api/v1/stamps", files=pdf_file(data), data=form, headers=auth(token))
    return r.status_code, r.content, dict(r.headers)


@pytest.fixture
def funded(client: TestClient) -> str:
    """A verified account with 3 paid stamps."""
    token = register(client)
    buy(client, token, 3)
    return token


def test_stamp_produces_valid_pades_document(client: TestClient, funded: str,
                                             sample_pdf: bytes, stamping_settings: Settings,
                                             tmp_path: Path) -> None:
    qpdf = require_tools("qpdf")["qpdf"]
    status, body, headers = _stamp(client, funded, sample_pdf)
    assert status == 201, body
    serial = headers["x-serial-number"]
    assert SERIAL.match(serial)
    assert headers["content-type"] == "application/pdf"
    assert client.get("/api/v1/quota", headers=auth(funded)).json() == {"available": 2,
                                                                         "spent": 1}
    # pyHanko: intact, trusted by the service CA, PAdES subfilter, field named by serial.
    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509

    ca_pem = client.get("/ca.pem").content
    _, _, der = pem.unarmor(ca_pem)
    reader = PdfFileReader(io.BytesIO(body))
    sig = reader.embedded_signatures[0]
    assert sig.field_name == f"Meterai_{serial}"
    assert str(sig.sig_object["/SubFilter"]) == "/ETSI.CAdES.detached"
    status_ = validate_pdf_signature(
        sig, ValidationContext(trust_roots=[asn1_x509.Certificate.load(der)]))
    assert status_.intact and status_.valid and status_.trusted
    # The visible stamp carries the QR link, the words and the serial.
    page = reader.root["/Pages"]["/Kids"][0].get_object()
    uris = [str(a.get_object()["/A"]["/URI"]) for a in page["/Annots"]
            if a.get_object().get("/Subtype") == "/Link"]
    assert uris == [f"http://stamping.test/verify/{serial}"]
    appearance = sig.sig_field["/AP"]["/N"].data
    for words in (b"(METERAI)", b"(ELEKTRONIK)", b"(10000)", b"(SEPULUH RIBU RUPIAH)",
                  b"(SIMULASI)", f"({serial[:11]})".encode(), f"({serial[11:]})".encode()):
        assert words in appearance
    # qpdf: structurally sound.
    out = tmp_path / "stamped.pdf"
    out.write_bytes(body)
    check = subprocess.run([qpdf, "--check", str(out)], capture_output=True, text=True,
                           check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    # Our own verification endpoint and the QR target agree.
    v = client.post("/api/v1/verify", files=pdf_file(body)).json()
    assert v["valid"] is True and v["serial"] == serial and v["reasons"] == []
    j = client.get(f"/verify/{serial}", headers={"Accept": "application/json"}).json()
    assert j["exists"] is True and j["document_sha256"] == v["document_sha256"]
    own = client.get(f"/api/v1/stamps/{serial}", headers=auth(funded)).json()
    assert own["status"] == "issued" and own["document_sha256"] == v["document_sha256"]
    other = register(client, phone="081299998888")
    assert client.get(f"/api/v1/stamps/{serial}", headers=auth(other)).status_code == 404
    html = client.get(f"/verify/{serial}")
    assert html.status_code == 200 and "Nomor seri terdaftar" in html.text
    assert serial in html.text
    assert " WIB</dd>" in html.text and "+00:00" not in html.text  # a time for a person


def test_pdfsig_accepts_the_signature(client: TestClient, funded: str, sample_pdf: bytes,
                                      tmp_path: Path) -> None:
    # pdfsig needs an NSS database (certutil makes it) even to check the signature's integrity
    tools = require_tools("pdfsig", "certutil")
    status, body, _ = _stamp(client, funded, sample_pdf)
    assert status == 201
    pdf = tmp_path / "stamped.pdf"
    pdf.write_bytes(body)
    nss = tmp_path / "nss"
    nss.mkdir()
    (tmp_path / "ca.pem").write_bytes(client.get("/ca.pem").content)
    certutil = tools["certutil"]
    subprocess.run([certutil, "-N", "-d", f"sql:{nss}", "--empty-password"], check=True)
    subprocess.run([certutil, "-A", "-d", f"sql:{nss}", "-n", "meterai-ca", "-t",
                    "CT,C,C", "-i", str(tmp_path / "ca.pem")], check=True)
    res = subprocess.run([tools["pdfsig"], "-nssdir", f"sql:{nss}", str(pdf)],
                         capture_output=True, text=True, check=False)
    assert "Signature is Valid." in res.stdout, res.stdout + res.stderr
    assert "ETSI.CAdES.detached" in res.stdout
    assert "Certificate is Trusted." in res.stdout, res.stdout


def test_documents_with_images_are_stamped(client: TestClient, funded: str) -> None:
    status, body, _ = _stamp(client, funded, make_pdf(jpeg=True))
    assert status == 201, body[:300]


def test_page_and_box_choices(client: TestClient, funded: str) -> None:
    doc = make_pdf(pages=3)
    status, body, _ = _stamp(client, funded, doc, page="2", box="72,72,172,172")
    assert status == 201
    reader = PdfFileReader(io.BytesIO(body))
    sig = reader.embedded_signatures[0]
    widget = sig.sig_field
    annots = reader.root["/Pages"]["/Kids"][1].get_object()["/Annots"]
    assert any(a.get_object().get("/T") == widget.get("/T") for a in annots)
    assert [round(float(v)) for v in widget["/Rect"]] == [72, 72, 172, 172]


BAD_PLACEMENTS = [
    ({"page": "4"}, "bad_page"),
    ({"page": "0"}, "bad_page"),
    ({"page": "dua"}, "bad_page"),
    ({"box": "500,700,700,900"}, "bad_box"),
    ({"box": "1,2,3"}, "bad_box"),
    ({"box": "100,100,50,50"}, "bad_box"),
    ({"box": "100,100,150,150"}, "too small for a QR code readable at 100 dpi"),
]


def test_page_or_box_outside_document(client: TestClient, funded: str) -> None:
    doc = make_pdf(pages=3)
    for form, error in BAD_PLACEMENTS:
        status, body, _ = _stamp(client, funded, doc, **form)
        assert status == 422, form
        assert error in body.decode(), form
    assert client.get("/api/v1/quota", headers=auth(funded)).json() == {"available": 3,
                                                                         "spent": 0}


def _bad_inputs(sample: bytes) -> list[tuple[str, bytes, int, str]]:
    return [
        ("not a pdf", b"GIF89a this is not a pdf" * 10, 415, "not_pdf"),
        ("truncated", sample[: len(sample) // 3], 422, "corrupt_pdf"),
        ("garbage after header", b"%PDF-1.7\n" + b"\x00\xff" * 500, 422, "corrupt_pdf"),
        ("encrypted", make_pdf(encrypt=True), 422, "encrypted_pdf"),
        ("decompression bomb", make_pdf(bomb_bytes=48 * 1024 * 1024), 422,
         "decompression_bomb"),
    ]


def test_bad_documents_spend_nothing(client: TestClient, funded: str,
                                     sample_pdf: bytes) -> None:
    for label, data, status, error in _bad_inputs(sample_pdf):
        got, body, _ = _stamp(client, funded, data)
        assert (got, error) == (status, error) and error in body.decode(), (label, body[:300])
    assert client.get("/api/v1/quota", headers=auth(funded)).json() == {"available": 3,
                                                                         "spent": 0}
    # The service still works afterwards.
    assert _stamp(client, funded, sample_pdf)[0] == 201


def test_oversized_upload_is_refused_while_streaming(make_settings: Callable[..., Settings],
                                                     sample_pdf: bytes) -> None:
    from stamping.app import create_app

    settings = make_settings(max_upload_bytes=64 * 1024)
    with TestClient(create_app(settings)) as client:
        token = register(client)
        buy(client, token, 1)
        big = sample_pdf + b"%" + b"x" * (200 * 1024)
        status, body, _ = _stamp(client, token, big)
        assert status == 413 and b"too_large" in body

        # Without a Content-Length (chunked), the limit holds while reading.
        def chunks() -> Iterator[bytes]:
            boundary = b"--b0undary"
            yield boundary + b'\r\nContent-Disposition: form-data; name="file"; ' \
                b'filename="a.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
            for _ in range(100):
                yield b"%PDF-1.7" + b"x" * 8192
            yield b"\r\n" + boundary + b"--\r\n"

        r = client.post("/api/v1/stamps", content=chunks(), headers={
            **auth(token), "Content-Type": "multipart/form-data; boundary=b0undary"})
        assert r.status_code == 413
        assert client.get("/api/v1/quota", headers=auth(token)).json()["available"] == 1


def test_account_errors(client: TestClient, sample_pdf: bytes) -> None:
    r = client.post("/api/v1/stamps", files=pdf_file(sample_pdf))
    assert r.status_code == 401
    r = client.post("/api/v1/stamps", files=pdf_file(sample_pdf), headers=auth("stm_unknown"))
    assert r.status_code == 401
    token = register(client)
    status, body, _ = _stamp(client, token, sample_pdf)
    assert status == 402 and b"quota_exhausted" in body
    r = client.post("/api/v1/stamps", data={"x": "y"}, headers=auth(token))
    assert r.status_code in (400, 402, 415)


def test_verification_detects_tampering(client: TestClient, funded: str,
                                        sample_pdf: bytes) -> None:
    status, body, headers = _stamp(client, funded, sample_pdf)
    assert status == 201
    # Change a byte inside the signed range (the page text).
    tampered = body.replace(b"halaman 1", b"halaman 9", 1)
    assert tampered != body
    v = client.post("/api/v1/verify", files=pdf_file(tampered)).json()
    assert v["valid"] is False and v["reasons"]
    # An unsigned document has no stamp; an appended update is reported.
    v = client.post("/api/v1/verify", files=pdf_file(sample_pdf)).json()
    assert v["valid"] is False and v["serial"] is None
    appended = body + b"\n% appended comment\n"
    v = client.post("/api/v1/verify", files=pdf_file(appended)).json()
    assert v["valid"] is False and v["serial"] == headers["x-serial-number"]
    bad = client.post("/api/v1/verify", files=pdf_file(b"not a pdf at all"))
    assert bad.status_code == 415


def test_unknown_serial(client: TestClient) -> None:
    r = client.get("/verify/AAAAAAAAAAAAAAAAAAAAAA", headers={"Accept": "application/json"})
    assert r.status_code == 404 and r.json()["exists"] is False
    r = client.get("/verify/<script>alert(1)<script>")
    assert r.status_code == 404 and "tidak ditemukan" in r.text
    assert "<SCRIPT>" not in r.text.upper().replace("&LT;SCRIPT&GT;", "")
