"""What the resource base reads and writes through the API and the pages: search queries,
read schemas of services, structures and trainings, training forms, import reports."""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from parcours.resources.vocabulary import Funder

PAGE_SIZES = (10, 20, 50)


class SortOrder(StrEnum):
    RELEVANCE = "pertinence"
    DISTANCE = "distance"


SORT_LABELS = {SortOrder.RELEVANCE: "Pertinence", SortOrder.DISTANCE: "Distance"}


class Labelled(BaseModel):
    value: str
    label: str


class Origin(BaseModel):
    """Where distances are measured from: a commune (the person's, or one chosen)."""

    code_insee: str
    label: str
    lat: float
    lon: float
    precise: bool


class StructureRead(BaseModel):
    id: int
    source: str
    source_id: str
    nom: str
    description: str | None
    siret: str | None
    adresse: str | None
    code_postal: str | None
    commune: str | None
    telephone: str | None
    courriel: str | None
    site_web: str | None
    horaires_accueil: str | None


class ServiceSummary(BaseModel):
    """One search result."""

    id: int
    nom: str
    structure: str | None
    type: Labelled | None
    thematiques: list[Labelled]
    publics: list[Labelled]
    frais: Labelled | None
    commune: str | None
    code_postal: str | None
    modes_accueil: list[Labelled]
    volume_horaire_hebdomadaire: float | None
    distance_km: float | None = None
    score: int | None = None
    excerpt: str


class ServiceRead(ServiceSummary):
    source: str
    source_id: str
    description: str
    frais_precisions: str | None
    publics_precisions: str | None
    conditions_acces: str | None
    adresse: str | None
    complement_adresse: str | None
    code_insee: str | None
    latitude: float | None
    longitude: float | None
    telephone: str | None
    courriel: str | None
    contact_nom_prenom: str | None
    zone_eligibilite: list[str] | None
    zone_eligibilite_labels: list[str]
    lien_source: str | None
    lien_mobilisation: str | None
    modes_mobilisation: list[Labelled]
    mobilisable_par: list[Labelled]
    mobilisation_precisions: str | None
    nombre_semaines: int | None
    horaires_accueil: str | None
    date_maj: date
    structure_detail: StructureRead | None


class ServicePage(BaseModel):
    items: list[ServiceSummary]
    total: int
    page: int
    size: int
    pages: int
    sort: SortOrder
    origin: Origin | None = None


class TrainingBase(BaseModel):
    title: str = Field(min_length=3, max_length=200)
    organisation: str = Field(min_length=2, max_length=200)
    funder: Funder
    formacode: str | None = Field(default=None, pattern=r"^\d{5}$")
    rncp: str | None = Field(
        default=None,
        max_length=12,
        # What the check below accepts, said to API clients (its refusal stays in French).
        json_schema_extra={"pattern": r"^\s*([Rr][Nn][Cc][Pp])?\s*[0-9]{3,6}\s*$"},
    )
    start_on: date
    end_on: date
    places_left: int | None = Field(default=None, ge=0, le=10000)
    weekly_hours: float | None = Field(default=None, ge=0, le=60)
    weeks: int | None = Field(default=None, ge=1, le=520)
    address: str | None = Field(default=None, max_length=300)
    postal_code: str | None = Field(default=None, pattern=r"^\d{5}$")
    city: str | None = Field(default=None, max_length=100)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    conditions: str | None = Field(default=None, max_length=5000)
    description: str | None = Field(default=None, max_length=10000)

    @field_validator("rncp")
    @classmethod
    def _rncp(cls, value: str | None) -> str | None:
        if value is None:
            return None
        digits = re.fullmatch(r"(?:RNCP)?\s*(\d{3,6})", value.strip().upper())
        if not digits:
            raise ValueError("code RNCP invalide (attendu : RNCP suivi de chiffres)")
        return f"RNCP{digits.group(1)}"

    @model_validator(mode="after")
    def _dates(self) -> TrainingBase:
        if self.end_on < self.start_on:
            raise ValueError("la date de fin précède la date de début")
        return self


class TrainingCreate(TrainingBase):
    """A training entered by hand or imported; ``reference`` is the key of re-imports
    (generated when entered by hand)."""

    reference: str | None = Field(default=None, min_length=1, max_length=100)


class TrainingUpdate(TrainingBase):
    active: bool = True


class TrainingRead(BaseModel):
    id: str
    reference: str
    title: str
    organisation: str
    funder: Funder
    funder_label: str
    formacode: str | None
    rncp: str | None
    start_on: date
    end_on: date
    places_left: int | None
    weekly_hours: float | None
    weeks: int | None
    address: str | None
    postal_code: str | None
    city: str | None
    latitude: float | None
    longitude: float | None
    conditions: str | None
    description: str | None
    active: bool
    distance_km: float | None = None


class TrainingPage(BaseModel):
    items: list[TrainingRead]
    total: int
    page: int
    size: int
    pages: int
    origin: Origin | None = None


class Rejected(BaseModel):
    """A row left out of an import, and why (in French)."""

    row: int
    id: str | None
    reason: str


class FileReport(BaseModel):
    filename: str
    kind: str
    kind_label: str
    unit: str  # "ligne" (CSV) or "élément" (JSON)
    rows: int
    created: int
    updated: int
    rejected: list[Rejected]
    error: str | None = None


class ImportReport(BaseModel):
    files: list[FileReport]

    @property
    def ok(self) -> bool:
        return all(f.error is None for f in self.files)

    def totals(self) -> dict[str, Any]:
        return {
            "created": sum(f.created for f in self.files),
            "updated": sum(f.updated for f in self.files),
            "rejected": sum(len(f.rejected) for f in self.files),
        }
