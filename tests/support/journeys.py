"""``Journey`` workflows on a Temporal test server: ``Journeys`` starts them as the platform does
and checks the read model against the workflow; ``act`` sends an action as an update;
``short_history_server`` suggests continue-as-new early, ``runs`` reads every run's history."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import WorkflowHandle, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from cli.temporal_server import SEARCH_ATTRIBUTES, binary
from parcours.core.db import transaction
from parcours.core.settings import Settings
from parcours.journey import rules
from parcours.journey.messages import (
    Action,
    BeginDiagnosisInput,
    CompleteDiagnosisInput,
    DecideOrientationInput,
    EmploymentContract,
    JourneyResult,
    JourneyState,
    OrientationKind,
    PauseInput,
    ReassignReferentInput,
    RecordEmploymentInput,
    ResumeInput,
    SetFollowUpConsentInput,
    SignContractInput,
    journey_workflow_id,
)
from parcours.journey.models import JourneyEventRecord, JourneyRecord
from parcours.journey.repository import JourneyRepository
from parcours.journey.schemas import BeneficiaryCreate
from parcours.journey.service import JourneyService
from tests.support.accounts import Staff
from tests.support.histories import every_run
from tests.support.people import person_payload
from tests.support.workflows import end_when_settled
from tests.support.workflows import settled as workflow_settled
from worker.assembly import build_worker
from workflows.journey import Journey

JourneyHandle = WorkflowHandle[Any, JourneyResult]


async def act(handle: JourneyHandle, action: Action) -> JourneyState:
    """A human action, as the API sends it: the update named after the action."""
    return await handle.execute_update(rules.name_of(action), action, result_type=JourneyState)


async def eventually(
    handle: JourneyHandle, predicate: Callable[[JourneyState], bool]
) -> JourneyState:
    """The journey once the workflow has caught up (a timer fired, a signal was applied)."""
    async with asyncio.timeout(20):
        while True:
            state = await handle.query(Journey.current)
            if predicate(state):
                return state
            await asyncio.sleep(0.05)


def projection(record: JourneyRecord) -> dict[str, object]:
    return {c.key: getattr(record, c.key) for c in JourneyRecord.__table__.columns}


@dataclass
class ReadModel:
    journey: JourneyRecord
    events: list[JourneyEventRecord]

    @property
    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def frozen(self) -> tuple[dict[str, object], list[tuple[int, str, str]]]:
        return projection(self.journey), [(e.seq, e.kind, e.step) for e in self.events]


@dataclass
class Journeys:
    """Starts journeys through the service and reads them back, on one Temporal server."""

    env: WorkflowEnvironment
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    staff: Staff
    handles: list[JourneyHandle] = field(default_factory=list)

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def enrol(
        self, person: dict[str, object] | None = None, *, settled: bool = True
    ) -> JourneyHandle:
        """Enrol a person (``person`` overrides the test person's data) as the API does."""
        today = (await self.now()).date()
        payload = person_payload(
            referent_id=self.staff.referent_id,
            structure_id=self.staff.structure_id,
            rsa_opened_on=today.isoformat(),
        )
        payload.update(person or {})
        data = BeneficiaryCreate.model_validate(payload)
        async with transaction(self.sessions) as session:
            enrolment = await self.service(session).enrol(
                data, actor_id=self.staff.orientation_id, now=await self.now()
            )
        handle: JourneyHandle = self.env.client.get_workflow_handle(
            journey_workflow_id(enrolment.beneficiary.id), result_type=JourneyResult
        )
        self.handles.append(handle)
        if settled:
            # The journey's first event is in the read model and the workflow is settled.
            await eventually(handle, lambda s: s.seq >= 1)
            await workflow_settled(handle)
        return handle

    def service(self, session: AsyncSession) -> JourneyService:
        return JourneyService(session, self.env.client, self.settings)

    async def read(self, handle: JourneyHandle) -> ReadModel:
        beneficiary_id = handle.id.removeprefix("journey-")
        async with self.sessions() as session:
            repo = JourneyRepository(session)
            record = await repo.get(beneficiary_id)
            assert record is not None
            return ReadModel(record, list(await repo.events(record)))

    async def matches(self, handle: JourneyHandle, state: JourneyState | None = None) -> ReadModel:
        """The read model says what the workflow says: same step, dates, people, numbering."""
        if state is None:
            state = await handle.query(Journey.current)
        # The workflow adopts a change before its activity writes it: wait for the write.
        async with asyncio.timeout(20):
            while (model := await self.read(handle)).journey.seq < state.seq:
                await asyncio.sleep(0.05)
        j = model.journey
        assert {
            "step": j.step,
            "step_since": j.step_since,
            "deadline": j.deadline,
            "stalled": j.stalled,
            "paused": j.paused,
            "referent_id": j.referent_id,
            "structure_id": j.structure_id,
            "territory": j.territory,
            "orientation": j.orientation,
            "rsa_status": j.rsa_status,
            "follow_up_consent": j.follow_up_consent,
            "check_in_due": j.check_in_due,
            "exit_reason": j.exit_reason,
            "exit_code": j.exit_code,
            "seq": j.seq,
        } == {
            "step": state.step.value,
            "step_since": state.step_since,
            "deadline": state.deadline,
            "stalled": state.stalled,
            "paused": state.paused,
            "referent_id": state.referent_id,
            "structure_id": state.structure_id,
            "territory": state.territory,
            "orientation": state.orientation.value if state.orientation else None,
            "rsa_status": state.rsa_status.value,
            "follow_up_consent": state.follow_up_consent,
            "check_in_due": state.check_in_due,
            "exit_reason": state.exit_reason.value if state.exit_reason else None,
            "exit_code": state.exit_code,
            "seq": state.seq,
        }
        # Every event once, numbered without gaps.
        assert [e.seq for e in model.events] == list(range(1, state.seq + 1))
        return model

    async def advance(self, until: datetime) -> None:
        """Let the server's clock run to ``until`` (timers fire on the way)."""
        now = await self.now()
        assert until > now
        await self.env.sleep(until - now)

    async def terminate_open(self) -> None:
        await end_when_settled(*self.handles)


# The time-skipping server never suggests continuing as new; a dev server told to suggest it
# after this many events does.
CONTINUE_AS_NEW_AFTER_EVENTS = 40


@contextlib.asynccontextmanager
async def time_skipping_server() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping test server, its search attributes registered (it does not know them
    by itself: an upsert would fail the workflow task forever)."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    try:
        await env.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace="default",
                search_attributes={
                    key: IndexedValueType.Value(f"INDEXED_VALUE_TYPE_{kind.upper()}")
                    for key, kind in SEARCH_ATTRIBUTES.items()
                },
            )
        )
        yield env
    finally:
        await env.shutdown()


@contextlib.asynccontextmanager
async def short_history_server() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=(),
        dev_server_extra_args=[
            *(
                arg
                for key, kind in SEARCH_ATTRIBUTES.items()
                for arg in ("--search-attribute", f"{key}={kind}")
            ),
            "--dynamic-config-value",
            f"limit.historyCount.suggestContinueAsNew={CONTINUE_AS_NEW_AFTER_EVENTS}",
        ],
    )
    try:
        yield env
    finally:
        await env.shutdown()


@contextlib.asynccontextmanager
async def ended_after(
    env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    staff: Staff,
) -> AsyncIterator[Journeys]:
    """Journeys on ``env`` for one test, those left open ended after it: their timers would
    keep firing while later tests move the clock."""
    journeys = Journeys(env, sessions, settings, staff)
    try:
        yield journeys
    finally:
        await journeys.terminate_open()


@contextlib.asynccontextmanager
async def journeys_on(
    env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    staff: Staff,
) -> AsyncIterator[Journeys]:
    """Journeys on ``env``, with a real worker of their own."""
    async with (
        build_worker(env.client, sessions, settings.task_queue),
        ended_after(env, sessions, settings, staff) as journeys,
    ):
        yield journeys


async def runs(journeys: Journeys, handle: JourneyHandle) -> list[WorkflowHistory]:
    """Every run of the journey, first to last, following continue-as-new."""
    return await every_run(journeys.env.client, handle.id)


async def drive_through_runs(journeys: Journeys, handle: JourneyHandle) -> JourneyState:
    """Enough actions for several runs; returns the state before the journey closes."""
    staff = journeys.staff
    today = (await journeys.now()).date()
    steps: list[Action] = [
        BeginDiagnosisInput(actor_id=staff.referent_id),
        PauseInput(actor_id=staff.referent_id),
        ResumeInput(actor_id=staff.referent_id),
        ReassignReferentInput(referent_id=staff.other_referent_id, actor_id=staff.orientation_id),
        CompleteDiagnosisInput(actor_id=staff.other_referent_id),
        DecideOrientationInput(
            kind=OrientationKind.PROFESSIONAL,
            structure_id=staff.structure_id,
            referent_id=staff.referent_id,
            actor_id=staff.orientation_id,
        ),
        SignContractInput(signed_on=today, weekly_hours=15),
        RecordEmploymentInput(started_on=today, contract=EmploymentContract.CDD),
        SetFollowUpConsentInput(consent=True),
    ]
    state = await handle.query(Journey.current)
    for action in steps:
        state = await act(handle, action)
    return state
