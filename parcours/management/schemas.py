"""What the console reads and accepts: the causes of a stall, a page of stalled journeys,
interventions, incidents, bulk actions and their outcome, digests (``XCreate`` / ``XRead``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from parcours.core.schemas import PersonRef
from parcours.journey.messages import Step


class StallCause(StrEnum):
    """Why a journey is stalled (several can hold at once)."""

    DEADLINE = "deadline"
    INACTIVE = "inactive"
    REQUEST = "request"
    INCIDENT = "incident"


CAUSE_LABELS = {
    StallCause.DEADLINE: "Étape en retard",
    StallCause.INACTIVE: "Aucune activité",
    StallCause.REQUEST: "Demande sans réponse",
    StallCause.INCIDENT: "Incident technique",
}


class InterventionKind(StrEnum):
    REMINDER = "reminder"
    ESCALATION = "escalation"
    NOTE = "note"
    RETRY = "retry"


INTERVENTION_LABELS = {
    InterventionKind.REMINDER: "Relance du référent",
    InterventionKind.ESCALATION: "Signalement à la structure",
    InterventionKind.NOTE: "Note du responsable",
    InterventionKind.RETRY: "Appel au partenaire relancé",
}

# The partner calls as the pages name them (activity type → French).
PARTNER_CALL_LABELS = {
    "lookup_caf_household": "Consultation du dossier CAF",
    "find_france_travail_person": "Recherche de l'inscription à France Travail",
    "notify_france_travail_orientation": "Orientation transmise à France Travail",
    "request_france_travail_orientation": "Orientation demandée à France Travail (délai légal)",
    "submit_training_request": "Demande de financement de formation",
    "send_structure_orientation": "Orientation transmise à une structure",
}
PARTNER_LABELS = {
    "caf": "CAF",
    "france_travail": "France Travail",
    "region": "Région",
    "structures": "Structure",
}


class StalledCauseRead(BaseModel):
    cause: StallCause
    label: str
    since: datetime
    overdue_days: int
    # What it is about, in French (the step's deadline, the silent partner…).
    detail: str


class IncidentRead(BaseModel):
    id: int
    beneficiary_id: str | None
    workflow_id: str
    run_id: str
    activity_type: str
    call_label: str
    partner: str
    partner_label: str
    attempts: int
    last_failure: str
    since: datetime
    updated_at: datetime
    temporal_url: str


class InterventionRead(BaseModel):
    id: str
    beneficiary_id: str
    # The person's name, where the reader is not in the journey's page already.
    full_name: str | None = None
    kind: InterventionKind
    label: str
    by: PersonRef | None
    to: PersonRef | None
    body: str | None
    created_at: datetime


class StalledJourneyRead(BaseModel):
    beneficiary_id: str
    full_name: str
    # Tells two people of the same name apart on the list.
    birth_date: date | None = None
    step: Step
    step_label: str
    territory: str
    referent: PersonRef | None
    structure: PersonRef | None
    # The earliest cause: stalled since then.
    since: datetime
    overdue_days: int
    causes: list[StalledCauseRead]
    incidents: list[IncidentRead]
    last_intervention: InterventionRead | None


class StalledPage(BaseModel):
    items: list[StalledJourneyRead]
    total: int
    # Per cause, among the journeys the other filters keep (the cause filter aside).
    counts: dict[StallCause, int]
    limit: int
    offset: int


Ids = Annotated[
    list[Annotated[str, StringConstraints(min_length=1, max_length=36)]],
    Field(min_length=1, max_length=200),
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class Form(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")


class ReassignmentCreate(Form):
    """Give one or several journeys to another référent (and their structure, by default
    the référent's)."""

    beneficiary_ids: Ids
    referent_id: str = Field(min_length=1, max_length=36)
    structure_id: str | None = Field(default=None, max_length=36)


class ReminderCreate(Form):
    beneficiary_ids: Ids
    message: str | None = Field(default=None, max_length=2000)


class EscalationCreate(Form):
    beneficiary_ids: Ids
    reason: Text


class NoteCreate(Form):
    body: Text


class BulkRefusal(BaseModel):
    beneficiary_id: str
    # The person's name when the manager may see them.
    full_name: str | None
    reason: str


class BulkResult(BaseModel):
    """What a bulk action did: each journey is done or refused with its reason."""

    done: list[str]
    refused: list[BulkRefusal]


class RetryRead(BaseModel):
    incident_id: int
    # "retried": the call runs again now; "gone": it was no longer waiting (incident closed).
    outcome: str
    message: str


class DigestLine(BaseModel):
    beneficiary_id: str
    full_name: str
    since: datetime
    days: int
    # For a stalled journey, its causes' labels; for an escalation, who and why.
    detail: str


class UnusualAccessLine(BaseModel):
    """An agent who read many carnets outside her list in a day; ``search``: the access log's
    search of that agent and day (the administrator's or DPO's page)."""

    agent_id: str
    agent_name: str
    outside: int
    search: str


class DigestRead(BaseModel):
    id: str
    day: date
    covers_from: datetime
    created_at: datetime
    sent_at: datetime | None
    send_error: str | None
    waiting: list[DigestLine]
    waiting_total: int
    # Whether this digest lists stalled journeys (a chargé·e d'orientation's does not: the
    # managers' console is where they are dealt with).
    covers_stalled: bool = True
    newly_stalled: list[DigestLine]
    newly_stalled_total: int
    escalations: list[DigestLine]
    # Journeys handed off to the recipient's département by another since the previous
    # digest (``detail``: where from).
    arrivals: list[DigestLine] = Field(default_factory=list)
    arrivals_total: int = 0
    # Agents of the département who read more than ``unusual_threshold`` carnets outside
    # their follow-up list on ``unusual_day`` (a manager's digest; None: not covered).
    unusual_day: date | None = None
    unusual_threshold: int = 0
    unusual_access: list[UnusualAccessLine] = Field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (
            self.waiting_total
            or self.newly_stalled_total
            or self.escalations
            or self.arrivals_total
            or self.unusual_access
        )


@dataclass(frozen=True)
class StalledFilter:
    # Who is asking: a manager sees their territory's journeys only, whatever the filters.
    managed_territory: str | None = None
    territory: str | None = None
    structure_id: str | None = None
    referent_id: str | None = None
    step: str | None = None
    cause: StallCause | None = None
    # Stalled for at least this many days.
    min_overdue_days: int | None = None
    # Stalled after this moment only (the digest's "newly stalled").
    stalled_after: datetime | None = None


class ManagedJourneyRead(BaseModel):
    """One journey as its manager sees it before acting on it."""

    person: PersonRef
    step_label: str
    paused: bool
    workflow_id: str
    referent: PersonRef | None
    structure: PersonRef | None
    stalled: StalledJourneyRead | None
