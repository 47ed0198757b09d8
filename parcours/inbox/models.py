"""The inbox's tables: one item per (source event, recipient), and each agent's e-mail
preference. An item names the journey and the person by id only: the page reads the name from
the carnet, so an erased person leaves no name here."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from parcours.core.db import Base, new_id, utcnow


class InboxItem(Base):
    """Something that needs its recipient: open until she marks it done (``done_at``) or the
    thing it is about is settled (``settled_at``). ``source`` names what produced it
    (``journey:<id>:<seq>``, ``intervention:<id>``, ``due:<journey>:<deadline>``): with the
    recipient it is unique, so a projection retried or replayed writes it once."""

    __tablename__ = "inbox_items"
    __table_args__ = (
        UniqueConstraint("source", "recipient_id", name="uq_inbox_items_source_recipient"),
        Index("ix_inbox_items_recipient_open", "recipient_id", "done_at", "settled_at"),
        Index("ix_inbox_items_journey", "journey_id", "journey_seq"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    recipient_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(40))
    beneficiary_id: Mapped[str | None] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE"), index=True
    )
    journey_id: Mapped[str | None] = mapped_column(String(36))
    # The journey event's number when a journey event made it (a replaced event takes its
    # items with it).
    journey_seq: Mapped[int | None] = mapped_column(Integer)
    # The step the journey was in: a journey leaving it settles the items bound to it.
    step: Mapped[str | None] = mapped_column(String(20))
    # What it is about within the journey: a training request's or an orientation's id.
    ref: Mapped[str | None] = mapped_column(String(36))
    # Ids and decisions only (a funder, a decision, a deadline), never personal data.
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]
    settled_at: Mapped[datetime | None]


class InboxPreference(Base):
    """How an agent wants to hear of her items by e-mail (no row: the daily summary)."""

    __tablename__ = "inbox_preferences"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # ``immediate`` (each item at once), ``daily`` (one summary a day) or ``none``.
    email: Mapped[str] = mapped_column(String(20), default="daily")
    # The day of the last daily summary: one per day, whatever the retries.
    summary_sent_on: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
