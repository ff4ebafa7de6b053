"""Settings come from the environment once; every variable is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from statuspage.settings import ENV_VARS, Settings

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_use_sqlite_in_data_dir(tmp_path: Path) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path / 'statuspage.sqlite3'}"
    assert settings.is_sqlite
    assert not settings.cookie_secure  # the default page URL is plain http


def test_secret_is_generated_once_and_shared(tmp_path: Path) -> None:
    first = Settings.from_env({}, data_dir=tmp_path).secret_key
    second = Settings.from_env({}, data_dir=tmp_path).secret_key
    assert first == second and len(first) >= 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_environment_is_read(tmp_path: Path) -> None:
    env = {
        "STATUSPAGE_DATA_DIR": str(tmp_path),
        "STATUSPAGE_DATABASE_URL": "postgresql+psycopg://u@h/db",
        "STATUSPAGE_SECRET_KEY": "k" * 40,
        "STATUSPAGE_STAMPING_URL": "https://meterai.example",
        "STATUSPAGE_COOKIE_SECURE": "true",
    }
    settings = Settings.from_env(env)
    assert settings.data_dir == tmp_path
    assert settings.database_url.startswith("postgresql")
    assert not settings.is_sqlite
    assert settings.secret_key == "k" * 40
    assert settings.stamping_url == "https://meterai.example"
    assert settings.cookie_secure


def test_only_settings_reads_the_environment() -> None:
    """Configuration is read in one place; copying the environment for a child is fine."""
    reads = re.compile(r"os\.environ\.get|os\.environ\[|getenv\(")
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "statuspage").rglob("*.py")
        if path.name != "settings.py" and reads.search(path.read_text("utf-8"))
    ]
    assert offenders == []


def test_every_variable_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    missing = [name for name in ENV_VARS if f"`{name}`" not in readme]
    assert missing == []


def test_mail_settings_are_checked_at_start(tmp_path: Path) -> None:
    good = Settings.from_env({"STATUSPAGE_DATA_DIR": str(tmp_path),
                              "STATUSPAGE_SMTP_URL": "smtps://u:p@mail.example.id:465",
                              "STATUSPAGE_MAIL_FROM": "status@example.go.id",
                              "STATUSPAGE_SMTP_TIMEOUT": "10"})
    assert (good.smtp_url, good.mail_from, good.smtp_timeout_s) == (
        "smtps://u:p@mail.example.id:465", "status@example.go.id", 10.0)
    assert Settings.from_env({"STATUSPAGE_DATA_DIR": str(tmp_path)}).smtp_url is None
    for bad in ({"STATUSPAGE_SMTP_URL": "http://mail.example.id"},
                {"STATUSPAGE_MAIL_FROM": "Status <status@example.go.id>"},
                {"STATUSPAGE_SMTP_TIMEOUT": "0"}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            Settings.from_env({"STATUSPAGE_DATA_DIR": str(tmp_path), **bad})
