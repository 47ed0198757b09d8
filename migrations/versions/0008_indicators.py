"""indicators: the journeys' milestones and time spent in each step

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcours.core.db
from parcours.indicators.backfill import backfill

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "journey_milestones",
        sa.Column("beneficiary_id", sa.String(length=36), nullable=False),
        sa.Column("territory", sa.String(length=3), nullable=False),
        sa.Column("structure_id", sa.String(length=36), nullable=True),
        sa.Column("rsa_opened_on", sa.Date(), nullable=True),
        sa.Column("reference_on", sa.Date(), nullable=False),
        sa.Column("diagnosis_on", sa.Date(), nullable=True),
        sa.Column("oriented_on", sa.Date(), nullable=True),
        sa.Column("contract_signed_on", sa.Date(), nullable=True),
        sa.Column("employment_on", sa.Date(), nullable=True),
        sa.Column("follow_up_on", sa.Date(), nullable=True),
        sa.Column("follow_up_outcome", sa.String(length=10), nullable=True),
        sa.Column("follow_up_seq", sa.Integer(), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("exit_reason", sa.String(length=30), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["beneficiary_id"], ["beneficiaries.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("beneficiary_id"),
    )
    with op.batch_alter_table("journey_milestones", schema=None) as batch_op:
        batch_op.create_index(
            "ix_journey_milestones_territory_reference", ["territory", "reference_on"]
        )
        batch_op.create_index(
            "ix_journey_milestones_territory_oriented", ["territory", "oriented_on"]
        )
        batch_op.create_index(
            "ix_journey_milestones_territory_follow_up", ["territory", "follow_up_on"]
        )
        batch_op.create_index("ix_journey_milestones_territory_closed", ["territory", "closed_on"])

    op.create_table(
        "journey_step_spans",
        sa.Column("beneficiary_id", sa.String(length=36), nullable=False),
        sa.Column("entered_at", parcours.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("step", sa.String(length=20), nullable=False),
        sa.Column("entered_seq", sa.Integer(), nullable=False),
        sa.Column("left_at", parcours.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("territory", sa.String(length=3), nullable=False),
        sa.Column("structure_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(["beneficiary_id"], ["beneficiaries.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("beneficiary_id", "entered_at"),
    )
    with op.batch_alter_table("journey_step_spans", schema=None) as batch_op:
        batch_op.create_index(
            "ix_journey_step_spans_territory_step_left",
            ["territory", "step", "left_at"],
            postgresql_include=["entered_at", "structure_id"],
        )

    # Journeys recorded before: their milestones and spans, from their timelines.
    backfill(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("journey_step_spans", schema=None) as batch_op:
        batch_op.drop_index("ix_journey_step_spans_territory_step_left")
    op.drop_table("journey_step_spans")
    with op.batch_alter_table("journey_milestones", schema=None) as batch_op:
        batch_op.drop_index("ix_journey_milestones_territory_closed")
        batch_op.drop_index("ix_journey_milestones_territory_follow_up")
        batch_op.drop_index("ix_journey_milestones_territory_oriented")
        batch_op.drop_index("ix_journey_milestones_territory_reference")
    op.drop_table("journey_milestones")
