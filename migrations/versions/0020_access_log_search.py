"""the DPO's search of the access log: by agent and period, by period alone

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 14:10:00

The log was indexed by person (``ix_access_log_beneficiary_at``) and by agent alone; the
administrator's or DPO's search filters an agent over a period, or a period alone (the whole
département's log for a day, which the unusual-access report reads too), newest first.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_access_log_user_at", "access_log", ["user_id", "at"])
    op.create_index("ix_access_log_at", "access_log", ["at"])


def downgrade() -> None:
    op.drop_index("ix_access_log_at", table_name="access_log")
    op.drop_index("ix_access_log_user_at", table_name="access_log")
