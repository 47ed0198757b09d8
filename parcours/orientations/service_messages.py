"""What the ``ServiceOrientation`` workflow exchanges with its activities, the structures'
callbacks and the pages: an orientation's statuses (with their French labels), the structure's
answer as a signal, the activities' inputs and results.

Ids and decisions only: the reason a structure gives for a refusal stays in SQL (its callback
as received), never in Temporal's history. Pure: safe to import into any workflow.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from parcours.core.messages import Message


class OrientationStatus(StrEnum):
    REQUESTED = "requested"
    SENT = "sent"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    EXPIRED = "expired"
    FAILED = "failed"


STATUS_LABELS = {
    OrientationStatus.REQUESTED: "En cours d'envoi à la structure",
    OrientationStatus.SENT: "Envoyée, en attente de la réponse de la structure",
    OrientationStatus.ACCEPTED: "Acceptée par la structure",
    OrientationStatus.REFUSED: "Refusée par la structure",
    OrientationStatus.EXPIRED: "Expirée sans réponse de la structure",
    OrientationStatus.FAILED: "Non transmise à la structure",
}
FINAL_STATUSES = frozenset(
    {
        OrientationStatus.ACCEPTED,
        OrientationStatus.REFUSED,
        OrientationStatus.EXPIRED,
        OrientationStatus.FAILED,
    }
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


class Transition(StrEnum):
    """What an activity writes to the read model; ``seq`` orders them (a reminder is the only
    one that leaves the status as it was)."""

    REQUESTED = "requested"
    SENT = "sent"
    REMINDED = "reminded"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    EXPIRED = "expired"
    FAILED = "failed"

    @property
    def seq(self) -> int:
        return {"requested": 1, "sent": 2, "reminded": 3}.get(self.value, 4)

    @property
    def status(self) -> OrientationStatus:
        if self is Transition.REMINDED:
            return OrientationStatus.SENT
        return OrientationStatus(self.value)


# The signal a structure's answer arrives as (sent by the callbacks' service).
ANSWER_SIGNAL = "answer"


class OrientationAnswerInput(Message):
    """The structure accepted or refused; its reason is in the callback ``callback_id``."""

    callback_id: str = Field(min_length=1, max_length=64)
    accepted: bool


class BeginServiceOrientationInput(Message):
    orientation_id: str
    beneficiary_id: str
    service_id: str
    resource_structure_id: str
    plan_action_id: str | None = None
    requested_by: str | None = None
    requested_at: datetime


class OrientationTarget(Message):
    """What the workflow needs to carry on, read once at its start (so that it replays the
    same): the service and structure as the structure's system (data·inclusion) names them,
    and Dora's circuit as the settings said then."""

    found: bool
    structure_id: str | None = None
    service_id: str | None = None
    reminder_days: int = 10
    expiry_days: int = 30


class ServiceOrientationTransition(Message):
    orientation_id: str
    transition: Transition
    at: datetime
    reference: str | None = None
    # accepted / refused: the callback that carried the answer.
    callback_id: str | None = None
    # failed: a ``FAILURE_LABELS`` key.
    failure: str | None = None
    # reminded: whether the structure received the reminder.
    delivered: bool | None = None
    expires_at: datetime | None = None


class StructureReminderInput(Message):
    """A reminder to the structure of an orientation it has not answered."""

    beneficiary_id: str
    idempotency_key: str = Field(min_length=1, max_length=255)
    orientation_id: str
    reference: str


class ServiceOrientationResult(Message):
    orientation_id: str
    status: OrientationStatus
