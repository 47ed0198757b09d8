"""reorientation requests: who asked, why (a code and a free text), and the orientation
team's decision with its reasons (issue 15)

Revision ID: 0023_law_reorient
Revises: 0023_law_report
Create Date: 2026-12-05 20:00:00

The free texts are the person's: the row goes with her (``ondelete="CASCADE"``). The journey's
workflow holds only the request's id, the codes and the decision.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_law_reorient"
down_revision: str | None = "0023_law_report"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reorientation_requests",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column(
            "beneficiary_id",
            sa.String(length=36),
            sa.ForeignKey("beneficiaries.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("journey_id", sa.String(length=36), nullable=False),
        sa.Column("requested_by_role", sa.String(length=20), nullable=False),
        sa.Column("requested_by", sa.String(length=36), nullable=True),
        sa.Column("reason_code", sa.String(length=30), nullable=False),
        sa.Column("reason_text", sa.Text(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_orientation", sa.String(length=30), nullable=True),
        sa.Column("from_structure_id", sa.String(length=36), nullable=True),
        sa.Column("from_referent_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.String(length=36), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("orientation", sa.String(length=30), nullable=True),
        sa.Column("structure_id", sa.String(length=36), nullable=True),
        sa.Column("referent_id", sa.String(length=36), nullable=True),
        sa.Column("after_team_meeting", sa.Boolean(), nullable=False),
        sa.Column("refusal_code", sa.String(length=30), nullable=True),
        sa.Column("decision_text", sa.Text(), nullable=True),
    )
    op.create_index(
        "ix_reorientation_requests_beneficiary_id", "reorientation_requests", ["beneficiary_id"]
    )
    op.create_index(
        "ix_reorientation_requests_journey_id", "reorientation_requests", ["journey_id"]
    )


def downgrade() -> None:
    op.drop_table("reorientation_requests")
