"""A stamped document can be downloaded again: a lost response does not lose a paid stamp."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
from starlette.testclient import TestClient

from stamping import ledger
from stamping.settings import Settings
from tests.stamping.conftest import auth, buy, pdf_file, register


@pytest.fixture
def stamping_settings(roomy_queue_settings: Settings) -> Settings:
    """Concurrent retries here are about idempotency, not shedding."""
    return roomy_queue_settings


def test_lost_response_can_be_recovered(client: TestClient, sample_pdf: bytes) -> None:
    token = register(client)
    buy(client, token, 1)
    first = client.post("/api/v1/stamps", files=pdf_file(sample_pdf), headers=auth(token))
    assert first.status_code == 201
    serial = first.headers["x-serial-number"]
    # the response "was lost": the client finds the serial and downloads the same bytes
    again = client.get(f"/api/v1/stamps/{serial.lower()}/document", headers=auth(token))
    assert again.status_code == 200
    assert again.headers["content-type"] == "application/pdf"
    assert again.headers["cache-control"] == "no-store"
    assert again.content == first.content
    assert client.get("/api/v1/quota", headers=auth(token)).json() == {"available": 0,
                                                                       "spent": 1}


def test_only_the_owner_gets_the_document(client: TestClient, sample_pdf: bytes) -> None:
    owner = register(client)
    buy(client, owner, 1)
    serial = client.post("/api/v1/stamps", files=pdf_file(sample_pdf),
                         headers=auth(owner)).headers["x-serial-number"]
    other = register(client, phone="081299998888")
    for path in (f"/api/v1/stamps/{serial}/document", "/api/v1/stamps/NOTASERIAL/document",
                 "/api/v1/stamps/AAAAAAAAAAAAAAAAAAAAAA/document"):
        response = client.get(path, headers=auth(other))
        assert response.status_code == 404
        assert response.json()["error"] == "unknown_document"
    assert client.get(f"/api/v1/stamps/{serial}/document").status_code == 401


def test_old_documents_are_dropped_but_the_ledger_stays(client: TestClient,
                                                        sample_pdf: bytes) -> None:
    token = register(client)
    buy(client, token, 1)
    serial = client.post("/api/v1/stamps", files=pdf_file(sample_pdf),
                         headers=auth(token)).headers["x-serial-number"]
    db = client.app.state.service.db  # type: ignore[attr-defined]
    now = dt.datetime.now(dt.UTC)
    assert db.write_sync(ledger.prune_documents, now - dt.timedelta(hours=1)) == 0
    assert db.write_sync(ledger.prune_documents, now + dt.timedelta(seconds=1)) == 1
    assert client.get(f"/api/v1/stamps/{serial}/document",
                      headers=auth(token)).status_code == 404
    record = client.get(f"/api/v1/stamps/{serial}", headers=auth(token)).json()
    assert record["status"] == "issued"


def test_a_retry_with_the_same_key_spends_nothing(client: TestClient, sample_pdf: bytes) -> None:
    token = register(client)
    buy(client, token, 2)
    headers = {**auth(token), "Idempotency-Key": "surat-lamaran-1"}
    first = client.post("/api/v1/stamps", files=pdf_file(sample_pdf), headers=headers)
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    retry = client.post("/api/v1/stamps", files=pdf_file(sample_pdf), headers=headers)
    assert retry.status_code == 200
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.headers["x-serial-number"] == first.headers["x-serial-number"]
    assert retry.content == first.content
    assert client.get("/api/v1/quota", headers=auth(token)).json() == {"available": 1,
                                                                       "spent": 1}
    other_key = client.post("/api/v1/stamps", files=pdf_file(sample_pdf),
                            headers={**auth(token), "Idempotency-Key": "surat-lamaran-2"})
    assert other_key.status_code == 201
    assert other_key.headers["x-serial-number"] != first.headers["x-serial-number"]
    too_long = client.post("/api/v1/stamps", files=pdf_file(sample_pdf),
                           headers={**auth(token), "Idempotency-Key": "k" * 101})
    assert too_long.status_code == 400
    assert too_long.json()["error"] == "bad_idempotency_key"


def test_concurrent_retries_make_one_stamp(client: TestClient, sample_pdf: bytes) -> None:
    token = register(client)
    buy(client, token, 3)
    headers = {**auth(token), "Idempotency-Key": "sekali-saja"}

    def send(_: int) -> tuple[int, str | None]:
        r = client.post("/api/v1/stamps", files=pdf_file(sample_pdf), headers=headers)
        return r.status_code, r.headers.get("x-serial-number") or r.json()["error"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(send, range(8)))
    made = [serial for status, serial in results if status == 201]
    assert len(made) == 1, results
    for status, value in results:
        # a replay of the one stamp, or "still being made" while it was signing
        assert (status, value) in ((201, made[0]), (200, made[0]),
                                   (409, "stamp_in_progress")), results
    assert client.get("/api/v1/quota", headers=auth(token)).json() == {"available": 2,
                                                                       "spent": 1}
