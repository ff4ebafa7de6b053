"""Alembic migrations of the stamping database (applied by ``stamping serve`` on start)."""
