"""SQL tables: the people and structures (personal data lives here, erasable), and the
journeys' read model written by the workflow's activities."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

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
from sqlalchemy.orm import Mapped, mapped_column

from parcours.core.db import Base, new_id, utcnow


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


# --- The resource base (data·inclusion structures and services, trainings) ---


class ResourceStructure(Base):
    """A structure of the data·inclusion base (schema v1): columns keep the schema's field
    names; ``source_id`` is its ``id``, unique within its ``source``; ``raw`` is the row as
    imported."""

    __tablename__ = "resource_structures"
    __table_args__ = (
        UniqueConstraint("source", "source_id", name="uq_resource_structures_source_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(100))
    source_id: Mapped[str] = mapped_column(String(200))
    nom: Mapped[str] = mapped_column(String(150))
    description: Mapped[str | None] = mapped_column(Text)
    siret: Mapped[str | None] = mapped_column(String(14))
    adresse: Mapped[str | None] = mapped_column(String(300))
    complement_adresse: Mapped[str | None] = mapped_column(String(300))
    code_postal: Mapped[str | None] = mapped_column(String(5))
    code_insee: Mapped[str | None] = mapped_column(String(5))
    commune: Mapped[str | None] = mapped_column(String(100))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    telephone: Mapped[str | None] = mapped_column(String(50))
    courriel: Mapped[str | None] = mapped_column(String(254))
    site_web: Mapped[str | None] = mapped_column(String(500))
    horaires_accueil: Mapped[str | None] = mapped_column(Text)
    date_maj: Mapped[date] = mapped_column(Date)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON)
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ResourceService(Base):
    """A service of the data·inclusion base (schema v1), searchable by référents.

    Columns keep the schema's field names; ``source_id`` is its ``id`` and
    ``structure_source_id`` its ``structure_id`` (both within ``source``). Searches read the
    three narrow tables below, rebuilt from the service at each import, and load only the
    page's services; integer keys keep those tables small.
    """

    __tablename__ = "resource_services"
    __table_args__ = (
        UniqueConstraint("source", "source_id", name="uq_resource_services_source_id"),
        Index("ix_resource_services_structure", "source", "structure_source_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(100))
    source_id: Mapped[str] = mapped_column(String(200))
    structure_source_id: Mapped[str] = mapped_column(String(200))
    nom: Mapped[str] = mapped_column(String(150))
    description: Mapped[str] = mapped_column(Text)
    type: Mapped[str | None] = mapped_column(String(30))
    thematiques: Mapped[list[str]] = mapped_column(JSON, default=list)
    frais: Mapped[str | None] = mapped_column(String(20))
    frais_precisions: Mapped[str | None] = mapped_column(Text)
    publics: Mapped[list[str]] = mapped_column(JSON, default=list)
    publics_precisions: Mapped[str | None] = mapped_column(Text)
    conditions_acces: Mapped[str | None] = mapped_column(Text)
    adresse: Mapped[str | None] = mapped_column(String(300))
    complement_adresse: Mapped[str | None] = mapped_column(String(300))
    code_postal: Mapped[str | None] = mapped_column(String(5))
    code_insee: Mapped[str | None] = mapped_column(String(5))
    commune: Mapped[str | None] = mapped_column(String(100))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    telephone: Mapped[str | None] = mapped_column(String(50))
    courriel: Mapped[str | None] = mapped_column(String(254))
    contact_nom_prenom: Mapped[str | None] = mapped_column(String(200))
    modes_accueil: Mapped[list[str]] = mapped_column(JSON, default=list)
    zone_eligibilite: Mapped[list[str] | None] = mapped_column(JSON)
    lien_source: Mapped[str | None] = mapped_column(String(500))
    lien_mobilisation: Mapped[str | None] = mapped_column(String(500))
    modes_mobilisation: Mapped[list[str]] = mapped_column(JSON, default=list)
    mobilisable_par: Mapped[list[str]] = mapped_column(JSON, default=list)
    mobilisation_precisions: Mapped[str | None] = mapped_column(Text)
    volume_horaire_hebdomadaire: Mapped[float | None]
    nombre_semaines: Mapped[int | None] = mapped_column(Integer)
    horaires_accueil: Mapped[str | None] = mapped_column(Text)
    date_maj: Mapped[date] = mapped_column(Date)
    # Lowercase, without accents: what free-text search reads (see ``resources.text``).
    search_text: Mapped[str] = mapped_column(Text)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ResourceServiceSearchRow(Base):
    """What search filters and sorts a service by, in a row a few dozen bytes wide: a scan
    of 50,000 of them stays fast where one of the full services would not. No index but the
    key: a scan beats walking an index to most of the rows, and leaves the planners no
    slow choice to make."""

    __tablename__ = "resource_service_search"

    service_id: Mapped[int] = mapped_column(
        ForeignKey(
            "resource_services.id", ondelete="CASCADE", name="fk_resource_service_search_service"
        ),
        primary_key=True,
        autoincrement=False,
    )
    active: Mapped[bool] = mapped_column(Boolean)
    type: Mapped[str | None] = mapped_column(String(30))
    frais: Mapped[str | None] = mapped_column(String(20))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    nom: Mapped[str] = mapped_column(String(150))
    # Space-separated tokens, checked during the scan (see ``resources.search``).
    zones: Mapped[str] = mapped_column(Text)
    publics: Mapped[str] = mapped_column(Text)


class ResourceServiceTag(Base):
    """A thématique of a service, ``thematique:<value>``, and its category's: a thématique
    filter is an index lookup on SQLite and PostgreSQL alike."""

    __tablename__ = "resource_service_tags"
    __table_args__ = (
        Index("ix_resource_service_tags_service", "service_id"),
        {"sqlite_with_rowid": False},
    )

    tag: Mapped[str] = mapped_column(String(120), primary_key=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey(
            "resource_services.id", ondelete="CASCADE", name="fk_resource_service_tags_service"
        ),
        primary_key=True,
    )


class ResourceServiceWord(Base):
    """One word of a service's text (normalised), with the weight of the field it comes
    from: free-text search looks words up by prefix in this index."""

    __tablename__ = "resource_service_words"
    __table_args__ = (
        Index("ix_resource_service_words_service", "service_id"),
        {"sqlite_with_rowid": False},
    )

    # Byte order on PostgreSQL too, so that a prefix is a range of the index.
    word: Mapped[str] = mapped_column(
        String(40).with_variant(String(40, collation="C"), "postgresql"), primary_key=True
    )
    service_id: Mapped[int] = mapped_column(
        ForeignKey(
            "resource_services.id", ondelete="CASCADE", name="fk_resource_service_words_service"
        ),
        primary_key=True,
    )
    weight: Mapped[int] = mapped_column(Integer)


class Training(Base):
    """A training session a référent can request for a person; its funder (the Région or
    France Travail) decides. ``reference`` is the key re-imports update by."""

    __tablename__ = "trainings"
    __table_args__ = (
        UniqueConstraint("reference", name="uq_trainings_reference"),
        Index("ix_trainings_funder_start", "funder", "start_on"),
        Index("ix_trainings_lat_lon", "latitude", "longitude"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    reference: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(200))
    funder: Mapped[str] = mapped_column(String(20))
    formacode: Mapped[str | None] = mapped_column(String(5))
    rncp: Mapped[str | None] = mapped_column(String(12))
    start_on: Mapped[date] = mapped_column(Date)
    end_on: Mapped[date] = mapped_column(Date)
    places_left: Mapped[int | None] = mapped_column(Integer)
    weekly_hours: Mapped[float | None]
    weeks: Mapped[int | None] = mapped_column(Integer)
    address: Mapped[str | None] = mapped_column(String(300))
    postal_code: Mapped[str | None] = mapped_column(String(5))
    city: Mapped[str | None] = mapped_column(String(100))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    conditions: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    search_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
