"""Purchases: idempotency, the simulated QRIS gateway and exactly-once crediting."""

from __future__ import annotations

import datetime as dt
import json

from starlette.testclient import TestClient

from stamping import gateway, orders
from stamping.settings import Settings
from tests.stamping.conftest import PAYMENT_SECRET, auth, buy, register


def _order(client: TestClient, token: str, quantity: int, key: str) -> dict[str, object]:
    r = client.post("/api/v1/orders", json={"quantity": quantity},
                    headers={**auth(token), "Idempotency-Key": key})
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_order_shape_and_idempotency(client: TestClient,
                                     stamping_settings: Settings) -> None:
    token = register(client)
    first = _order(client, token, 3, "key-a")
    assert first["quantity"] == 3
    assert first["amount"] == 3 * (10_000 + 2_500)
    assert first["status"] == "pending"
    payment = first["payment"]
    assert isinstance(payment, dict) and payment["method"] == "QRIS"
    assert str(payment["qris"]).startswith("000201")
    again = client.post("/api/v1/orders", json={"quantity": 3},
                        headers={**auth(token), "Idempotency-Key": "key-a"})
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["order_id"] == first["order_id"]
    conflict = client.post("/api/v1/orders", json={"quantity": 4},
                           headers={**auth(token), "Idempotency-Key": "key-a"})
    assert conflict.status_code == 409
    assert _order(client, token, 3, "key-b")["order_id"] != first["order_id"]


def test_order_input_errors(client: TestClient) -> None:
    token = register(client)
    r = client.post("/api/v1/orders", json={"quantity": 1}, headers=auth(token))
    assert r.status_code == 400 and r.json()["error"] == "missing_idempotency_key"
    for q in [0, -1, "2", 1.5, 10_001, None]:
        r = client.post("/api/v1/orders", json={"quantity": q},
                        headers={**auth(token), "Idempotency-Key": f"k{q}"})
        assert r.status_code == 422, q
    r = client.post("/api/v1/orders", json={"quantity": 1}, headers={"Idempotency-Key": "x"})
    assert r.status_code == 401


def test_payment_credits_exactly_once(client: TestClient) -> None:
    token = register(client)
    order = _order(client, token, 4, "pay-1")
    ref = order["payment"]["payment_ref"]  # type: ignore[index]
    sim = client.post(f"/api/v1/payments/simulate/{ref}")
    assert sim.status_code == 200 and sim.json()["callback"]["credited"] is True
    assert client.get("/api/v1/quota", headers=auth(token)).json()["available"] == 4
    # The gateway retries the same notification: refused as a replay, nothing credited.
    body, sig = sim.json()["notification"].encode(), sim.json()["signature"]
    replay = client.post("/api/v1/payments/callback", content=body,
                         headers={gateway.SIGNATURE_HEADER: sig})
    assert replay.status_code == 409 and replay.json()["error"] == "replayed"
    # A second, different notification for the same order: accepted, nothing credited.
    again = client.post(f"/api/v1/payments/simulate/{ref}")
    assert again.status_code == 200 and again.json()["callback"]["credited"] is False
    assert client.get("/api/v1/quota", headers=auth(token)).json() == {"available": 4,
                                                                       "spent": 0}
    got = client.get(f"/api/v1/orders/{order['order_id']}", headers=auth(token)).json()
    assert got["status"] == "paid" and got["paid_at"]


def test_forged_and_stale_callbacks_are_refused(client: TestClient) -> None:
    token = register(client)
    order = _order(client, token, 2, "forge")
    now = dt.datetime.now(dt.UTC)
    body, sig = gateway.build_notification(b"not-the-key", str(order["order_id"]), 25_000, now)
    r = client.post("/api/v1/payments/callback", content=body,
                    headers={gateway.SIGNATURE_HEADER: sig})
    assert r.status_code == 401 and r.json()["error"] == "bad_signature"
    r = client.post("/api/v1/payments/callback", content=body)
    assert r.status_code == 401
    old = now - dt.timedelta(hours=1)
    body, sig = gateway.build_notification(PAYMENT_SECRET.encode(), str(order["order_id"]),
                                           25_000, old)
    r = client.post("/api/v1/payments/callback", content=body,
                    headers={gateway.SIGNATURE_HEADER: sig})
    assert r.status_code == 400 and r.json()["error"] == "stale_notification"
    body, sig = gateway.build_notification(PAYMENT_SECRET.encode(), str(order["order_id"]),
                                           1, now)
    r = client.post("/api/v1/payments/callback", content=body,
                    headers={gateway.SIGNATURE_HEADER: sig})
    assert r.status_code == 400 and r.json()["error"] == "amount_mismatch"
    forged = json.dumps({"event_id": "x", "order_id": "nope", "amount": 1, "status": "PAID",
                         "paid_at": now.isoformat()}).encode()
    r = client.post("/api/v1/payments/callback", content=forged,
                    headers={gateway.SIGNATURE_HEADER: gateway.sign(PAYMENT_SECRET.encode(),
                                                                    forged)})
    assert r.status_code == 404
    assert client.get("/api/v1/quota", headers=auth(token)).json()["available"] == 0


def test_expired_order_is_not_credited(client: TestClient) -> None:
    token = register(client)
    order = _order(client, token, 1, "late")
    db = client.app.state.service.db  # type: ignore[attr-defined]
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert db.write_sync(orders.expire_orders, later) == 1
    got = client.get(f"/api/v1/orders/{order['order_id']}", headers=auth(token)).json()
    assert got["status"] == "expired"
    r = client.post(f"/api/v1/payments/simulate/{order['payment']['payment_ref']}")  # type: ignore[index]
    assert r.status_code == 409 and r.json()["error"] == "order_expired"
    assert client.get("/api/v1/quota", headers=auth(token)).json()["available"] == 0


def test_unknown_order_and_payment(client: TestClient) -> None:
    token = register(client)
    assert client.get("/api/v1/orders/nope", headers=auth(token)).status_code == 404
    assert client.post("/api/v1/payments/simulate/QRNOPE").status_code == 404
    buy(client, token, 2)
    assert client.get("/api/v1/quota", headers=auth(token)).json()["available"] == 2
