"""Alembic revision scripts, oldest first. Never edit a released revision; add one."""
