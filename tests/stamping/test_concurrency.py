"""Many concurrent stamp requests on a small quota spend exactly the quota."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from starlette.testclient import TestClient

from stamping import ledger, store
from stamping.rules import hash_token
from stamping.settings import Settings
from tests.stamping.conftest import auth, buy, pdf_file, register


@pytest.fixture
def stamping_settings(roomy_queue_settings: Settings) -> Settings:
    """Concurrent requests here are about the quota, not shedding."""
    return roomy_queue_settings


def test_concurrent_stamps_spend_exactly_the_quota(client: TestClient,
                                                   sample_pdf: bytes) -> None:
    token = register(client)
    buy(client, token, 5)
    other = register(client, phone="081355556666")
    buy(client, other, 2, key="other")

    def stamp(_: int) -> tuple[int, str | None, str]:
        r = client.post("/api/v1/stamps", files=pdf_file(sample_pdf), headers=auth(token))
        body = "" if r.status_code == 201 else r.json()["error"]
        return r.status_code, r.headers.get("x-serial-number"), body

    with ThreadPoolExecutor(max_workers=24) as pool:
        results = list(pool.map(stamp, range(24)))
    ok = [serial for status, serial, _ in results if status == 201]
    refused = [(status, error) for status, _, error in results if status != 201]
    assert len(ok) == 5, results
    assert len(set(ok)) == 5
    assert all(r == (402, "quota_exhausted") for r in refused), refused
    assert client.get("/api/v1/quota", headers=auth(token)).json() == {"available": 0,
                                                                        "spent": 5}
    # The other account is untouched, and every serial is in the ledger as issued.
    assert client.get("/api/v1/quota", headers=auth(other)).json() == {"available": 2,
                                                                        "spent": 0}
    db = client.app.state.service.db  # type: ignore[attr-defined]
    for serial in ok:
        record = db.read_sync(ledger.stamp_record, serial)
        assert record is not None and record.status == "issued" and record.sha256_after


def test_concurrent_payment_callbacks_credit_once(client: TestClient) -> None:
    token = register(client)
    r = client.post("/api/v1/orders", json={"quantity": 7},
                    headers={**auth(token), "Idempotency-Key": "race"})
    ref = r.json()["payment"]["payment_ref"]
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda _: client.post(f"/api/v1/payments/simulate/{ref}"),
                                range(10)))
    credited = [x.json()["callback"]["credited"] for x in results if x.status_code == 200]
    assert credited.count(True) == 1
    assert client.get("/api/v1/quota", headers=auth(token)).json()["available"] == 7


def test_concurrent_orders_with_one_key_make_one_order(client: TestClient) -> None:
    token = register(client)
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(
            lambda _: client.post("/api/v1/orders", json={"quantity": 2},
                                  headers={**auth(token), "Idempotency-Key": "same"}),
            range(10)))
    assert {r.status_code for r in results} == {201}
    assert len({r.json()["order_id"] for r in results}) == 1


def test_orphaned_reservations_are_released(client: TestClient) -> None:
    import datetime as dt

    token = register(client)
    buy(client, token, 2)
    svc = client.app.state.service  # type: ignore[attr-defined]
    account = svc.db.read_sync(store.account_for_token, hash_token(token))
    now = dt.datetime.now(dt.UTC)
    # A process crashed between reserving and committing: the unit is held...
    assert svc.db.write_sync(ledger.reserve_stamp, account, "CRASHEDCRASHEDCRASHED2", now)
    assert client.get("/api/v1/quota", headers=auth(token)).json()["available"] == 1
    # ...until the sweeper finds it older than the reservation timeout.
    assert svc.db.write_sync(ledger.release_stale, now - dt.timedelta(seconds=1)) == 0
    assert svc.db.write_sync(ledger.release_stale, now + dt.timedelta(seconds=1)) == 1
    assert client.get("/api/v1/quota", headers=auth(token)).json() == {"available": 2,
                                                                        "spent": 0}
    assert svc.db.read_sync(ledger.stamp_record, "CRASHEDCRASHEDCRASHED2") is None
