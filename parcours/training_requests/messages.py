"""What crosses the Temporal boundary for a training request: the ``TrainingRequest`` workflow's
name and id, what the journey starts it with, its state, the funder's and référent's actions
(updates), its activities' names, inputs and results.

Ids, dates, amounts and decisions only: the texts (a question, an answer, the reason of a
refusal) stay in SQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field
from temporalio.common import RetryPolicy

from parcours.core.messages import Message
from parcours.partners.messages import TrainingDetails

TRAINING_REQUEST_WORKFLOW = "TrainingRequest"


Funder = Literal["region", "france_travail"]


def training_request_workflow_id(request_id: str) -> str:
    return f"training-request-{request_id}"


class TrainingRequestStart(Message):
    """Input of the ``TrainingRequest`` workflow, started by the journey."""

    request_id: str
    beneficiary_id: str
    # The journey to tell of each outcome (signal ``record_outcome``).
    journey_workflow_id: str
    training_id: str
    funder: Funder
    territory: str
    referent_id: str | None = None
    structure_id: str | None = None
    requested_by: str | None = None
    requested_at: datetime


# Activities are named, not imported: their module touches the database.
BEGIN_TRAINING_REQUEST = "begin_training_request"


RECORD_TRAINING_REQUEST = "record_training_request"


DEFAULT_ANSWER_DAYS = 15


# The request's row is written by the référent's request right after the journey accepted it:
# wait for it a little; a request that never committed leaves nothing to send.
BEGIN_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=1.5,
    maximum_interval=timedelta(seconds=10),
)


BEGIN_GIVE_UP = timedelta(minutes=10)


class TrainingStatus(StrEnum):
    SUBMITTED = "submitted"
    MORE_INFO_REQUESTED = "more_info_requested"
    APPROVED = "approved"
    REFUSED = "refused"
    IN_TRAINING = "in_training"
    ENDED = "ended"
    FAILED = "failed"
    # The person's journey closed before the funder decided: withdrawn at the funder.
    WITHDRAWN = "withdrawn"


# What the journey's timeline is told (the other transitions stay on the request).
JOURNEY_OUTCOMES = frozenset(
    {
        "training_more_info_requested",
        "training_more_info_answered",
        "training_approved",
        "training_refused",
        "training_request_stalled",
        "training_request_failed",
        "training_started",
        "training_ended",
    }
)


def training_request_id(workflow_id: str) -> str:
    return workflow_id.removeprefix("training-request-")


class TrainingRequestState(BaseModel):
    """The request as the workflow holds it; what its query and updates return."""

    request_id: str
    beneficiary_id: str
    training_id: str
    funder: Funder
    status: TrainingStatus = TrainingStatus.SUBMITTED
    seq: int = 0
    deadline: datetime | None = None
    reminded_at: datetime | None = None
    stalled_since: datetime | None = None
    sent_at: datetime | None = None
    funder_reference: str | None = None
    decided_at: datetime | None = None
    decided_by: str | None = None
    decision_source: Literal["console", "partner"] | None = None
    start_date: date | None = None
    approved_amount: Decimal | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    ended_on: date | None = None
    completed: bool | None = None
    failure: str | None = None
    updated_at: datetime | None = None


class TrainingRequestAction(Message):
    """A decision or an answer about the request; its texts are written to SQL by whoever
    sends it, never carried here."""

    actor_id: str | None = None
    # A funder in Parcours' console, or the funder's own system (a signed callback).
    source: Literal["console", "partner"] = "console"


class AskMoreInfoInput(TrainingRequestAction):
    """The funder needs more information (the question is in SQL)."""


class AnswerMoreInfoInput(TrainingRequestAction):
    """The référent answered (the answer is in SQL): the request waits for a decision again."""


class ApproveTrainingInput(TrainingRequestAction):
    start_date: date
    amount: Decimal = Field(ge=0, max_digits=10, decimal_places=2)
    funder_reference: str = Field(min_length=1, max_length=100)


class RefuseTrainingInput(TrainingRequestAction):
    """Refused; the reason (mandatory) is in SQL."""


class EndTrainingInput(TrainingRequestAction):
    """The training is over: completed, or left before its end."""

    ended_on: date | None = None
    completed: bool = True


Action = AskMoreInfoInput | AnswerMoreInfoInput | ApproveTrainingInput | RefuseTrainingInput


# The signal that withdraws a request still waiting for its funder's decision (sent when the
# person's journey closes, ``parcours.journey.settlement``).
WITHDRAW_SIGNAL = "withdraw"


class WithdrawTrainingRequestInput(Message):
    """Withdraw the request, and why (the journey's closing is the only reason so far)."""

    reason: Literal["journey_closed"] = "journey_closed"


class BeginTrainingRequestInput(Message):
    request_id: str


class TrainingRequestSetup(Message):
    """What the request needs from SQL and the settings, read once when it starts."""

    # None: the training is no longer in the resource base.
    training: TrainingDetails | None
    requested_amount: Decimal = Field(ge=0, max_digits=10, decimal_places=2)
    answer_days: int = DEFAULT_ANSWER_DAYS


class RecordTrainingRequestInput(Message):
    """Activity input: the request after a transition, and what the transition was."""

    state: TrainingRequestState
    kind: str
    actor_id: str | None = None


class TrainingRequestResult(Message):
    request_id: str
    status: TrainingStatus | None
