"""SQL tables: the people and structures (personal data lives here, erasable), and the
journeys' read model written by the workflow's activities."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
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
    """Someone who signs in: a professional of a structure (référent, chargé·e d'orientation,
    funder, manager, admin) or a beneficiary (then ``beneficiary_id`` is set)."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(30))
    structure_id: Mapped[str | None] = mapped_column(ForeignKey("structures.id"))
    territory: Mapped[str] = mapped_column(String(3), index=True)
    beneficiary_id: Mapped[str | None] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE"), unique=True
    )
    password_hash: Mapped[str | None] = mapped_column(String(200))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebSession(Base):
    """A signed-in browser: the cookie holds a token whose hash is the id."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class ApiToken(Base):
    """A bearer token for a partner or a script, acting with its user's role."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class Invitation(Base):
    """A one-time link for a person to choose their password (beneficiary or professional)."""

    __tablename__ = "invitations"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class AccessLogEntry(Base):
    """Who read or changed which carnet, when, and what (kept when the carnet is erased)."""

    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_beneficiary_at", "beneficiary_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[str | None] = mapped_column(String(36), index=True)
    beneficiary_id: Mapped[str] = mapped_column(String(36))
    action: Mapped[str] = mapped_column(String(20))
    what: Mapped[str] = mapped_column(String(100))


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
    france_travail_id: Mapped[str | None] = mapped_column(String(20))
    household: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    follow_up_wish: Mapped[bool | None] = mapped_column(Boolean)
    anonymised_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SituationFact(Base):
    """One fact of a person's situation, with where it comes from and when; a correction
    supersedes the previous fact rather than overwriting it."""

    __tablename__ = "situation_facts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    beneficiary_id: Mapped[str] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE"), index=True
    )
    theme: Mapped[str] = mapped_column(String(30))
    label: Mapped[str] = mapped_column(String(200))
    value: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20))
    recorded_by: Mapped[str | None] = mapped_column(String(36))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    superseded_at: Mapped[datetime | None]


class Diagnosis(Base):
    """The socio-professional diagnosis (the latest one is current)."""

    __tablename__ = "diagnoses"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    beneficiary_id: Mapped[str] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE"), index=True
    )
    summary: Mapped[str] = mapped_column(Text)
    strengths: Mapped[str | None] = mapped_column(Text)
    obstacles: Mapped[list[str]] = mapped_column(JSON, default=list)
    recorded_by: Mapped[str | None] = mapped_column(String(36))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProfessionalProject(Base):
    __tablename__ = "professional_projects"

    beneficiary_id: Mapped[str] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE"), primary_key=True
    )
    rome_code: Mapped[str] = mapped_column(String(5))
    label: Mapped[str] = mapped_column(String(200))
    updated_by: Mapped[str | None] = mapped_column(String(36))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class EngagementContract(Base):
    """The contrat d'engagement (CER or PPAE) and its weekly activity target."""

    __tablename__ = "engagement_contracts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    beneficiary_id: Mapped[str] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    signed_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    weekly_hours: Mapped[int | None] = mapped_column(Integer)
    recorded_by: Mapped[str | None] = mapped_column(String(36))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class PlanAction(Base):
    """One line of the action plan: theme → objective → action, with its status."""

    __tablename__ = "plan_actions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    beneficiary_id: Mapped[str] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE"), index=True
    )
    theme: Mapped[str] = mapped_column(String(30))
    objective: Mapped[str] = mapped_column(String(300))
    action: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), default="planned")
    weekly_hours: Mapped[int | None] = mapped_column(Integer)
    updated_by: Mapped[str | None] = mapped_column(String(36))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Note(Base):
    """A note shared between the professionals who follow the person."""

    __tablename__ = "notes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    beneficiary_id: Mapped[str] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[str | None] = mapped_column(String(36))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Appointment(Base):
    __tablename__ = "appointments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    beneficiary_id: Mapped[str] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE"), index=True
    )
    starts_at: Mapped[datetime]
    place: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(String(200))
    with_user_id: Mapped[str | None] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(20), default="planned")
    created_by: Mapped[str | None] = mapped_column(String(36))


class Document(Base):
    """A PDF or image attached to the carnet (size-limited, type checked on its bytes)."""

    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    beneficiary_id: Mapped[str] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str | None] = mapped_column(String(36))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Consent(Base):
    """The person's current consent to share their carnet with one partner."""

    __tablename__ = "consents"

    beneficiary_id: Mapped[str] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE"), primary_key=True
    )
    partner: Mapped[str] = mapped_column(String(30), primary_key=True)
    granted: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    changed_by: Mapped[str | None] = mapped_column(String(36))


class ErasureRequest(Base):
    __tablename__ = "erasure_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    beneficiary_id: Mapped[str] = mapped_column(String(36), index=True)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    handled_by: Mapped[str | None] = mapped_column(String(36))
    handled_at: Mapped[datetime | None]


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
