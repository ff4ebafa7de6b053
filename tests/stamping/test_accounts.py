"""Registration, OTP verification, login and tokens."""

from __future__ import annotations

from starlette.testclient import TestClient

from stamping.settings import Settings
from tests.stamping.conftest import auth, latest_otp, register


def test_register_verify_and_use_token(client: TestClient) -> None:
    token = register(client, phone="0812-3456-7890")
    r = client.get("/api/v1/quota", headers=auth(token))
    assert r.status_code == 200
    assert r.json() == {"available": 0, "spent": 0}


def test_phone_forms_are_normalised_and_duplicates_refused(client: TestClient) -> None:
    register(client, phone="+62 812 3456 7890")
    r = client.post("/api/v1/accounts", json={"phone": "6281234567890", "name": "X",
                                               "password": "passwort1"})
    assert r.status_code == 409
    assert r.json()["error"] == "phone_taken"


def test_bad_registration_input(client: TestClient) -> None:
    for body, code in [
        ({"phone": "12345", "name": "A", "password": "longenough"}, "bad_phone"),
        ({"phone": "+4915112345678", "name": "A", "password": "longenough"}, "bad_phone"),
        ({"phone": "081234567890", "name": "", "password": "longenough"}, "bad_name"),
        ({"phone": "081234567890", "name": "A", "password": "short"}, "bad_password"),
    ]:
        r = client.post("/api/v1/accounts", json=body)
        assert r.status_code == 422, body
        assert r.json()["error"] == code
    r = client.post("/api/v1/accounts", content=b"not json")
    assert r.status_code == 400 and r.json()["error"] == "bad_json"


def test_wrong_otp_attempts_are_limited(client: TestClient) -> None:
    r = client.post("/api/v1/accounts", json={"phone": "081298765432", "name": "Budi",
                                               "password": "kata-sandi"})
    phone = r.json()["phone"]
    good = latest_otp(client, phone)
    wrong = "000000" if good != "000000" else "111111"
    for _ in range(5):
        r = client.post("/api/v1/accounts/verify", json={"phone": phone, "otp": wrong})
        assert r.status_code == 400 and r.json()["error"] == "invalid_otp"
    r = client.post("/api/v1/accounts/verify", json={"phone": phone, "otp": good})
    assert r.status_code == 429 and r.json()["error"] == "too_many_attempts"
    # Registering again sends a fresh code and resets the counter.
    client.post("/api/v1/accounts", json={"phone": phone, "name": "Budi",
                                          "password": "kata-sandi"})
    r = client.post("/api/v1/accounts/verify",
                    json={"phone": phone, "otp": latest_otp(client, phone)})
    assert r.status_code == 200 and r.json()["token"].startswith("stm_")


def test_login_and_unknown_tokens(client: TestClient) -> None:
    register(client, phone="081211112222", password="kata-sandi-1")
    r = client.post("/api/v1/login", json={"phone": "081211112222", "password": "kata-sandi-1"})
    assert r.status_code == 200
    assert client.get("/api/v1/quota", headers=auth(r.json()["token"])).status_code == 200
    r = client.post("/api/v1/login", json={"phone": "081211112222", "password": "salah-sandi"})
    assert r.status_code == 401
    assert client.get("/api/v1/quota").status_code == 401
    r = client.get("/api/v1/quota", headers=auth("stm_forged"))
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"


def test_expired_otp_is_refused(client: TestClient) -> None:
    import datetime as dt

    from stamping import store

    db = client.app.state.service.db  # type: ignore[attr-defined]
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    db.write_sync(store.register, "+6281233334444", "Rina", "x", "123456",
                  dt.timedelta(minutes=5), past)
    r = client.post("/api/v1/accounts/verify", json={"phone": "081233334444", "otp": "123456"})
    assert r.status_code == 400 and r.json()["error"] == "otp_expired"


def test_the_otp_sender_is_pluggable(stamping_settings: Settings) -> None:
    import datetime as dt

    from stamping.app import create_app

    sent: list[tuple[str, str]] = []

    class Recorder:
        async def send(self, phone: str, code: str, expires_at: dt.datetime) -> None:
            sent.append((phone, code))

    with TestClient(create_app(stamping_settings, otp_sender=Recorder())) as client:
        client.post("/api/v1/accounts", json={"phone": "081244445555", "name": "Agus",
                                               "password": "kata-sandi"})
        assert sent == [("+6281244445555", latest_otp(client, "+6281244445555"))]
