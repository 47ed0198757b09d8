"""the mail outbox: mails sent once their transaction commits, tried again while SMTP is down

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 10:00:00

Slot reserved for the accounts by e-mail (invitations, password reset) and scoped API tokens:
the outbox below is their first part, self-contained (``outbox_mails``, owned by
``parcours.core.outbox``); the accounts' token changes may follow in this revision, each part
creating and dropping only its own tables.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _upgrade_outbox() -> None:
    op.create_table(
        "outbox_mails",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_outbox_mails_unsent",
        "outbox_mails",
        ["created_at"],
        sqlite_where=sa.text("sent_at IS NULL"),
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.create_index("ix_outbox_mails_sent_at", "outbox_mails", ["sent_at"])


def _downgrade_outbox() -> None:
    op.drop_index("ix_outbox_mails_sent_at", table_name="outbox_mails")
    op.drop_index("ix_outbox_mails_unsent", table_name="outbox_mails")
    op.drop_table("outbox_mails")


def upgrade() -> None:
    _upgrade_outbox()


def downgrade() -> None:
    _downgrade_outbox()
