"""The carnet de bord's tables: the person (personal data lives here, where it can be corrected
and erased) and what the follow-up group records about them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from parcours.core.db import Base, new_id, utcnow


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
    # The training this action is, once its funder approved it (``trainings.id``).
    training_id: Mapped[str | None] = mapped_column(String(36))
    # The service of the resource base this action is an orientation to.
    service_id: Mapped[int | None] = mapped_column(
        ForeignKey("resource_services.id", ondelete="SET NULL", name="fk_plan_actions_service"),
        index=True,
    )


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
    """The person's current consent to share their carnet with one partner: given or
    withdrawn, when, how, by whom, and the signed form when it was given on paper. Each change
    is in the access log (``carnet.consent.*``), which the carnet's history reads."""

    __tablename__ = "consents"

    beneficiary_id: Mapped[str] = mapped_column(
        ForeignKey("beneficiaries.id", ondelete="CASCADE"), primary_key=True
    )
    partner: Mapped[str] = mapped_column(String(30), primary_key=True)
    granted: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Who recorded it: the person in her space, or the référent who collected it.
    changed_by: Mapped[str | None] = mapped_column(String(36))
    # ``ConsentMethod``: self_service, in_person, paper (None: recorded before it was kept).
    method: Mapped[str | None] = mapped_column(String(20))
    document_id: Mapped[str | None] = mapped_column(
        ForeignKey("documents.id", ondelete="SET NULL", name="fk_consents_document")
    )


class ErasureRequest(Base):
    __tablename__ = "erasure_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    beneficiary_id: Mapped[str] = mapped_column(String(36), index=True)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    handled_by: Mapped[str | None] = mapped_column(String(36))
    handled_at: Mapped[datetime | None]
