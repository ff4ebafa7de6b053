"""``serve --demo`` gives the bundled stamping service a fault-injection token and says how."""

from __future__ import annotations

from pathlib import Path

from statuspage.cli.demo_faults import TOKEN_FILE, demo_fault_token, fault_commands
from statuspage.settings import Settings


def test_token_is_kept_private_and_reused(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    env: dict[str, str] = {}
    token = demo_fault_token(settings, env)
    assert token and env["STAMPING_ADMIN_TOKEN"] == token
    path = Path(settings.data_dir) / TOKEN_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    assert demo_fault_token(settings, {}) == token  # same across restarts
    assert demo_fault_token(settings, {"STAMPING_ADMIN_TOKEN": "mine"}) == "mine"


def test_no_token_for_an_external_service(settings: Settings) -> None:
    external = settings.with_changes(stamping_url="https://x.example")
    assert demo_fault_token(external, {}) is None


def test_commands_name_the_port_token_and_every_fault() -> None:
    text = fault_commands("tok", 8001)
    assert "http://127.0.0.1:8001/api/v1/admin/faults" in text
    assert "Bearer tok" in text
    for fault in ('"down": true', '"latency_ms"', '"error_rate"', "'{}'"):
        assert fault in text
