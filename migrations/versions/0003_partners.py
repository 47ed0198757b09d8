"""partners: CAF feed files and lines, applied CAF events, partner callbacks

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 05:37:33.059228
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parcours.core.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "caf_feed_files",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("header", sa.Text(), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("uploaded_by", sa.String(length=36), nullable=True),
        sa.Column("uploaded_at", parcours.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", parcours.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", parcours.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_caf_feed_files"),
    )
    op.create_table(
        "caf_feed_lines",
        sa.Column("file_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("event_id", sa.String(length=64), nullable=True),
        sa.Column("beneficiary_id", sa.String(length=36), nullable=True),
        sa.Column("applied_at", parcours.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["caf_feed_files.id"],
            name="fk_caf_feed_lines_file",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["beneficiary_id"],
            ["beneficiaries.id"],
            name="fk_caf_feed_lines_beneficiary",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("file_id", "number", name="pk_caf_feed_lines"),
    )
    op.create_index("ix_caf_feed_lines_file_outcome", "caf_feed_lines", ["file_id", "outcome"])
    op.create_table(
        "caf_applied_events",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("beneficiary_id", sa.String(length=36), nullable=True),
        sa.Column("file_id", sa.String(length=64), nullable=True),
        sa.Column("line_number", sa.Integer(), nullable=True),
        sa.Column("applied_at", parcours.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["beneficiary_id"],
            ["beneficiaries.id"],
            name="fk_caf_applied_events_beneficiary",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("event_id", name="pk_caf_applied_events"),
    )
    op.create_index(
        "ix_caf_applied_events_beneficiary_id", "caf_applied_events", ["beneficiary_id"]
    )
    op.create_table(
        "partner_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("callback_id", sa.String(length=64), nullable=False),
        sa.Column("partner", sa.String(length=30), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("subject_id", sa.String(length=100), nullable=True),
        sa.Column("beneficiary_id", sa.String(length=36), nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("received_at", parcours.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("handled_at", parcours.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["beneficiary_id"],
            ["beneficiaries.id"],
            name="fk_partner_events_beneficiary",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_partner_events"),
        sa.UniqueConstraint("callback_id", name="uq_partner_events_callback_id"),
    )
    op.create_index("ix_partner_events_beneficiary", "partner_events", ["beneficiary_id"])
    op.create_index("ix_partner_events_kind_subject", "partner_events", ["kind", "subject_id"])
    # The CAF import finds people by CAF number, line after line.
    op.create_index("ix_beneficiaries_caf_number", "beneficiaries", ["caf_number"])


def downgrade() -> None:
    op.drop_index("ix_beneficiaries_caf_number", table_name="beneficiaries")
    op.drop_index("ix_partner_events_kind_subject", table_name="partner_events")
    op.drop_index("ix_partner_events_beneficiary", table_name="partner_events")
    op.drop_table("partner_events")
    op.drop_index("ix_caf_applied_events_beneficiary_id", table_name="caf_applied_events")
    op.drop_table("caf_applied_events")
    op.drop_index("ix_caf_feed_lines_file_outcome", table_name="caf_feed_lines")
    op.drop_table("caf_feed_lines")
    op.drop_table("caf_feed_files")
