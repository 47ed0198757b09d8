"""What orientations to services are written and read as, in the API and the pages: the request
to orient a person, an orientation with the structure's answer (statuses and failures with
their French labels), and the plan's weekly hours against the contract's target (the 15-hours
rule)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from parcours.orientations.messages import OrientationStatus

STATUS_LABELS = {
    OrientationStatus.REQUESTED: "En cours d'envoi à la structure",
    OrientationStatus.SENT: "Envoyée, en attente de la réponse de la structure",
    OrientationStatus.ACCEPTED: "Acceptée par la structure",
    OrientationStatus.REFUSED: "Refusée par la structure",
    OrientationStatus.EXPIRED: "Expirée sans réponse de la structure",
    OrientationStatus.FAILED: "Non transmise à la structure",
    OrientationStatus.WITHDRAWN: "Retirée (parcours clôturé)",
}


# Why an orientation was withdrawn (its read model says it; the closed journey's timeline does
# not).
WITHDRAWN_REASON = (
    "Le parcours de la personne a été clôturé avant la réponse de la structure : l'orientation "
    "est retirée et la structure est invitée à l'annuler."
)


# Why a partner call did not go through (an orientation to a structure, a notice to France
# Travail), and what the pages say.
FAILURE_LABELS = {
    "consent_missing": "La personne n'a pas consenti au partage de ses données avec ce partenaire.",
    "person_unknown": "La personne est introuvable (ou ses données ont été effacées).",
    "person_incomplete": "Il manque le NIR de la personne pour que le partenaire l'identifie.",
    "service_unknown": "Le service n'est plus dans la base de ressources.",
    "partner_refused": "Le partenaire a refusé la demande.",
    "partner_unavailable": "Le partenaire est resté injoignable.",
}


class ServiceOrientationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    beneficiary_id: str = Field(min_length=1, max_length=36, description="La personne orientée")
    service_id: int = Field(ge=1, description="Le service de la base de ressources")


class ServiceOrientationRead(BaseModel):
    id: str
    beneficiary_id: str
    plan_action_id: str | None
    service_id: int | None
    service_name: str | None
    structure_name: str | None
    status: OrientationStatus
    status_label: str
    # The structure's reference for the orientation, once it received it.
    reference: str | None = None
    # A refusal's reason as the structure gave it, why the orientation never reached it, or
    # why it was withdrawn.
    reason: str | None = None
    # Why it never reached the structure, as a code (``consent_missing``…): the pages offer
    # the remedy.
    failure: str | None = None
    requested_at: datetime
    sent_at: datetime | None = None
    reminded_at: datetime | None = None
    answered_at: datetime | None = None
    expires_at: datetime | None = None


class WeeklyHoursRead(BaseModel):
    """The plan's weekly activity (actions planned or in progress) against the target."""

    total: float
    target: float
    # The target is the contract's (else the law's 15 hours).
    target_from_contract: bool
    counted: int
    unknown: int
    reached: bool
    missing: float
    label: str
    # Each active plan line's hours (None: unknown), by plan action id.
    by_action: dict[str, float | None]


class PlanOrientations(BaseModel):
    """What the carnet's plan adds for orientations: each line's orientation, and the hours."""

    orientations: dict[str, ServiceOrientationRead]
    hours: WeeklyHoursRead
