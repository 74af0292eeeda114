"""Alembic migrations for Marquee's schema."""
