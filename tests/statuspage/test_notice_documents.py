"""The signed notice PDF, its certificate and the notice feeds, checked independently."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import feedparser
import pytest
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import SignatureCoverageLevel, async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from starlette.testclient import TestClient

from statuspage.db import Database
from statuspage.deadline_delivery import notice_hook
from statuspage.settings import Settings
from statuspage.store.audit import Actor
from statuspage.store.notices import evaluate_deadlines, publish_notice
from tests.statuspage.test_deadlines_views import DEADLINE, START, add_results
from tests.statuspage.test_deadlines_views import config_text as config_text  # noqa: F401

H = timedelta(hours=1)


def _pdfsig() -> str | None:
    found = shutil.which("pdfsig")
    if found is None and os.environ.get("CI"):
        pytest.fail("pdfsig (poppler-utils) must be installed under CI")
    return found


def validate(pdf: bytes, cert_pem: bytes) -> tuple[bool, bool]:
    """(intact, trusted) according to pyHanko, trusting only the published certificate."""
    _, _, der = pem.unarmor(cert_pem)
    context = ValidationContext(trust_roots=[asn1_x509.Certificate.load(der)])
    reader = PdfFileReader(io.BytesIO(pdf))
    (sig,) = reader.embedded_signatures
    status = asyncio.run(async_validate_pdf_signature(sig, context))
    entire = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    return status.intact and status.valid and entire, status.trusted


@pytest.fixture
def published(settings: Settings, db: Database) -> None:
    add_results(db, START, DEADLINE, failing=(DEADLINE - 30 * H, DEADLINE - 4 * H))
    evaluate_deadlines(db.session, settings.config, DEADLINE - 2 * H)
    with db.session() as session:
        publish_notice(session, Actor("op@example.invalid"), "casn-2024",
                       "Kami memohon maaf atas gangguan pembelian.", "We apologise.",
                       DEADLINE - 2 * H, settings.config, hook=notice_hook(settings.config))


@pytest.mark.usefixtures("published")
def test_notice_pdf_is_signed_and_a_one_byte_change_fails(client: TestClient,
                                                          tmp_path: Path) -> None:
    response = client.get("/deadlines/casn-2024/notice.pdf?lang=en")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    pdf = response.content
    cert = client.get("/deadlines/certificate.pem")
    assert cert.status_code == 200 and cert.content.startswith(b"-----BEGIN CERTIFICATE")
    assert client.get("/deadlines/certificate.pem").content == cert.content  # stable
    assert validate(pdf, cert.content) == (True, True)
    # one byte inside the signed text (a figure's digit) changed
    index = pdf.index(b"stream") + 20
    tampered = pdf[:index] + bytes([pdf[index] ^ 0x01]) + pdf[index + 1:]
    assert validate(tampered, cert.content)[0] is False
    tool = _pdfsig()
    if tool is None:
        pytest.skip("pdfsig not installed")
    (tmp_path / "good.pdf").write_bytes(pdf)
    (tmp_path / "bad.pdf").write_bytes(tampered)
    good = subprocess.run([tool, str(tmp_path / "good.pdf")], capture_output=True, text=True,
                          timeout=60)
    assert "Signature is Valid." in good.stdout, good.stdout
    assert "Total document signed" in good.stdout
    bad = subprocess.run([tool, str(tmp_path / "bad.pdf")], capture_output=True, text=True,
                         timeout=60)
    assert "Signature is Valid." not in bad.stdout, bad.stdout


@pytest.mark.usefixtures("published")
def test_notice_pdf_text_says_the_figures(client: TestClient, tmp_path: Path) -> None:
    tool = shutil.which("pdftotext")
    if tool is None:
        if os.environ.get("CI"):
            pytest.fail("pdftotext (poppler-utils) must be installed under CI")
        pytest.skip("pdftotext not installed")
    path = tmp_path / "n.pdf"
    path.write_bytes(client.get("/deadlines/casn-2024/notice.pdf?lang=en").content)
    text = subprocess.run([tool, "-layout", str(path), "-"], capture_output=True, text=True,
                          timeout=60).stdout
    assert "Deadline impact notice: CASN 2024 registration" in text
    assert "1 day and 2 hours" in text  # 26 h lost
    assert "2 day(s), to Sep 8, 2024, 23:59 WIB" in text
    assert "We apologise." in text
    assert "certificate.pem" in text
    indonesian = tmp_path / "id.pdf"
    indonesian.write_bytes(client.get("/deadlines/casn-2024/notice.pdf?lang=id").content)
    text_id = subprocess.run([tool, str(indonesian), "-"], capture_output=True, text=True,
                             timeout=60).stdout
    assert "Pemberitahuan dampak tenggat" in text_id


@pytest.mark.usefixtures("published")
def test_notice_feeds(client: TestClient) -> None:
    for path in ("/deadlines/casn-2024/notices.atom?lang=en", "/deadlines/notices.rss?lang=en"):
        response = client.get(path)
        assert response.status_code == 200, path
        feed = feedparser.parse(response.content)
        assert not feed.bozo, (path, feed.bozo_exception)
        titles = [e.title for e in feed.entries]
        assert titles == ["CASN 2024 registration: published (extension_recommended)"], titles
        assert "We apologise." in feed.entries[0].content[0].value


def test_unknown_deadline_documents_are_404(client: TestClient) -> None:
    assert client.get("/deadlines/nope/notice.pdf").status_code == 404
    assert client.get("/deadlines/nope/notices.rss").status_code == 404
    everything = client.get("/deadlines/notices.atom")
    assert everything.status_code == 200 and not feedparser.parse(everything.content).entries


@pytest.mark.usefixtures("published")
def test_v2_summary_carries_deadlines_under_our_own_key(client: TestClient) -> None:
    summary = client.get("/api/v2/summary.json").json()
    assert {"page", "components", "incidents", "scheduled_maintenances", "status"} <= set(summary)
    (item,) = summary["emeterai_deadlines"]
    assert item["id"] == "casn-2024" and item["notice"]["state"] == "published"
    assert item["notice"]["recommended_extension_days"] == 2
