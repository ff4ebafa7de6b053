"""A stamped document can be downloaded again: a lost response does not lose a paid stamp."""

from __future__ import annotations

import datetime as dt

from starlette.testclient import TestClient

from stamping import store
from tests.stamping.conftest import auth, buy, pdf_file, register


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
    assert db.write_sync(store.prune_documents, now - dt.timedelta(hours=1)) == 0
    assert db.write_sync(store.prune_documents, now + dt.timedelta(seconds=1)) == 1
    assert client.get(f"/api/v1/stamps/{serial}/document",
                      headers=auth(token)).status_code == 404
    record = client.get(f"/api/v1/stamps/{serial}", headers=auth(token)).json()
    assert record["status"] == "issued"
