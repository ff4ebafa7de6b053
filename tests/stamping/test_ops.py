"""Health, readiness, metrics, the CA, the CLI, migrations and layering."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from stamping.app import create_app
from stamping.cli import main
from stamping.settings import Settings
from tests.stamping.conftest import auth, buy, pdf_file, register


def test_health_ready_and_ca(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    ca = client.get("/ca.pem")
    assert ca.text.startswith("-----BEGIN CERTIFICATE-----")
    page = client.get("/")
    assert page.status_code == 200 and "Meterai Elektronik" in page.text


def test_metrics_count_probe_activity_apart(client: TestClient, sample_pdf: bytes,
                                            make_settings: Callable[..., Settings],
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    settings = make_settings()
    monkeypatch.setenv("STAMPING_DATABASE_URL", settings.effective_database_url)
    assert main(["account", "add", "--phone", "081200001111", "--name", "Probe",
                 "--probe", "--data-dir", str(settings.data_dir)]) == 0
    probe = capsys.readouterr().out.strip().splitlines()[-1]
    assert probe.startswith("stm_")
    order = buy(client, probe, 3)
    assert order["status"] == "paid"  # probe orders are paid at once
    assert client.post("/api/v1/stamps", files=pdf_file(sample_pdf),
                       headers=auth(probe)).status_code == 201
    real = register(client)
    buy(client, real, 2, key="real")
    text = client.get("/metrics").text
    assert 'stamping_quota_sold_total{account_kind="probe"} 3.0' in text
    assert 'stamping_quota_sold_total{account_kind="real"} 2.0' in text
    assert 'stamping_quota_spent_total{account_kind="probe"} 1.0' in text
    assert 'route="/api/v1/stamps"' in text and 'account_kind="probe"' in text
    assert "stamping_http_request_duration_seconds_bucket" in text
    assert 'stamping_queue_depth{gate="stamp"}' in text


def test_cli_account_add_rejects_duplicates_and_bad_phones(
        stamping_settings: Settings, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STAMPING_DATABASE_URL", stamping_settings.effective_database_url)
    args = ["account", "add", "--phone", "081277778888", "--name", "Ani", "--data-dir",
            str(stamping_settings.data_dir)]
    assert main(args) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(args) == 1
    assert main(["account", "add", "--phone", "123", "--name", "X", "--data-dir",
                 str(stamping_settings.data_dir)]) == 2
    # The token works against a server on the same database.
    with TestClient(create_app(stamping_settings)) as client:
        assert client.get("/api/v1/quota", headers=auth(token)).json() == {"available": 0,
                                                                            "spent": 0}


def test_settings_from_env(tmp_path: Path) -> None:
    s = Settings.from_env({"STAMPING_DATA_DIR": str(tmp_path), "STAMPING_ADMIN_TOKEN": "t",
                           "STAMPING_MAX_UPLOAD_BYTES": "800000",
                           "STAMPING_PUBLIC_URL": "https://meterai.example/"})
    assert s.data_dir == tmp_path and s.admin_token == "t" and s.max_upload_bytes == 800_000
    assert s.public_url == "https://meterai.example"
    assert s.effective_database_url == f"sqlite:///{tmp_path / 'stamping.sqlite3'}"
    from stamping.settings import SettingsError

    with pytest.raises(SettingsError, match="STAMPING_MAX_UPLOAD_BYTES"):
        Settings.from_env({"STAMPING_MAX_UPLOAD_BYTES": "lots"})
    with pytest.raises(SettingsError, match="STAMPING_PUBLIC_URL"):
        Settings.from_env({"STAMPING_PUBLIC_URL": "ftp://x"})


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity here")
def test_signing_workers_default_to_the_cpus_the_service_may_use(tmp_path: Path) -> None:
    """Pinned to one CPU (taskset, a container's cpuset), the service starts one signing
    worker, not one per CPU of the machine that would only take turns on it."""
    code = ("import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
            "from stamping.settings import Settings; "
            "print(Settings.from_env({}).workers, Settings.from_env("
            "{'STAMPING_SIGN_WORKERS': '3'}).workers)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(
                             Path(__file__).parents[2])}).stdout.split()
    assert out == ["1", "3"]


def test_every_setting_is_documented() -> None:
    import dataclasses

    source = Path(__file__).parents[2].joinpath("stamping", "settings.py").read_text()
    for f in dataclasses.fields(Settings):
        assert f.name in source
    readme = Path(__file__).parents[2] / "stamping" / "README.md"
    text = readme.read_text()
    for f in dataclasses.fields(Settings):
        assert f"STAMPING_{f.name.upper()}" in text, f.name


def test_stamping_imports_neither_statuspage_nor_probes() -> None:
    root = Path(__file__).parents[2] / "stamping"
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(("statuspage", "probes")), (path, name)
