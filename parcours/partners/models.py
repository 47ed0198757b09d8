"""The tables of partner exchanges: CAF feed files and their lines (each line's outcome, the
reason of a rejection), the CAF events already applied (so that a feed imported twice changes
nothing), and the partners' callbacks (received once, by ``callback_id``).

They share ``parcours.core.db.Base``: importing this module adds them to its metadata.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from parcours.carnet.models import Beneficiary
from parcours.core.db import Base, utcnow

# The import looks people up by CAF number, line after line.
BENEFICIARY_CAF_NUMBER_INDEX = Index("ix_beneficiaries_caf_number", Beneficiary.caf_number)


class CafFeedFile(Base):
    """One feed file, known by its content: the same file is one import."""

    __tablename__ = "caf_feed_files"
    __table_args__ = (PrimaryKeyConstraint("id", name="pk_caf_feed_files"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the file
    filename: Mapped[str] = mapped_column(String(255))
    header: Mapped[str] = mapped_column(Text)
    lines: Mapped[int] = mapped_column(Integer)
    # stored → running → completed (or failed)
    status: Mapped[str] = mapped_column(String(20), default="stored")
    uploaded_by: Mapped[str | None] = mapped_column(String(36))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]


class CafFeedLine(Base):
    """One data line of a feed file. Its text (personal data) is kept only until the import
    ends; its outcome and the reason of a rejection stay."""

    __tablename__ = "caf_feed_lines"
    __table_args__ = (
        PrimaryKeyConstraint("file_id", "number", name="pk_caf_feed_lines"),
        Index("ix_caf_feed_lines_file_outcome", "file_id", "outcome"),
    )

    file_id: Mapped[str] = mapped_column(
        ForeignKey("caf_feed_files.id", ondelete="CASCADE", name="fk_caf_feed_lines_file"),
        primary_key=True,
    )
    number: Mapped[int] = mapped_column(Integer, primary_key=True)  # in the file (header: 1)
    text: Mapped[str | None] = mapped_column(Text)
    # None until applied; then created | signalled | unchanged | rejected
    outcome: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(500))
    event_id: Mapped[str | None] = mapped_column(String(64))
    beneficiary_id: Mapped[str | None] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="SET NULL", name="fk_caf_feed_lines_beneficiary")
    )
    applied_at: Mapped[datetime | None]


class CafAppliedEvent(Base):
    """A CAF event (``id_evenement``) that changed something in Parcours, once."""

    __tablename__ = "caf_applied_events"
    __table_args__ = (PrimaryKeyConstraint("event_id", name="pk_caf_applied_events"),)

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    beneficiary_id: Mapped[str | None] = mapped_column(
        ForeignKey(
            "beneficiaries.id", ondelete="SET NULL", name="fk_caf_applied_events_beneficiary"
        ),
        index=True,
    )
    file_id: Mapped[str | None] = mapped_column(String(64))
    line_number: Mapped[int | None] = mapped_column(Integer)
    applied_at: Mapped[datetime] = mapped_column(default=utcnow)


class PartnerEvent(Base):
    """A callback from a partner, recorded once (``callback_id`` is unique): an entry into
    work, a funder's decision on a training request, a structure's answer to an orientation.
    ``body`` is the callback as received (it may hold personal data: erased with the person)."""

    __tablename__ = "partner_events"
    __table_args__ = (
        PrimaryKeyConstraint("id", name="pk_partner_events"),
        UniqueConstraint("callback_id", name="uq_partner_events_callback_id"),
        Index("ix_partner_events_kind_subject", "kind", "subject_id"),
        Index("ix_partner_events_beneficiary", "beneficiary_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    callback_id: Mapped[str] = mapped_column(String(64))
    partner: Mapped[str] = mapped_column(String(30))
    kind: Mapped[str] = mapped_column(String(30))
    # The partner's reference (its training request or orientation number), if any.
    reference: Mapped[str | None] = mapped_column(String(100))
    # The Parcours id the callback answers: a training request id, an orientation id.
    subject_id: Mapped[str | None] = mapped_column(String(100))
    beneficiary_id: Mapped[str | None] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE", name="fk_partner_events_beneficiary")
    )
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set by whoever acts on it (the journey, a training request): None means not yet.
    handled_at: Mapped[datetime | None]
