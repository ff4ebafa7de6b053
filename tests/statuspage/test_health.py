"""Liveness and readiness."""

from starlette.testclient import TestClient

from statuspage.db import Database


def test_healthz_answers_without_database(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.text == "ok"


def test_readyz_reports_database(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"ready": True, "leader": None}


def test_readyz_is_503_when_database_is_gone(client: TestClient) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]
    services.db = Database("postgresql+psycopg://nobody@127.0.0.1:1/none")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["ready"] is False
