"""A reorientation request with its reasons and decision: the free texts live here, in SQL
where they can be corrected and erased, never in the journey's workflow (which holds the
request's id, who asked, the coded reasons and the decision)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from parcours.core.db import Base, new_id, utcnow


class ReorientationRequest(Base):
    __tablename__ = "reorientation_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    beneficiary_id: Mapped[str] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE"), index=True
    )
    journey_id: Mapped[str] = mapped_column(String(36), index=True)
    # "referent" or "person"; who (a user's id) asked.
    requested_by_role: Mapped[str] = mapped_column(String(20))
    requested_by: Mapped[str | None] = mapped_column(String(36))
    reason_code: Mapped[str] = mapped_column(String(30))
    reason_text: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The orientation as it stood when asked (to show « de … vers … »).
    from_orientation: Mapped[str | None] = mapped_column(String(30))
    from_structure_id: Mapped[str | None] = mapped_column(String(36))
    from_referent_id: Mapped[str | None] = mapped_column(String(36))
    # "pending", "accepted" or "refused".
    status: Mapped[str] = mapped_column(String(20), default="pending")
    decided_by: Mapped[str | None] = mapped_column(String(36))
    decided_at: Mapped[datetime | None]
    orientation: Mapped[str | None] = mapped_column(String(30))
    structure_id: Mapped[str | None] = mapped_column(String(36))
    referent_id: Mapped[str | None] = mapped_column(String(36))
    after_team_meeting: Mapped[bool] = mapped_column(Boolean, default=False)
    refusal_code: Mapped[str | None] = mapped_column(String(30))
    decision_text: Mapped[str | None] = mapped_column(Text)
