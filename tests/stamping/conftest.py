"""Fixtures of the stamping tests: a CA made once, settings, the app and a client.

Every database-backed test runs on SQLite and PostgreSQL through the shared
``make_database_url`` fixture.  The app runs in-process with its lifespan (TestClient as a
context manager), with a real two-process signing pool.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from stamping.app import create_app
from stamping.pki import ensure_pki
from stamping.settings import Settings
from tests.stamping.pdfs import make_pdf

ADMIN_TOKEN = "admin-token-for-tests"
PAYMENT_SECRET = "payment-secret-for-tests"


@pytest.fixture(scope="session")
def pki_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding a CA and signing key, generated once per session."""
    base = tmp_path_factory.mktemp("pki-template")
    ensure_pki(base)
    return base


@pytest.fixture(scope="session")
def sample_pdf() -> bytes:
    """A one-page A4 PDF."""
    return make_pdf()


@pytest.fixture
def make_settings(make_database_url: Callable[..., str], tmp_path: Path,
                  pki_template: Path) -> Callable[..., Settings]:
    """Settings on a fresh database and data directory; keyword arguments override."""
    data_dir = tmp_path / "data"
    if not data_dir.exists():
        shutil.copytree(pki_template / "pki", data_dir / "pki")
    url = make_database_url("stamping", migrated="stamping")  # a copy of the migrated template

    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "data_dir": data_dir, "database_url": url, "admin_token": ADMIN_TOKEN,
            "payment_secret": PAYMENT_SECRET, "sign_workers": 2,
            "public_url": "http://stamping.test",
        }
        values.update(overrides)
        return Settings.from_env({}, **values)

    return make


@pytest.fixture
def stamping_settings(make_settings: Callable[..., Settings]) -> Settings:
    """Default test settings."""
    return make_settings()


@pytest.fixture
def roomy_queue_settings(make_settings: Callable[..., Settings]) -> Settings:
    """A stamp queue that holds every request a test sends at once, for tests about quota and
    idempotency, not shedding (a module overrides ``stamping_settings`` with it). The queue is
    sized from the measured signing time, and a machine busy with other tests signs slowly
    enough that a queue of half a second refused some of 24 requests at once (503, where the
    test looked for 402)."""
    return make_settings(stamp_queue_seconds=60.0)


@pytest.fixture
def client(stamping_settings: Settings) -> Iterator[TestClient]:
    """A client of a running app (lifespan started: migrations, pool)."""
    with TestClient(create_app(stamping_settings)) as c:
        yield c


def register(client: TestClient, phone: str = "081234567890", name: str = "Siti Aminah",
             password: str = "rahasia-sekali") -> str:  # noqa: S107
    """Register and verify an account through the API; returns its token."""
    r = client.post("/api/v1/accounts", json={"phone": phone, "name": name,
                                               "password": password})
    assert r.status_code == 201, r.text
    otp = latest_otp(client, r.json()["phone"])
    r = client.post("/api/v1/accounts/verify", json={"phone": phone, "otp": otp})
    assert r.status_code == 200, r.text
    return str(r.json()["token"])


def latest_otp(client: TestClient, phone: str) -> str:
    """The OTP the default sender put in the outbox."""
    from stamping import store

    code = client.app.state.service.db.read_sync(store.latest_otp, phone)  # type: ignore[attr-defined]
    assert code is not None
    return str(code)


def auth(token: str) -> dict[str, str]:
    """Authorization header."""
    return {"Authorization": f"Bearer {token}"}


def buy(client: TestClient, token: str, quantity: int, key: str = "order-1") -> dict[str, object]:
    """Order stamps and pay through the simulated gateway; returns the paid order."""
    r = client.post("/api/v1/orders", json={"quantity": quantity},
                    headers={**auth(token), "Idempotency-Key": key})
    assert r.status_code == 201, r.text
    order = r.json()
    if order["status"] != "paid":
        ref = order["payment"]["payment_ref"]
        p = client.post(f"/api/v1/payments/simulate/{ref}")
        assert p.status_code == 200, p.text
        order = client.get(f"/api/v1/orders/{order['order_id']}", headers=auth(token)).json()
    assert order["status"] == "paid"
    return dict(order)


def pdf_file(data: bytes, name: str = "surat.pdf") -> dict[str, tuple[str, bytes, str]]:
    """The multipart ``files`` argument for an upload."""
    return {"file": (name, data, "application/pdf")}
