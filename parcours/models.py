"""SQL tables: the people and structures (personal data lives here, erasable), and the
journeys' read model written by the workflow's activities."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from parcours.db import UTCDateTime, utcnow


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class Structure(Base):
    """A structure that follows people: département, France Travail agency, CCAS, association."""

    __tablename__ = "structures"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30))
    territory: Mapped[str] = mapped_column(String(3), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    """A professional of a structure (référent, chargé·e d'orientation, manager…)."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(30))
    structure_id: Mapped[str | None] = mapped_column(ForeignKey("structures.id"))
    territory: Mapped[str] = mapped_column(String(3), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Beneficiary(Base):
    """A person accompanied. Personal data: never copied into Temporal."""

    __tablename__ = "beneficiaries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[date] = mapped_column(Date)
    nir: Mapped[str | None] = mapped_column(String(15))
    caf_number: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(String(300))
    postal_code: Mapped[str | None] = mapped_column(String(5))
    city: Mapped[str | None] = mapped_column(String(100))
    territory: Mapped[str] = mapped_column(String(3), index=True)
    rsa_opened_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class JourneyRecord(Base):
    """Read model of one journey, upserted by the workflow's activity (guarded by ``seq``)."""

    __tablename__ = "journeys"
    __table_args__ = (
        Index("ix_journeys_territory_step", "territory", "step"),
        Index("ix_journeys_stalled_deadline", "stalled", "deadline"),
    )

    beneficiary_id: Mapped[str] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE"), primary_key=True
    )
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
    seq: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class JourneyEventRecord(Base):
    """One event of a journey's timeline, numbered by the workflow (idempotent insert)."""

    __tablename__ = "journey_events"
    __table_args__ = (UniqueConstraint("beneficiary_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    beneficiary_id: Mapped[str] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))
    step: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime]
    actor_id: Mapped[str | None] = mapped_column(String(36))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
