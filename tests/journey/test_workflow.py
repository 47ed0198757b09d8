"""The ``Journey`` workflow driven through months of timers on the time-skipping server.

Journeys start the way the platform starts them (``JourneyService.enrol``: the person in SQL,
then the workflow); actions are the workflow's updates; the SQL read model the pages show is
checked against the workflow's own state at each stage.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.common.v1 import SearchAttributes, WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import (
    WorkflowExecutionStatus,
    WorkflowHistory,
    WorkflowUpdateFailedError,
)
from temporalio.converter import decode_typed_search_attributes
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from parcours.core.db import transaction
from parcours.core.errors import Conflict
from parcours.core.settings import Settings
from parcours.journey import rules
from parcours.journey.messages import (
    Action,
    BeginDiagnosisInput,
    CloseInput,
    CompleteDiagnosisInput,
    DecideOrientationInput,
    EmploymentContract,
    ExitReason,
    HandOffInput,
    JourneyState,
    OrientationKind,
    PauseInput,
    ReassignReferentInput,
    RecordCheckInInput,
    RecordEmploymentInput,
    ReportJobLossInput,
    RequestTrainingInput,
    ResumeInput,
    RsaRightsChangedInput,
    RsaStatus,
    SetFollowUpConsentInput,
    SignContractInput,
    Step,
)
from parcours.journey.repository import JourneyRepository
from parcours.journey.schemas import JourneyFilter
from tests.support.accounts import Staff
from tests.support.journeys import (
    JourneyHandle,
    Journeys,
    act,
    drive_through_runs,
    ended_after,
    eventually,
    journeys_on,
    runs,
    short_history_server,
)
from tests.support.workflows import end_when_settled, settled
from workflows.journey import (
    DEADLINE_KEY,
    REFERENT_KEY,
    STEP_KEY,
    TERRITORY_KEY,
    Journey,
)

# What the time-skipping server writes for an update its validator rejected: the workflow
# task that ran the validator (a real server drops even that). Nothing else may follow.
WORKFLOW_TASK_EVENTS = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
}


@pytest.fixture
async def journeys(
    time_env: WorkflowEnvironment,
    time_worker: Worker,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    staff: Staff,
) -> AsyncIterator[Journeys]:
    async with ended_after(time_env, sessions, settings, staff) as journeys:
        yield journeys


def route(step: str, staff: Staff, today: date) -> list[Action]:
    """The actions that bring a new journey to ``step``."""
    begin = BeginDiagnosisInput(actor_id=staff.referent_id)
    complete = CompleteDiagnosisInput(actor_id=staff.referent_id)
    orient = DecideOrientationInput(
        kind=OrientationKind.SOCIO_PROFESSIONAL,
        structure_id=staff.structure_id,
        referent_id=staff.other_referent_id,
        actor_id=staff.orientation_id,
    )
    employ = RecordEmploymentInput(
        started_on=today, contract=EmploymentContract.CDI, actor_id=staff.other_referent_id
    )
    consent = SetFollowUpConsentInput(consent=True, actor_id=staff.other_referent_id)
    to_accompaniment: list[Action] = [begin, complete, orient]
    routes: dict[str, list[Action]] = {
        "intake": [],
        "diagnosis": [begin],
        "orientation": [begin, complete],
        "accompaniment": to_accompaniment,
        "employment": [*to_accompaniment, employ],
        "follow_up": [*to_accompaniment, employ, consent],
        "paused": [PauseInput(actor_id=staff.referent_id)],
    }
    return routes[step]


async def reach(journeys: Journeys, step: str) -> JourneyHandle:
    handle = await journeys.enrol()
    today = (await journeys.now()).date()
    for action in route(step, journeys.staff, today):
        await act(handle, action)
    return handle


async def history(handle: JourneyHandle) -> WorkflowHistory:
    return await handle.fetch_history()


async def assert_refused(
    journeys: Journeys, handle: JourneyHandle, action: Action, reason: str
) -> None:
    """The update fails with the French reason, and nothing is written anywhere."""
    await settled(handle)
    before_events = (await history(handle)).events
    before_state = await handle.query(Journey.current)
    before_model = (await journeys.read(handle)).frozen()

    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await act(handle, action)
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError)
    assert (cause.type, cause.message) == ("TransitionRefused", reason)

    added = (await history(handle)).events[len(before_events) :]
    assert {e.event_type for e in added} <= WORKFLOW_TASK_EVENTS
    assert await handle.query(Journey.current) == before_state
    assert (await journeys.read(handle)).frozen() == before_model


def gate(needed: str, current: str) -> str:
    return f"Action possible seulement à l'étape {needed} (étape actuelle : « {current} »)."


EMPLOYED = "« Emploi » ou « Suivi dans l'emploi »"


@dataclass(frozen=True)
class Refusal:
    action: str
    at: str
    build: Callable[[Staff, date], Action]
    reason: str


REFUSALS = [
    Refusal(
        "begin_diagnosis",
        "diagnosis",
        lambda s, d: BeginDiagnosisInput(),
        gate("« Accueil »", "Diagnostic"),
    ),
    Refusal(
        "complete_diagnosis",
        "intake",
        lambda s, d: CompleteDiagnosisInput(),
        gate("« Diagnostic »", "Accueil"),
    ),
    Refusal(
        "decide_orientation",
        "diagnosis",
        lambda s, d: DecideOrientationInput(
            kind=OrientationKind.PROFESSIONAL, structure_id=s.structure_id
        ),
        gate("« Orientation »", "Diagnostic"),
    ),
    Refusal(
        "sign_contract",
        "orientation",
        lambda s, d: SignContractInput(signed_on=d),
        gate("« Accompagnement »", "Orientation"),
    ),
    Refusal(
        "sign_contract",
        "accompaniment",
        lambda s, d: SignContractInput(signed_on=d, ends_on=d - timedelta(days=1)),
        "La date de fin du contrat doit suivre sa date de signature.",
    ),
    Refusal(
        "record_employment",
        "employment",
        lambda s, d: RecordEmploymentInput(started_on=d, contract=EmploymentContract.CDD),
        gate("« Accompagnement »", "Emploi"),
    ),
    Refusal(
        "set_follow_up_consent",
        "accompaniment",
        lambda s, d: SetFollowUpConsentInput(consent=True),
        gate(EMPLOYED, "Accompagnement"),
    ),
    Refusal(
        "set_follow_up_consent",
        "follow_up",
        lambda s, d: SetFollowUpConsentInput(consent=True),
        "La personne a déjà accepté le suivi dans l'emploi.",
    ),
    Refusal(
        "record_check_in",
        "employment",
        lambda s, d: RecordCheckInInput(month=1, still_employed=True),
        gate("« Suivi dans l'emploi »", "Emploi"),
    ),
    Refusal(
        "record_check_in",
        "follow_up",
        lambda s, d: RecordCheckInInput(month=1, still_employed=True),
        "Aucun point de suivi n'est attendu pour l'instant.",
    ),
    Refusal(
        "report_job_loss",
        "orientation",
        lambda s, d: ReportJobLossInput(),
        gate(EMPLOYED, "Orientation"),
    ),
    Refusal("pause", "paused", lambda s, d: PauseInput(), "Le parcours est déjà en pause."),
    Refusal(
        "resume", "accompaniment", lambda s, d: ResumeInput(), "Le parcours n'est pas en pause."
    ),
    Refusal(
        "reassign_referent",
        "intake",
        lambda s, d: ReassignReferentInput(referent_id=s.referent_id),
        "Cette personne suit déjà ce parcours.",
    ),
    Refusal(
        "hand_off",
        "orientation",
        lambda s, d: HandOffInput(territory="73"),
        "Le parcours est déjà rattaché à ce département.",
    ),
]


def test_every_action_has_a_refusal_case() -> None:
    # ``close`` is refused only on a closed journey: see the closed-journey test.
    assert {r.action for r in REFUSALS} | {"close"} == set(rules.ACTIONS)


@pytest.mark.parametrize("case", REFUSALS, ids=lambda r: f"{r.action}-at-{r.at}")
async def test_a_refused_transition_writes_nothing(journeys: Journeys, case: Refusal) -> None:
    handle = await reach(journeys, case.at)
    today = (await journeys.now()).date()
    action = case.build(journeys.staff, today)
    assert rules.ACTION_NAMES[type(action)] == case.action
    await assert_refused(journeys, handle, action, case.reason)
    # The refusal left the journey working: it still takes what its step allows.
    await act(handle, CloseInput(exit_reason=ExitReason.OTHER))
    assert (await handle.result()).exit_reason is ExitReason.OTHER


async def test_an_action_sent_twice_at_once_is_applied_once(journeys: Journeys) -> None:
    # Sent the moment the journey starts, before the workflow has written anything.
    handle = await journeys.enrol(settled=False)
    outcomes = await asyncio.gather(
        *(act(handle, BeginDiagnosisInput(actor_id=journeys.staff.referent_id)) for _ in range(3)),
        return_exceptions=True,
    )
    applied = [o for o in outcomes if isinstance(o, JourneyState)]
    refused = [o for o in outcomes if isinstance(o, WorkflowUpdateFailedError)]
    assert (len(applied), len(refused)) == (1, 2), outcomes
    for failure in refused:
        assert isinstance(failure.cause, ApplicationError)
        assert failure.cause.message == gate("« Accueil »", "Diagnostic")
    model = await journeys.matches(handle)
    assert model.kinds == ["journey_started", "diagnosis_started"]


def every_action(staff: Staff, today: date) -> dict[str, Action]:
    return {
        "begin_diagnosis": BeginDiagnosisInput(),
        "complete_diagnosis": CompleteDiagnosisInput(),
        "decide_orientation": DecideOrientationInput(
            kind=OrientationKind.SOCIAL,
            structure_id=staff.structure_id,
            referent_id=staff.other_referent_id,
        ),
        "sign_contract": SignContractInput(signed_on=today),
        "record_employment": RecordEmploymentInput(
            started_on=today, contract=EmploymentContract.INCLUSION
        ),
        "set_follow_up_consent": SetFollowUpConsentInput(consent=False),
        "record_check_in": RecordCheckInInput(month=1, still_employed=True),
        "report_job_loss": ReportJobLossInput(),
        "pause": PauseInput(),
        "resume": ResumeInput(),
        "reassign_referent": ReassignReferentInput(referent_id=staff.other_referent_id),
        "hand_off": HandOffInput(territory="38"),
        "close": CloseInput(exit_reason=ExitReason.OTHER),
    }


FORWARD = [
    "begin_diagnosis",
    "complete_diagnosis",
    "decide_orientation",
    "sign_contract",
    "record_employment",
    "set_follow_up_consent",
    "record_check_in",
    "report_job_loss",
]


async def test_a_paused_journey_refuses_every_step_forward_until_resumed(
    journeys: Journeys,
) -> None:
    handle = await reach(journeys, "diagnosis")
    today = (await journeys.now()).date()
    actions = every_action(journeys.staff, today)
    paused = await act(handle, PauseInput(until=today + timedelta(days=30)))
    assert paused.paused
    assert (await journeys.matches(handle)).journey.paused
    assert sorted(rules.available_actions(paused)) == sorted(
        ["resume", "reassign_referent", "hand_off", "close"]
    )
    for name in FORWARD:
        await assert_refused(
            journeys,
            handle,
            actions[name],
            "Le parcours est en pause : reprenez-le avant de continuer.",
        )
    await assert_refused(journeys, handle, actions["pause"], "Le parcours est déjà en pause.")

    resumed = await act(handle, ResumeInput())
    assert not resumed.paused
    moved = await act(handle, CompleteDiagnosisInput())
    assert moved.step is Step.ORIENTATION
    model = await journeys.matches(handle)
    assert model.kinds[-3:] == ["paused", "resumed", "diagnosis_completed"]


async def test_a_pause_with_an_end_date_resumes_by_itself(journeys: Journeys) -> None:
    handle = await reach(journeys, "diagnosis")
    today = (await journeys.now()).date()
    paused = await act(handle, PauseInput(until=today + timedelta(days=10)))
    assert paused.paused and paused.deadline is not None
    await journeys.advance(rules.at_midnight(today + timedelta(days=11)))
    state = await eventually(handle, lambda s: not s.paused)
    # The ten days paused do not count against the diagnosis delay.
    assert state.deadline is not None and state.deadline > paused.deadline
    model = await journeys.matches(handle, state)
    assert model.kinds[-2:] == ["paused", "resumed"]
    assert not model.journey.paused


async def test_a_closed_journey_takes_no_action_at_all(journeys: Journeys) -> None:
    handle = await reach(journeys, "accompaniment")
    bid = handle.id.removeprefix("journey-")
    async with transaction(journeys.sessions) as session:
        closed = await journeys.service(session).act(
            bid, CloseInput(exit_reason=ExitReason.DECLINED, actor_id=journeys.staff.referent_id)
        )
    assert (closed.step, closed.exit_reason, closed.available_actions) == (
        Step.CLOSED,
        ExitReason.DECLINED,
        [],
    )
    result = await handle.result()
    assert result.exit_reason is ExitReason.DECLINED
    events_before = len((await history(handle)).events)
    model_before = (await journeys.read(handle)).frozen()

    today = (await journeys.now()).date()
    for name, action in every_action(journeys.staff, today).items():
        async with transaction(journeys.sessions) as session:
            with pytest.raises(Conflict) as refused:
                await journeys.service(session).act(bid, action)
        assert refused.value.message == (
            "Le parcours est clôturé : aucune action n'est plus possible."
        ), name
        # Straight to the engine, the update finds no running journey to change (the
        # service turns this NOT_FOUND into the same 409 should the read model lag).
        with pytest.raises(RPCError) as gone:
            await act(handle, action)
        assert gone.value.status is RPCStatusCode.NOT_FOUND, name
    # The CAF may still send news of the person: it is ignored, not an error.
    async with transaction(journeys.sessions) as session:
        await journeys.service(session).change_rsa_rights(
            bid, RsaRightsChangedInput(status=RsaStatus.CLOSED, effective_on=today)
        )
    assert len((await history(handle)).events) == events_before
    assert (await journeys.read(handle)).frozen() == model_before


def check_in_due(month: int) -> Callable[[JourneyState], bool]:
    return lambda state: state.check_in_due == month


async def test_a_whole_journey_up_to_sustained_employment(journeys: Journeys) -> None:
    staff = journeys.staff
    handle = await journeys.enrol()
    started = await handle.query(Journey.current)
    opened = started.step_since
    assert started.rsa_opened_on == opened.date()
    model = await journeys.matches(handle, started)
    assert model.kinds == ["journey_started"]
    assert (model.journey.step, model.journey.referent_id) == ("intake", staff.referent_id)
    assert model.journey.deadline == opened + timedelta(days=15)

    state = await act(handle, BeginDiagnosisInput(actor_id=staff.referent_id))
    model = await journeys.matches(handle, state)
    assert (model.journey.step, model.journey.deadline) == (
        "diagnosis",
        state.step_since + timedelta(days=30),
    )

    state = await act(handle, CompleteDiagnosisInput(actor_id=staff.referent_id))
    model = await journeys.matches(handle, state)
    rsa_midnight = datetime.combine(opened.date(), datetime.min.time(), UTC)
    assert (model.journey.step, model.journey.deadline) == (
        "orientation",
        rsa_midnight + timedelta(weeks=6),
    )

    state = await act(
        handle,
        DecideOrientationInput(
            kind=OrientationKind.PROFESSIONAL,
            structure_id=staff.structure_id,
            referent_id=staff.other_referent_id,
            actor_id=staff.orientation_id,
        ),
    )
    model = await journeys.matches(handle, state)
    assert (model.journey.step, model.journey.orientation, model.journey.referent_id) == (
        "accompaniment",
        "professional",
        staff.other_referent_id,
    )
    assert model.journey.deadline == state.step_since + timedelta(days=30)

    today = (await journeys.now()).date()
    contract_end = today + timedelta(days=120)
    state = await act(
        handle,
        SignContractInput(signed_on=today, ends_on=contract_end, actor_id=staff.other_referent_id),
    )
    model = await journeys.matches(handle, state)
    assert model.journey.deadline == datetime.combine(contract_end, datetime.min.time(), UTC)

    state = await act(
        handle,
        RecordEmploymentInput(
            started_on=today,
            contract=EmploymentContract.CDI,
            follow_up_consent=True,
            actor_id=staff.other_referent_id,
        ),
    )
    model = await journeys.matches(handle, state)
    assert (model.journey.step, model.journey.follow_up_consent) == ("follow_up", True)
    since = state.follow_up_since
    assert since is not None

    for month in (1, 3, 6):
        due = rules.add_months(since, month)
        assert state.deadline == due + timedelta(days=15)
        await journeys.advance(due + timedelta(hours=1))
        state = await eventually(handle, check_in_due(month))
        model = await journeys.matches(handle, state)
        assert (model.journey.check_in_due, model.journey.stalled) == (month, False)
        assert model.kinds[-1] == "check_in_due"
        assert model.events[-1].occurred_at >= due
        if month == 1:
            await assert_refused(
                journeys,
                handle,
                RecordCheckInInput(month=3, still_employed=True),
                "Le point de suivi attendu est celui du mois 1, pas du mois 3.",
            )
        state = await act(
            handle,
            RecordCheckInInput(month=month, still_employed=True, actor_id=staff.other_referent_id),
        )
        await journeys.matches(handle, state)

    result = await handle.result()
    assert result.exit_reason is ExitReason.SUSTAINED_EMPLOYMENT
    assert result.beneficiary_id == handle.id.removeprefix("journey-")
    model = await journeys.matches(handle, state)
    assert (model.journey.step, model.journey.exit_reason, model.journey.deadline) == (
        "closed",
        "sustained_employment",
        None,
    )
    assert result.closed_at == model.journey.step_since
    assert model.kinds == [
        "journey_started",
        "diagnosis_started",
        "diagnosis_completed",
        "orientation_decided",
        "contract_signed",
        "employment_recorded",
        "follow_up_consent",
        "check_in_due",
        "check_in_recorded",
        "check_in_due",
        "check_in_recorded",
        "check_in_due",
        "check_in_recorded",
        "closed",
    ]
    actors = {e.kind: e.actor_id for e in model.events}
    assert actors["orientation_decided"] == staff.orientation_id
    assert actors["check_in_due"] is None  # the clock, not a person
    assert [e.detail["month"] for e in model.events if e.kind == "check_in_recorded"] == [1, 3, 6]
    # Six months of follow-up went by on the server's clock.
    assert model.events[-1].occurred_at - model.events[0].occurred_at > timedelta(days=180)


async def test_a_passed_deadline_stalls_the_journey_which_keeps_waiting(
    journeys: Journeys,
) -> None:
    # The step's own deadline, months long: without the legal orientation delay, whose
    # takeover by France Travail has its own tests (``test_legal_orientation``).
    journeys.settings = journeys.settings.model_copy(
        update={"france_travail_orients_after_weeks": 0}
    )
    handle = await journeys.enrol()
    started = await handle.query(Journey.current)
    assert started.deadline is not None
    await journeys.advance(started.deadline + timedelta(days=1))
    state = await eventually(handle, lambda s: s.stalled)
    model = await journeys.matches(handle, state)
    assert (model.journey.step, model.journey.stalled) == ("intake", True)
    assert model.kinds == ["journey_started", "deadline_passed"]
    assert model.events[-1].detail == {
        "step": "intake",
        "deadline": started.deadline.isoformat(),
    }

    # Managers find it among the stalled journeys.
    async with journeys.sessions() as session:
        rows, _ = await JourneyRepository(session).list_with_people(
            JourneyFilter(stalled=True), limit=1000
        )
    assert handle.id.removeprefix("journey-") in {journey.beneficiary_id for journey, _ in rows}

    # Months later it is still waiting, alerted once (looked at once it has handled all that
    # came due on the way: a second alert would be in its history, then in the read model).
    await journeys.advance(started.deadline + timedelta(days=90))
    await settled(handle)
    assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING
    assert (await journeys.matches(handle)).kinds == ["journey_started", "deadline_passed"]

    moved = await act(handle, BeginDiagnosisInput(actor_id=journeys.staff.referent_id))
    assert not moved.stalled
    model = await journeys.matches(handle, moved)
    assert (model.journey.step, model.journey.stalled) == ("diagnosis", False)
    assert model.journey.deadline == moved.step_since + timedelta(days=30)


async def test_a_job_lost_during_follow_up_goes_back_to_accompaniment(
    journeys: Journeys,
) -> None:
    staff = journeys.staff
    handle = await reach(journeys, "follow_up")
    state = await act(handle, ReportJobLossInput(actor_id=staff.other_referent_id))
    model = await journeys.matches(handle, state)
    assert (model.journey.step, model.journey.follow_up_consent, model.journey.orientation) == (
        "accompaniment",
        True,
        "socio_professional",
    )
    assert model.journey.deadline == state.step_since + timedelta(days=30)
    assert model.kinds[-1] == "job_lost"

    # Back to work, then the month-1 check-in finds the person out of work again.
    today = (await journeys.now()).date()
    state = await act(
        handle,
        RecordEmploymentInput(
            started_on=today, contract=EmploymentContract.INTERIM, follow_up_consent=True
        ),
    )
    assert state.step is Step.FOLLOW_UP and state.follow_up_since is not None
    await journeys.advance(rules.add_months(state.follow_up_since, 1) + timedelta(hours=2))
    await eventually(handle, lambda s: s.check_in_due == 1)
    state = await act(handle, RecordCheckInInput(month=1, still_employed=False))
    model = await journeys.matches(handle, state)
    assert model.journey.step == "accompaniment"
    assert model.journey.check_in_due is None
    assert model.kinds[-2:] == ["check_in_due", "check_in_recorded"]
    assert model.events[-1].detail == {"month": 1, "still_employed": False}
    assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING


async def test_declining_follow_up_closes_the_journey_as_employment(journeys: Journeys) -> None:
    handle = await reach(journeys, "employment")
    model = await journeys.matches(handle)
    assert model.journey.step == "employment"
    state = await act(handle, SetFollowUpConsentInput(consent=False))
    result = await handle.result()
    assert result.exit_reason is ExitReason.EMPLOYMENT
    model = await journeys.matches(handle, state)
    assert (model.journey.step, model.journey.exit_reason, model.journey.follow_up_consent) == (
        "closed",
        "employment",
        False,
    )
    assert model.kinds[-3:] == ["employment_recorded", "follow_up_consent", "closed"]


async def test_rsa_rights_closed_by_the_caf_close_a_journey_in_diagnosis(
    journeys: Journeys,
) -> None:
    handle = await reach(journeys, "diagnosis")
    today = (await journeys.now()).date()
    async with transaction(journeys.sessions) as session:
        await journeys.service(session).change_rsa_rights(
            handle.id.removeprefix("journey-"),
            RsaRightsChangedInput(status=RsaStatus.CLOSED, effective_on=today),
        )
    result = await handle.result()
    assert result.exit_reason is ExitReason.RIGHTS_CLOSED
    model = await journeys.matches(handle)
    assert (model.journey.step, model.journey.rsa_status, model.journey.exit_reason) == (
        "closed",
        "closed",
        "rights_closed",
    )
    assert model.kinds[-2:] == ["rsa_rights_changed", "closed"]
    assert model.events[-2].detail == {"status": "closed", "effective_on": today.isoformat()}


async def test_rsa_rights_closed_during_follow_up_keep_the_follow_up(journeys: Journeys) -> None:
    handle = await reach(journeys, "follow_up")
    today = (await journeys.now()).date()
    await handle.signal(
        Journey.rsa_rights_changed,
        RsaRightsChangedInput(status=RsaStatus.CLOSED, effective_on=today),
    )
    state = await eventually(handle, lambda s: s.rsa_status is RsaStatus.CLOSED)
    assert state.step is Step.FOLLOW_UP
    model = await journeys.matches(handle, state)
    assert (model.journey.step, model.journey.rsa_status) == ("follow_up", "closed")
    assert model.kinds[-1] == "rsa_rights_changed"


async def visible(journeys: Journeys, handle: JourneyHandle) -> dict[str, object]:
    """What an operator sees in the Temporal UI's search attributes.

    Read like ``handle.describe().typed_search_attributes``, except that an attribute the
    workflow unset is left out: the time-skipping server keeps it as a ``binary/null``
    payload (the real server drops it), which the SDK cannot decode as a datetime.
    """
    client = journeys.env.client
    raw = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=handle.id)
        )
    )
    fields = raw.workflow_execution_info.search_attributes.indexed_fields
    present = SearchAttributes(
        indexed_fields={
            key: value
            for key, value in fields.items()
            if value.metadata.get("encoding") != b"binary/null"
        }
    )
    attributes = decode_typed_search_attributes(present)
    return {
        "step": attributes.get(STEP_KEY),
        "referent": attributes.get(REFERENT_KEY),
        "territory": attributes.get(TERRITORY_KEY),
        "deadline": attributes.get(DEADLINE_KEY),
    }


async def test_search_attributes_follow_the_journey(journeys: Journeys) -> None:
    staff = journeys.staff
    handle = await journeys.enrol()
    state = await handle.query(Journey.current)
    assert await visible(journeys, handle) == {
        "step": "intake",
        "referent": staff.referent_id,
        "territory": "73",
        "deadline": state.deadline,
    }
    await act(handle, BeginDiagnosisInput())
    await act(handle, CompleteDiagnosisInput())
    state = await act(
        handle,
        DecideOrientationInput(
            kind=OrientationKind.SOCIAL,
            structure_id=staff.structure_id,
            referent_id=staff.other_referent_id,
        ),
    )
    assert await visible(journeys, handle) == {
        "step": "accompaniment",
        "referent": staff.other_referent_id,
        "territory": "73",
        "deadline": state.deadline,
    }
    state = await act(handle, ReassignReferentInput(referent_id=staff.referent_id))
    assert (await visible(journeys, handle))["referent"] == staff.referent_id

    state = await act(handle, HandOffInput(territory="74"))
    model = await journeys.matches(handle, state)
    assert (model.journey.step, model.journey.territory, model.journey.referent_id) == (
        "orientation",
        "74",
        None,
    )
    assert model.kinds[-1] == "handed_off"
    assert await visible(journeys, handle) == {
        "step": "orientation",
        "referent": None,
        "territory": "74",
        "deadline": state.deadline,
    }
    assert state.deadline == state.step_since + timedelta(weeks=6)

    await act(handle, CloseInput(exit_reason=ExitReason.MOVED_AWAY))
    await handle.result()
    assert await visible(journeys, handle) == {
        "step": "closed",
        "referent": None,
        "territory": "74",
        "deadline": None,
    }


# --- Continue-as-new ---
#
# The time-skipping server never suggests continuing as new. A dev server told to suggest it
# after 40 events does (``short_history_server``), so the real workflow takes the real path
# within a few actions.


@pytest.fixture(scope="module")
async def short_history_env() -> AsyncIterator[WorkflowEnvironment]:
    async with short_history_server() as env:
        yield env


@pytest.fixture
async def short_history_journeys(
    short_history_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    staff: Staff,
) -> AsyncIterator[Journeys]:
    async with journeys_on(short_history_env, sessions, settings, staff) as journeys:
        yield journeys


async def test_a_long_journey_continues_as_new_without_losing_anything(
    short_history_journeys: Journeys,
) -> None:
    journeys = short_history_journeys
    handle = await journeys.enrol()
    first_run = (await handle.describe()).run_id
    state = await drive_through_runs(journeys, handle)
    assert state.step is Step.FOLLOW_UP

    histories = await runs(journeys, handle)
    assert len(histories) >= 2, "the server never suggested continuing as new"
    latest = await handle.describe()
    assert latest.run_id != first_run
    # The new run carries the journey: same state, same numbering, same visibility.
    assert await handle.query(Journey.current) == state
    model = await journeys.matches(handle, state)
    assert model.kinds == [
        "journey_started",
        "diagnosis_started",
        "paused",
        "resumed",
        "referent_reassigned",
        "diagnosis_completed",
        "orientation_decided",
        "contract_signed",
        "employment_recorded",
        "follow_up_consent",
    ]
    assert await visible(journeys, handle) == {
        "step": "follow_up",
        "referent": journeys.staff.referent_id,
        "territory": "73",
        "deadline": state.deadline,
    }
    # And it ends as usual, the result read from the last run.
    await act(handle, SetFollowUpConsentInput(consent=False))
    result = await handle.result()
    assert result.exit_reason is ExitReason.EMPLOYMENT
    assert (await journeys.matches(handle)).kinds[-2:] == ["follow_up_consent", "closed"]


async def test_a_journey_with_a_long_history_continues_as_new_by_itself(
    journeys: Journeys,
) -> None:
    """Past ``Sla.history_events_bound`` events (250) the journey continues as new, long before the
    server would suggest it (4,096 events): an update reaching it cold replays a short history.
    Nothing is lost on the way."""
    handle = await journeys.enrol()
    referent = journeys.staff.referent_id
    state = await act(handle, BeginDiagnosisInput(actor_id=referent))
    bound = journeys.settings.journey_history_events_bound
    assert bound == 250
    pairs = 0
    while len(await runs(journeys, handle)) < 2:
        assert pairs < bound, "the journey never continued as new"
        # Each under its id, as the API sends a référente's action (its Idempotency-Key).
        paused_id, resumed_id = f"pause-{pairs}", f"resume-{pairs}"
        paused = await handle.execute_update(
            Journey.pause, PauseInput(actor_id=referent), id=paused_id
        )
        state = await handle.execute_update(
            Journey.resume, ResumeInput(actor_id=referent), id=resumed_id
        )
        pairs += 1
    histories = await runs(journeys, handle)
    assert all(len(h.events) <= bound + 30 for h in histories)
    assert await handle.query(Journey.current) == state
    # The last pause and resumption sent again, as a client does whose answer was lost: at
    # least the pause was applied by the previous run, yet each gets its first answer, and
    # neither is applied a second time nor refused as « déjà en pause ».
    again = await handle.execute_update(Journey.pause, PauseInput(actor_id=referent), id=paused_id)
    assert again == paused
    again = await handle.execute_update(
        Journey.resume, ResumeInput(actor_id=referent), id=resumed_id
    )
    assert again == state
    assert await handle.query(Journey.current) == state
    model = await journeys.matches(handle, state)
    assert model.kinds.count("paused") == model.kinds.count("resumed") == pairs
    # And it goes on from where it was.
    state = await act(handle, CompleteDiagnosisInput(actor_id=referent))
    assert state.step is Step.ORIENTATION


async def test_a_training_request_starts_its_own_workflow_and_keeps_the_step(
    journeys: Journeys,
) -> None:
    early = await reach(journeys, "intake")
    request = RequestTrainingInput(
        request_id="tr-1", training_id="t-1", funder="region", actor_id=journeys.staff.referent_id
    )
    await assert_refused(
        journeys,
        early,
        request,
        "Action possible seulement à l'étape « Orientation » ou « Accompagnement » "
        "(étape actuelle : « Accueil »).",
    )

    handle = await reach(journeys, "accompaniment")
    before = await handle.query(Journey.current)
    request_id = f"tr-{handle.id[-8:]}"
    state = await act(handle, request.model_copy(update={"request_id": request_id}))
    assert (state.step, state.step_since, state.deadline) == (
        before.step,
        before.step_since,
        before.deadline,
    )
    model = await journeys.matches(handle, state)
    assert model.kinds[-1] == "training_requested"
    assert model.events[-1].detail == {
        "request_id": request_id,
        "training_id": "t-1",
        "funder": "region",
    }
    child = journeys.env.client.get_workflow_handle(f"training-request-{request_id}")
    described = await child.describe()
    try:
        assert described.workflow_type == "TrainingRequest"
        assert described.parent_id == handle.id
    finally:
        await end_when_settled(child)
