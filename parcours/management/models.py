"""The console's tables: what managers did on a journey, the partner calls that keep failing,
and the daily digests (an outbox, shown in the app and e-mailed when SMTP is configured).

They share ``parcours.core.db.Base``: importing this module adds them to its metadata.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from parcours.access.models import AccessLogEntry
from parcours.core.db import Base, new_id, utcnow

# The carnet's changes by time (the access log's updates only: reads are most of it), for the
# journeys with no recent activity.
ACCESS_LOG_UPDATES_INDEX = Index(
    "ix_access_log_updates_at",
    AccessLogEntry.at,
    AccessLogEntry.beneficiary_id,
    sqlite_where=AccessLogEntry.action == "update",
    postgresql_where=AccessLogEntry.action == "update",
)


class JourneyIntervention(Base):
    """A manager's action on a journey that the workflow does not hold: a reminder to the
    référent, an escalation to the structure, a note, a partner call retried. Shown in the
    journey's timeline with who did it."""

    __tablename__ = "journey_interventions"
    __table_args__ = (
        Index("ix_journey_interventions_beneficiary_at", "beneficiary_id", "created_at"),
        Index("ix_journey_interventions_target_user", "target_user_id", "created_at"),
        Index("ix_journey_interventions_target_structure", "target_structure_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    beneficiary_id: Mapped[str] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE", name="fk_journey_interventions_person")
    )
    # reminder | escalation | note | retry
    kind: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str | None] = mapped_column(String(36))
    # Who it is addressed to: the référent reminded, the structure escalated to.
    target_user_id: Mapped[str | None] = mapped_column(String(36))
    target_structure_id: Mapped[str | None] = mapped_column(String(36))
    # What the manager wrote (personal data possible: erased with the carnet).
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PartnerIncident(Base):
    """A partner call that keeps failing: written by the partner activities from the
    ``partner_incident_attempts``-th failed attempt on, deleted when the call succeeds (or the
    partner refuses it: then it is no longer retried)."""

    __tablename__ = "partner_incidents"
    __table_args__ = (
        UniqueConstraint(
            "workflow_id", "run_id", "activity_id", name="uq_partner_incidents_activity"
        ),
        Index("ix_partner_incidents_beneficiary", "beneficiary_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workflow_id: Mapped[str] = mapped_column(String(255))
    run_id: Mapped[str] = mapped_column(String(64))
    activity_id: Mapped[str] = mapped_column(String(255))
    activity_type: Mapped[str] = mapped_column(String(100))
    partner: Mapped[str] = mapped_column(String(30))
    beneficiary_id: Mapped[str | None] = mapped_column(String(36))
    # Failed attempts seen (a "retry now" starts Temporal's count again; this one goes on).
    attempts: Mapped[int] = mapped_column(Integer)
    last_failure: Mapped[str] = mapped_column(String(1000))
    # When the call was first scheduled: failing since then.
    since: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Digest(Base):
    """One day's digest for one recipient (a manager or a structure's administrator).

    ``content`` holds ids, dates and causes only: names are read when the digest is shown or
    sent, so an erased person's name never stays here."""

    __tablename__ = "digests"
    __table_args__ = (
        UniqueConstraint("recipient_id", "day", name="uq_digests_recipient_day"),
        Index("ix_digests_day", "day"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    recipient_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE", name="fk_digests_recipient")
    )
    day: Mapped[date] = mapped_column(Date)
    # Journeys newly stalled: since this moment (the previous digest), up to ``created_at``.
    covers_from: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    sent_at: Mapped[datetime | None]
    send_error: Mapped[str | None] = mapped_column(String(500))
