"""Appointments on the time-skipping server, through the services the pages and the API call
(a worker with the real activities): an invitation is mailed, reminded at day +3, booked from
its link, reminded 2 days before, attended — and the journey reaches its orientation step; an
invitation nobody books expires and reaches the référente's inbox (the link then says whom to
call); a slot taken meanwhile offers the next ones; a structure without free slots is refused
with its reason; a non-excused absence is on the journey's timeline; cancelling or moving less
than 24 h before is refused; attendance left unrecorded 2 days after reaches the inbox; a
journey that closes cancels its appointments still to come."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from parcours.appointments.messages import (
    AppointmentKind,
    AppointmentStatus,
)
from parcours.appointments.models import Appointment
from parcours.appointments.schemas import (
    AttendanceUpdate,
    BookingChoice,
    SettingsUpdate,
)
from parcours.appointments.service import (
    NoFreeSlot,
    SlotTaken,
)
from parcours.core.db import transaction
from parcours.core.errors import Conflict
from parcours.core.settings import Settings
from parcours.inbox.models import InboxItem
from parcours.inbox.rules import ItemKind
from parcours.journey.messages import CloseInput, ExitReason, JourneyState, Step
from parcours.journey.models import JourneyEventRecord
from tests.support.accounts import Staff
from tests.support.appointments import Desk, later_than, open_desk, person_of
from tests.support.journeys import act, time_skipping_server
from tests.support.platform import until
from tests.support.workflows import settled
from worker.assembly import build_worker

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


@pytest.fixture
async def desk_of_its_own(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, staff: Staff
) -> AsyncIterator[Desk]:
    """A desk on a test server of its own, for a test whose journey ends before its
    appointment does: that server then holds its clock for good (it tells the ended journey of
    its child's end, in vain), and no later test on it could skip time."""
    async with (
        time_skipping_server() as env,
        build_worker(env.client, sessions, settings.task_queue, settings),
        open_desk(env, sessions, settings, staff) as desk,
    ):
        yield desk


async def test_invited_reminded_booked_attended_and_the_journey_moves_on(desk: Desk) -> None:
    await desk.open_daily()
    handle = await desk.journeys.enrol()
    invited_at = await desk.journeys.now()
    appointment_id, token = await desk.invite(handle)
    assert await desk.mailed(handle, 1) == [
        "Invitation à prendre rendez-vous — Rendez-vous d'orientation"
    ]
    journey = await handle.query("current", result_type=JourneyState)
    assert [(m.appointment_id, m.status) for m in journey.appointments] == [
        (appointment_id, "invited")
    ]

    # Day +3, the link valid 4 more days: the person is reminded, once.
    await desk.advance_to(invited_at + timedelta(days=3, minutes=1))
    assert (await desk.state(appointment_id)).invitation_reminded
    assert (await desk.mailed(handle, 2))[-1] == (
        "Rappel : prenez votre rendez-vous — Rendez-vous d'orientation"
    )

    # She books a slot 3 days ahead from her link: confirmed by mail.
    offer = later_than(await desk.offers(token), await desk.journeys.now() + timedelta(days=3))
    await desk.book(token, offer)
    state = await desk.state(appointment_id)
    assert state.status is AppointmentStatus.BOOKED
    assert state.starts_at == offer.starts_at
    assert (await desk.mailed(handle, 3))[-1].startswith("Votre rendez-vous est confirmé")

    # Two days before: reminded.
    await desk.advance_to(offer.starts_at - timedelta(days=2) + timedelta(minutes=1))
    assert (await desk.state(appointment_id)).appointment_reminded
    assert (await desk.mailed(handle, 4))[-1].startswith("Rappel de votre rendez-vous")

    # After it, the référente records her presence: the journey reaches its orientation step.
    await desk.advance_to(offer.starts_at + timedelta(hours=1))
    async with transaction(desk.sessions) as session:
        read = await (await desk.agent(session)).record_attendance(
            appointment_id, AttendanceUpdate(status="attended")
        )
    assert read.status_label == "Présente"
    assert (await desk.state(appointment_id)).status is AppointmentStatus.ATTENDED

    async def oriented() -> JourneyState | None:
        state = await handle.query("current", result_type=JourneyState)
        return state if state.step is Step.ORIENTATION else None

    journey = await until(oriented)
    assert [(m.appointment_id, m.status) for m in journey.appointments] == [
        (appointment_id, "attended")
    ]
    await desk.journeys.matches(handle)
    async with desk.sessions() as session:
        history = await (await desk.agent(session)).of_person(person_of(handle))
    assert [c.change for c in history[0].history] == [
        "invited",
        "invitation_reminder",
        "booked",
        "appointment_reminder",
        "attended",
    ]


async def test_an_invitation_nobody_books_expires_into_the_inbox(desk: Desk) -> None:
    await desk.open_daily()
    async with transaction(desk.sessions) as session:
        await (await desk.agent(session)).update_settings(
            SettingsUpdate(invitation_days=7, contact_phone="04 79 00 00 00")
        )
    handle = await desk.journeys.enrol()
    invited_at = await desk.journeys.now()
    appointment_id, token = await desk.invite(handle)

    await desk.advance_to(invited_at + timedelta(days=7, minutes=1))
    assert (await desk.state(appointment_id)).status is AppointmentStatus.INVITATION_EXPIRED
    await settled(handle)
    (item,) = await until(lambda: desk.inbox(ItemKind.INVITATION_EXPIRED, appointment_id))
    assert item.beneficiary_id == person_of(handle)

    # The link now says so, and whom to call; booking is refused.
    async with desk.sessions() as session:
        page = await (await desk.booking(session)).page(token)
    assert page.expired and not page.can_book
    assert page.contact_phone == "04 79 00 00 00"
    offer = (await desk.offers(token)) or None
    assert offer is None


async def test_a_slot_taken_meanwhile_offers_the_next_ones(desk: Desk) -> None:
    await desk.open_daily()
    first, second = await desk.journeys.enrol(), await desk.journeys.enrol()
    _, token_1 = await desk.invite(first)
    _, token_2 = await desk.invite(second)
    wanted = later_than(await desk.offers(token_2), await desk.journeys.now() + timedelta(days=2))
    await desk.book(token_1, wanted)
    with pytest.raises(SlotTaken) as taken:
        await desk.book(token_2, wanted)
    assert "vient d'être pris" in taken.value.message
    assert taken.value.offers and all(
        (o.slot_id, o.starts_at) != (wanted.slot_id, wanted.starts_at) for o in taken.value.offers
    )


async def test_a_structure_without_free_slots_is_refused_with_its_reason(desk: Desk) -> None:
    await desk.open_daily(AppointmentKind.ORIENTATION)
    handle = await desk.journeys.enrol()
    with pytest.raises(NoFreeSlot) as refused:
        await desk.invite(handle, AppointmentKind.SUIVI)
    assert refused.value.status_code == 409
    assert "aucun créneau libre" in refused.value.message
    assert "Rendez-vous de suivi" in refused.value.message
    assert await desk.mails(handle) == []


async def test_a_non_excused_absence_is_on_the_journey(desk: Desk) -> None:
    await desk.open_daily(AppointmentKind.ACCOMPAGNEMENT)
    handle = await desk.journeys.enrol()
    appointment_id, token = await desk.invite(handle, AppointmentKind.ACCOMPAGNEMENT)
    offer = later_than(await desk.offers(token), await desk.journeys.now() + timedelta(days=1))
    await desk.book(token, offer)
    await desk.advance_to(offer.starts_at + timedelta(hours=2))
    async with transaction(desk.sessions) as session:
        service = await desk.agent(session)
        with pytest.raises(ValueError, match="motif"):
            AttendanceUpdate(status="absent_excused")
        await service.record_attendance(appointment_id, AttendanceUpdate(status="absent_unexcused"))
    await settled(desk.child(appointment_id))
    await settled(handle)
    async with desk.sessions() as session:
        kinds = list(
            await session.scalars(
                select(JourneyEventRecord.kind).where(
                    JourneyEventRecord.beneficiary_id == person_of(handle)
                )
            )
        )
    assert "appointment_absent_unexcused" in kinds
    journey = await handle.query("current", result_type=JourneyState)
    assert journey.appointments[0].status == "absent_unexcused"
    assert journey.step is Step.INTAKE  # only an attended orientation moves it


async def test_cancel_or_move_is_refused_within_24_hours(desk: Desk) -> None:
    await desk.open_daily()
    handle = await desk.journeys.enrol()
    appointment_id, token = await desk.invite(handle)
    offers = await desk.offers(token)
    offer = later_than(offers, await desk.journeys.now() + timedelta(days=2))
    await desk.book(token, offer)
    await desk.advance_to(offer.starts_at - timedelta(hours=20))
    other = later_than(offers, offer.starts_at + timedelta(hours=1))
    async with transaction(desk.sessions) as session:
        booking = await desk.booking(session)
        with pytest.raises(Conflict, match="moins de 24 heures"):
            await booking.cancel(token)
    async with transaction(desk.sessions) as session:
        booking = await desk.booking(session)
        with pytest.raises(Conflict, match="moins de 24 heures"):
            await booking.move(
                token, BookingChoice(slot_id=other.slot_id, starts_at=other.starts_at)
            )
    state = await desk.state(appointment_id)
    assert state.status is AppointmentStatus.BOOKED and state.starts_at == offer.starts_at


async def test_attendance_left_unrecorded_reaches_the_inbox(desk: Desk) -> None:
    await desk.open_daily()
    handle = await desk.journeys.enrol()
    appointment_id, token = await desk.invite(handle)
    offer = later_than(await desk.offers(token), await desk.journeys.now() + timedelta(days=1))
    await desk.book(token, offer)
    await desk.advance_to(offer.ends_at + timedelta(days=2, minutes=1))
    assert (await desk.state(appointment_id)).attendance_chased
    await settled(handle)
    (item,) = await until(lambda: desk.inbox(ItemKind.ATTENDANCE_TO_RECORD, appointment_id))
    assert item.done_at is None and item.settled_at is None
    # Recorded at last: the item is settled.
    async with transaction(desk.sessions) as session:
        await (await desk.agent(session)).record_attendance(
            appointment_id, AttendanceUpdate(status="absent_excused", reason="Hospitalisée")
        )
    await settled(desk.child(appointment_id))
    await settled(handle)

    async def settled_item() -> list[InboxItem] | None:
        items = await desk.inbox(ItemKind.ATTENDANCE_TO_RECORD, appointment_id)
        return items if items and items[0].settled_at is not None else None

    await until(settled_item)


async def test_a_closed_journey_cancels_its_appointments_still_to_come(
    desk_of_its_own: Desk,
) -> None:
    desk = desk_of_its_own
    await desk.open_daily()
    handle = await desk.journeys.enrol()
    appointment_id, token = await desk.invite(handle)
    offer = later_than(await desk.offers(token), await desk.journeys.now() + timedelta(days=2))
    await desk.book(token, offer)
    await settled(desk.child(appointment_id))
    await act(handle, CloseInput(exit_reason=ExitReason.OTHER, actor_id=desk.staff.referent_id))
    await handle.result()
    state = await desk.state(appointment_id)
    assert state.status is AppointmentStatus.CANCELLED
    assert (await desk.mailed(handle, 3))[-1].startswith("Votre rendez-vous est annulé")
    # Its seat is free again.
    assert any(
        (o.slot_id, o.starts_at) == (offer.slot_id, offer.starts_at) for o in await desk.free_now()
    )


async def test_a_booked_appointment_comes_with_its_calendar_file(desk: Desk) -> None:
    await desk.open_daily()
    handle = await desk.journeys.enrol()
    appointment_id, token = await desk.invite(handle)
    offer = later_than(await desk.offers(token), await desk.journeys.now() + timedelta(days=3))
    await desk.book(token, offer)
    async with desk.sessions() as session:
        booked = Calendar.from_ical(await (await desk.booking(session)).calendar(token))
    (event,) = booked.walk("VEVENT")
    assert booked["METHOD"] == "REQUEST"
    assert event["UID"] == f"{appointment_id}@parcours"
    assert event.decoded("DTSTART") == offer.starts_at
    assert event.decoded("DTEND") == offer.ends_at

    # Cancelled from her link: the same event, a later version, to take off her calendar.
    async with transaction(desk.sessions) as session:
        await (await desk.booking(session)).cancel(token)

    async def cancellation_recorded() -> bool:
        async with desk.sessions() as session:
            row = await session.get(Appointment, appointment_id)
            return row is not None and row.seq > int(event.decoded("SEQUENCE"))

    await until(cancellation_recorded)
    async with desk.sessions() as session:
        cancelled = Calendar.from_ical(await (await desk.booking(session)).calendar(token))
    (gone,) = cancelled.walk("VEVENT")
    assert cancelled["METHOD"] == "CANCEL"
    assert gone["UID"] == event["UID"]
    assert int(gone.decoded("SEQUENCE")) > int(event.decoded("SEQUENCE"))
