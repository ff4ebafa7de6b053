"""Settings of the stamping service: one frozen object, read from ``STAMPING_*`` once."""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

__all__ = ["Settings", "SettingsError", "derive_public_url", "usable_cpus"]

logger = logging.getLogger(__name__)

MiB = 1024 * 1024


class SettingsError(ValueError):
    """A ``STAMPING_*`` variable has a value the service cannot use."""


@dataclass(frozen=True)
class Settings:
    """Everything the service is configured with; build it with :meth:`from_env`.

    Each field maps to the environment variable ``STAMPING_<FIELD NAME IN CAPITALS>``.
    """

    data_dir: Path = Path("var/stamping")
    #: SQLAlchemy URL; empty means SQLite (WAL mode) at ``<data_dir>/stamping.sqlite3``.
    database_url: str = ""
    #: Bearer token of the fault-injection admin API; empty disables that API.
    admin_token: str = ""
    #: Base URL printed in the QR code: ``{public_url}/verify/{serial}``.  Empty means
    #: derived from the address ``stamping serve`` actually listens on (``--host``/``--port``);
    #: set it when the service is reached through a proxy or another name.
    public_url: str = ""
    #: Largest accepted upload; bigger bodies are refused while streaming (413).
    max_upload_bytes: int = 10 * MiB
    #: Stamp duty per stamp (UU 10/2020) and the channel's service fee, in rupiah.
    stamp_price: int = 10_000
    service_fee: int = 2_500
    max_order_quantity: int = 1_000
    #: Unpaid orders expire after this many seconds.
    order_ttl_seconds: int = 900
    otp_ttl_seconds: int = 300
    otp_max_attempts: int = 5
    #: HMAC key shared with the (simulated) payment gateway; empty means a key stored in
    #: ``<data_dir>/payment-secret``, created on first start.
    payment_secret: str = ""
    #: Callbacks older than this are refused as replays.
    callback_max_age_seconds: int = 600
    #: Signing worker processes; 0 means one per CPU this process may run on (its affinity,
    #: as ``taskset`` or a container's cpuset sets it, not every CPU of the machine).
    sign_workers: int = 0
    #: Niceness added to signing workers so the web process (admission, commits, 503s)
    #: wins a saturated CPU; 0 keeps them at the web process's priority.
    worker_niceness: int = 5
    #: Documents handed to the pool at once per worker (2 keeps a worker busy between jobs).
    sign_slots_per_worker: int = 2
    #: CPU seconds one signing or verification job may use inside its worker; past it the
    #: document is refused (422 too_complex) and nothing is spent.  0 disables the limit.
    sign_cpu_seconds: float = 20.0
    #: Wall-clock seconds the web process waits for a job; past it the pool's workers are
    #: killed and replaced (a worker stuck where the CPU limit cannot reach).  0 disables it.
    sign_wall_seconds: float = 60.0
    #: Stamp requests allowed to wait for a signing slot, at most; past this they get 503.
    stamp_queue: int = 64
    #: ...and at most what the signing slots serve in this many seconds at the measured
    #: signing time, so an admitted request never waits much longer than this.
    stamp_queue_seconds: float = 0.5
    #: A refusal (503) is held for a random 0.5-1x this many seconds before it is sent, so
    #: clients that retry at once (a retry storm) cannot spend the CPU on refusals; 0: at once.
    refusal_hold_seconds: float = 1.0
    #: At most this many refusals are held at once; past it they are sent at once.
    max_held_refusals: int = 4096
    verify_slots: int = 2
    verify_queue: int = 16
    purchase_slots: int = 16
    purchase_queue: int = 256
    #: Password hashing (argon2) is CPU work: registrations and logins have their own gate so
    #: a registration surge cannot take the CPU from signing.
    account_slots: int = 2
    account_queue: int = 64
    #: Throttles (stamping/throttle.py), per window of ``throttle_window_seconds``: login
    #: attempts per client address, wrong passwords per phone number, OTP messages per
    #: phone number and per client address.
    throttle_window_seconds: int = 900
    login_per_address: int = 30
    login_failures_per_phone: int = 10
    otp_per_phone: int = 3
    otp_per_address: int = 10
    #: Lifetime of a login on the HTML pages (a revocable session, not an API token).
    web_session_hours: int = 12
    #: How long the in-process copy of the fault settings may be stale (seconds).
    fault_cache_seconds: float = 1.0
    #: Reservations older than this are assumed orphaned by a crash and released.
    reservation_timeout_seconds: int = 600
    #: Stamped documents are kept this long so a client that lost the response (a timeout on
    #: the worst day) can download what it paid for instead of losing the unit.
    document_retention_hours: int = 72

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``STAMPING_*`` variables (``os.environ`` by default)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get("STAMPING_" + f.name.upper())
            if raw is None or raw == "":
                continue
            default = f.default
            try:
                if isinstance(default, bool):
                    values[f.name] = raw.lower() in {"1", "true", "yes", "on"}
                elif isinstance(default, int):
                    values[f.name] = int(raw)
                elif isinstance(default, float):
                    values[f.name] = float(raw)
                elif isinstance(default, Path):
                    values[f.name] = Path(raw)
                else:
                    values[f.name] = raw
            except ValueError:
                raise SettingsError(
                    f"STAMPING_{f.name.upper()}={raw!r} is not a valid {type(default).__name__}"
                ) from None
        values.update(overrides)
        return cls(**values).validated()

    def validated(self) -> Settings:
        """Check ranges; raise SettingsError with the variable name on a bad value."""
        positive = ["max_upload_bytes", "stamp_price", "max_order_quantity",
                    "order_ttl_seconds", "otp_ttl_seconds", "otp_max_attempts",
                    "sign_slots_per_worker", "verify_slots", "purchase_slots", "account_slots",
                    "document_retention_hours", "throttle_window_seconds", "login_per_address",
                    "login_failures_per_phone", "otp_per_phone", "otp_per_address",
                    "web_session_hours"]
        for name in positive:
            if getattr(self, name) <= 0:
                raise SettingsError(f"STAMPING_{name.upper()} must be positive")
        for name in ["service_fee", "sign_workers", "stamp_queue", "verify_queue",
                     "purchase_queue", "account_queue", "worker_niceness",
                     "sign_cpu_seconds", "sign_wall_seconds", "max_held_refusals"]:
            if getattr(self, name) < 0:
                raise SettingsError(f"STAMPING_{name.upper()} must not be negative")
        if not 0 < self.stamp_queue_seconds <= 60:
            raise SettingsError("STAMPING_STAMP_QUEUE_SECONDS must be in (0, 60]")
        if not 0 <= self.refusal_hold_seconds <= 10:
            raise SettingsError("STAMPING_REFUSAL_HOLD_SECONDS must be in [0, 10]")
        if self.public_url and not self.public_url.startswith(("http://", "https://")):
            raise SettingsError("STAMPING_PUBLIC_URL must be an http(s) URL")
        return replace(self, public_url=self.public_url.rstrip("/"))

    def served_at(self, host: str, port: int) -> Settings:
        """These settings with ``public_url`` derived from the served address when unset.

        A QR code that points anywhere but the running service cannot be scanned, so the
        default follows ``--host`` and ``--port``; a wildcard address (0.0.0.0, ::) is
        replaced by the machine's name, which is only a guess: configure the URL then.
        """
        if self.public_url:
            return self
        return replace(self, public_url=derive_public_url(host, port))

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to SQLite inside the data directory."""
        return self.database_url or f"sqlite:///{self.data_dir / 'stamping.sqlite3'}"

    @property
    def workers(self) -> int:
        """Number of signing worker processes."""
        return self.sign_workers or usable_cpus()

    def payment_key(self) -> bytes:
        """The gateway HMAC key (created in the data directory when not configured)."""
        if self.payment_secret:
            return self.payment_secret.encode()
        path = self.data_dir / "payment-secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"payment-secret.tmp{os.getpid()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
            if path.exists():
                tmp.unlink()
            else:
                os.replace(tmp, path)
        return path.read_text().strip().encode()


def derive_public_url(host: str, port: int) -> str:
    """``http://host:port`` for the address a server listens on (IPv6 in brackets)."""
    if not 0 < port < 65536:
        raise SettingsError(f"cannot derive STAMPING_PUBLIC_URL from port {port}: "
                            "give a fixed port or set STAMPING_PUBLIC_URL")
    name = host.strip() or "0.0.0.0"  # noqa: S104 - a wildcard is what an empty host means
    if name in {"0.0.0.0", "::", "[::]"}:  # noqa: S104
        name = socket.getfqdn() or socket.gethostname()
        logger.warning("listening on all interfaces: the stamp QR links to http://%s:%d; set "
                       "STAMPING_PUBLIC_URL if that name is not how users reach the service",
                       name, port)
    if ":" in name and not name.startswith("["):
        name = f"[{name}]"
    return f"http://{name}:{port}"


def usable_cpus() -> int:
    """The CPUs this process may run on: more signing workers than that only take turns."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity outside Linux
        return os.cpu_count() or 1
