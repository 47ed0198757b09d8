"""A convocation on the time-skipping server (a module of its own: its own server), through the
service the pages call: the agent sets the slot, the person is mailed her convocation, the
letter is asked for (where the letter's work plugs in), and she is reminded 2 days before."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from parcours.appointments.messages import AppointmentKind
from parcours.appointments.models import Appointment
from parcours.appointments.schemas import ConvocationCreate
from parcours.core.db import transaction
from parcours.core.settings import Settings
from tests.support.accounts import Staff
from tests.support.appointments import Desk, later_than, open_desk, person_of
from tests.support.platform import until

pytestmark = pytest.mark.appointments


@pytest.fixture
async def desk(
    time_env: WorkflowEnvironment,
    time_worker: Worker,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    staff: Staff,
) -> AsyncIterator[Desk]:
    async with open_desk(time_env, sessions, settings, staff) as desk:
        yield desk


async def test_a_convocation_is_mailed_its_letter_asked_and_reminded_2_days_before(
    desk: Desk,
) -> None:
    kind = AppointmentKind.EQUIPE_PLURIDISCIPLINAIRE
    await desk.open_daily(kind)
    handle = await desk.journeys.enrol()
    async with desk.sessions() as session:
        offers = await (await desk.agent(session)).free(kind)
    offer = later_than(offers, await desk.journeys.now() + timedelta(days=5))
    async with transaction(desk.sessions) as session:
        convocation = await (await desk.agent(session)).convoke(
            ConvocationCreate(
                beneficiary_id=person_of(handle),
                slot_id=offer.slot_id,
                starts_at=offer.starts_at,
                with_letter=True,
            )
        )
    desk.appointments.append(convocation.id)
    assert convocation.status_label == "Convoquée"
    assert await desk.mailed(handle, 1) == [
        "Convocation à un rendez-vous — Équipe pluridisciplinaire"
    ]

    async def letter_asked() -> datetime | None:
        async with desk.sessions() as session:
            row = await session.get(Appointment, convocation.id)
            return row.letter_requested_at if row else None

    await until(letter_asked)
    await desk.advance_to(offer.starts_at - timedelta(days=2) + timedelta(minutes=1))
    assert (await desk.state(convocation.id)).appointment_reminded
    assert (await desk.mailed(handle, 2))[-1].startswith("Rappel de votre rendez-vous")
