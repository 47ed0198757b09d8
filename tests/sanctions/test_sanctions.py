"""Suspension-remobilisation (issue 15, item 5) on the time-skipping server, through the
services the pages and the API call, with a worker running the real activities whose partner
calls go to the simulators over HTTP: a case from an unexcused absence to the président's
decision, capped at 50 % for a couple (20 % refused, so is 60 %); the same case lifted the day
the person signs her contract, the CAF told; a repeated breach up to a 4-month total removal
and the proposal to France Travail; a decision refused without a dated notice and before the
answer window ends."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.appointments import AppointmentActivities
from activities.journey import JourneySettlementActivities, ReadModelActivities
from activities.sanctions import SanctionActivities
from parcours.access.rules import Principal, Role
from parcours.appointments.messages import AppointmentKind
from parcours.appointments.schemas import AttendanceUpdate
from parcours.carnet.models import Beneficiary, Document
from parcours.core.db import transaction
from parcours.core.errors import Conflict
from parcours.core.settings import Settings
from parcours.journey.messages import (
    BeginDiagnosisInput,
    CompleteDiagnosisInput,
    DecideOrientationInput,
    JourneyState,
    OrientationKind,
    SignContractInput,
)
from parcours.journey.models import JourneyEventRecord
from parcours.journey.service import JourneyService
from parcours.sanctions.messages import (
    Breach,
    CaseStatus,
    Measure,
    SanctionCaseState,
    sanction_case_workflow_id,
)
from parcours.sanctions.schemas import (
    DecisionCreate,
    ReceiptCreate,
    SanctionCaseRead,
    SanctionOpen,
    TeamOpinionCreate,
)
from parcours.sanctions.service import SanctionService
from tests.support.accounts import Staff
from tests.support.appointments import Desk, later_than, open_desk, person_of
from tests.support.journeys import act
from tests.support.partners import PartnerStack
from tests.support.platform import until
from tests.support.workflows import end_when_settled, settled
from worker.assembly import PARTNER_WORKFLOWS, PartnerWorkerParts, journey_runner
from workflows.appointments import Appointment
from workflows.journey import Journey

pytestmark = pytest.mark.law

Sessions = async_sessionmaker[AsyncSession]


@dataclass
class Office:
    """The référente, the orientation team and a manager of one structure, on the
    time-skipping server."""

    desk: Desk
    env: WorkflowEnvironment
    sessions: Sessions
    settings: Settings
    staff: Staff
    partners: PartnerStack

    def principal(self, role: Role) -> Principal:
        ids = {
            Role.REFERENT: self.staff.referent_id,
            Role.ORIENTATION: self.staff.orientation_id,
            Role.MANAGER: self.staff.manager_id,
        }
        return Principal(
            id=ids[role],
            role=role,
            full_name=role.value,
            territory="73",
            structure_id=self.staff.structure_id if role is Role.REFERENT else None,
        )

    @contextlib.asynccontextmanager
    async def sanctions(self, role: Role = Role.REFERENT) -> AsyncIterator[SanctionService]:
        async with transaction(self.sessions) as session:
            yield SanctionService(session, self.env.client, self.settings, self.principal(role))

    async def person(self, household: dict[str, Any]) -> WorkflowHandle[Any, Any]:
        """A person in accompaniment (her contract not signed yet) whose household the CAF
        declared."""
        handle = await self.desk.journeys.enrol()
        async with transaction(self.sessions) as session:
            person = await session.get(Beneficiary, person_of(handle))
            assert person is not None
            person.household = {"family_situation": "CEL", "homeless": False, **household}
        await act(handle, BeginDiagnosisInput())
        await act(handle, CompleteDiagnosisInput())
        await act(
            handle,
            DecideOrientationInput(
                kind=OrientationKind.SOCIO_PROFESSIONAL,
                structure_id=self.staff.structure_id,
                referent_id=self.staff.referent_id,
                actor_id=self.staff.orientation_id,
            ),
        )
        await settled(handle)
        return handle

    async def absence(self, handle: WorkflowHandle[Any, Any]) -> str:
        """An accompaniment appointment booked and missed without excuse."""
        desk = self.desk
        appointment_id, token = await desk.invite(handle, AppointmentKind.ACCOMPAGNEMENT)
        offer = later_than(await desk.offers(token), await desk.journeys.now() + timedelta(days=1))
        await desk.book(token, offer)
        await desk.advance_to(offer.starts_at + timedelta(hours=2))
        async with transaction(self.sessions) as session:
            await (await desk.agent(session)).record_attendance(
                appointment_id, AttendanceUpdate(status="absent_unexcused")
            )
        await settled(desk.child(appointment_id))
        await settled(handle)
        return appointment_id

    def case(self, case_id: str) -> WorkflowHandle[Any, Any]:
        return self.env.client.get_workflow_handle(sanction_case_workflow_id(case_id))

    async def ended(self, case_id: str) -> SanctionCaseState:
        handle = self.env.client.get_workflow_handle(
            sanction_case_workflow_id(case_id), result_type=SanctionCaseState
        )
        result: SanctionCaseState = await handle.result()
        return result

    async def open(
        self, handle: WorkflowHandle[Any, Any], breach: Breach, appointment_id: str | None = None
    ) -> SanctionCaseRead:
        async with self.sanctions() as service:
            read = await service.open(
                person_of(handle), SanctionOpen(breach=breach, appointment_id=appointment_id)
            )
        await settled(self.case(read.case.case_id))
        return read

    async def notified_and_heard(self, handle: WorkflowHandle[Any, Any], case_id: str) -> date:
        """Receipt dated today, the window run out, the équipe pluridisciplinaire consulted."""
        bid = person_of(handle)
        today = (await self.now()).date()
        async with self.sanctions() as service:
            await service.record_receipt(bid, case_id, ReceiptCreate(received_on=today))
        await settled(self.case(case_id))
        await self.advance(timedelta(days=11))
        async with self.sanctions(Role.ORIENTATION) as service:
            await service.record_team_opinion(
                bid,
                case_id,
                TeamOpinionCreate(
                    session_on=(await self.now()).date(),
                    member_ids=[self.staff.orientation_id, self.staff.referent_id],
                    opinion="sanction",
                ),
            )
        await settled(self.case(case_id))
        return today

    async def decide(
        self, handle: WorkflowHandle[Any, Any], case_id: str, decision: DecisionCreate
    ) -> SanctionCaseRead:
        async with self.sanctions(Role.MANAGER) as service:
            read = await service.decide(person_of(handle), case_id, decision)
        await settled(self.case(case_id))
        return read

    async def refused(
        self, handle: WorkflowHandle[Any, Any], case_id: str, decision: DecisionCreate
    ) -> str:
        with pytest.raises(Conflict) as refused:
            await self.decide(handle, case_id, decision)
        return refused.value.message

    async def now(self) -> Any:
        return await self.env.get_current_time()

    async def advance(self, by: timedelta) -> None:
        await self.desk.advance_to(await self.now() + by)

    async def kinds_once_closed(self, handle: WorkflowHandle[Any, Any]) -> list[str]:
        """The timeline once it shows the case's closing: the case tells the journey, which
        writes it on its own time (the case may have ended before the journey was told)."""

        async def closed() -> list[str] | None:
            kinds = await self.kinds(handle)
            return kinds if "sanction_closed" in kinds else None

        found: list[str] = await until(closed, timeout_s=30)
        return found

    async def kinds(self, handle: WorkflowHandle[Any, Any]) -> list[str]:
        await settled(handle)
        async with self.sessions() as session:
            rows = await session.scalars(
                select(JourneyEventRecord.kind)
                .where(JourneyEventRecord.beneficiary_id == person_of(handle))
                .order_by(JourneyEventRecord.seq)
            )
            return list(rows)

    async def caf(self) -> list[dict[str, Any]]:
        sanctions: list[dict[str, Any]] = (await self.partners.state("caf"))["sanctions"]
        return sanctions

    async def caf_told(self, count: int) -> list[dict[str, Any]]:
        """What the CAF received, once it holds ``count`` messages."""

        async def enough() -> list[dict[str, Any]] | None:
            sent = await self.caf()
            return sent if len(sent) >= count else None

        found: list[dict[str, Any]] = await until(enough)
        return found


@pytest.fixture
async def office(
    time_env: WorkflowEnvironment,
    partners: PartnerStack,
    sessions: Sessions,
    settings: Settings,
    staff: Staff,
) -> AsyncIterator[Office]:
    own = settings.model_copy(
        update={
            "task_queue": f"sanctions-time-{uuid.uuid4().hex[:8]}",
            "partners_base_url": partners.partners_url,
            "partner_timeout_s": 2.0,
            # The repeated breach's journey passes 250 events; once it had continued as new,
            # the time-skipping server's next 124-day sleep never returned while the sanction
            # case (a child of the earlier run) ran its timers — seen on this test server
            # only; the bound itself is tested in tests/journey/test_workflow.py.
            "journey_history_events_bound": 5000,
        }
    )
    parts = PartnerWorkerParts.build(time_env.client, sessions, own)
    read_model = ReadModelActivities(sessions, own)
    settlement = JourneySettlementActivities(sessions, time_env.client)
    appointments = AppointmentActivities(sessions, own)
    notices = SanctionActivities(sessions, own)
    worker = Worker(
        time_env.client,
        task_queue=own.task_queue,
        workflows=[Journey, Appointment, *PARTNER_WORKFLOWS],
        activities=[
            read_model.record_journey_event,
            read_model.record_journey_events,
            settlement.settle_journey_requests,
            appointments.record_appointment,
            appointments.notify_person,
            appointments.prepare_convocation_documents,
            notices.send_sanction_notice,
            *parts.activities,
        ],
        unsandboxed_workflow_runner=journey_runner(own),
    )
    try:
        async with worker, open_desk(time_env, sessions, own, staff) as desk:
            await desk.open_daily(AppointmentKind.ACCOMPAGNEMENT)
            office = Office(desk, time_env, sessions, own, staff, partners)
            yield office
            for handle in desk.journeys.handles:
                marks = (await handle.query("current", result_type=JourneyState)).sanctions
                await end_when_settled(*(office.case(mark.case_id) for mark in marks))
    finally:
        await parts.aclose()


async def test_from_absence_to_decision_capped_at_50_for_a_couple(office: Office) -> None:
    o = office
    handle = await o.person({"adults": 2, "dependent_children": 0})
    appointment_id = await o.absence(handle)
    opened = await o.open(handle, Breach.ABSENCE, appointment_id)
    case_id = opened.case.case_id
    assert (opened.case.repeated, opened.cap_percent) == (False, 50)
    assert "de 30 % à 50 %" in opened.bounds

    # The notice is in her carnet, and she was told by e-mail.
    bid = person_of(handle)

    async def notice() -> list[str] | None:
        async with o.sessions() as session:
            names = list(
                await session.scalars(
                    select(Document.filename).where(Document.beneficiary_id == bid)
                )
            )
        return names if any(n.startswith("avis-sanction-") for n in names) else None

    assert await until(notice)
    assert "Avis avant une suspension de votre RSA" in await o.desk.mailed(handle, 3)

    # No decision without a dated notice.
    message = await o.refused(
        handle, case_id, DecisionCreate(measure=Measure.SUSPENSION, rate_percent=30, months=1)
    )
    assert "notification datée" in message

    # Receipt dated: the window runs 10 days, no decision before.
    today = (await o.now()).date()
    async with o.sanctions() as service:
        await service.record_receipt(bid, case_id, ReceiptCreate(received_on=today))
    await settled(o.case(case_id))
    message = await o.refused(
        handle, case_id, DecisionCreate(measure=Measure.SUSPENSION, rate_percent=30, months=1)
    )
    ends = today + timedelta(days=10)
    assert f"jusqu'au {ends.strftime('%d/%m/%Y')} inclus" in message

    await o.advance(timedelta(days=11))
    message = await o.refused(
        handle, case_id, DecisionCreate(measure=Measure.SUSPENSION, rate_percent=30, months=1)
    )
    assert "équipe pluridisciplinaire" in message
    async with o.sanctions(Role.ORIENTATION) as service:
        await service.record_team_opinion(
            bid,
            case_id,
            TeamOpinionCreate(
                session_on=(await o.now()).date(),
                member_ids=[o.staff.orientation_id],
                opinion="sanction",
            ),
        )
    await settled(o.case(case_id))

    # Outside the bounds: refused with the rule, nothing written.
    assert "au moins 30 %" in await o.refused(
        handle, case_id, DecisionCreate(measure=Measure.SUSPENSION, rate_percent=20, months=1)
    )
    assert "plafonné à 50 %" in await o.refused(
        handle, case_id, DecisionCreate(measure=Measure.SUSPENSION, rate_percent=60, months=1)
    )
    assert "de 1 à 2 mois" in await o.refused(
        handle, case_id, DecisionCreate(measure=Measure.SUSPENSION, rate_percent=50, months=3)
    )
    assert "seule une suspension" in await o.refused(
        handle, case_id, DecisionCreate(measure=Measure.REMOVAL, rate_percent=50, months=2)
    )
    assert await o.caf() == []

    decided = await o.decide(
        handle, case_id, DecisionCreate(measure=Measure.SUSPENSION, rate_percent=50, months=2)
    )
    assert (decided.case.status, decided.case.rate_percent) == (CaseStatus.SANCTIONED, 50)
    sent = await o.caf_told(1)
    assert (sent[0]["event"], sent[0]["rate_percent"], sent[0]["measure"]) == (
        "decided",
        50,
        "suspension",
    )
    kinds = await o.kinds(handle)
    for kind in ("sanction_opened", "sanction_notified", "sanction_decided"):
        assert kind in kinds
    journey = await handle.query("current", result_type=JourneyState)
    assert [(m.case_id, m.status, m.rate_percent) for m in journey.sanctions] == [
        (case_id, "decided", 50)
    ]


async def test_lifted_the_day_the_contract_is_signed(office: Office) -> None:
    o = office
    handle = await o.person({"adults": 1, "dependent_children": 0})
    appointment_id = await o.absence(handle)
    case_id = (await o.open(handle, Breach.ABSENCE, appointment_id)).case.case_id
    await o.notified_and_heard(handle, case_id)
    await o.decide(
        handle, case_id, DecisionCreate(measure=Measure.SUSPENSION, rate_percent=40, months=2)
    )
    await o.advance(timedelta(days=10))
    signed_on = (await o.now()).date()

    async with transaction(o.sessions) as session:
        await JourneyService(session, o.env.client, o.settings).act(
            person_of(handle),
            SignContractInput(signed_on=signed_on, weekly_hours=15),
            o.principal(Role.REFERENT),
        )
    await settled(handle)
    case = await o.ended(case_id)
    assert (case.status, case.lift_reason, case.lifted_on) == (
        CaseStatus.CLOSED,
        "remobilisation",
        signed_on,
    )
    sent = await o.caf_told(2)
    assert [(s["event"], s["ends_on"]) for s in sent][-1] == ("lifted", signed_on.isoformat())

    kinds = await o.kinds_once_closed(handle)
    assert kinds.index("contract_signed") < kinds.index("sanction_lifted")
    assert kinds[-1] == "sanction_closed"
    async with o.sessions() as session:
        lifted = await session.scalar(
            select(JourneyEventRecord.detail).where(
                JourneyEventRecord.beneficiary_id == person_of(handle),
                JourneyEventRecord.kind == "sanction_lifted",
            )
        )
    assert lifted is not None and lifted["reason"] == "remobilisation"


async def test_a_repeated_breach_up_to_a_4_month_removal_and_france_travail(
    office: Office,
) -> None:
    o = office
    handle = await o.person({"adults": 1, "dependent_children": 0})
    appointment_id = await o.absence(handle)
    first = (await o.open(handle, Breach.ABSENCE, appointment_id)).case.case_id
    await o.notified_and_heard(handle, first)
    await o.decide(
        handle, first, DecisionCreate(measure=Measure.SUSPENSION, rate_percent=30, months=1)
    )
    # The month runs out: the suspension ends by itself.
    await o.advance(timedelta(days=32))
    ended = await o.ended(first)
    assert (ended.status, ended.lift_reason) == (CaseStatus.CLOSED, "ended")

    # Plan actions not done, within 12 months of the first decision: a repeated breach.
    second = await o.open(handle, Breach.PLAN_NOT_DONE)
    case_id = second.case.case_id
    assert second.case.repeated
    assert "Manquement répété" in second.bounds
    await o.notified_and_heard(handle, case_id)
    assert "de 1 à 4 mois" in await o.refused(
        handle, case_id, DecisionCreate(measure=Measure.REMOVAL, rate_percent=100, months=5)
    )
    await o.decide(
        handle, case_id, DecisionCreate(measure=Measure.REMOVAL, rate_percent=100, months=4)
    )
    assert not (await o.partners.state("france-travail"))["removal_proposals"]

    await o.advance(timedelta(days=124))
    case = await o.ended(case_id)
    assert (case.lift_reason, case.france_travail_proposed) == ("ended", True)
    proposals = (await o.partners.state("france-travail"))["removal_proposals"]
    assert [p["case_id"] for p in proposals] == [case_id]
    kinds = await o.kinds_once_closed(handle)
    assert kinds.count("sanction_opened") == 2
    assert "france_travail_removal_proposed" in kinds
    assert kinds[-1] == "sanction_closed"


async def test_a_second_case_cannot_open_while_one_is_open(office: Office) -> None:
    o = office
    handle = await o.person({"adults": 1, "dependent_children": 0})
    # An absence the journey has not recorded cannot start a case.
    with pytest.raises(Conflict, match="absence non excusée"):
        async with o.sanctions() as service:
            await service.open(
                person_of(handle), SanctionOpen(breach=Breach.ABSENCE, appointment_id="nope")
            )
    await o.open(handle, Breach.CONTRACT_NOT_SIGNED)
    with pytest.raises(Conflict, match="déjà en cours"):
        await o.open(handle, Breach.PLAN_NOT_DONE)


async def test_signed_before_the_decision_the_procedure_ends(office: Office) -> None:
    o = office
    handle = await o.person({"adults": 1, "dependent_children": 0})
    case_id = (await o.open(handle, Breach.CONTRACT_NOT_SIGNED)).case.case_id
    async with o.sanctions() as service:
        await service.record_receipt(
            person_of(handle), case_id, ReceiptCreate(received_on=(await o.now()).date())
        )
    await settled(o.case(case_id))
    signed_on = (await o.now()).date()
    async with transaction(o.sessions) as session:
        await JourneyService(session, o.env.client, o.settings).act(
            person_of(handle),
            SignContractInput(signed_on=signed_on, weekly_hours=15),
            o.principal(Role.REFERENT),
        )
    case = await o.ended(case_id)
    assert (case.status, case.lift_reason, case.measure) == (
        CaseStatus.CLOSED,
        "remobilisation",
        None,
    )
    # Nothing was decided: nothing goes to the CAF, and no decision is possible any more.
    assert await o.caf() == []
    kinds = await o.kinds_once_closed(handle)
    assert kinds[-2:] == ["sanction_lifted", "sanction_closed"]
    journey = await handle.query("current", result_type=JourneyState)
    assert [(m.status, m.lift_reason) for m in journey.sanctions] == [("closed", "remobilisation")]
