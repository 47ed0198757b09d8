"""administration console: structures that can be deactivated, invitations for a purpose,
scoped API tokens, and the access log of administrators' actions

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 10:00:00

- ``structures.active``, and where an imported structure comes from (``source``,
  ``source_id``: a data·inclusion file imported twice updates it in place);
- ``invitations.purpose`` (``activation``: choose a password, 72 h; ``password_reset``: 1 h)
  and who sent it;
- ``api_tokens``: a partner's token (``partner``: CAF, France Travail, Région, structures; no
  user) or a user's; ``expires_at``, ``last_used_at``, who created it;
- ``access_log.beneficiary_id`` may be empty: an administrator's action is about a structure,
  an account or a token (``subject``), not about a person.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcours.core.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("structures") as batch:
        batch.add_column(
            sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(sa.Column("source", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("source_id", sa.String(length=200), nullable=True))
        batch.create_unique_constraint("uq_structures_source", ["territory", "source", "source_id"])
    with op.batch_alter_table("invitations") as batch:
        batch.add_column(
            sa.Column("purpose", sa.String(length=20), nullable=False, server_default="activation")
        )
        batch.add_column(sa.Column("created_by", sa.String(length=36), nullable=True))
        batch.add_column(
            sa.Column("created_at", parcours.core.db.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("user_id", existing_type=sa.String(length=36), nullable=True)
        batch.add_column(sa.Column("partner", sa.String(length=30), nullable=True))
        batch.add_column(
            sa.Column("expires_at", parcours.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("last_used_at", parcours.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("created_by", sa.String(length=36), nullable=True))
    with op.batch_alter_table("access_log") as batch:
        batch.alter_column("beneficiary_id", existing_type=sa.String(length=36), nullable=True)
        batch.add_column(sa.Column("subject", sa.String(length=80), nullable=True))


def downgrade() -> None:
    op.execute("DELETE FROM access_log WHERE beneficiary_id IS NULL")
    with op.batch_alter_table("access_log") as batch:
        batch.drop_column("subject")
        batch.alter_column("beneficiary_id", existing_type=sa.String(length=36), nullable=False)
    op.execute("DELETE FROM api_tokens WHERE user_id IS NULL")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("created_by")
        batch.drop_column("last_used_at")
        batch.drop_column("expires_at")
        batch.drop_column("partner")
        batch.alter_column("user_id", existing_type=sa.String(length=36), nullable=False)
    with op.batch_alter_table("invitations") as batch:
        batch.drop_column("created_at")
        batch.drop_column("created_by")
        batch.drop_column("purpose")
    with op.batch_alter_table("structures") as batch:
        batch.drop_constraint("uq_structures_source", type_="unique")
        batch.drop_column("source_id")
        batch.drop_column("source")
        batch.drop_column("active")
