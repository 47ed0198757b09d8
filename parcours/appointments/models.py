"""The appointments' tables: a structure's places and slots (and its settings), the
appointments themselves with their history, and the seats booked in a slot.

``appointments`` was the carnet's bare table (a date, a place, a purpose, noted by hand): it
is this feature's now, extended. Rows noted by hand keep ``mode = 'noted'`` and their four
statuses; invitations and convocations carry their kind, structure, slot and workflow."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from parcours.core.db import Base, new_id, utcnow


class AppointmentSettings(Base):
    """A structure's appointment settings: how long an invitation link books, and whom a
    person calls (shown on an expired link's page)."""

    __tablename__ = "appointment_settings"

    structure_id: Mapped[str] = mapped_column(
        ForeignKey("structures.id", ondelete="CASCADE"), primary_key=True
    )
    invitation_days: Mapped[int] = mapped_column(Integer, default=7)
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Place(Base):
    """Where a structure receives people."""

    __tablename__ = "appointment_places"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    structure_id: Mapped[str] = mapped_column(
        ForeignKey("structures.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300))
    accessibility: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Slot(Base):
    """A slot an agent holds at a place: one day (``on_date``) or each week (``weekday``,
    Monday 0) from ``valid_from`` until ``valid_until``; local time (Europe/Paris)."""

    __tablename__ = "appointment_slots"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    structure_id: Mapped[str] = mapped_column(
        ForeignKey("structures.id", ondelete="CASCADE"), index=True
    )
    place_id: Mapped[str] = mapped_column(ForeignKey("appointment_places.id", ondelete="CASCADE"))
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(40))
    start_time: Mapped[time] = mapped_column(Time)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    # More than one only for an information collective.
    capacity: Mapped[int] = mapped_column(Integer, default=1)
    on_date: Mapped[date | None] = mapped_column(Date)
    weekday: Mapped[int | None] = mapped_column(Integer)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Appointment(Base):
    __tablename__ = "appointments"
    __table_args__ = (
        # The appointments' indicators count by mode and status from the index (0028).
        Index(
            "ix_appointments_structure_starts",
            "structure_id",
            "starts_at",
            postgresql_include=["mode", "status"],
        ),
        # The indicators' first appointment attended after an orientation (migration 0026).
        Index(
            "ix_appointments_attended",
            "beneficiary_id",
            "starts_at",
            postgresql_where=text("status = 'attended'"),
            sqlite_where=text("status = 'attended'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    beneficiary_id: Mapped[str] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE"), index=True
    )
    # ``noted`` (written in the carnet by hand), ``invitation`` or ``convocation``.
    mode: Mapped[str] = mapped_column(String(20), default="noted")
    kind: Mapped[str | None] = mapped_column(String(40))
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    # Free text for noted ones; the place's name for the others once a slot is set.
    place: Mapped[str | None] = mapped_column(String(200))
    purpose: Mapped[str | None] = mapped_column(String(200))
    with_user_id: Mapped[str | None] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(20), default="planned")
    created_by: Mapped[str | None] = mapped_column(String(36))
    structure_id: Mapped[str | None] = mapped_column(
        ForeignKey("structures.id", ondelete="SET NULL"), index=True
    )
    place_id: Mapped[str | None] = mapped_column(
        ForeignKey("appointment_places.id", ondelete="SET NULL")
    )
    slot_id: Mapped[str | None] = mapped_column(
        ForeignKey("appointment_slots.id", ondelete="SET NULL")
    )
    journey_id: Mapped[str | None] = mapped_column(String(36))
    workflow_id: Mapped[str | None] = mapped_column(String(80))
    # The invitation link's token, hashed (the token itself is only in the person's message).
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime | None]
    with_letter: Mapped[bool] = mapped_column(Boolean, default=False)
    letter_requested_at: Mapped[datetime | None]
    # The convocation letter kept in the carnet's documents (its proof), once printed.
    letter_document_id: Mapped[str | None] = mapped_column(String(36))
    # An excused absence's reason (French, kept here, never in Temporal).
    attendance_reason: Mapped[str | None] = mapped_column(Text)
    # The workflow's change last written (a retried or late write of an older one is skipped).
    seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(default=utcnow)


class AppointmentChange(Base):
    """One change of an appointment, as its workflow recorded it (the carnet's history)."""

    __tablename__ = "appointment_changes"
    __table_args__ = (UniqueConstraint("appointment_id", "seq", name="uq_appointment_changes"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    appointment_id: Mapped[str] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    change: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    starts_at: Mapped[datetime | None]
    actor_id: Mapped[str | None] = mapped_column(String(36))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Seat(Base):
    """A seat taken in one occurrence of a slot: unique, so two people never get the same one
    (a slot of capacity N has seats 1..N)."""

    __tablename__ = "appointment_seats"
    __table_args__ = (
        UniqueConstraint("slot_id", "starts_at", "seat", name="uq_appointment_seats"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    slot_id: Mapped[str] = mapped_column(ForeignKey("appointment_slots.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime]
    seat: Mapped[int] = mapped_column(Integer)
    appointment_id: Mapped[str] = mapped_column(
        ForeignKey("appointments.id", ondelete="CASCADE"), index=True
    )
