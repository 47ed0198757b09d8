"""orientations of people to services and the structures' answers

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcours.core.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _moment(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, parcours.core.db.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "service_orientations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("beneficiary_id", sa.String(length=36), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column("resource_structure_id", sa.Integer(), nullable=True),
        sa.Column("plan_action_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("failure", sa.String(length=40), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("callback_id", sa.String(length=64), nullable=True),
        sa.Column("requested_by", sa.String(length=36), nullable=True),
        _moment("requested_at", nullable=False),
        _moment("sent_at"),
        _moment("reminded_at"),
        sa.Column("reminder_delivered", sa.Boolean(), nullable=True),
        _moment("answered_at"),
        _moment("expires_at"),
        _moment("updated_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["beneficiary_id"],
            ["beneficiaries.id"],
            name="fk_service_orientations_beneficiary",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["resource_services.id"],
            name="fk_service_orientations_service",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["resource_structure_id"],
            ["resource_structures.id"],
            name="fk_service_orientations_structure",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_service_orientations"),
    )
    op.create_index(
        "ix_service_orientations_beneficiary", "service_orientations", ["beneficiary_id"]
    )
    op.create_index(
        "ix_service_orientations_plan_action", "service_orientations", ["plan_action_id"]
    )
    op.create_index("ix_service_orientations_status", "service_orientations", ["status"])
    # The plan action an orientation to a service becomes (its hours count in the plan).
    with op.batch_alter_table("plan_actions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("service_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_plan_actions_service",
            "resource_services",
            ["service_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index("ix_plan_actions_service_id", ["service_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("plan_actions", schema=None) as batch_op:
        batch_op.drop_index("ix_plan_actions_service_id")
        batch_op.drop_constraint("fk_plan_actions_service", type_="foreignkey")
        batch_op.drop_column("service_id")
    op.drop_index("ix_service_orientations_status", table_name="service_orientations")
    op.drop_index("ix_service_orientations_plan_action", table_name="service_orientations")
    op.drop_index("ix_service_orientations_beneficiary", table_name="service_orientations")
    op.drop_table("service_orientations")
