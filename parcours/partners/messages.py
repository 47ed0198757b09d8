"""What crosses the Temporal boundary with the partners: the partner calls as workflows make them
(activity names, inputs and results, one retry policy per partner, the idempotency key of a
call, ``call_partner``), the ``CafImport`` and ``PartnerLookup`` workflows' names, ids, inputs
and progress.

Ids and decisions only: the activities read personal data from SQL. Deterministic: safe in
any workflow."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, Field, model_validator
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from parcours.appointments.messages import AppointmentKind
from parcours.core.messages import Message
from parcours.journey.messages import RsaStatus

# Raised by the activities when trying again cannot help.
CONSENT_MISSING = "ConsentMissing"


PARTNER_REFUSED = "PartnerRefused"


# Raised while a partner is down, slow or overloaded: retried under the partner's policy.
PARTNER_UNAVAILABLE = "PartnerUnavailable"


PERSON_UNKNOWN = "PersonUnknown"


PERSON_INCOMPLETE = "PersonIncomplete"


NON_RETRYABLE = [CONSENT_MISSING, PARTNER_REFUSED, PERSON_UNKNOWN, PERSON_INCOMPLETE]


_FAILURES = {
    CONSENT_MISSING: "consent_missing",
    PERSON_UNKNOWN: "person_unknown",
    PERSON_INCOMPLETE: "person_incomplete",
    PARTNER_REFUSED: "partner_refused",
}


def failure_of(error: ActivityError) -> str:
    """Why a partner call failed, as a ``FAILURE_LABELS`` key
    (``parcours.orientations.schemas``; retries exhausted or timed out:
    the partner stayed unavailable)."""
    cause = error.cause
    if isinstance(cause, ApplicationError) and cause.type in _FAILURES:
        return _FAILURES[cause.type]
    return "partner_unavailable"


# The retry policies, one per partner, fitted to what it is and what we ask of it.
# The CAF look-up is a read that saves re-typing: a few minutes of tries, then the journey
# goes on without it (a référent can ask again).
CAF_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=8,
    non_retryable_error_types=NON_RETRYABLE,
)


# France Travail's APIs answer fast but have maintenance windows: a look-up gives up after a
# few minutes like the CAF's; a notice (orientation) keeps trying, at most every 5 minutes, for
# up to 3 days — the orientation must reach the agency.
FRANCE_TRAVAIL_LOOKUP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=8,
    non_retryable_error_types=NON_RETRYABLE,
)


FRANCE_TRAVAIL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=NON_RETRYABLE,
)


# Funders (Région, France Travail AIF) decide in days: a request may wait for their system
# for up to a week, tried at most every 15 minutes.
FUNDING_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=15),
    non_retryable_error_types=NON_RETRYABLE,
)


# Service structures (CCAS, associations) run small systems that go down for hours.
STRUCTURES_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(hours=1),
    non_retryable_error_types=NON_RETRYABLE,
)


@dataclass(frozen=True)
class PartnerCall:
    """One kind of partner call and the options every workflow uses for it."""

    activity: str
    partner: Literal["caf", "france_travail", "region", "structures"]
    retry_policy: RetryPolicy
    # Every attempt: the HTTP call (``partner_timeout_s``) plus reading and writing our SQL.
    start_to_close: timedelta = timedelta(minutes=1)
    # The activity heartbeats while it waits for the partner: a dead worker is noticed in
    # this long, not after ``start_to_close``.
    heartbeat: timedelta = timedelta(seconds=10)
    # All attempts together; then the caller gets the failure and decides (remind, escalate).
    schedule_to_close: timedelta | None = None


LOOKUP_CAF_HOUSEHOLD = PartnerCall(
    "lookup_caf_household", "caf", CAF_RETRY, schedule_to_close=timedelta(minutes=10)
)


FIND_FRANCE_TRAVAIL_PERSON = PartnerCall(
    "find_france_travail_person",
    "france_travail",
    FRANCE_TRAVAIL_LOOKUP_RETRY,
    schedule_to_close=timedelta(minutes=10),
)


NOTIFY_FRANCE_TRAVAIL_ORIENTATION = PartnerCall(
    "notify_france_travail_orientation",
    "france_travail",
    FRANCE_TRAVAIL_RETRY,
    schedule_to_close=timedelta(days=3),
)


# The legal orientation delay passed without a decision: France Travail is asked to orient
# (art. D.262-65-2 CASF); its decision comes back later by signed callback.
REQUEST_FRANCE_TRAVAIL_ORIENTATION = PartnerCall(
    "request_france_travail_orientation",
    "france_travail",
    FRANCE_TRAVAIL_RETRY,
    schedule_to_close=timedelta(days=3),
)


SUBMIT_TRAINING_REQUEST_REGION = PartnerCall(
    "submit_training_request", "region", FUNDING_RETRY, schedule_to_close=timedelta(days=7)
)


SUBMIT_TRAINING_REQUEST_FRANCE_TRAVAIL = PartnerCall(
    "submit_training_request",
    "france_travail",
    FUNDING_RETRY,
    schedule_to_close=timedelta(days=7),
)


SUBMIT_TRAINING_REQUEST = {
    "region": SUBMIT_TRAINING_REQUEST_REGION,
    "france_travail": SUBMIT_TRAINING_REQUEST_FRANCE_TRAVAIL,
}


# A request withdrawn because the person's journey closed: the funder must learn it (it would
# otherwise decide for nobody), under the same patience as the request itself.
WITHDRAW_TRAINING_REQUEST_REGION = PartnerCall(
    "withdraw_training_request", "region", FUNDING_RETRY, schedule_to_close=timedelta(days=7)
)


WITHDRAW_TRAINING_REQUEST_FRANCE_TRAVAIL = PartnerCall(
    "withdraw_training_request",
    "france_travail",
    FUNDING_RETRY,
    schedule_to_close=timedelta(days=7),
)


WITHDRAW_TRAINING_REQUEST = {
    "region": WITHDRAW_TRAINING_REQUEST_REGION,
    "france_travail": WITHDRAW_TRAINING_REQUEST_FRANCE_TRAVAIL,
}


SEND_STRUCTURE_ORIENTATION = PartnerCall(
    "send_structure_orientation",
    "structures",
    STRUCTURES_RETRY,
    schedule_to_close=timedelta(days=7),
)


# An orientation cancelled because the person's journey closed: the structure must learn it
# (it would otherwise keep a place for nobody).
CANCEL_STRUCTURE_ORIENTATION = PartnerCall(
    "cancel_structure_orientation",
    "structures",
    STRUCTURES_RETRY,
    schedule_to_close=timedelta(days=7),
)


# An appointment and each of its statuses (issue 14, item 7): France Travail must receive every
# status once and may be in maintenance for hours, like the orientation notices.
SEND_APPOINTMENT_TO_FRANCE_TRAVAIL = PartnerCall(
    "send_appointment_to_france_travail",
    "france_travail",
    FRANCE_TRAVAIL_RETRY,
    schedule_to_close=timedelta(days=3),
)


# A sanction decision, or its lifting, must reach the CAF, which pays the RSA: tried like
# France Travail's notices, at most every 5 minutes, for up to 3 days (issue 15, item 5).
SEND_SANCTION_TO_CAF = PartnerCall(
    "send_sanction_to_caf", "caf", FRANCE_TRAVAIL_RETRY, schedule_to_close=timedelta(days=3)
)


# After a total removal for 4 months: the proposal to strike the person off France Travail's
# list (issue 15, item 5).
PROPOSE_FRANCE_TRAVAIL_REMOVAL = PartnerCall(
    "propose_france_travail_removal",
    "france_travail",
    FRANCE_TRAVAIL_RETRY,
    schedule_to_close=timedelta(days=3),
)


def idempotency_key(step: str) -> str:
    """The key of one partner call of this workflow: its id plus the step (make the step
    unique within the workflow, e.g. with the journey's event number when a step can recur).
    Stable across retries, worker crashes and continue-as-new."""
    return f"{workflow.info().workflow_id}:{step}"


Result = TypeVar("Result", bound=BaseModel)


async def call_partner(call: PartnerCall, input: BaseModel, result_type: type[Result]) -> Result:
    """Run ``call`` as an activity with its partner's options."""
    return await workflow.execute_activity(
        call.activity,
        input,
        result_type=result_type,
        start_to_close_timeout=call.start_to_close,
        schedule_to_close_timeout=call.schedule_to_close,
        heartbeat_timeout=call.heartbeat,
        retry_policy=call.retry_policy,
    )


class PartnerCallInput(Message):
    beneficiary_id: str
    idempotency_key: str = Field(min_length=1, max_length=255)


class PartnerLookupInput(PartnerCallInput):
    pass


class CafLookupResult(Message):
    found: bool
    rsa_status: RsaStatus | None = None


class FranceTravailLookupResult(Message):
    found: bool
    registered: bool | None = None


class ProfessionalOrientationInput(PartnerCallInput):
    orientation_id: str
    decided_on: date
    referent_id: str | None = None
    # The France Travail agency (a ``Structure``) the person is oriented to.
    structure_id: str | None = None


class FranceTravailOrientationRequestInput(PartnerCallInput):
    """Ask France Travail to orient the person: the journey (its id comes back with the
    decision), the legal due date that passed, the département."""

    journey_id: str
    due_on: date
    territory: str


class TrainingDetails(Message):
    """A training of the resource base (not personal data)."""

    training_id: str | None = None
    title: str
    provider: str
    starts_on: date
    ends_on: date | None = None
    hours: int | None = None
    location: str | None = None


class TrainingRequestInput(PartnerCallInput):
    request_id: str
    funder: Literal["region", "france_travail"]
    training: TrainingDetails
    requested_amount: Decimal = Field(ge=0, max_digits=10, decimal_places=2)
    referent_id: str | None = None


class TrainingWithdrawalInput(PartnerCallInput):
    """Withdraw a request the funder received (``reference``: its own), and why."""

    request_id: str
    funder: Literal["region", "france_travail"]
    reference: str
    reason: Literal["journey_closed"] = "journey_closed"


class StructureOrientationInput(PartnerCallInput):
    orientation_id: str
    # The structure and service as the resource base (data·inclusion) names them.
    structure_id: str
    service_id: str
    referent_id: str | None = None


class StructureCancellationInput(PartnerCallInput):
    """Cancel an orientation the structure received (``reference``: its own), and why."""

    orientation_id: str
    reference: str
    reason: Literal["journey_closed"] = "journey_closed"


# planifié, honoré, absent excusé, absent non excusé, annulé.
AppointmentStatus = Literal[
    "planned", "attended", "excused_absence", "unexcused_absence", "cancelled"
]
# Why an absence was excused, as a category: the person's own words (which may tell of their
# health) stay in the carnet, never in Temporal nor at France Travail.
AbsenceExcuse = Literal[
    "work_or_training", "personal_impediment", "administrative", "transport", "other"
]


def france_travail_appointment_step(appointment_id: str, status: str, version: int = 0) -> str:
    """The step of one status of one appointment sent to France Travail, for
    ``idempotency_key``: each status is sent once; ``version`` grows when the same status
    comes back with other facts (an appointment planned again at another time)."""
    return f"france-travail-appointment-{appointment_id}-{status}-{version}"


class FranceTravailAppointmentInput(PartnerCallInput):
    """One appointment and its current status, for France Travail: ids, dates and statuses
    only (the activity reads the person and the structure from SQL)."""

    appointment_id: str = Field(min_length=1, max_length=100)
    status: AppointmentStatus
    excuse: AbsenceExcuse | None = None
    kind: AppointmentKind
    # The first accompaniment appointment (where the contrat d'engagement is built).
    first_accompaniment: bool = False
    starts_at: AwareDatetime
    duration_minutes: int = Field(ge=5, le=480)
    modality: Literal["in_person", "phone", "video"] = "in_person"
    collective: bool = False
    booked_by: Literal["person", "agent"] = "agent"
    # The structure that receives the person (France Travail's « organisme »).
    structure_id: str | None = None

    @model_validator(mode="after")
    def _an_excuse_only_for_an_excused_absence(self) -> FranceTravailAppointmentInput:
        if (self.status == "excused_absence") != (self.excuse is not None):
            raise ValueError("an excuse goes with an excused absence, and only with it")
        return self


class FranceTravailAppointmentResult(Message):
    """``sent``: France Travail holds this status (``replayed`` when an earlier attempt had
    already delivered it). Otherwise ``skipped`` says why nothing was sent (no consent, the
    person erased or without NIR) and ``reason`` says it in French."""

    sent: bool
    skipped: Literal["consent_missing", "person_unknown", "person_incomplete"] | None = None
    reason: str | None = None
    reference: str | None = None
    replayed: bool = False


class PartnerReceipt(Message):
    """The partner's reference for what it received; ``replayed`` when it had already
    received it under the same key (a retry after the partner did the work)."""

    reference: str
    replayed: bool = False


CAF_IMPORT_WORKFLOW = "CafImport"


BEGIN_CAF_IMPORT = "begin_caf_import"


APPLY_CAF_FEED_BATCH = "apply_caf_feed_batch"


FINISH_CAF_IMPORT = "finish_caf_import"


# The feed file cannot be imported (unreadable, empty, gone): trying again cannot help.
INVALID_FEED = "InvalidFeed"


# Our own database and Temporal: retry until they are back, the import must finish.
IMPORT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=[INVALID_FEED],
)


def caf_import_workflow_id(file_id: str) -> str:
    return f"caf-import-{file_id}"


class CafImportCounts(Message):
    processed: int = 0
    created: int = 0
    signalled: int = 0
    unchanged: int = 0
    rejected: int = 0

    def __add__(self, other: CafImportCounts) -> CafImportCounts:
        return CafImportCounts(
            processed=self.processed + other.processed,
            created=self.created + other.created,
            signalled=self.signalled + other.signalled,
            unchanged=self.unchanged + other.unchanged,
            rejected=self.rejected + other.rejected,
        )


class CafImportProgress(Message):
    file_id: str
    lines: int = 0
    counts: CafImportCounts = CafImportCounts()
    done: bool = False


class CafImportInput(Message):
    file_id: str
    batch_lines: int = 500
    # Set when the import continues as new.
    next_line: int | None = None
    last_line: int | None = None
    progress: CafImportProgress | None = None


class CafImportRef(Message):
    file_id: str


class CafImportPlan(Message):
    lines: int
    first_line: int
    last_line: int


class CafFeedBatchInput(Message):
    file_id: str
    first_line: int
    last_line: int


PARTNER_LOOKUP_WORKFLOW = "PartnerLookup"
LookupPartner = Literal["caf", "france_travail"]


# A request id as a page or an API client sends it (it goes into the workflow id).
REQUEST_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


def partner_lookup_workflow_id(partner: str, beneficiary_id: str, request_id: str) -> str:
    return f"partner-lookup-{partner}-{beneficiary_id}-{request_id}"


class PartnerLookupStart(Message):
    beneficiary_id: str
    partner: LookupPartner
    request_id: str = Field(pattern=REQUEST_ID_PATTERN)


class PartnerLookupOutcome(Message):
    """``found`` / ``not_found``: the partner answered (the carnet says what); ``refused``:
    asking cannot work (``refusal`` is the error type, ``reason`` its French message: a consent
    missing, a NIR unknown…); ``unavailable``: the partner did not answer within its policy."""

    partner: LookupPartner
    outcome: Literal["found", "not_found", "refused", "unavailable"]
    refusal: str | None = None
    reason: str | None = None
    rsa_status: RsaStatus | None = None
    registered: bool | None = None
