"""The indicators' tables, written by the journeys' projection (idempotent) and read by the
indicators: one row of milestones per journey, one row per step a journey entered.

They share ``parcours.core.db.Base``: importing this module adds them to its metadata.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from parcours.core.db import Base, UTCDateTime


class JourneyMilestones(Base):
    """When a journey reached each milestone (dates in French time), with where it stands now.

    ``reference_on`` is the journey's cohort date: the RSA opening, else the journey's start.
    ``follow_up_outcome`` is ``pending`` from the entry into follow-up, then ``kept`` (month-6
    check-in, still employed) or ``lost`` (job lost, or follow-up left, before).
    """

    __tablename__ = "journey_milestones"
    __table_args__ = (
        # On PostgreSQL each carries what its aggregate counts: an index-only scan instead of
        # one table page per journey (migration 0028).
        Index(
            "ix_journey_milestones_territory_reference",
            "territory",
            "reference_on",
            postgresql_include=[
                "structure_id",
                "rsa_opened_on",
                "transferred_in_on",
                "diagnosis_on",
                "oriented_on",
                "oriented_by",
                "contract_signed_on",
                "employment_on",
                "follow_up_on",
                "follow_up_outcome",
            ],
        ),
        Index(
            "ix_journey_milestones_territory_oriented",
            "territory",
            "oriented_on",
            postgresql_include=["structure_id", "contract_signed_on", "first_attended_at"],
        ),
        Index(
            "ix_journey_milestones_territory_follow_up",
            "territory",
            "follow_up_on",
            postgresql_include=["structure_id", "follow_up_outcome"],
        ),
        Index(
            "ix_journey_milestones_territory_closed",
            "territory",
            "closed_on",
            postgresql_include=["structure_id", "exit_reason", "exit_code"],
        ),
    )

    journey_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    beneficiary_id: Mapped[str] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE"), index=True
    )
    territory: Mapped[str] = mapped_column(String(3))
    structure_id: Mapped[str | None] = mapped_column(String(36))
    rsa_opened_on: Mapped[date | None] = mapped_column(Date)
    reference_on: Mapped[date] = mapped_column(Date)
    diagnosis_on: Mapped[date | None] = mapped_column(Date)
    oriented_on: Mapped[date | None] = mapped_column(Date)
    contract_signed_on: Mapped[date | None] = mapped_column(Date)
    employment_on: Mapped[date | None] = mapped_column(Date)
    follow_up_on: Mapped[date | None] = mapped_column(Date)
    follow_up_outcome: Mapped[str | None] = mapped_column(String(10))
    # The event the follow-up columns come from.
    follow_up_seq: Mapped[int | None] = mapped_column(Integer)
    closed_on: Mapped[date | None] = mapped_column(Date)
    exit_reason: Mapped[str | None] = mapped_column(String(30))
    # The département's coded exit (None: closed before coded exits, or by the platform).
    exit_code: Mapped[str | None] = mapped_column(String(40))
    # The track of the orientation (``OrientationKind``) and who decided it: ``department``,
    # or ``france_travail`` once the 6 weeks had passed.
    orientation: Mapped[str | None] = mapped_column(String(20))
    oriented_by: Mapped[str | None] = mapped_column(String(20))
    # The CAF's « soumis aux droits et devoirs » as last told (None: never told).
    subject_to_duties: Mapped[bool | None] = mapped_column(Boolean)
    # A transfer-in restarts the 6-week orientation clock from that day.
    transferred_in_on: Mapped[date | None] = mapped_column(Date)
    # The first appointment the person attended on the day of her orientation or after: kept
    # by PostgreSQL's triggers (migration 0027), never written by the application; empty on
    # SQLite, where the indicators look the appointments up at each read.
    first_attended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The newest event applied: where the journey stands now comes from it.
    seq: Mapped[int] = mapped_column(Integer)


class JourneyStepSpan(Base):
    """A stay of a journey in one step: from ``entered_at`` until ``left_at`` (None while the
    journey is still there). Territory and structure are the journey's when it entered."""

    __tablename__ = "journey_step_spans"
    __table_args__ = (
        # Time per step reads this index alone (on PostgreSQL it holds every column needed),
        # step by step over the period's stays.
        Index(
            "ix_journey_step_spans_territory_step_left",
            "territory",
            "step",
            "left_at",
            postgresql_include=["entered_at", "structure_id"],
        ),
    )

    journey_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    beneficiary_id: Mapped[str] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE"), index=True
    )
    entered_at: Mapped[datetime] = mapped_column(primary_key=True)
    step: Mapped[str] = mapped_column(String(20))
    # The event that entered the step: of two entries at the same instant, the later wins.
    entered_seq: Mapped[int] = mapped_column(Integer)
    left_at: Mapped[datetime | None]
    territory: Mapped[str] = mapped_column(String(3))
    structure_id: Mapped[str | None] = mapped_column(String(36))


class JourneyProcedureEvent(Base):
    """One event of the 2023 law's procedures that the indicators count (a social review
    concluded, a sanction case opened, lifted or closed, France Travail asked to orient), as
    the journey recorded it: one row per journey event, written once."""

    __tablename__ = "journey_procedure_events"
    __table_args__ = (
        Index("ix_journey_procedure_events_territory_day", "territory", "occurred_on"),
        Index("ix_journey_procedure_events_case", "case_id"),
    )

    journey_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    beneficiary_id: Mapped[str] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(50))
    occurred_on: Mapped[date] = mapped_column(Date)
    territory: Mapped[str] = mapped_column(String(3))
    structure_id: Mapped[str | None] = mapped_column(String(36))
    # A sanction case's id (``sanction_*``).
    case_id: Mapped[str | None] = mapped_column(String(64))
    # A social review concluded on time or late.
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    # Why a sanction was lifted (``remobilisation``, ``ended``).
    reason: Mapped[str | None] = mapped_column(String(30))
