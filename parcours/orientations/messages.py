"""What a journey gives the child workflows it starts for a person's requests: a
``TrainingRequest`` to a training's funder, a ``ServiceOrientation`` to a service's structure.

Ids and decisions only, never personal data (the activities read that from SQL). Pure: safe to
import into any workflow.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import Field

from parcours.core.messages import Message
from parcours.partners.messages import STRUCTURES_RETRY, PartnerCall

SERVICE_ORIENTATION_WORKFLOW = "ServiceOrientation"


def service_orientation_workflow_id(orientation_id: str) -> str:
    return f"service-orientation-{orientation_id}"


class ServiceOrientationStart(Message):
    """Input of the ``ServiceOrientation`` workflow, started by the journey."""

    orientation_id: str
    beneficiary_id: str
    journey_workflow_id: str
    # The service and its structure in the resource base (``resource_services.id`` and
    # ``resource_structures.id``, as strings).
    service_id: str
    resource_structure_id: str
    # The line of the person's plan this orientation is (written by the service that asked).
    plan_action_id: str | None = None
    territory: str
    referent_id: str | None = None
    structure_id: str | None = None
    requested_by: str | None = None
    requested_at: datetime


class OrientationStatus(StrEnum):
    REQUESTED = "requested"
    SENT = "sent"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    EXPIRED = "expired"
    FAILED = "failed"
    # The person's journey closed before the structure answered: cancelled at the structure.
    WITHDRAWN = "withdrawn"


FINAL_STATUSES = frozenset(
    {
        OrientationStatus.ACCEPTED,
        OrientationStatus.REFUSED,
        OrientationStatus.EXPIRED,
        OrientationStatus.FAILED,
        OrientationStatus.WITHDRAWN,
    }
)


# Not answered yet by the structure: what a closing journey withdraws.
WAITING_STATUSES = frozenset({OrientationStatus.REQUESTED, OrientationStatus.SENT})


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
    WITHDRAWN = "withdrawn"

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


# The signal that withdraws an orientation the structure has not answered (sent when the
# person's journey closes, ``parcours.journey.settlement``).
WITHDRAW_SIGNAL = "withdraw"


class WithdrawOrientationInput(Message):
    """Withdraw the orientation, and why (the journey's closing is the only reason so far)."""

    reason: Literal["journey_closed"] = "journey_closed"


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


FRANCE_TRAVAIL_NOTICE_WORKFLOW = "FranceTravailOrientationNotice"


def france_travail_notice_workflow_id(beneficiary_id: str, orientation_seq: int) -> str:
    return f"france-travail-notice-{beneficiary_id}-{orientation_seq}"


class FranceTravailNoticeStart(Message):
    beneficiary_id: str
    # The journey to tell of the outcome (signal ``record_outcome``).
    journey_workflow_id: str
    # The journey's event number once the orientation was decided.
    orientation_seq: int
    decided_on: date
    # The France Travail agency (a ``Structure``) and the référent the person is oriented to.
    structure_id: str | None = None
    referent_id: str | None = None


class FranceTravailNoticeResult(Message):
    notified: bool
    reference: str | None = None
    # Why not: a ``FAILURE_LABELS`` key (``parcours.orientations.schemas``).
    reason: str | None = None


# Activities are named, not imported: their module touches the database.
BEGIN_SERVICE_ORIENTATION = "begin_service_orientation"


RECORD_SERVICE_ORIENTATION = "record_service_orientation"


# A reminder is worth a day of tries; after that the orientation simply waits on.
REMIND_STRUCTURE = PartnerCall(
    "remind_structure", "structures", STRUCTURES_RETRY, schedule_to_close=timedelta(days=1)
)
