"""SQL tables of the orientations: each one the read model of a child workflow of the
person's journey, written by that workflow's activities (pages and dashboards read them; the
workflow stays the source of truth).

They share ``parcours.core.db.Base``: importing this module adds them to its metadata.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
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
