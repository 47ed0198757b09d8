"""the SMS outbox: one row per SMS, from the decision to send it to its delivery report

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 16:40:00

Written by a feature in its own transaction, once per idempotency key; held to 08:00 (Paris)
when written at night (``not_before``); claimed by a sender before the provider's call, then
``envoye`` with the provider's message id, ``refuse`` (never tried again) or still
``en_attente`` with its next attempt; ``delivre`` or ``echec`` from the delivery report.
The recipient and the text are the person's: the row goes with her (``ondelete="CASCADE"``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sms_messages",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("recipient", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("purpose", sa.String(length=60), nullable=False),
        sa.Column(
            "beneficiary_id",
            sa.String(length=36),
            sa.ForeignKey("beneficiaries.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("provider_message_id", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("idempotency_key", name="uq_sms_messages_idempotency_key"),
    )
    op.create_index("ix_sms_messages_beneficiary_id", "sms_messages", ["beneficiary_id"])
    op.create_index("ix_sms_messages_provider_message_id", "sms_messages", ["provider_message_id"])
    op.create_index(
        "ix_sms_messages_pending",
        "sms_messages",
        ["not_before"],
        sqlite_where=sa.text("status = 'en_attente'"),
        postgresql_where=sa.text("status = 'en_attente'"),
    )


def downgrade() -> None:
    op.drop_table("sms_messages")
