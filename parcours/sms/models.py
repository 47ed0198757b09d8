"""The SMS outbox's table: one row per SMS, from the moment a feature decides to send it to the
provider's delivery report. It holds the recipient and the text (personal data: the row goes
with the person, ``ondelete="CASCADE"``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from parcours.core.db import Base, new_id, utcnow
from parcours.sms.rules import SmsStatus


class SmsMessage(Base):
    __tablename__ = "sms_messages"
    __table_args__ = (
        # What the senders read: the pending messages, by the time they may go.
        Index(
            "ix_sms_messages_pending",
            "not_before",
            sqlite_where=text("status = 'en_attente'"),
            postgresql_where=text("status = 'en_attente'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # E.164 (+33612345678), checked at entry.
    recipient: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    # Why it is sent (appointment_invitation, appointment_reminder…): the provider's tag too.
    purpose: Mapped[str] = mapped_column(String(60))
    beneficiary_id: Mapped[str | None] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE"), index=True
    )
    # The caller's key: enqueueing twice with it writes one SMS.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    # Not before this (quiet hours: a message written at night waits for 08:00, Paris time).
    not_before: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12), default=SmsStatus.PENDING.value)
    provider_message_id: Mapped[str | None] = mapped_column(String(64), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    # Not taken before: a sender's claim while it sends, then the wait after a failure.
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    # When the status last changed after sending (delivered, failed, refused).
    status_at: Mapped[datetime | None]
