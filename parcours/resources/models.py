"""The resource base's tables: data·inclusion structures and services (with the narrow tables
search reads), and the trainings the Région and France Travail fund."""

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
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from parcours.core.db import Base, new_id, utcnow


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
    # Found by searches: false for an inactive service, and for the twin of an earlier one
    # (its structure published it twice: ``ResourceRepository._leave_out_twins``).
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
