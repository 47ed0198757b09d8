"""each agent's inbox (« À traiter ») and her e-mail preference

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 13:40:00

One row per (source event, recipient), written by the inbox's producer from the journeys'
events and the managers' interventions (the unique key makes a replayed projection add
nothing); and how each agent wants to hear of them by e-mail (no row: a daily summary).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbox_items",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column(
            "recipient_id",
            sa.String(length=36),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("source", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column(
            "beneficiary_id",
            sa.String(length=36),
            sa.ForeignKey("beneficiaries.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("journey_id", sa.String(length=36), nullable=True),
        sa.Column("journey_seq", sa.Integer(), nullable=True),
        sa.Column("step", sa.String(length=20), nullable=True),
        sa.Column("ref", sa.String(length=36), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("source", "recipient_id", name="uq_inbox_items_source_recipient"),
    )
    op.create_index(
        "ix_inbox_items_recipient_open",
        "inbox_items",
        ["recipient_id", "done_at", "settled_at"],
    )
    op.create_index("ix_inbox_items_journey", "inbox_items", ["journey_id", "journey_seq"])
    op.create_index("ix_inbox_items_beneficiary_id", "inbox_items", ["beneficiary_id"])
    op.create_table(
        "inbox_preferences",
        sa.Column(
            "user_id",
            sa.String(length=36),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("email", sa.String(length=20), nullable=False),
        sa.Column("summary_sent_on", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("inbox_preferences")
    op.drop_index("ix_inbox_items_beneficiary_id", table_name="inbox_items")
    op.drop_index("ix_inbox_items_journey", table_name="inbox_items")
    op.drop_index("ix_inbox_items_recipient_open", table_name="inbox_items")
    op.drop_table("inbox_items")
