"""The training requests' tables: the read model the ``TrainingRequest`` workflow moves forward,
and the messages exchanged with the funder (texts stay here, never in Temporal)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from parcours.core.db import Base, utcnow


class TrainingRequestRecord(Base):
    """A request to a training's funder (the Région or France Travail) for one person: written
    by the référent's request, then moved forward by the ``TrainingRequest`` workflow's
    activity only (guarded by ``seq``): submitted ⇄ more_info_requested → approved →
    in_training → ended, or refused, or failed (never reached the funder)."""

    __tablename__ = "training_requests"
    __table_args__ = (
        Index("ix_training_requests_funder_status", "funder", "status"),
        Index("ix_training_requests_stalled_since", "stalled_since"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    beneficiary_id: Mapped[str] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE", name="fk_training_requests_beneficiary"),
        index=True,
    )
    training_id: Mapped[str] = mapped_column(String(36), index=True)
    funder: Mapped[str] = mapped_column(String(20))
    territory: Mapped[str] = mapped_column(String(3))
    workflow_id: Mapped[str] = mapped_column(String(60), unique=True)
    status: Mapped[str] = mapped_column(String(30), default="submitted")
    seq: Mapped[int] = mapped_column(Integer, default=0)
    requested_by: Mapped[str | None] = mapped_column(String(36))
    referent_id: Mapped[str | None] = mapped_column(String(36))
    structure_id: Mapped[str | None] = mapped_column(String(36))
    requested_amount: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the funder's system acknowledged the request, and the reference it gave.
    sent_at: Mapped[datetime | None]
    funder_reference: Mapped[str | None] = mapped_column(String(100))
    # The funder's answer is due by ``deadline``; past it, the funder is reminded and the
    # request is stalled (for managers) until someone acts on it.
    deadline: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    stalled_since: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(36))
    # "console" (a funder in Parcours) or "partner" (the funder's own system, by callback).
    decision_source: Mapped[str | None] = mapped_column(String(20))
    start_date: Mapped[date | None] = mapped_column(Date)
    approved_amount: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    ended_on: Mapped[date | None] = mapped_column(Date)
    completed: Mapped[bool | None] = mapped_column(Boolean)
    # Why the request never reached the funder (no consent, refused by its system…).
    failure: Mapped[str | None] = mapped_column(String(500))
    # The plan action the entry into training became in the carnet.
    plan_action_id: Mapped[str | None] = mapped_column(String(36))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TrainingRequestMessage(Base):
    """A text about a training request: the référent's note with it, the funder's question and
    the référent's answer, the reason of a refusal. Personal: kept here, never in Temporal."""

    __tablename__ = "training_request_messages"
    __table_args__ = (Index("ix_training_request_messages_request", "request_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(
        ForeignKey(
            "training_requests.id", ondelete="CASCADE", name="fk_training_request_messages_request"
        )
    )
    # request, question, answer, refusal
    kind: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    # None: the funder's own system (a callback).
    author_id: Mapped[str | None] = mapped_column(String(36))
    at: Mapped[datetime] = mapped_column(default=utcnow)
