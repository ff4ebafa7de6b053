"""Facts about the public page kept in the database (so every web process sees them)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from statuspage.models.base import Base, utcnow

__all__ = ["PageMarker", "SAMPLE_DATA_MARKER"]

#: Marker key written by ``statuspage.demo.seed_demo``: the page shows a "sample data" banner.
SAMPLE_DATA_MARKER = "sample_data"


class PageMarker(Base):
    """A named flag about the page's data, e.g. that it holds labelled sample history."""

    __tablename__ = "page_markers"
    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
