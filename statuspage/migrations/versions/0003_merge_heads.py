"""merge the console, probes and public branches into one line

The three capabilities were built in parallel and each branched from 0001. This revision joins
them so that every later migration has exactly one parent and ``alembic revision`` works again.
Databases already at the three heads upgrade to this one without any schema change.

Revision ID: 0003_merge
Revises: 0002_console, 0002_probes, 0002_public
"""

from __future__ import annotations

revision = "0003_merge"
down_revision = ("0002_console", "0002_probes", "0002_public")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to change: the three branches touch different tables."""


def downgrade() -> None:
    """Nothing to undo."""
