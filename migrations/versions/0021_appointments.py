"""appointments: places, slots, invitations, convocations, attendance

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 16:30:00

The carnet's bare ``appointments`` table (a date, a place, a purpose noted by hand) becomes
the appointments feature's: its rows stay, as ``mode = 'noted'`` with their four statuses;
invitations and convocations add their kind, structure, place, slot, link (its hash only),
workflow and attendance. Beside it: each structure's settings, places and slots, the history
of each appointment's changes, and the seats taken in a slot (unique: never booked twice).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "appointment_settings",
        sa.Column(
            "structure_id",
            sa.String(length=36),
            sa.ForeignKey("structures.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("invitation_days", sa.Integer(), nullable=False),
        sa.Column("contact_phone", sa.String(length=20), nullable=True),
        sa.Column("contact_email", sa.String(length=254), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "appointment_places",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column(
            "structure_id",
            sa.String(length=36),
            sa.ForeignKey("structures.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("accessibility", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_appointment_places_structure_id", "appointment_places", ["structure_id"])
    op.create_table(
        "appointment_slots",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column(
            "structure_id",
            sa.String(length=36),
            sa.ForeignKey("structures.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "place_id",
            sa.String(length=36),
            sa.ForeignKey("appointment_places.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "agent_id",
            sa.String(length=36),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=True),
        sa.Column("weekday", sa.Integer(), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_appointment_slots_structure_id", "appointment_slots", ["structure_id"])
    with op.batch_alter_table("appointments") as batch:
        batch.alter_column("starts_at", existing_type=sa.DateTime(timezone=True), nullable=True)
        batch.alter_column("place", existing_type=sa.String(length=200), nullable=True)
        batch.alter_column("purpose", existing_type=sa.String(length=200), nullable=True)
        # The rows written until now were noted by hand in the carnet.
        batch.add_column(
            sa.Column("mode", sa.String(length=20), nullable=False, server_default="noted")
        )
        batch.add_column(sa.Column("kind", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("structure_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("place_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("slot_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("journey_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("workflow_id", sa.String(length=80), nullable=True))
        batch.add_column(sa.Column("token_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("with_letter", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("letter_requested_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("letter_document_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("attendance_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("seq", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_foreign_key(
            "fk_appointments_structure", "structures", ["structure_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_foreign_key(
            "fk_appointments_place",
            "appointment_places",
            ["place_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_foreign_key(
            "fk_appointments_slot", "appointment_slots", ["slot_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_unique_constraint("uq_appointments_token_hash", ["token_hash"])
        batch.create_index("ix_appointments_structure_id", ["structure_id"])
        batch.create_index("ix_appointments_structure_starts", ["structure_id", "starts_at"])
    op.create_table(
        "appointment_changes",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column(
            "appointment_id",
            sa.String(length=36),
            sa.ForeignKey("appointments.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("change", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actor_id", sa.String(length=36), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("appointment_id", "seq", name="uq_appointment_changes"),
    )
    op.create_index(
        "ix_appointment_changes_appointment_id", "appointment_changes", ["appointment_id"]
    )
    op.create_table(
        "appointment_seats",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column(
            "slot_id",
            sa.String(length=36),
            sa.ForeignKey("appointment_slots.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seat", sa.Integer(), nullable=False),
        sa.Column(
            "appointment_id",
            sa.String(length=36),
            sa.ForeignKey("appointments.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.UniqueConstraint("slot_id", "starts_at", "seat", name="uq_appointment_seats"),
    )
    op.create_index("ix_appointment_seats_appointment_id", "appointment_seats", ["appointment_id"])


def downgrade() -> None:
    op.drop_index("ix_appointment_seats_appointment_id", table_name="appointment_seats")
    op.drop_table("appointment_seats")
    op.drop_index("ix_appointment_changes_appointment_id", table_name="appointment_changes")
    op.drop_table("appointment_changes")
    # Invitations and convocations have no place in the carnet's bare table: they go.
    op.execute("DELETE FROM appointments WHERE mode <> 'noted'")
    with op.batch_alter_table("appointments") as batch:
        batch.drop_index("ix_appointments_structure_starts")
        batch.drop_index("ix_appointments_structure_id")
        batch.drop_constraint("uq_appointments_token_hash", type_="unique")
        batch.drop_constraint("fk_appointments_slot", type_="foreignkey")
        batch.drop_constraint("fk_appointments_place", type_="foreignkey")
        batch.drop_constraint("fk_appointments_structure", type_="foreignkey")
        for column in (
            "updated_at",
            "created_at",
            "seq",
            "attendance_reason",
            "letter_document_id",
            "letter_requested_at",
            "with_letter",
            "expires_at",
            "token_hash",
            "workflow_id",
            "journey_id",
            "slot_id",
            "place_id",
            "structure_id",
            "ends_at",
            "kind",
            "mode",
        ):
            batch.drop_column(column)
        batch.alter_column("purpose", existing_type=sa.String(length=200), nullable=False)
        batch.alter_column("place", existing_type=sa.String(length=200), nullable=False)
        batch.alter_column("starts_at", existing_type=sa.DateTime(timezone=True), nullable=False)
    op.drop_index("ix_appointment_slots_structure_id", table_name="appointment_slots")
    op.drop_table("appointment_slots")
    op.drop_index("ix_appointment_places_structure_id", table_name="appointment_places")
    op.drop_table("appointment_places")
    op.drop_table("appointment_settings")
