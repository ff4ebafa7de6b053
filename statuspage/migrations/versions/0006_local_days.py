"""day rollups start at midnight in the page's time zone (Asia/Jakarta by default)

Existing day rollups were UTC days (07.00 to 07.00 WIB). They are rebuilt from the hour
rollups where those still exist and moved whole to the local day holding most of their hours
where not (see ``statuspage.store.day_zone``). The zone comes from the page's configuration
(``statuspage.db.migrate`` passes it); a page marker records it.

Revision ID: 0006_local_days
Revises: 0005_deadlines
"""

from __future__ import annotations

from alembic import context, op

from statuspage.store.day_zone import convert_day_rollups

revision = "0006_local_days"
down_revision = "0005_deadlines"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Rebuild day rollups in the page's zone."""
    zone = context.config.attributes.get("time_zone") or "Asia/Jakarta"
    convert_day_rollups(op.get_bind(), str(zone))


def downgrade() -> None:
    """Back to UTC days (older days move whole, as on the way up)."""
    convert_day_rollups(op.get_bind(), "UTC")
