"""The legal orientation delay (art. D.262-65-2 CASF, décret 2024-1244) and the « droits et
devoirs » from the CAF feed, on the time-skipping server (issue 15, items 1 and 2).

Journeys start as the platform starts them; the weeks pass on the server's clock; France
Travail is the simulator on a free port, asked through ``call_partner`` and answering with a
signed callback to the app (its partners' routes), on the same time-skipping server.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from parcours.access.models import Structure
from parcours.access.rules import Principal, Role
from parcours.core.db import transaction
from parcours.core.errors import Forbidden
from parcours.core.settings import Settings
from parcours.inbox.models import InboxItem
from parcours.inbox.rules import ItemKind
from parcours.journey import rules
from parcours.journey.messages import (
    BeginDiagnosisInput,
    DecideOrientationInput,
    JourneyState,
    OrientationKind,
    RsaRightsChangedInput,
    RsaStatus,
    Step,
)
from parcours.partners.messages import REQUEST_FRANCE_TRAVAIL_ORIENTATION
from simulators.app import create_app as create_simulators
from simulators.config import SimulatorConfig
from tests.support.accounts import Staff
from tests.support.journeys import JourneyHandle, Journeys, act, eventually
from tests.support.partners import CALLBACK_SECRET, CALLBACKS_PATH, with_partner_routes
from tests.support.servers import free_port, serve
from worker.assembly import PartnerWorkerParts, build_worker
from workflows.journey import Journey

pytestmark = pytest.mark.law

SIX_WEEKS = timedelta(weeks=6)


@dataclass
class LawStack:
    journeys: Journeys
    sim: httpx.AsyncClient
    france_travail_agency_id: str
    # France Travail names the agency it orients to (other tests' agencies share the base).
    france_travail_agency_name: str

    async def france_travail(self) -> dict[str, Any]:
        response = await self.sim.get("/france-travail/_state")
        response.raise_for_status()
        state: dict[str, Any] = response.json()
        return state

    async def requests_for(self, handle: JourneyHandle) -> list[dict[str, Any]]:
        journey_id = handle.id.removeprefix("journey-")
        state = await self.france_travail()
        return [
            r for r in state["orientation_requests"] if r["request"]["journey_id"] == journey_id
        ]

    async def rights(self, handle: JourneyHandle, signal: RsaRightsChangedInput) -> None:
        async with self.journeys.sessions() as session:
            await self.journeys.service(session).change_rsa_rights(
                handle.id.removeprefix("journey-"), signal
            )

    async def kinds(self, handle: JourneyHandle) -> list[str]:
        return (await self.journeys.matches(handle)).kinds


@pytest.fixture
async def law_stack(
    time_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    staff: Staff,
) -> AsyncIterator[LawStack]:
    """The app (with its partners' routes), the simulators calling it back, and a worker with
    the partners' activities, all on the time-skipping server."""
    api_port, partners_port = free_port(), free_port()
    api_url, partners_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{partners_port}"
    law_settings = settings.model_copy(
        update={
            "task_queue": f"law-{uuid.uuid4().hex[:8]}",
            "partners_base_url": partners_url,
            "partner_timeout_s": 2.0,
            "partner_callback_secret": CALLBACK_SECRET,
        }
    )
    simulators = create_simulators(
        SimulatorConfig(
            callback_url=f"{api_url}{CALLBACKS_PATH}",
            callback_secret=CALLBACK_SECRET,
            callback_attempts=3,
            callback_backoff_s=0.05,
        )
    )
    app = with_partner_routes(create_app(law_settings, temporal=time_env.client))
    parts = PartnerWorkerParts.build(time_env.client, sessions, law_settings)
    worker = build_worker(time_env.client, sessions, law_settings.task_queue, law_settings, parts)
    async with transaction(sessions) as session:
        agency = Structure(name=f"France Travail {uuid.uuid4().hex[:6]}", kind="france_travail")
        agency.territory = "73"
        session.add(agency)
        await session.flush()
        agency_id, agency_name = agency.id, agency.name
    sim_server, sim_task = await serve(simulators, partners_port)
    api_server, api_task = await serve(app, api_port)
    journeys = Journeys(time_env, sessions, law_settings, staff)
    try:
        async with worker, httpx.AsyncClient(base_url=partners_url, timeout=30) as sim:
            yield LawStack(journeys, sim, agency_id, agency_name)
            await journeys.terminate_open()
    finally:
        for server in (api_server, sim_server):
            server.should_exit = True
        await asyncio.gather(api_task, sim_task)
        await parts.aclose()


async def enrol_opened(stack: LawStack, weeks_ago: timedelta) -> JourneyHandle:
    """A person whose right opened ``weeks_ago`` (their legal due date is 6 weeks after)."""
    today = (await stack.journeys.now()).date()
    return await stack.journeys.enrol({"rsa_opened_on": (today - weeks_ago).isoformat()})


async def days(stack: LawStack, n: int) -> None:
    await stack.journeys.env.sleep(timedelta(days=n))


def requested(state: JourneyState) -> bool:
    return state.france_travail_requested_due_on is not None


async def test_france_travail_orients_after_six_weeks_without_decision(law_stack: LawStack) -> None:
    stack = law_stack
    handle = await enrol_opened(stack, SIX_WEEKS - timedelta(days=3))
    opened = (await stack.journeys.now()).date() - SIX_WEEKS + timedelta(days=3)
    # Whatever the step: in diagnosis, the legal clock runs on.
    await act(handle, BeginDiagnosisInput(actor_id=stack.journeys.staff.referent_id))
    await days(stack, 2)
    state = await handle.query(Journey.current)
    assert not requested(state) and state.step is Step.DIAGNOSIS
    assert await stack.requests_for(handle) == []

    await days(stack, 2)
    state = await eventually(handle, requested)
    assert state.france_travail_requested_due_on == opened + SIX_WEEKS
    async with asyncio.timeout(20):
        while "france_travail_orientation_sent" not in await stack.kinds(handle):
            await asyncio.sleep(0.1)
    model = await stack.journeys.read(handle)
    asked = next(e for e in model.events if e.kind == "france_travail_orientation_requested")
    assert asked.detail == {"due_on": (opened + SIX_WEEKS).isoformat()}
    # France Travail received one request (one key), with the person's identity.
    [received] = await stack.requests_for(handle)
    assert received["request"]["due_on"] == (opened + SIX_WEEKS).isoformat()
    assert received["request"]["person"]["nir"].startswith("1880473")
    # The orientation team is told France Travail takes over.
    async with stack.journeys.sessions() as session:
        items = await session.scalars(
            select(InboxItem).where(
                InboxItem.beneficiary_id == handle.id.removeprefix("journey-"),
                InboxItem.kind == ItemKind.FRANCE_TRAVAIL_ORIENTS.value,
            )
        )
        assert stack.journeys.staff.orientation_id in [i.recipient_id for i in items]

    # A référent may not pass her decision off as France Travail's.
    beneficiary_id = handle.id.removeprefix("journey-")
    async with stack.journeys.sessions() as session:
        principal = Principal(
            id=stack.journeys.staff.orientation_id,
            role=Role.ORIENTATION,
            full_name="Chargée d'orientation",
            territory="73",
        )
        with pytest.raises(Forbidden):
            await stack.journeys.service(session).act(
                beneficiary_id,
                DecideOrientationInput(
                    kind=OrientationKind.SOCIAL,
                    structure_id=stack.journeys.staff.structure_id,
                    decided_by="france_travail",
                ),
                principal,
            )

    # France Travail decides: its signed callback orients the journey.
    decided = await stack.sim.post(
        f"/france-travail/_orientations/{received['reference']}/decide",
        params={"wait": "true"},
        json={"track": "professional", "agency": stack.france_travail_agency_name},
    )
    decided.raise_for_status()
    assert decided.json()["callback"]["deliveries"][0]["outcome"] == "delivered"
    state = await eventually(handle, lambda s: s.step is Step.ACCOMPANIMENT)
    assert state.orientation is OrientationKind.PROFESSIONAL
    assert state.structure_id == stack.france_travail_agency_id
    # A new contract deadline runs from France Travail's decision.
    assert state.deadline == state.step_since + timedelta(days=30)
    model = await stack.journeys.matches(handle, state)
    decision = next(e for e in model.events if e.kind == "orientation_decided")
    assert decision.detail["decided_by"] == "france_travail"
    assert decision.detail["structure_id"] == stack.france_travail_agency_id

    # The journey's page: the legal due date, passed, and France Travail's orientation.
    async with stack.journeys.sessions() as session:
        detail = await stack.journeys.service(session).detail(beneficiary_id)
    assert detail.legal_orientation is not None
    assert detail.legal_orientation.due_on == opened + SIX_WEEKS
    assert detail.legal_orientation.oriented_by_france_travail
    labels = [e.label for e in detail.timeline]
    assert "Orientation décidée par France Travail (délai légal dépassé)" in labels

    # The same decision again (France Travail's retry of a new callback) changes nothing.
    again = await stack.sim.post(
        f"/france-travail/_orientations/{received['reference']}/decide",
        params={"wait": "true"},
        json={"track": "social"},
    )
    assert again.status_code == 409
    assert (await handle.query(Journey.current)).orientation is OrientationKind.PROFESSIONAL


async def test_someone_enrolled_past_the_delay_is_sent_to_france_travail_at_once(
    law_stack: LawStack,
) -> None:
    """Most of a département's first CAF import: rights opened months ago. The journey asks
    France Travail at once, not after a timer (which the engine fires only on its
    next second, and pays with a timer and one more task per person)."""
    stack = law_stack
    handle = await enrol_opened(stack, SIX_WEEKS + timedelta(weeks=10))
    async with asyncio.timeout(20):
        while "france_travail_orientation_sent" not in await stack.kinds(handle):
            await asyncio.sleep(0.1)
    assert len(await stack.requests_for(handle)) == 1
    history = await handle.fetch_history()
    asked = next(
        n
        for n, e in enumerate(history.events)
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name
        == REQUEST_FRANCE_TRAVAIL_ORIENTATION.activity
    )
    # Its first task writes the request to the timeline; the next one asks France Travail.
    kinds = [e.event_type for e in history.events[:asked]]
    assert EventType.EVENT_TYPE_TIMER_FIRED not in kinds
    assert kinds.count(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) == 2


async def test_a_decision_in_time_leaves_france_travail_out(law_stack: LawStack) -> None:
    stack = law_stack
    handle = await enrol_opened(stack, SIX_WEEKS - timedelta(days=2))
    await act(handle, BeginDiagnosisInput(actor_id=stack.journeys.staff.referent_id))
    await act(handle, rules.ACTIONS["complete_diagnosis"][0]())
    await act(
        handle,
        DecideOrientationInput(
            kind=OrientationKind.SOCIAL,
            structure_id=stack.journeys.staff.structure_id,
            actor_id=stack.journeys.staff.orientation_id,
        ),
    )
    await days(stack, 5)
    state = await handle.query(Journey.current)
    assert state.step is Step.ACCOMPANIMENT and not requested(state)
    assert "france_travail_orientation_requested" not in await stack.kinds(handle)
    assert await stack.requests_for(handle) == []


async def test_a_transfer_in_restarts_the_six_weeks(law_stack: LawStack) -> None:
    stack = law_stack
    handle = await enrol_opened(stack, timedelta(weeks=5))
    today = (await stack.journeys.now()).date()
    await stack.rights(
        handle,
        RsaRightsChangedInput(
            status=RsaStatus.OPEN,
            effective_on=today,
            subject_to_duties=True,
            event_kind="new_rights",
            territory="74",
            rights_opened_on=today,
        ),
    )
    state = await eventually(handle, lambda s: s.territory == "74")
    assert state.orientation_clock_from == today
    model = await stack.journeys.matches(handle, state)
    moved = next(e for e in model.events if e.kind == "transferred_in")
    assert moved.detail["from_territory"] == "73"
    # Past the first due date (1 week away): nothing, the clock started over.
    await days(stack, 14)
    assert not requested(await handle.query(Journey.current))
    await days(stack, 6 * 7 - 14 + 1)
    state = await eventually(handle, requested)
    assert state.france_travail_requested_due_on == today + SIX_WEEKS


async def test_not_subject_to_duties_no_takeover_until_the_flag_returns(
    law_stack: LawStack,
) -> None:
    stack = law_stack
    handle = await enrol_opened(stack, timedelta(weeks=5))
    today = (await stack.journeys.now()).date()
    await stack.rights(
        handle,
        RsaRightsChangedInput(
            status=RsaStatus.OPEN, effective_on=today, subject_to_duties=False, event_kind="change"
        ),
    )
    await eventually(handle, lambda s: not s.subject_to_duties)
    await days(stack, 21)
    state = await handle.query(Journey.current)
    assert not requested(state)
    kinds = await stack.kinds(handle)
    assert "duties_changed" in kinds and "france_travail_orientation_requested" not in kinds
    async with stack.journeys.sessions() as session:
        detail = await stack.journeys.service(session).detail(handle.id.removeprefix("journey-"))
    assert detail.legal_orientation is not None
    assert not detail.legal_orientation.subject_to_duties

    # Subject again: six weeks from that day.
    back_on = (await stack.journeys.now()).date()
    await stack.rights(
        handle,
        RsaRightsChangedInput(
            status=RsaStatus.OPEN, effective_on=back_on, subject_to_duties=True, event_kind="change"
        ),
    )
    await eventually(handle, lambda s: s.subject_to_duties)
    await days(stack, 40)
    assert not requested(await handle.query(Journey.current))
    await days(stack, 3)
    state = await eventually(handle, requested)
    assert state.france_travail_requested_due_on == back_on + SIX_WEEKS


async def test_a_closure_for_a_missing_quarterly_declaration_keeps_the_journey(
    law_stack: LawStack,
) -> None:
    stack = law_stack
    handle = await enrol_opened(stack, timedelta(days=10))
    today = (await stack.journeys.now()).date()
    await stack.rights(
        handle,
        RsaRightsChangedInput(
            status=RsaStatus.CLOSED,
            effective_on=today,
            subject_to_duties=True,
            suspension_reason=rules.MISSING_QUARTERLY_DECLARATION,
            closure_reason="ECH",
            event_kind="closure",
        ),
    )
    state = await eventually(handle, lambda s: s.rsa_status is RsaStatus.CLOSED)
    assert state.step is Step.INTAKE
    model = await stack.journeys.matches(handle, state)
    closure = model.events[-1]
    assert closure.kind == "rsa_rights_changed"
    assert closure.detail["missing_quarterly_declaration"] is True
    person_id = handle.id.removeprefix("journey-")

    async def open_items() -> list[InboxItem]:
        async with stack.journeys.sessions() as session:
            rows = await session.scalars(
                select(InboxItem).where(
                    InboxItem.beneficiary_id == person_id,
                    InboxItem.kind == ItemKind.QUARTERLY_DECLARATION_MISSING.value,
                    InboxItem.settled_at.is_(None),
                )
            )
            return list(rows)

    assert [i.recipient_id for i in await open_items()] == [stack.journeys.staff.referent_id]
    # Declaration sent, right reopened: the item is settled, the journey went on.
    await stack.rights(
        handle,
        RsaRightsChangedInput(status=RsaStatus.OPEN, effective_on=today, event_kind="change"),
    )
    await eventually(handle, lambda s: s.rsa_status is RsaStatus.OPEN)
    await stack.journeys.matches(handle)
    assert await open_items() == []

    # Any other closure still closes the journey, as before.
    await stack.rights(
        handle,
        RsaRightsChangedInput(
            status=RsaStatus.CLOSED, effective_on=today, closure_reason="RFD", event_kind="closure"
        ),
    )
    await eventually(handle, lambda s: s.step is Step.CLOSED)


def test_france_travail_decides_only_once_asked() -> None:
    state = JourneyState(
        beneficiary_id="p", territory="73", step=Step.ORIENTATION, step_since=_moment()
    )
    action = DecideOrientationInput(
        kind=OrientationKind.PROFESSIONAL, structure_id="s", decided_by="france_travail"
    )
    with pytest.raises(rules.TransitionRefused, match="délai légal"):
        rules.check(state, action)
    asked = state.model_copy(update={"france_travail_requested_due_on": date(2026, 1, 1)})
    rules.check(asked, action)
    oriented = asked.model_copy(update={"step": Step.ACCOMPANIMENT})
    with pytest.raises(rules.TransitionRefused, match="déjà orienté"):
        rules.check(oriented, action)


def _moment() -> datetime:
    return datetime(2026, 1, 1, tzinfo=UTC)
