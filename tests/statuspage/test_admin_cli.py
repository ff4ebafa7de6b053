"""``statuspage operator add | unlock`` and ``statuspage token create``."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from statuspage.app import create_app
from statuspage.auth import password_hasher
from statuspage.cli import main
from statuspage.db import Database
from statuspage.models.operators import AuditEntry, Operator
from statuspage.settings import Settings
from statuspage.store.operators import authenticate


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_operator_add_token_create_unlock(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    data = ("--data-dir", str(tmp_path))
    code, out, _ = run(capsys, "operator", "add", "Admin@Example.id", "--role", "admin",
                       "--password", "kata-sandi-panjang", *data)
    assert code == 0 and "admin@example.id (admin) added" in out
    assert "kata-sandi-panjang" not in out
    # no terminal and no --password: a generated password is printed once
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    code, out, _ = run(capsys, "operator", "add", "ops@example.id", *data)
    assert code == 0 and "password (shown once): " in out
    generated = out.rsplit("password (shown once): ", 1)[1].strip()
    assert len(generated) >= 16
    code, _, err = run(capsys, "operator", "add", "ops@example.id", "--password", "x" * 12,
                       *data)
    assert code == 1 and "sudah terdaftar" in err
    code, _, err = run(capsys, "operator", "add", "baru@example.id", "--password", "pendek",
                       *data)
    assert code == 1 and "minimal" in err

    code, out, _ = run(capsys, "token", "create", "ops@example.id", "--name", "deploy", *data)
    assert code == 0
    token = out.strip()
    assert token.startswith("spt_") and len(token) > 40
    code, _, err = run(capsys, "token", "create", "nobody@example.id", "--name", "x", *data)
    assert code == 1

    settings = Settings.from_env({}, data_dir=tmp_path)
    db = Database(settings.database_url)
    hasher = password_hasher(settings.argon2_profile)
    try:
        with db.session() as s:
            op = s.scalars(sa.select(Operator).where(Operator.email == "ops@example.id")).one()
            assert op.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        for _ in range(5):
            with db.session() as s:
                authenticate(s, hasher, "ops@example.id", "salah", address="127.0.0.1")
        with db.session() as s:
            assert authenticate(s, hasher, "ops@example.id", generated,
                                address="127.0.0.1").reason == "locked"
        code, out, _ = run(capsys, "operator", "unlock", "ops@example.id", *data)
        assert code == 0 and "lockout lifted" in out
        with db.session() as s:
            assert authenticate(s, hasher, "ops@example.id", generated,
                                address="127.0.0.2").operator is not None
        with db.session() as s:
            kinds = set(s.scalars(sa.select(AuditEntry.actor_kind)))
            assert "cli" in kinds
    finally:
        db.dispose()

    with TestClient(create_app(settings)) as client:
        response = client.post("/api/v1/incidents", headers={"Authorization": f"Bearer {token}"},
                               json={"name": "Dari CLI", "body": "Token dari CLI berfungsi."})
        assert response.status_code == 201, response.text


def test_help_lists_console_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "operator" in out and "token" in out
