"""One frozen Settings object: environment variables (STATUSPAGE_*) plus the TOML config.

This is the only module that reads ``os.environ``. Command-line flags override the environment
through ``Settings.from_env(**overrides)``, so every subcommand acts on the same database as the
running server when given the same ``--data-dir`` / ``--config``.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from statuspage.config import StatusConfig
from statuspage.config_parser import load_config
from statuspage.mail.smtp import parse_smtp_url

__all__ = ["Settings", "ENV_VARS"]

_MAIL_FROM = re.compile(r"^[!#-'*+\-/-9=?A-Z^-~.]{1,64}@[A-Za-z0-9.-]{1,253}$")

#: Every environment variable the status page reads, with what it means (kept documented).
ENV_VARS: dict[str, str] = {
    "STATUSPAGE_DATA_DIR": "Directory for the SQLite database, secret key and bundled service data "
    "(default ./var).",
    "STATUSPAGE_DATABASE_URL": "SQLAlchemy URL; default SQLite in the data directory. "
    "PostgreSQL: postgresql+psycopg://user@host/db.",
    "STATUSPAGE_CONFIG": "Path of statuspage.toml; default ./statuspage.toml when present, "
    "else the packaged default.",
    "STATUSPAGE_SECRET_KEY": "Secret for sessions, CSRF and signatures; default a random key "
    "kept in the data directory (set it explicitly when web processes run on several hosts).",
    "STATUSPAGE_STAMPING_URL": "Base URL of the stamping service the default probes measure; "
    "default: start the bundled service on port + 1.",
    "STATUSPAGE_STAMPING_TOKEN": "Probe-account token for STATUSPAGE_STAMPING_URL.",
    "STATUSPAGE_COOKIE_SECURE": "Mark session cookies Secure (default true unless the page URL "
    "is plain http).",
    "STATUSPAGE_WEBHOOKS_ALLOW_PRIVATE": "Allow webhook URLs with plain http and private, "
    "loopback or link-local addresses (tests and the local demo only; default false).",
    "STATUSPAGE_TRUSTED_PROXIES": "Comma-separated addresses or networks of reverse proxies "
    "whose X-Forwarded-For / X-Forwarded-Proto are believed (default none: the peer address "
    "counts, so a forged header cannot dodge the per-address login throttle).",
    "STATUSPAGE_PAGE_URL": "The page's public URL when the config has no page.url; `serve` "
    "and `web` set it from the host and port they serve on, for every process they start.",
    "STATUSPAGE_WORKER_STATUS": "Set by `statuspage serve` for its web processes: the file "
    "where it records its worker's state, so /readyz reports a dead or restarting worker.",
    "STATUSPAGE_WEBHOOK_TIMEOUT": "Seconds a webhook endpoint has to answer (1-60, default 15).",
    "STATUSPAGE_SMTP_URL": "Mail server for email subscribers: smtp://user:password@host:587 "
    "(STARTTLS), smtps://user:password@host:465 (implicit TLS) or smtp://host:port (no login). "
    "Unset: messages are written as .eml files under the data directory (mail/outbox).",
    "STATUSPAGE_MAIL_FROM": "Sender address of subscriber email (default noreply@ the page's "
    "host).",
    "STATUSPAGE_SMTP_TIMEOUT": "Seconds the mail server has to answer each command (1-120, "
    "default 30).",
}


@dataclass(frozen=True)
class Settings:
    """Everything the status page needs to start, validated once."""

    data_dir: Path
    database_url: str
    secret_key: str
    config: StatusConfig
    config_path: Path | None = None
    stamping_url: str | None = None
    stamping_token: str | None = None
    cookie_secure: bool = False
    #: Webhook URLs may be http and reach private/loopback addresses (tests, local demo).
    webhooks_allow_private: bool = False
    webhook_timeout_s: float = 15.0
    #: Mail server URL for subscriber email; None writes ``.eml`` files (the demo).
    smtp_url: str | None = None
    #: Sender address of subscriber email; None: ``noreply@`` the page's host.
    mail_from: str | None = None
    smtp_timeout_s: float = 30.0
    #: Reverse proxies (addresses or networks) whose forwarded headers are believed.
    trusted_proxies: tuple[str, ...] = ()
    #: ``serve``'s record of its worker (``statuspage.supervisor``); None outside ``serve``.
    worker_status_path: Path | None = None
    #: argon2 parameters (``statuspage.auth``): "default", or "test" for cheap hashing in tests.
    argon2_profile: str = "default"

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        data_dir: Path | str | None = None,
        config_path: Path | str | None = None,
        database_url: str | None = None,
        secret_key: str | None = None,
    ) -> Settings:
        """Build settings from ``env`` (default ``os.environ``) and explicit overrides."""
        env = os.environ if env is None else env
        data = Path(data_dir or env.get("STATUSPAGE_DATA_DIR") or "var").resolve()
        cfg_value = config_path or env.get("STATUSPAGE_CONFIG")
        if cfg_value is None and Path("statuspage.toml").is_file():
            cfg_value = "statuspage.toml"
        cfg_path = Path(cfg_value).resolve() if cfg_value else None
        config = load_config(cfg_path)
        page_url = (env.get("STATUSPAGE_PAGE_URL") or "").rstrip("/")
        if page_url and not config.page.url_configured:
            if not page_url.startswith(("http://", "https://")):
                raise ValueError("STATUSPAGE_PAGE_URL must start with http:// or https://")
            config = replace(config, page=replace(config.page, url=page_url))
        url = database_url or env.get("STATUSPAGE_DATABASE_URL") or (
            f"sqlite:///{data / 'statuspage.sqlite3'}"
        )
        secure_default = config.page.url.startswith("https://")
        secure = env.get("STATUSPAGE_COOKIE_SECURE")
        private = (env.get("STATUSPAGE_WEBHOOKS_ALLOW_PRIVATE") or "").lower() in ("1", "true")
        timeout = _bounded_float(env, "STATUSPAGE_WEBHOOK_TIMEOUT", 15.0, 1.0, 60.0)
        smtp_url = env.get("STATUSPAGE_SMTP_URL") or None
        if smtp_url is not None:
            parse_smtp_url(smtp_url)  # a typo stops the start, not the first message
        mail_from = env.get("STATUSPAGE_MAIL_FROM") or None
        if mail_from is not None and not _MAIL_FROM.match(mail_from):
            raise ValueError("STATUSPAGE_MAIL_FROM must be a bare address such as "
                             "status@example.go.id")
        return cls(
            data_dir=data,
            database_url=url,
            secret_key=secret_key or env.get("STATUSPAGE_SECRET_KEY") or _stored_secret(data),
            config=config,
            config_path=cfg_path,
            stamping_url=(env.get("STATUSPAGE_STAMPING_URL") or None),
            stamping_token=(env.get("STATUSPAGE_STAMPING_TOKEN") or None),
            cookie_secure=secure_default if secure is None else secure.lower() in ("1", "true"),
            webhooks_allow_private=private,
            webhook_timeout_s=timeout,
            smtp_url=smtp_url,
            mail_from=mail_from,
            smtp_timeout_s=_bounded_float(env, "STATUSPAGE_SMTP_TIMEOUT", 30.0, 1.0, 120.0),
            trusted_proxies=_networks(env, "STATUSPAGE_TRUSTED_PROXIES"),
            worker_status_path=Path(env["STATUSPAGE_WORKER_STATUS"])
            if env.get("STATUSPAGE_WORKER_STATUS") else None,
        )

    def with_page_url(self, url: str) -> Settings:
        """A copy whose page URL is ``url`` (kept when the config sets one itself)."""
        if self.config.page.url_configured:
            return self
        page = replace(self.config.page, url=url.rstrip("/"))
        return replace(self, config=replace(self.config, page=page))

    def with_changes(self, **changes: Any) -> Settings:
        """A copy with some fields replaced (tests, CLI)."""
        return replace(self, **changes)

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is SQLite (single host)."""
        return self.database_url.startswith("sqlite")


def _bounded_float(env: Mapping[str, str], name: str, default: float, low: float,
                   high: float) -> float:
    """A number from the environment, refused with a clear message when out of range."""
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw[:40]!r}") from None
    if not low <= value <= high:  # also refuses nan and inf
        raise ValueError(f"{name} must be between {low:g} and {high:g}, got {raw[:40]!r}")
    return value


def _networks(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated IP addresses or networks, each checked (a typo must not trust nobody
    silently, nor everybody)."""
    found: list[str] = []
    for part in (env.get(name) or "").split(","):
        item = part.strip()
        if not item:
            continue
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f"{name}: {item[:60]!r} is not an IP address or network") from None
        found.append(item)
    return tuple(found)


def _stored_secret(data_dir: Path) -> str:
    """A random secret kept in the data directory so every process on this host shares it."""
    path = data_dir / "secret_key"
    if path.is_file():
        return path.read_text("ascii").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: when two processes start together, the loser reads the winner's key
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text("ascii").strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key
