"""The TOML page configuration's shape: page, components, probes, evaluation rules, deadlines.

Frozen dataclasses, one per section, and ``ConfigError``. The file is read and validated once
at boot by ``statuspage.config_parser`` (``load_config``, ``parse_config``): unknown keys and bad
values stop the start with a ``ConfigError`` naming the file, the key and the reason, so a typo
never silently drops a probe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

__all__ = [
    "ComponentConfig",
    "ConfigError",
    "DeadlineConfig",
    "EvaluationConfig",
    "NoticesConfig",
    "PageConfig",
    "ProbeConfig",
    "RetentionConfig",
    "StatusConfig",
    "UptimeConfig",
]

PROBE_KINDS = ("http", "purchase", "stamp", "verify")
BUNDLED = "bundled"


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message names file, key and reason."""

    def __init__(self, source: str, key: str, reason: str) -> None:
        super().__init__(f"{source}: {key}: {reason}")
        self.source = source
        self.key = key
        self.reason = reason


@dataclass(frozen=True)
class PageConfig:
    """The page's identity and presentation."""

    name: str = "Status Layanan e-Meterai"
    url: str = "http://127.0.0.1:8000"
    #: Whether ``url`` was written in the config; if not, ``serve``/``web`` derive it from the
    #: host and port they serve on (``STATUSPAGE_PAGE_URL``), so links never point elsewhere.
    url_configured: bool = False
    description: str = "Status pembelian dan pembubuhan e-meterai, diukur setiap menit."
    languages: tuple[str, ...] = ("id", "en")
    time_zone: str = "Asia/Jakarta"
    time_zone_label: str = "WIB"


@dataclass(frozen=True)
class ComponentConfig:
    """One component shown on the page."""

    id: str
    name: str
    group: str | None = None
    description: str = ""


@dataclass(frozen=True)
class EvaluationConfig:
    """Rules that turn probe evidence into a component status (see statuspage.status)."""

    window_s: int = 300
    degraded_success: float = 0.95
    partial_success: float = 0.75
    major_success: float = 0.25
    failures_to_down: int = 3
    successes_to_recover: int = 3
    auto_publish: bool = False
    #: Consecutive hard failures (connection refused, timeout, 5xx, service down, bad
    #: signature) that move a series to major_outage at once; 0 turns the fast path off.
    fast_failures: int = 2
    #: After a hard failure a probe runs again this many seconds later to confirm it, so the
    #: fast path needs seconds, not another full interval; 0 turns confirmation off.
    confirm_after_s: float = 5.0
    #: How long the probes must measure a component operational, while an open incident still
    #: declares an outage, before the console offers to close it and the page says so.
    recovery_prompt_s: int = 600


@dataclass(frozen=True)
class RetentionConfig:
    """How long probe measurements are kept ([retention]); day rollups are kept for good.

    Raw results feed evaluation and the last-result view; minute and hour rollups feed the
    short-range charts; day rollups feed uptime bars and the cumulative /metrics counters.
    """

    raw_days: int = 7
    minute_days: int = 3
    hour_days: int = 120


@dataclass(frozen=True)
class ProbeConfig:
    """One scheduled synthetic check. ``target = "bundled"`` means the bundled stamping service."""

    name: str
    kind: str
    component: str
    target: str = BUNDLED
    path: str = "/"
    interval_s: float = 30.0
    timeout_s: float = 20.0
    latency_budget_ms: float | None = None
    expect_status: int = 200
    body_contains: str | None = None
    token: str | None = None


@dataclass(frozen=True)
class DeadlineConfig:
    """A public deadline whose applicants depend on components (for deadline-impact notices)."""

    id: str
    name: str
    agency: str
    at: datetime
    components: tuple[str, ...]
    window_days: int = 7
    name_en: str = ""
    opened_at: datetime | None = None
    legal_min_days: int | None = None
    patience_s: float = 30.0
    demand_profile: tuple[float, ...] | None = None
    contact: str = ""

    @property
    def window_days_delta(self) -> timedelta:
        """The window before the deadline that the impact report covers."""
        return timedelta(days=self.window_days)


@dataclass(frozen=True)
class NoticesConfig:
    """Deadline-impact notices ([notices]): thresholds and whether drafts publish at once."""

    auto_publish: bool = False
    at_risk_hours: float = 1.0
    extension_after_hours: float = 1.0
    evaluate_s: float = 60.0


@dataclass(frozen=True)
class UptimeConfig:
    """How a day of the uptime bar is coloured ([uptime]): the least uptime for each status.

    A day whose uptime (see ``statuspage.uptime``) is at least ``operational`` is drawn
    operational, at least ``degraded_performance`` degraded, at least ``partial_outage`` a
    partial outage, anything lower a major outage; an incident that day can only make it worse.
    These colour the bar only: the live status follows the ``[evaluation]`` rules.
    """

    operational: float = 0.995
    degraded_performance: float = 0.95
    partial_outage: float = 0.80


@dataclass(frozen=True)
class StatusConfig:
    """The whole validated configuration."""

    page: PageConfig = field(default_factory=PageConfig)
    components: tuple[ComponentConfig, ...] = ()
    probes: tuple[ProbeConfig, ...] = ()
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    deadlines: tuple[DeadlineConfig, ...] = ()
    source: str = "<default>"
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    notices: NoticesConfig = field(default_factory=NoticesConfig)
    uptime: UptimeConfig = field(default_factory=UptimeConfig)

    def component(self, component_id: str) -> ComponentConfig | None:
        """The component with this id, or None."""
        return next((c for c in self.components if c.id == component_id), None)
