"""What crosses the workflow boundary: inputs, results, updates, signals and events.

Every type carries identifiers, dates and decisions only — never a name, a NIR, an address, a
note: those live in the SQL database where they can be corrected and erased. One type per
message so a field can be added without breaking running histories.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import FailureError

from parcours.core.messages import Message, ScalarDetail
from parcours.sanctions.messages import Breach, SanctionBounds

JOURNEY_WORKFLOW = "Journey"


def journey_workflow_id(journey_id: str) -> str:
    """A journey's workflow id. A person's first journey has the person's id as its own, so
    ``journey-<person>`` is their first journey (and the only one of journeys started before
    people could have several)."""
    return f"journey-{journey_id}"


# Activities are named, not imported: their module touches the database.
RECORD_JOURNEY_EVENT = "record_journey_event"


RECORD_JOURNEY_EVENTS = "record_journey_events"


# A closed journey's requests still waiting for an answer, withdrawn (``JourneySettlement``).
SETTLE_REQUESTS = "settle_journey_requests"


# The journey's signal for what is settled outside its steps.
RECORD_OUTCOME = "record_outcome"

# The ``record_outcome`` kind of a référent's request for an orientation decision (the
# orientation team's inbox turns it into an item for each of them).
DECISION_REQUESTED = "decision_requested"


class Step(StrEnum):
    INTAKE = "intake"
    DIAGNOSIS = "diagnosis"
    ORIENTATION = "orientation"
    ACCOMPANIMENT = "accompaniment"
    EMPLOYMENT = "employment"
    FOLLOW_UP = "follow_up"
    CLOSED = "closed"


class OrientationKind(StrEnum):
    PROFESSIONAL = "professional"
    SOCIO_PROFESSIONAL = "socio_professional"
    SOCIAL = "social"


class RsaStatus(StrEnum):
    OPEN = "open"
    SUSPENDED = "suspended"
    CLOSED = "closed"


class EmploymentContract(StrEnum):
    CDI = "cdi"
    CDD = "cdd"
    INTERIM = "interim"
    BUSINESS_CREATION = "business_creation"
    INCLUSION = "inclusion"
    OTHER = "other"


class ExitReason(StrEnum):
    SUSTAINED_EMPLOYMENT = "sustained_employment"
    EMPLOYMENT = "employment"
    RIGHTS_CLOSED = "rights_closed"
    DECLINED = "declined"
    MOVED_AWAY = "moved_away"
    OTHER = "other"


class Sla(Message):
    """Step deadlines, captured when a journey starts (and carried across continue-as-new)."""

    intake_days: int = 15
    diagnosis_days: int = 30
    orientation_weeks_after_rsa: int = 6
    contract_days_after_orientation: int = 30
    accompaniment_review_days: int = 180
    follow_up_consent_days: int = 15
    check_in_grace_days: int = 15
    follow_up_check_in_months: tuple[int, ...] = (1, 3, 6)
    # The legal orientation delay (art. D.262-65-2 CASF): past it without a decision, France
    # Travail orients. None in journeys started before the legal clock existed: they keep
    # the deadlines they had.
    france_travail_orients_after_weeks: int | None = None
    # The social track's review (art. D.262-65-2-1 CASF): after 6 months, 12 with a recorded
    # reason; shown to the référent this many days ahead. 0 months: no review (the journey's
    # workflow sets it so for histories recorded before the review existed).
    social_review_months: int = 6
    social_review_extended_months: int = 12
    social_review_notice_days: int = 15
    # A run continues as new past this many events (``workflows.journey``): what an update
    # reaching the journey cold replays at most.
    history_events_bound: int = 250


class AppointmentMark(BaseModel):
    """One of the journey's appointments as the journey knows it: ids, dates, statuses (the
    ``Appointment`` child workflow tells it of each change)."""

    appointment_id: str
    mode: str
    kind: str
    status: str
    starts_at: datetime | None = None


class SanctionMark(BaseModel):
    """One of the journey's sanction cases as the journey knows it (the ``SanctionCase``
    child workflow tells it of each step): enough to tell whether a new breach is repeated
    and which cases to tell when the person signs her contract."""

    case_id: str
    breach: str
    repeated: bool
    opened_on: date
    appointment_id: str | None = None
    status: str = "opened"
    measure: str | None = None
    rate_percent: int | None = None
    months: int | None = None
    decided_on: date | None = None
    received_on: date | None = None
    window_ends_on: date | None = None
    ends_on: date | None = None
    lift_reason: str | None = None


class JourneyState(BaseModel):
    """The journey as the workflow holds it; also what its query returns."""

    beneficiary_id: str
    # The journey's own id; None for a person's journey started before people could have
    # several: its id is the person's (``id``).
    journey_id: str | None = None
    territory: str
    step: Step = Step.INTAKE
    step_since: datetime
    deadline: datetime | None = None
    stalled: bool = False
    referent_id: str | None = None
    structure_id: str | None = None
    orientation: OrientationKind | None = None
    rsa_opened_on: date | None = None
    rsa_status: RsaStatus = RsaStatus.OPEN
    paused_at: datetime | None = None
    paused_until: datetime | None = None
    contract_signed_on: date | None = None
    contract_ends_on: date | None = None
    employment_started_on: date | None = None
    employment_contract: EmploymentContract | None = None
    follow_up_consent: bool | None = None
    follow_up_since: datetime | None = None
    check_ins_done: list[int] = Field(default_factory=list)
    check_in_due: int | None = None
    exit_reason: ExitReason | None = None
    # The département's coded exit it was closed with (None: no code, or before coded exits).
    exit_code: str | None = None
    # When an orientation decision was last asked for during this stay in the step (reset
    # when the step changes); None in journeys before it existed.
    decision_requested_at: datetime | None = None
    # Its appointments, pending and past (empty in journeys before appointments existed).
    appointments: list[AppointmentMark] = Field(default_factory=list)
    # « Soumis aux droits et devoirs » as the CAF last said (True until it says otherwise):
    # a person not subject to them has no legal orientation deadline.
    subject_to_duties: bool = True
    # When the legal orientation clock last started over: a transfer-in, or the day the person
    # became subject to duties again (None: the right's opening, ``rsa_opened_on``).
    orientation_clock_from: date | None = None
    # The legal due date France Travail orients after, once it was asked to (None: not asked).
    france_travail_requested_due_on: date | None = None
    # The social track's next review (None: not oriented to the social track, or oriented
    # before reviews existed); extended to 12 months for a recorded reason; ``noticed`` once
    # the référent has been told it is coming.
    social_review_due_on: date | None = None
    social_review_extended: bool = False
    social_review_noticed: bool = False
    # The reorientation request waiting for the orientation team's decision, if any.
    reorientation_request_id: str | None = None
    # Its sanction cases, open and past (empty in journeys before them).
    sanctions: list[SanctionMark] = Field(default_factory=list)
    seq: int = 0

    @property
    def id(self) -> str:
        """The journey's id (its workflow is ``journey-<id>``)."""
        return self.journey_id or self.beneficiary_id

    @property
    def paused(self) -> bool:
        return self.paused_at is not None


class JourneyEvent(Message):
    """One fact of the journey's timeline (ids and decisions in ``detail``)."""

    kind: str
    occurred_at: datetime
    # The step the journey was in when this happened (None in histories before it existed).
    step: Step | None = None
    actor_id: str | None = None
    detail: dict[str, ScalarDetail] = Field(default_factory=dict)


class AnsweredUpdate(Message):
    """An action the journey applied, and its answer: carried across a continue-as-new so that
    the same action sent again (a client retrying after a lost answer) gets that answer and is
    not applied twice. The engine itself recognises an update's id only within one run."""

    update_id: str
    state: JourneyState


class JourneyInput(Message):
    beneficiary_id: str
    # A person's journeys after their first have ids of their own (None: the person's id).
    journey_id: str | None = None
    territory: str
    referent_id: str | None = None
    structure_id: str | None = None
    rsa_opened_on: date | None = None
    actor_id: str | None = None
    sla: Sla = Sla()
    # When the platform started the journey and wrote its first events itself (absent from
    # journeys started before: their workflow writes those events).
    started_at: datetime | None = None
    # Set only when the journey continues as new.
    state: JourneyState | None = None
    # The last actions the previous run answered (continue-as-new only).
    answered: list[AnsweredUpdate] = Field(default_factory=list)


class JourneyResult(Message):
    beneficiary_id: str
    exit_reason: ExitReason | None
    closed_at: datetime


class JourneyTimeline(Message):
    """What a journey's workflow recorded: its state, and its latest events numbered from
    ``first_seq`` (those before are in the read model already, or older than the workflow
    keeps in memory). The reconciler's view of the truth."""

    state: JourneyState
    first_seq: int
    events: list[JourneyEvent]

    def batch(self, after_seq: int) -> RecordJourneyEventsInput | None:
        """The events after ``after_seq`` as one write, or None when it holds none of them."""
        first = max(after_seq + 1, self.first_seq)
        events = self.events[first - self.first_seq :]
        if not events:
            return None
        return RecordJourneyEventsInput(journey=self.state, first_seq=first, events=events)


class RecordJourneyEventInput(Message):
    """Activity input: the journey after the event, and the event, numbered."""

    journey: JourneyState
    seq: int
    event: JourneyEvent


class RecordJourneyEventsInput(Message):
    """Activity input: the journey after a transition, and its events numbered from
    ``first_seq`` (one activity per transition)."""

    journey: JourneyState
    first_seq: int
    events: list[JourneyEvent]

    def each(self) -> list[RecordJourneyEventInput]:
        return [
            RecordJourneyEventInput(
                journey=self.journey.model_copy(update={"seq": seq}), seq=seq, event=event
            )
            for seq, event in enumerate(self.events, start=self.first_seq)
        ]


# --- Human actions: one update each, refused by its validator when not allowed. ---


class Action(Message):
    actor_id: str | None = None


class BeginDiagnosisInput(Action):
    referent_id: str | None = None


class CompleteDiagnosisInput(Action):
    pass


class DecideOrientationInput(Action):
    kind: OrientationKind
    structure_id: str
    referent_id: str | None = None
    # Who decided: the département (the orientation team), or France Travail once the legal
    # delay passed (its signed callback; never a person of the platform).
    decided_by: Literal["department", "france_travail"] = "department"
    # The social track's review pushed to 12 months, for this reason (a settings' code).
    social_review_reason: str | None = Field(default=None, max_length=30)


class SignContractInput(Action):
    signed_on: date
    ends_on: date | None = None
    weekly_hours: int | None = Field(default=None, ge=0, le=60)


class RecordEmploymentInput(Action):
    started_on: date
    contract: EmploymentContract
    follow_up_consent: bool | None = None


class SetFollowUpConsentInput(Action):
    consent: bool


class RecordCheckInInput(Action):
    month: int
    still_employed: bool


class ReportJobLossInput(Action):
    pass


class PauseInput(Action):
    until: date | None = None


class ResumeInput(Action):
    pass


class ReassignReferentInput(Action):
    referent_id: str
    structure_id: str | None = None


class HandOffInput(Action):
    territory: str = Field(pattern=r"^(\d{2,3}|2[AB])$")


class CloseInput(Action):
    exit_reason: ExitReason = ExitReason.OTHER
    # The département's coded exit (``parcours.exits``); the service sets ``exit_reason`` from
    # it. Optional: histories from before coded exits replay unchanged.
    exit_code: str | None = Field(default=None, max_length=40)


# --- Reorientation and the social track's review (the free texts stay in SQL:
# ``parcours.reorientation``). ---

# Who may ask for a reorientation.
ReorientationRequester = Literal["referent", "person"]

# Why a reorientation is asked for, or refused (codes; the French labels are in
# ``parcours.reorientation.schemas``).
ReorientationReason = Literal[
    "project_changed",
    "social_difficulties",
    "ready_for_employment",
    "health",
    "structure_unsuited",
    "social_review",
    "other",
]
ReorientationRefusal = Literal["current_suits", "too_early", "incomplete", "other"]


class RequestReorientationInput(Action):
    """Ask the orientation team to reorient the journey (accompaniment step)."""

    request_id: str = Field(min_length=1, max_length=36)
    requested_by_role: ReorientationRequester
    reason_code: ReorientationReason


class DecideReorientationInput(Action):
    """The orientation team's decision on a pending request: accepted with the new track,
    structure and référent, or refused with a coded reason."""

    request_id: str = Field(min_length=1, max_length=36)
    accepted: bool
    kind: OrientationKind | None = None
    structure_id: str | None = Field(default=None, max_length=36)
    referent_id: str | None = Field(default=None, max_length=36)
    after_team_meeting: bool = False
    refusal_code: ReorientationRefusal | None = None
    # A social track's review pushed to 12 months, for this reason (a settings' code).
    social_review_reason: str | None = Field(default=None, max_length=30)


class ConcludeSocialReviewInput(Action):
    """The social track's review, concluded: kept (the next review runs, extended for a
    recorded reason), or a reorientation asked for (``request_id``: its request)."""

    decision: Literal["keep", "reorient"]
    social_review_reason: str | None = Field(default=None, max_length=30)
    request_id: str | None = Field(default=None, max_length=36)


# --- Requests a journey sends on through a child workflow (not steps: the step stays). ---


class RequestTrainingInput(Action):
    """Ask a training's funder to fund it (a ``TrainingRequest`` child workflow)."""

    request_id: str = Field(min_length=1, max_length=36)
    training_id: str = Field(min_length=1, max_length=36)
    funder: Literal["region", "france_travail"]


class OpenSanctionInput(Action):
    """Open a suspension-remobilisation case for a breach (a ``SanctionCase`` child
    workflow); the journey decides whether the breach is repeated from its past cases."""

    case_id: str = Field(min_length=1, max_length=36)
    breach: Breach
    appointment_id: str | None = Field(default=None, max_length=36)
    bounds: SanctionBounds = Field(default_factory=SanctionBounds)


class PlanAppointmentInput(Action):
    """Invite the person to book an appointment, or convoke her to one (an ``Appointment``
    child workflow); the appointment's row is written by the request once accepted."""

    appointment_id: str = Field(min_length=1, max_length=36)
    mode: Literal["invitation", "convocation"]
    kind: str = Field(min_length=1, max_length=40)
    structure_id: str = Field(min_length=1, max_length=36)
    expires_at: datetime | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    with_letter: bool = False
    france_travail: bool = False


class OrientToServiceInput(Action):
    """Orient the person to a service of the resource base (a ``ServiceOrientation`` child
    workflow); ``plan_action_id`` is the line of their plan it becomes."""

    orientation_id: str = Field(min_length=1, max_length=36)
    service_id: str = Field(min_length=1, max_length=36)
    resource_structure_id: str = Field(min_length=1, max_length=36)
    plan_action_id: str | None = Field(default=None, max_length=36)


class SettleRequestsInput(Message):
    """Activity input: the closed journey's person, and the child workflows this run of the
    journey started (their rows in SQL may not be written yet)."""

    beneficiary_id: str
    training_request_ids: list[str] = Field(default_factory=list)
    orientation_ids: list[str] = Field(default_factory=list)


class SettleRequestsResult(Message):
    """How many child workflows were told to withdraw (those that still ran)."""

    training_requests: int = 0
    orientations: int = 0
    appointments: int = 0


# --- Signals from partners (not human actions: applied when they make sense, else logged). ---


class JourneyOutcomeInput(Message):
    """Something settled outside the journey's own steps that belongs in its timeline, sent as
    a signal by a partner callback or a child workflow: an orientation to a service answered,
    a training request decided, a training begun or ended. ``detail`` carries ids and
    decisions only."""

    kind: str = Field(pattern=r"^[a-z][a-z_]{2,39}$")
    actor_id: str | None = None
    detail: dict[str, ScalarDetail] = Field(default_factory=dict)


class RsaRightsChangedInput(Message):
    """A CAF feed line about a known person. The fields after ``source`` were added with the
    « droits et devoirs » (None in older histories: the journey ignores them)."""

    status: RsaStatus
    effective_on: date
    source: Literal["caf"] = "caf"
    # TOPPERSDRODEVORSA: subject to the RSA's rights and duties.
    subject_to_duties: bool | None = None
    # MOTISUSDRORSA / MOTISUSVERSRSA and MOTICLORSA, the CNAF's codes.
    suspension_reason: str | None = Field(default=None, max_length=10)
    closure_reason: str | None = Field(default=None, max_length=10)
    # The feed's event kind ("new_rights", "change", "suspension", "closure") and the
    # département it was sent for: new rights in another département are a transfer-in.
    event_kind: str | None = Field(default=None, max_length=20)
    territory: str | None = Field(default=None, pattern=r"^(\d{2,3}|2[AB])$")
    rights_opened_on: date | None = None


STEP_KEY = SearchAttributeKey.for_keyword("JourneyStep")


DEADLINE_KEY = SearchAttributeKey.for_datetime("StepDeadline")


REFERENT_KEY = SearchAttributeKey.for_keyword("Referent")


TERRITORY_KEY = SearchAttributeKey.for_keyword("Territory")


SearchValues = dict[str, str | datetime | None]


def search_values(state: JourneyState) -> SearchValues:
    return {
        STEP_KEY.name: state.step.value,
        DEADLINE_KEY.name: state.deadline,
        REFERENT_KEY.name: state.referent_id,
        TERRITORY_KEY.name: state.territory,
    }


async def tell_journey(
    journey_workflow_id: str,
    kind: str,
    detail: Mapping[str, ScalarDetail],
    actor_id: str | None = None,
) -> None:
    """Signal ``record_outcome`` to the journey. A journey that has ended (closed, erased)
    cannot be told, and that must not fail the caller: its outcome is in SQL all the same."""
    journey = workflow.get_external_workflow_handle(journey_workflow_id)
    outcome = JourneyOutcomeInput(kind=kind, actor_id=actor_id, detail=dict(detail))
    try:
        await journey.signal(RECORD_OUTCOME, outcome)
    except FailureError as error:
        workflow.logger.info(
            "journey not told",
            extra={"journey": journey_workflow_id, "kind": kind, "error": str(error)},
        )


# --- Reconciliation (the read model made to agree with the workflows) ---

RECONCILE_WORKFLOW = "ReconcileJourneys"
RECONCILE_SCHEDULE_ID = "reconcile-journeys"
RECONCILE_JOURNEYS = "reconcile_journeys"


class ReconcileInput(Message):
    """Reconcile the journeys whose read model moved in the last ``window_minutes``, and end
    the journeys started between ``orphan_hours`` and ``orphan_grace_minutes`` ago whose
    person was never saved."""

    window_minutes: int = 15
    orphan_grace_minutes: int = 15
    orphan_hours: int = 24


class ReconcileResult(Message):
    checked: int
    fixed: int
    unreachable: int
    orphans: int
