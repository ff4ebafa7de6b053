"""What a probe checks: one frozen, validated :class:`ProbeSpec` per configured probe."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PROBE_KINDS", "ProbeSpec"]

#: The kinds of synthetic check :func:`probes.run_probe` knows how to run.
PROBE_KINDS: tuple[str, ...] = ("http", "purchase", "stamp", "verify")


@dataclass(frozen=True)
class ProbeSpec:
    """One synthetic check, as configured.

    ``target`` is the base URL of a stamping-like service (for the ``http`` kind, the full URL
    to fetch). ``token`` is the bearer token of a probe account, needed by ``purchase``,
    ``stamp`` and ``verify``. ``options`` holds kind-specific extras:

    - ``purchase``: ``quantity`` (int, default 1), ``poll_interval_s`` (float, default 0.2).
    - ``stamp``: ``auto_purchase`` (bool, default True): buy one stamp when the quota is
      exhausted, then stamp.
    - ``verify``: ``document`` (bytes) or ``document_path`` (str): a stamped PDF to verify,
      ``serial`` (str) to cross-check; without a document the probe stamps the reference PDF
      once per target and reuses the result.

    ``token`` is not required at construction, because ``statuspage serve`` creates the probe
    account at start; a transaction run without one fails with ``http_4xx`` (401).

    Construction fails with :class:`ValueError` on an unknown kind or a non-positive timeout,
    so a bad configuration stops the boot rather than every run.
    """

    name: str
    kind: str
    target: str
    timeout_s: float = 20.0
    latency_budget_ms: float | None = None
    expect_status: int = 200
    body_contains: str | None = None
    token: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a probe needs a name")
        if self.kind not in PROBE_KINDS:
            raise ValueError(
                f"probe {self.name!r}: unknown kind {self.kind!r} (one of {', '.join(PROBE_KINDS)})"
            )
        if not self.target.startswith(("http://", "https://")):
            raise ValueError(f"probe {self.name!r}: target must be an http(s) URL")
        if not (math.isfinite(self.timeout_s) and self.timeout_s > 0):
            raise ValueError(f"probe {self.name!r}: timeout_s must be a positive number")
        if self.latency_budget_ms is not None and not self.latency_budget_ms > 0:
            raise ValueError(f"probe {self.name!r}: latency_budget_ms must be positive")
        if not 100 <= self.expect_status <= 599:
            raise ValueError(f"probe {self.name!r}: expect_status must be an HTTP status")

    @property
    def base_url(self) -> str:
        """``target`` without a trailing slash, to join API paths onto."""
        return self.target.rstrip("/")
