"""management: interventions on journeys, partner incidents, digests

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcours.core.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "journey_interventions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("beneficiary_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("actor_id", sa.String(length=36), nullable=True),
        sa.Column("target_user_id", sa.String(length=36), nullable=True),
        sa.Column("target_structure_id", sa.String(length=36), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("created_at", parcours.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["beneficiary_id"],
            ["beneficiaries.id"],
            name="fk_journey_interventions_person",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_journey_interventions"),
    )
    op.create_index(
        "ix_journey_interventions_beneficiary_at",
        "journey_interventions",
        ["beneficiary_id", "created_at"],
    )
    op.create_index(
        "ix_journey_interventions_target_user",
        "journey_interventions",
        ["target_user_id", "created_at"],
    )
    op.create_index(
        "ix_journey_interventions_target_structure",
        "journey_interventions",
        ["target_structure_id", "created_at"],
    )
    op.create_table(
        "partner_incidents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("workflow_id", sa.String(length=255), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("activity_id", sa.String(length=255), nullable=False),
        sa.Column("activity_type", sa.String(length=100), nullable=False),
        sa.Column("partner", sa.String(length=30), nullable=False),
        sa.Column("beneficiary_id", sa.String(length=36), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_failure", sa.String(length=1000), nullable=False),
        sa.Column("since", parcours.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", parcours.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_partner_incidents"),
        sa.UniqueConstraint(
            "workflow_id", "run_id", "activity_id", name="uq_partner_incidents_activity"
        ),
    )
    op.create_index("ix_partner_incidents_beneficiary", "partner_incidents", ["beneficiary_id"])
    op.create_table(
        "digests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("recipient_id", sa.String(length=36), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("covers_from", parcours.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", parcours.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("sent_at", parcours.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("send_error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["recipient_id"], ["users.id"], name="fk_digests_recipient", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_digests"),
        sa.UniqueConstraint("recipient_id", "day", name="uq_digests_recipient_day"),
    )
    op.create_index("ix_digests_day", "digests", ["day"])
    op.create_index(
        "ix_access_log_updates_at",
        "access_log",
        ["at", "beneficiary_id"],
        sqlite_where=sa.text("action = 'update'"),
        postgresql_where=sa.text("action = 'update'"),
    )


def downgrade() -> None:
    op.drop_index("ix_access_log_updates_at", table_name="access_log")
    op.drop_index("ix_digests_day", table_name="digests")
    op.drop_table("digests")
    op.drop_index("ix_partner_incidents_beneficiary", table_name="partner_incidents")
    op.drop_table("partner_incidents")
    op.drop_index("ix_journey_interventions_target_structure", table_name="journey_interventions")
    op.drop_index("ix_journey_interventions_target_user", table_name="journey_interventions")
    op.drop_index("ix_journey_interventions_beneficiary_at", table_name="journey_interventions")
    op.drop_table("journey_interventions")
