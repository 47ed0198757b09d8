"""SQL tables of the orientations: each one the read model of a child workflow of the
person's journey, written by that workflow's activities (pages and dashboards read them; the
workflow stays the source of truth).

They share ``parcours.core.db.Base``: importing this module adds them to its metadata.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from parcours.core.db import Base, utcnow


class ServiceOrientationRecord(Base):
    """An orientation of a person to a service of the resource base, as the
    ``ServiceOrientation`` workflow last wrote it: requested → sent (→ reminded) → accepted,
    refused (with the structure's reason), expired, or failed (never reached the structure).
    ``seq`` only moves forward, so a retried or late write changes nothing."""

    __tablename__ = "service_orientations"
    __table_args__ = (
        Index("ix_service_orientations_beneficiary", "beneficiary_id"),
        Index("ix_service_orientations_plan_action", "plan_action_id"),
        Index("ix_service_orientations_status", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    beneficiary_id: Mapped[str] = mapped_column(
        ForeignKey(
            "beneficiaries.id", ondelete="CASCADE", name="fk_service_orientations_beneficiary"
        )
    )
    service_id: Mapped[int | None] = mapped_column(
        ForeignKey(
            "resource_services.id", ondelete="SET NULL", name="fk_service_orientations_service"
        )
    )
    resource_structure_id: Mapped[int | None] = mapped_column(
        ForeignKey(
            "resource_structures.id",
            ondelete="SET NULL",
            name="fk_service_orientations_structure",
        )
    )
    # The line of the plan it became (written by the request, maybe after this row: no FK).
    plan_action_id: Mapped[str | None] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(20))
    seq: Mapped[int] = mapped_column(Integer, default=0)
    # The structure's reference for it, once received.
    reference: Mapped[str | None] = mapped_column(String(100))
    # Why it never reached the structure (a ``FAILURE_LABELS`` key).
    failure: Mapped[str | None] = mapped_column(String(40))
    # The structure's reason for a refusal, as its callback gave it (personal: erasable).
    reason: Mapped[str | None] = mapped_column(Text)
    callback_id: Mapped[str | None] = mapped_column(String(64))
    requested_by: Mapped[str | None] = mapped_column(String(36))
    requested_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    reminder_delivered: Mapped[bool | None]
    answered_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- Training requests to their funder (the ``TrainingRequest`` workflow) ---


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
