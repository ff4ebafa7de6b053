"""Reading the TOML page configuration: ``load_config`` and ``parse_config``.

Every section is validated into the frozen dataclasses of ``statuspage.config``. Unknown keys
and bad values raise ``ConfigError`` naming the file, the dotted key and the reason, so a bad
config stops the start instead of silently dropping a probe.
"""

from __future__ import annotations

import re
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from statuspage.config import (
    BUNDLED,
    PROBE_KINDS,
    ComponentConfig,
    ConfigError,
    DeadlineConfig,
    EvaluationConfig,
    NoticesConfig,
    PageConfig,
    ProbeConfig,
    RetentionConfig,
    StatusConfig,
    UptimeConfig,
)

__all__ = ["load_config", "parse_config"]

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def load_config(path: Path | None) -> StatusConfig:
    """Load ``path`` or, when None, the packaged default configuration."""
    if path is None:
        text = Path(__file__).with_name("default.toml").read_text("utf-8")
        return parse_config(text, "<default statuspage.toml>")
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(str(path), "-", f"cannot read file: {exc.strerror}") from exc
    return parse_config(text, str(path))


def parse_config(text: str, source: str) -> StatusConfig:
    """Parse and validate TOML text; raise ConfigError on the first problem."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, "-", f"invalid TOML: {exc}") from exc
    reader = _Reader(source)
    reader.only(raw, "", {"page", "components", "probes", "evaluation", "deadlines",
                          "retention", "notices", "uptime"})
    page = reader.page(raw.get("page", {}))
    components = tuple(
        reader.component(item, f"components[{i}]")
        for i, item in enumerate(reader.table_list(raw, "components"))
    )
    reader.unique([c.id for c in components], "components", "id")
    ids = {c.id for c in components}
    probes = tuple(
        reader.probe(item, f"probes[{i}]", ids)
        for i, item in enumerate(reader.table_list(raw, "probes"))
    )
    reader.unique([p.name for p in probes], "probes", "name")
    evaluation = reader.evaluation(raw.get("evaluation", {}))
    deadlines = tuple(
        reader.deadline(item, f"deadlines[{i}]", ids)
        for i, item in enumerate(reader.table_list(raw, "deadlines"))
    )
    reader.unique([d.id for d in deadlines], "deadlines", "id")
    retention = reader.retention(raw.get("retention", {}))
    return StatusConfig(page, components, probes, evaluation, deadlines, source,
                        retention=retention, notices=reader.notices(raw.get("notices", {})),
                        uptime=reader.uptime(raw.get("uptime", {})))


class _Reader:
    """Typed field access that reports the dotted key of every problem."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, reason: str) -> ConfigError:
        return ConfigError(self.source, key, reason)

    def only(self, table: Any, prefix: str, allowed: set[str]) -> None:
        if not isinstance(table, dict):
            raise self.fail(prefix or "-", "expected a table")
        for key in table:
            if key not in allowed:
                dotted = f"{prefix}.{key}" if prefix else key
                raise self.fail(dotted, f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def table_list(self, raw: dict[str, Any], key: str) -> list[dict[str, Any]]:
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail(key, f"expected an array of tables ([[{key}]])")
        return value

    def unique(self, values: list[str], prefix: str, key: str) -> None:
        seen: set[str] = set()
        for i, value in enumerate(values):
            if value in seen:
                raise self.fail(f"{prefix}[{i}].{key}", f"duplicate value {value!r}")
            seen.add(value)

    def get(self, table: dict[str, Any], prefix: str, key: str, kind: type | tuple[type, ...],
            default: Any = ..., ) -> Any:
        if key not in table:
            if default is ...:
                raise self.fail(f"{prefix}.{key}", "required")
            return default
        value = table[key]
        # bool is an int subclass; never accept it where a number is meant
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise self.fail(f"{prefix}.{key}", f"expected {_kind_name(kind)}, got a boolean")
        if not isinstance(value, kind):
            raise self.fail(f"{prefix}.{key}", f"expected {_kind_name(kind)}, got {value!r}")
        return value

    def positive(self, table: dict[str, Any], prefix: str, key: str, default: float) -> float:
        value = float(self.get(table, prefix, key, (int, float), default))
        if value <= 0:
            raise self.fail(f"{prefix}.{key}", "must be greater than zero")
        return value

    def slug(self, table: dict[str, Any], prefix: str, key: str) -> str:
        value = str(self.get(table, prefix, key, str))
        if not _SLUG.match(value):
            raise self.fail(f"{prefix}.{key}", "use lowercase letters, digits, '-' or '_'")
        return value

    def page(self, table: Any) -> PageConfig:
        allowed = {"name", "url", "description", "languages", "time_zone", "time_zone_label"}
        self.only(table, "page", allowed)
        d = PageConfig()
        languages = tuple(self.get(table, "page", "languages", list, list(d.languages)))
        if not languages or any(lang not in ("id", "en") for lang in languages):
            raise self.fail("page.languages", "a non-empty list of 'id' and/or 'en'")
        time_zone = self.get(table, "page", "time_zone", str, d.time_zone)
        try:
            ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise self.fail("page.time_zone", f"unknown time zone {time_zone!r}") from exc
        url = self.get(table, "page", "url", str, d.url).rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise self.fail("page.url", "must start with http:// or https://")
        return PageConfig(
            name=self.get(table, "page", "name", str, d.name),
            url=url,
            url_configured="url" in table,
            description=self.get(table, "page", "description", str, d.description),
            languages=languages,
            time_zone=time_zone,
            time_zone_label=self.get(table, "page", "time_zone_label", str, d.time_zone_label),
        )

    def component(self, table: dict[str, Any], prefix: str) -> ComponentConfig:
        self.only(table, prefix, {"id", "name", "group", "description"})
        return ComponentConfig(
            id=self.slug(table, prefix, "id"),
            name=self.get(table, prefix, "name", str),
            group=self.get(table, prefix, "group", str, None),
            description=self.get(table, prefix, "description", str, ""),
        )

    def probe(self, table: dict[str, Any], prefix: str, components: set[str]) -> ProbeConfig:
        allowed = {"name", "kind", "component", "target", "path", "interval", "timeout",
                   "latency_budget_ms", "expect_status", "body_contains", "token"}
        self.only(table, prefix, allowed)
        kind = self.get(table, prefix, "kind", str)
        if kind not in PROBE_KINDS:
            raise self.fail(f"{prefix}.kind", f"one of {', '.join(PROBE_KINDS)}")
        component = self.get(table, prefix, "component", str)
        if component not in components:
            raise self.fail(f"{prefix}.component", f"no component with id {component!r}")
        target = self.get(table, prefix, "target", str, BUNDLED)
        if target != BUNDLED and not target.startswith(("http://", "https://")):
            raise self.fail(f"{prefix}.target", "'bundled' or an http(s) URL")
        interval = self.positive(table, prefix, "interval", 30.0)
        timeout = self.positive(table, prefix, "timeout", min(20.0, interval))
        budget = table.get("latency_budget_ms")
        return ProbeConfig(
            name=self.slug(table, prefix, "name"),
            kind=kind,
            component=component,
            target=target.rstrip("/") if target != BUNDLED else target,
            path=self.get(table, prefix, "path", str, "/"),
            interval_s=interval,
            timeout_s=timeout,
            latency_budget_ms=None if budget is None else self.positive(
                table, prefix, "latency_budget_ms", 1.0),
            expect_status=self.get(table, prefix, "expect_status", int, 200),
            body_contains=self.get(table, prefix, "body_contains", str, None),
            token=self.get(table, prefix, "token", str, None),
        )

    def evaluation(self, table: Any) -> EvaluationConfig:
        d = EvaluationConfig()
        self.only(table, "evaluation", set(d.__dataclass_fields__))
        fractions: dict[str, float] = {}
        for key in ("degraded_success", "partial_success", "major_success"):
            value = float(self.get(table, "evaluation", key, (int, float), getattr(d, key)))
            if not 0 <= value <= 1:
                raise self.fail(f"evaluation.{key}", "a fraction between 0 and 1")
            fractions[key] = value
        ordered = [fractions[k] for k in ("degraded_success", "partial_success", "major_success")]
        if ordered != sorted(ordered, reverse=True):
            raise self.fail("evaluation", "need degraded_success >= partial_success >= "
                            "major_success")
        counts: dict[str, int] = {}
        for key in ("window_s", "failures_to_down", "successes_to_recover",
                    "recovery_prompt_s"):
            value = self.get(table, "evaluation", key, int, getattr(d, key))
            if value < 1:
                raise self.fail(f"evaluation.{key}", "must be at least 1")
            counts[key] = value
        fast_failures = self.get(table, "evaluation", "fast_failures", int, d.fast_failures)
        if not 0 <= fast_failures <= 20:
            raise self.fail("evaluation.fast_failures", "a count between 0 (off) and 20")
        confirm = float(self.get(table, "evaluation", "confirm_after_s", (int, float),
                                 d.confirm_after_s))
        if not 0 <= confirm <= 600:
            raise self.fail("evaluation.confirm_after_s", "seconds between 0 (off) and 600")
        return EvaluationConfig(
            fast_failures=fast_failures,
            confirm_after_s=confirm,
            window_s=counts["window_s"],
            degraded_success=fractions["degraded_success"],
            partial_success=fractions["partial_success"],
            major_success=fractions["major_success"],
            failures_to_down=counts["failures_to_down"],
            successes_to_recover=counts["successes_to_recover"],
            recovery_prompt_s=counts["recovery_prompt_s"],
            auto_publish=self.get(table, "evaluation", "auto_publish", bool, d.auto_publish),
        )

    def retention(self, table: Any) -> RetentionConfig:
        d = RetentionConfig()
        self.only(table, "retention", set(d.__dataclass_fields__))
        days: dict[str, int] = {}
        for key in d.__dataclass_fields__:
            value = self.get(table, "retention", key, int, getattr(d, key))
            if value < 1:
                raise self.fail(f"retention.{key}", "must be at least 1 (days)")
            days[key] = value
        return RetentionConfig(**days)

    def notices(self, table: Any) -> NoticesConfig:
        d = NoticesConfig()
        self.only(table, "notices", set(d.__dataclass_fields__))
        return NoticesConfig(
            auto_publish=self.get(table, "notices", "auto_publish", bool, d.auto_publish),
            at_risk_hours=self.positive(table, "notices", "at_risk_hours", d.at_risk_hours),
            extension_after_hours=self.positive(table, "notices", "extension_after_hours",
                                                d.extension_after_hours),
            evaluate_s=self.positive(table, "notices", "evaluate_s", d.evaluate_s),
        )

    def uptime(self, table: Any) -> UptimeConfig:
        d = UptimeConfig()
        keys = ("operational", "degraded_performance", "partial_outage")
        self.only(table, "uptime", set(keys))
        values: dict[str, float] = {}
        for key in keys:
            value = float(self.get(table, "uptime", key, (int, float), getattr(d, key)))
            if not 0 <= value <= 1:
                raise self.fail(f"uptime.{key}", "a fraction between 0 and 1")
            values[key] = value
        if [values[k] for k in keys] != sorted(values.values(), reverse=True):
            raise self.fail("uptime", "need operational >= degraded_performance >= "
                            "partial_outage")
        return UptimeConfig(**values)

    def _aware(self, table: dict[str, Any], prefix: str, key: str, default: Any = ...) -> Any:
        value = self.get(table, prefix, key, datetime, default)
        if value is not None and value.tzinfo is None:
            raise self.fail(f"{prefix}.{key}", "give an offset, e.g. 2024-09-06T23:59:00+07:00")
        return value

    def deadline(self, table: dict[str, Any], prefix: str, components: set[str]) -> DeadlineConfig:
        self.only(table, prefix, {"id", "name", "agency", "at", "components", "window_days",
                                  "name_en", "opened_at", "legal_min_days", "patience_s",
                                  "demand_profile", "contact"})
        at = self._aware(table, prefix, "at")
        opened = self._aware(table, prefix, "opened_at", None)
        if opened is not None and opened >= at:
            raise self.fail(f"{prefix}.opened_at", "must be before the closing time (at)")
        profile = self.get(table, prefix, "demand_profile", list, None)
        if profile is not None and (
                len(profile) != 24
                or not all(isinstance(v, int | float) and not isinstance(v, bool)
                           and 0 <= v < 1e12 for v in profile) or not sum(profile) > 0):
            raise self.fail(f"{prefix}.demand_profile",
                            "24 non-negative numbers (one per local hour), not all zero")
        legal = self.get(table, prefix, "legal_min_days", int, None)
        if legal is not None and not 1 <= legal <= 366:
            raise self.fail(f"{prefix}.legal_min_days", "between 1 and 366 days")
        names = tuple(self.get(table, prefix, "components", list))
        for name in names:
            if name not in components:
                raise self.fail(f"{prefix}.components", f"no component with id {name!r}")
        return DeadlineConfig(
            id=self.slug(table, prefix, "id"),
            name=self.get(table, prefix, "name", str),
            agency=self.get(table, prefix, "agency", str),
            at=at,
            components=names,
            window_days=int(self.positive(table, prefix, "window_days", 7)),
            name_en=self.get(table, prefix, "name_en", str, ""),
            opened_at=opened,
            legal_min_days=legal,
            patience_s=self.positive(table, prefix, "patience_s", 30.0),
            demand_profile=None if profile is None else tuple(float(v) for v in profile),
            contact=self.get(table, prefix, "contact", str, ""),
        )


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
             list: "a list", dict: "a table", datetime: "a date-time"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)
