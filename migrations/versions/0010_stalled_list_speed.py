"""stalled list speed: what the managers' stalled list reads, from indexes alone

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 12:00:00

On PostgreSQL the stalled list (``parcours.management.repository``) reads the open journeys of
a territory and the carnet's recent changes with index-only scans: the indexes hold every
column it reads (``INCLUDE``, PostgreSQL only). SQLite gets the partial index of open
journeys by territory.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The columns of ``journeys`` the stalled list reads besides the index's keys.
STALLED_LIST_COLUMNS = [
    "beneficiary_id",
    "deadline",
    "stalled",
    "paused",
    "updated_at",
    "structure_id",
    "referent_id",
]


def _access_log_updates(*, include: list[str] | None) -> None:
    """The access log's updates by time (0007's index), with ``include`` on PostgreSQL."""
    op.drop_index("ix_access_log_updates_at", table_name="access_log")
    op.create_index(
        "ix_access_log_updates_at",
        "access_log",
        ["at", "beneficiary_id"],
        postgresql_where=sa.text("action = 'update'"),
        postgresql_include=include or [],
    )


def upgrade() -> None:
    op.create_index(
        "ix_journeys_open",
        "journeys",
        ["territory", "step"],
        sqlite_where=sa.text("step <> 'closed'"),
        postgresql_where=sa.text("step <> 'closed'"),
        postgresql_include=STALLED_LIST_COLUMNS,
    )
    if op.get_bind().dialect.name == "postgresql":
        # The carnet's recent changes with ``what``: the inactivity cause reads no table page.
        _access_log_updates(include=["what"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _access_log_updates(include=None)
    op.drop_index("ix_journeys_open", table_name="journeys")
