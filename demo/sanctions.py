"""The demo's suspension-remobilisation case: a person in accompaniment was convoked two days
ago and did not come; her référente opened a case from that absence (the notice is in her
carnet), dated its receipt, and the person then signed her contrat d'engagement: the case was
lifted at once (remobilisation). The journey's page shows it in its history."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from parcours.access.models import User
from parcours.access.rules import Principal
from parcours.appointments.messages import (
    AppointmentKind,
    AppointmentState,
    AppointmentStatus,
    RecordAttendanceInput,
    appointment_workflow_id,
)
from parcours.appointments.models import Appointment
from parcours.core.db import new_id, transaction
from parcours.core.settings import Settings
from parcours.journey.messages import (
    JourneyState,
    PlanAppointmentInput,
    SignContractInput,
    journey_workflow_id,
)
from parcours.journey.models import JourneyEventRecord
from parcours.journey.service import JourneyService
from parcours.sanctions.messages import Breach
from parcours.sanctions.schemas import ReceiptCreate, SanctionOpen
from parcours.sanctions.service import SanctionService

WAIT_S = 30


async def _journey(temporal: Client, beneficiary_id: str) -> JourneyState:
    handle = temporal.get_workflow_handle(journey_workflow_id(beneficiary_id))
    state: JourneyState = await handle.query("current", result_type=JourneyState)
    return state


async def seed_demo_sanction(
    sessions: async_sessionmaker[AsyncSession],
    temporal: Client,
    settings: Settings,
    beneficiary_id: str,
    structure_id: str,
) -> None:
    referent_id = (await _journey(temporal, beneficiary_id)).referent_id
    async with sessions() as session:
        referent = await session.get(User, referent_id) if referent_id else None
    if referent is None:
        return
    principal = Principal.of(referent)

    # The convocation of two days ago, missed without excuse.
    appointment_id = new_id()
    starts = datetime.combine(datetime.now(UTC).date() - timedelta(days=2), time(9), UTC)
    ends = starts + timedelta(hours=1)
    async with transaction(sessions) as session:
        await JourneyService(session, temporal, settings).act(
            beneficiary_id,
            PlanAppointmentInput(
                appointment_id=appointment_id,
                mode="convocation",
                kind=AppointmentKind.ACCOMPAGNEMENT.value,
                structure_id=structure_id,
                starts_at=starts,
                ends_at=ends,
            ),
            principal,
        )
        session.add(
            Appointment(
                id=appointment_id,
                beneficiary_id=beneficiary_id,
                mode="convocation",
                kind=AppointmentKind.ACCOMPAGNEMENT.value,
                purpose="Rendez-vous d'accompagnement",
                status="convoked",
                structure_id=structure_id,
                workflow_id=appointment_workflow_id(appointment_id),
                starts_at=starts,
                ends_at=ends,
                created_by=referent.id,
                seq=0,
            )
        )
    appointment = temporal.get_workflow_handle(appointment_workflow_id(appointment_id))
    await appointment.execute_update(
        "record_attendance",
        RecordAttendanceInput(status=AppointmentStatus.ABSENT_UNEXCUSED, actor_id=referent.id),
        result_type=AppointmentState,
    )
    async with asyncio.timeout(WAIT_S):
        while True:
            marks = (await _journey(temporal, beneficiary_id)).appointments
            if any(
                m.appointment_id == appointment_id and m.status == "absent_unexcused" for m in marks
            ):
                break
            await asyncio.sleep(0.2)

    # The case, opened from that absence; the notice's receipt dated today.
    async with transaction(sessions) as session:
        case = await SanctionService(session, temporal, settings, principal).open(
            beneficiary_id, SanctionOpen(breach=Breach.ABSENCE, appointment_id=appointment_id)
        )
    case_id = case.case.case_id
    async with asyncio.timeout(WAIT_S):
        while True:
            async with sessions() as session:
                service = SanctionService(session, temporal, settings, principal)
                if await service.belongs(beneficiary_id, case_id):
                    break
            await asyncio.sleep(0.2)
    today = datetime.now(UTC).date()
    async with transaction(sessions) as session:
        await SanctionService(session, temporal, settings, principal).record_receipt(
            beneficiary_id, case_id, ReceiptCreate(received_on=today)
        )

    # She signs her contract: the procedure ends at once (remobilisation).
    async with transaction(sessions) as session:
        await JourneyService(session, temporal, settings).act(
            beneficiary_id,
            SignContractInput(
                signed_on=today, ends_on=today + timedelta(days=180), weekly_hours=15
            ),
            principal,
        )
    # The case has told the journey; its page shows the whole procedure.
    async with asyncio.timeout(WAIT_S):
        while True:
            async with sessions() as session:
                closed = await session.scalar(
                    select(JourneyEventRecord.id).where(
                        JourneyEventRecord.beneficiary_id == beneficiary_id,
                        JourneyEventRecord.kind == "sanction_closed",
                    )
                )
            if closed is not None:
                break
            await asyncio.sleep(0.2)
