"""The demo's September 2024 reconstruction: a complete, labelled notice, chart and PDF."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from statuspage.demo import seed_demo
from statuspage.settings import Settings
from tests.statuspage.conftest import TEST_CONFIG


@pytest.fixture
def config_text() -> str:
    return TEST_CONFIG + """
[[probes]]
name = "beli"
kind = "purchase"
component = "pembelian"

[[deadlines]]
id = "casn-2024"
name = "Pendaftaran CASN 2024"
name_en = "CASN 2024 registration"
agency = "BKN"
at = 2024-09-06T23:59:00+07:00
opened_at = 2024-08-20T00:00:00+07:00
legal_min_days = 15
components = ["pembelian", "pembubuhan"]
"""


def test_reconstruction_gives_a_complete_labelled_notice(settings: Settings,
                                                         client: TestClient) -> None:
    assert seed_demo(settings)
    report = client.get("/api/v1/deadlines/casn-2024/impact.json").json()
    # hand computation from the reconstruction's table (lost share x hours, WIB):
    # 3 Sep 08-24 0.86x16 + 4 Sep 0.52x6 + 0.82x18 + 5 Sep 0.72x20 + 0.6x4 + 6 Sep 0.7x24
    # + 7 Sep 0.44x24 + 8 Sep 0.1x24 = 78.2 h -> ceil(3.26 days) = 4 days
    assert report["lost_seconds"] == pytest.approx(78.2 * 3600, abs=1)
    assert report["recommended_extension_days"] == 4
    assert report["evidence"]["recommendation"]["by_legal_minimum"] == 1  # 17.99 - 3.26 < 15
    assert report["deadline"]["at"] == "2024-09-10T16:59:00.000Z"  # BKN's decision
    assert report["notice"]["state"] == "final"
    kinds = [u["kind"] for u in report["notice"]["updates"]]
    assert kinds[0] == "final" and kinds[-1] == "published"
    assert report["evidence"]["sources"] == ["reconstruction: public reports Sep 2024"]
    page = client.get("/deadlines/casn-2024?lang=en").text
    assert "Reconstruction" in page and "not observations by this page" in page
    assert "Pendaftaran diperpanjang sampai 10 Sep 2024 23.59 WIB" in page
    assert "decision" in kinds  # the notice says what the agency decided
    pdf = client.get("/deadlines/casn-2024/notice.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert b"/ByteRange" in pdf.content
