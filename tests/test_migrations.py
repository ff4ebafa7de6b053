"""Each package keeps one migration line: exactly one Alembic head, so `alembic revision` works."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("package", ["statuspage", "stamping"])
def test_one_migration_head_per_package(package: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / package / "migrations"))
    heads = ScriptDirectory.from_config(cfg).get_heads()
    assert len(heads) == 1, f"{package} has {len(heads)} migration heads: {sorted(heads)}"
