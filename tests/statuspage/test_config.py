"""The TOML config: the packaged default is valid; every mistake names file, key and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from statuspage.config import ConfigError
from statuspage.config_parser import load_config, parse_config

BASE = """
[[components]]
id = "pembelian"
name = "Pembelian"
"""


def test_packaged_default_is_valid() -> None:
    config = load_config(None)
    assert config.page.time_zone == "Asia/Jakarta"
    assert {p.kind for p in config.probes} == {"http", "purchase", "stamp", "verify"}
    assert all(config.component(p.component) for p in config.probes)
    assert config.deadlines[0].at.utcoffset() is not None


def test_minimal_config_gets_defaults() -> None:
    config = parse_config(BASE, "x.toml")
    assert config.page.languages == ("id", "en")
    assert config.components[0].group is None
    assert config.probes == ()
    assert config.uptime == load_config(None).uptime  # the packaged file states the defaults


def test_uptime_thresholds_are_read() -> None:
    config = parse_config("[uptime]\noperational = 0.99\ndegraded_performance = 0.9\n"
                          "partial_outage = 0.5", "x.toml")
    assert (config.uptime.operational, config.uptime.degraded_performance,
            config.uptime.partial_outage) == (0.99, 0.9, 0.5)


@pytest.mark.parametrize(
    ("toml", "key", "reason"),
    [
        ("[page]\ncolour = 'red'", "page.colour", "unknown key"),
        ("[page]\ntime_zone = 'Mars/Olympus'", "page.time_zone", "unknown time zone"),
        ("[page]\nurl = 'ftp://x'", "page.url", "http"),
        ("[page]\nlanguages = ['fr']", "page.languages", "'id'"),
        (BASE + BASE, "components[1].id", "duplicate"),
        ("[[components]]\nid = 'Bad Id'\nname = 'x'", "components[0].id", "lowercase"),
        ("[[components]]\nname = 'x'", "components[0].id", "required"),
        (BASE + "[[probes]]\nname='p'\nkind='ping'\ncomponent='pembelian'", "probes[0].kind",
         "one of"),
        (BASE + "[[probes]]\nname='p'\nkind='http'\ncomponent='nope'", "probes[0].component",
         "no component"),
        (BASE + "[[probes]]\nname='p'\nkind='http'\ncomponent='pembelian'\ninterval=0",
         "probes[0].interval", "greater than zero"),
        (BASE + "[[probes]]\nname='p'\nkind='http'\ncomponent='pembelian'\ninterval=true",
         "probes[0].interval", "boolean"),
        (BASE + "[[probes]]\nname='p'\nkind='http'\ncomponent='pembelian'\ntarget='x'",
         "probes[0].target", "URL"),
        ("[evaluation]\npartial_success = 2.0", "evaluation.partial_success", "fraction"),
        ("[evaluation]\ndegraded_success = 0.5\npartial_success = 0.9", "evaluation", ">="),
        (BASE + "[[deadlines]]\nid='d'\nname='n'\nagency='a'\nat=2024-09-06T23:59:00\n"
         "components=['pembelian']", "deadlines[0].at", "offset"),
        (BASE + "[[deadlines]]\nid='d'\nname='n'\nagency='a'\nat=2024-09-06T23:59:00+07:00\n"
         "opened_at=2024-09-07T00:00:00+07:00\ncomponents=['pembelian']",
         "deadlines[0].opened_at", "before the closing"),
        (BASE + "[[deadlines]]\nid='d'\nname='n'\nagency='a'\nat=2024-09-06T23:59:00+07:00\n"
         "components=['pembelian']\ndemand_profile=[1, 2]", "deadlines[0].demand_profile",
         "24 non-negative numbers"),
        (BASE + "[[deadlines]]\nid='d'\nname='n'\nagency='a'\nat=2024-09-06T23:59:00+07:00\n"
         "components=['nope']", "deadlines[0].components", "no component"),
        ("[uptime]\noperational = 1.5", "uptime.operational", "fraction"),
        ("[uptime]\ndegraded_performance = 0.999", "uptime", ">="),
        ("[uptime]\nmajor_outage = 0.1", "uptime.major_outage", "unknown key"),
        ("[notices]\nat_risk_hours = 0", "notices.at_risk_hours", "greater than zero"),
        ("[notices]\nauto_publish = 'yes'", "notices.auto_publish", "true or false"),
        ("components = 3", "components", "array of tables"),
        ("not toml = = 1", "-", "invalid TOML"),
    ],
)
def test_bad_config_names_key_and_reason(toml: str, key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(toml, "statuspage.toml")
    assert info.value.source == "statuspage.toml"
    assert info.value.key == key
    assert reason in info.value.reason
    assert str(info.value).startswith(f"statuspage.toml: {key}: ")


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read file"):
        load_config(tmp_path / "missing.toml")


def test_cli_stops_with_a_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from statuspage.cli import main

    bad = tmp_path / "statuspage.toml"
    bad.write_text("[page]\nnmae = 'typo'\n")
    assert main(["db", "upgrade", "--data-dir", str(tmp_path), "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: page.nmae: unknown key" in err
