"""``serve --demo``: a fault-injection token for the bundled stamping service, and how to use it.

A newcomer should be able to watch the page react to an outage within a minute of
``make run``. The demo gives the bundled stamping service an admin token (kept 0600 in the data
directory, the same across restarts) and prints the one command that switches it down, slows
it or makes it fail, and the one that clears it.
"""

from __future__ import annotations

import secrets
from collections.abc import MutableMapping

from statuspage.settings import Settings

__all__ = ["TOKEN_FILE", "demo_fault_token", "fault_commands"]

TOKEN_FILE = "demo-fault-token.txt"  # noqa: S105 - a file name, not a secret


def demo_fault_token(settings: Settings, env: MutableMapping[str, str]) -> str | None:
    """Give the bundled stamping service an admin token through ``env``, the environment its
    parent (the worker) is started with; returns the token, or None when the page measures
    an external service (nothing to inject)."""
    if settings.stamping_url:
        return None
    existing = env.get("STAMPING_ADMIN_TOKEN")
    if existing:
        return existing
    path = settings.data_dir / TOKEN_FILE
    token = path.read_text().strip() if path.is_file() else ""
    if not token:
        token = secrets.token_urlsafe(24)
        path.write_text(token + "\n")
        path.chmod(0o600)
    env["STAMPING_ADMIN_TOKEN"] = token
    return token


def fault_commands(token: str, stamping_port: int) -> str:
    """The lines ``serve --demo`` prints."""
    url = f"http://127.0.0.1:{stamping_port}/api/v1/admin/faults"
    base = (f"curl -s -X POST {url} -H 'Authorization: Bearer {token}' "
            "-H 'Content-Type: application/json' -d")
    return "\n".join([
        "simulate an outage of the bundled stamping service and watch the page react:",
        f"  {base} '{{\"down\": true}}'           # hard down (shows within about 40 s)",
        f"  {base} '{{\"latency_ms\": 6000}}'     # slow",
        f"  {base} '{{\"error_rate\": 0.5}}'      # half the requests fail",
        f"  {base} '{{}}'                         # back to normal",
    ])
