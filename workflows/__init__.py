"""Temporal workflows: deterministic code only (no I/O, no clock, no SQLAlchemy)."""
