"""What the forms send and the pages and API show of reorientations and the social track's
review, with the French labels of their codes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from parcours.journey.messages import OrientationKind, ReorientationReason, ReorientationRefusal

REASON_LABELS: dict[str, str] = {
    "project_changed": "Le projet de la personne a changé",
    "social_difficulties": "Des difficultés sociales freinent l'accès à l'emploi",
    "ready_for_employment": "La personne est prête pour un accompagnement vers l'emploi",
    "health": "Raison de santé",
    "structure_unsuited": "La structure ne convient pas",
    "social_review": "Revue du parcours social",
    "other": "Autre raison",
}
# What a person or a référent may choose (``social_review`` comes from the review itself).
ASKABLE_REASONS = {k: v for k, v in REASON_LABELS.items() if k != "social_review"}

REFUSAL_LABELS: dict[str, str] = {
    "current_suits": "L'orientation actuelle convient à la situation",
    "too_early": "Demande trop tôt : l'accompagnement actuel vient de commencer",
    "incomplete": "Demande incomplète",
    "other": "Autre motif",
}

# The reasons that push the social track's review to 12 months (art. D.262-65-2-1 CASF);
# the codes are a setting (``social_review_extension_reasons``), unknown codes show as is.
EXTENSION_LABELS: dict[str, str] = {
    "health": "Santé",
    "disability": "Handicap",
    "invalidity": "Invalidité",
    "housing": "Logement",
    "childcare": "Garde d'enfant",
    "caring": "Aidant·e d'un proche",
}

STATUS_LABELS = {
    "pending": "En attente de décision",
    "accepted": "Acceptée",
    "refused": "Refusée",
    # Still pending in SQL, but its journey was handed off or closed before a decision.
    "lapsed": "Sans suite (parcours transféré ou clôturé)",
}
ROLE_LABELS = {"referent": "le ou la référente", "person": "la personne"}


class ReorientationCreate(BaseModel):
    """A request, from the référent or the person: a coded reason and what they want to say."""

    model_config = ConfigDict(extra="forbid")

    reason_code: Literal[
        "project_changed",
        "social_difficulties",
        "ready_for_employment",
        "health",
        "structure_unsuited",
        "other",
    ]
    reason_text: str | None = Field(default=None, max_length=2000)


class ReorientationDecisionCreate(BaseModel):
    """The orientation team's decision: accepted with the new track, structure and référent,
    or refused with a coded reason; an explanation for the person either way."""

    model_config = ConfigDict(extra="forbid")

    accepted: bool
    kind: OrientationKind | None = None
    structure_id: str | None = Field(default=None, max_length=36)
    referent_id: str | None = Field(default=None, max_length=36)
    after_team_meeting: bool = False
    refusal_code: ReorientationRefusal | None = None
    social_review_reason: str | None = Field(default=None, max_length=30)
    decision_text: str | None = Field(default=None, max_length=2000)


class SocialReviewConclusion(BaseModel):
    """The social track's review, concluded by the référent."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["keep", "reorient"]
    social_review_reason: str | None = Field(default=None, max_length=30)
    reason_text: str | None = Field(default=None, max_length=2000)


class ReorientationRead(BaseModel):
    id: str
    status: str
    status_label: str
    requested_by_role: str
    requested_by_label: str
    requested_by: str | None
    reason_code: ReorientationReason
    reason_label: str
    reason_text: str | None
    requested_at: datetime
    from_orientation: str | None
    decided_at: datetime | None
    decided_by: str | None
    orientation: str | None
    orientation_label: str | None
    structure_id: str | None
    structure_label: str | None
    referent_id: str | None
    referent_label: str | None
    after_team_meeting: bool
    refusal_code: str | None
    refusal_label: str | None
    decision_text: str | None


class SocialReviewRead(BaseModel):
    """The social track's next review as the journey's events tell it."""

    due_on: date
    extended: bool
    # In the référent's « À traiter »: the review may be concluded now.
    open: bool


class ReorientationPanel(BaseModel):
    """What the journey's page shows: the request waiting, the decisions with their reasons,
    and the social track's next review."""

    pending: ReorientationRead | None
    decided: list[ReorientationRead]
    social_review: SocialReviewRead | None
