"""The journeys' read model: one row per journey, its numbered events and the hand-offs to
other départements among them, written by the workflow's activity (guarded by ``seq``) and
read by the pages, the dashboards and the access rules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from parcours.core.db import Base, utcnow


class JourneyRecord(Base):
    """Read model of a person's current journey, upserted by the workflow's activity (guarded
    by ``seq``, and by ``started_at`` when a new journey of the person takes the row over)."""

    __tablename__ = "journeys"
    __table_args__ = (
        Index("ix_journeys_territory_step", "territory", "step"),
        Index("ix_journeys_stalled_deadline", "stalled", "deadline"),
    )

    beneficiary_id: Mapped[str] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE"), primary_key=True
    )
    # The journey's own id (the person's id for their first journey): its workflow is
    # ``journey-<journey_id>``; the person's earlier journeys live on in their events.
    journey_id: Mapped[str] = mapped_column(String(36), unique=True)
    workflow_id: Mapped[str] = mapped_column(String(60), unique=True)
    step: Mapped[str] = mapped_column(String(20))
    step_since: Mapped[datetime]
    deadline: Mapped[datetime | None]
    stalled: Mapped[bool] = mapped_column(Boolean, default=False)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    referent_id: Mapped[str | None] = mapped_column(String(36), index=True)
    structure_id: Mapped[str | None] = mapped_column(String(36), index=True)
    territory: Mapped[str] = mapped_column(String(3))
    orientation: Mapped[str | None] = mapped_column(String(30))
    rsa_status: Mapped[str] = mapped_column(String(20), default="open")
    follow_up_consent: Mapped[bool | None] = mapped_column(Boolean)
    check_in_due: Mapped[int | None] = mapped_column(Integer)
    exit_reason: Mapped[str | None] = mapped_column(String(30))
    exit_code: Mapped[str | None] = mapped_column(String(40))
    seq: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The person's carnet last changed (written by a trigger on the access log's carnet
    # updates, migration 0025): the stalled list's inactivity cause reads it from the open
    # journeys' index instead of grouping the whole access log at each read.
    carnet_changed_at: Mapped[datetime | None]


class JourneyEventRecord(Base):
    """One event of a journey's timeline, numbered by the workflow (idempotent insert)."""

    __tablename__ = "journey_events"
    __table_args__ = (UniqueConstraint("journey_id", "seq", name="uq_journey_events_journey_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    beneficiary_id: Mapped[str] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE"), index=True
    )
    journey_id: Mapped[str] = mapped_column(String(36))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))
    step: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime]
    actor_id: Mapped[str | None] = mapped_column(String(36))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class JourneyHandover(Base):
    """A journey handed off to another département: written by the projection of its
    ``handed_off`` event (one row per event, following the events if one is replaced). The
    receiving team learns of it in its digest; the former référent and the référents of the
    former structure may read the carnet until ``readable_until``, never write it."""

    __tablename__ = "journey_handovers"
    __table_args__ = (
        UniqueConstraint("journey_id", "seq", name="uq_journey_handovers_journey_seq"),
        Index("ix_journey_handovers_to_territory_at", "to_territory", "handed_off_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    journey_id: Mapped[str] = mapped_column(String(36))
    # The ``handed_off`` event's number in the journey's timeline.
    seq: Mapped[int] = mapped_column(Integer)
    beneficiary_id: Mapped[str] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE"), index=True
    )
    from_territory: Mapped[str] = mapped_column(String(3))
    to_territory: Mapped[str] = mapped_column(String(3))
    # Who followed the journey when it left (None in hand-offs recorded before the event
    # said so: nobody reads those afterwards).
    from_referent_id: Mapped[str | None] = mapped_column(String(36))
    from_structure_id: Mapped[str | None] = mapped_column(String(36))
    handed_off_at: Mapped[datetime]
    readable_until: Mapped[datetime]
