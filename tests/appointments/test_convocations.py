"""A convocation on the time-skipping server (a module of its own: its own server), through the
service the pages call: the agent sets the slot, the person is mailed her convocation, the
letter is printed as PDF and kept in her carnet's documents, and she is reminded 2 days before."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from io import BytesIO

import pytest
from icalendar import Calendar
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from parcours.appointments.letters import french_datetime
from parcours.appointments.messages import AppointmentKind
from parcours.appointments.models import Appointment
from parcours.appointments.schemas import ConvocationCreate
from parcours.carnet.models import Beneficiary, Document
from parcours.core.db import transaction
from parcours.core.settings import Settings
from parcours.sms.schemas import SmsRead
from parcours.sms.service import sms_for_beneficiary
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

    # Her mobile gets the news too, once, in a text message's few words.
    async def texted() -> list[SmsRead]:
        async with desk.sessions() as session:
            return await sms_for_beneficiary(session, person_of(handle))

    (sms,) = await until(texted)
    assert sms.recipient == "+33612345678"
    assert sms.body.startswith("Parcours : Convocation (équipe pluridisciplinaire)")
    assert "Ce rendez-vous est obligatoire. Détails : http" in sms.body
    # Her link shows the convocation (nothing to book) and gives it to her calendar.
    token = sms.body.rsplit("/", 1)[1]
    async with desk.sessions() as session:
        page = await (await desk.booking(session)).page(token)
        ics = Calendar.from_ical(await (await desk.booking(session)).calendar(token))
    assert page.appointment.status == "convoked" and not page.can_book and not page.can_change
    (event,) = ics.walk("VEVENT")
    assert event.decoded("DTSTART") == offer.starts_at
    assert "Équipe pluridisciplinaire" in str(event["SUMMARY"])

    async def letter_kept() -> Document | None:
        async with desk.sessions() as session:
            row = await session.get(Appointment, convocation.id)
            if row is None or row.letter_document_id is None:
                return None
            return await session.get(Document, row.letter_document_id)

    # The letter, printed, is in her carnet's documents: the proof she was convoked.
    letter = await until(letter_kept)
    assert letter.beneficiary_id == person_of(handle)
    assert letter.content_type == "application/pdf"
    assert letter.filename == f"convocation-{offer.starts_at.date().isoformat()}.pdf"
    text = " ".join(
        (page.extract_text() or "") for page in PdfReader(BytesIO(letter.data)).pages
    ).replace("\n", " ")
    async with desk.sessions() as session:
        person = await session.get(Beneficiary, person_of(handle))
    assert person is not None
    assert person.last_name in text
    assert "Ce rendez-vous est obligatoire." in text
    assert "peut entraîner une sanction" in text
    assert french_datetime(offer.starts_at) in " ".join(text.split())
    await desk.advance_to(offer.starts_at - timedelta(days=2) + timedelta(minutes=1))
    assert (await desk.state(convocation.id)).appointment_reminded
    assert (await desk.mailed(handle, 2))[-1].startswith("Rappel de votre rendez-vous")
