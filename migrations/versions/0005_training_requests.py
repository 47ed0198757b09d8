"""training requests to funders

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcours.core.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _moment(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, parcours.core.db.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "training_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("beneficiary_id", sa.String(length=36), nullable=False),
        sa.Column("training_id", sa.String(length=36), nullable=False),
        sa.Column("funder", sa.String(length=20), nullable=False),
        sa.Column("territory", sa.String(length=3), nullable=False),
        sa.Column("workflow_id", sa.String(length=60), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.String(length=36), nullable=True),
        sa.Column("referent_id", sa.String(length=36), nullable=True),
        sa.Column("structure_id", sa.String(length=36), nullable=True),
        sa.Column("requested_amount", sa.Numeric(precision=10, scale=2), nullable=True),
        _moment("requested_at", nullable=False),
        _moment("sent_at"),
        sa.Column("funder_reference", sa.String(length=100), nullable=True),
        _moment("deadline"),
        _moment("reminded_at"),
        _moment("stalled_since"),
        _moment("decided_at"),
        sa.Column("decided_by", sa.String(length=36), nullable=True),
        sa.Column("decision_source", sa.String(length=20), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("approved_amount", sa.Numeric(precision=10, scale=2), nullable=True),
        _moment("started_at"),
        _moment("ended_at"),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("completed", sa.Boolean(), nullable=True),
        sa.Column("failure", sa.String(length=500), nullable=True),
        sa.Column("plan_action_id", sa.String(length=36), nullable=True),
        _moment("updated_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["beneficiary_id"],
            ["beneficiaries.id"],
            name="fk_training_requests_beneficiary",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_training_requests"),
        sa.UniqueConstraint("workflow_id", name="uq_training_requests_workflow_id"),
    )
    op.create_index("ix_training_requests_beneficiary_id", "training_requests", ["beneficiary_id"])
    op.create_index("ix_training_requests_training_id", "training_requests", ["training_id"])
    op.create_index("ix_training_requests_funder_status", "training_requests", ["funder", "status"])
    op.create_index("ix_training_requests_stalled_since", "training_requests", ["stalled_since"])
    op.create_table(
        "training_request_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author_id", sa.String(length=36), nullable=True),
        _moment("at", nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["training_requests.id"],
            name="fk_training_request_messages_request",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_training_request_messages"),
    )
    op.create_index(
        "ix_training_request_messages_request",
        "training_request_messages",
        ["request_id", "at"],
    )
    # The plan action an approved training becomes.
    with op.batch_alter_table("plan_actions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("training_id", sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("plan_actions", schema=None) as batch_op:
        batch_op.drop_column("training_id")
    op.drop_index("ix_training_request_messages_request", table_name="training_request_messages")
    op.drop_table("training_request_messages")
    op.drop_index("ix_training_requests_stalled_since", table_name="training_requests")
    op.drop_index("ix_training_requests_funder_status", table_name="training_requests")
    op.drop_index("ix_training_requests_training_id", table_name="training_requests")
    op.drop_index("ix_training_requests_beneficiary_id", table_name="training_requests")
    op.drop_table("training_requests")
