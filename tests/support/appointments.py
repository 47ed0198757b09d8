"""Appointments on a Temporal test server, as the pages and the API drive them (``Desk``: a
structure's place and slots, inviting, booking from the link, the server's clock skipped), and
``booking_link``: the same through the JSON API, an invitation's link token."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from parcours.access.rules import Principal, Role
from parcours.appointments.messages import (
    AppointmentKind,
    AppointmentState,
    appointment_workflow_id,
)
from parcours.appointments.schemas import (
    BookingChoice,
    InvitationCreate,
    OccurrenceRead,
    PlaceCreate,
    SlotCreate,
)
from parcours.appointments.service import AppointmentService, BookingService
from parcours.carnet.models import Beneficiary
from parcours.core.db import transaction
from parcours.core.outbox import OutboxMail
from parcours.core.settings import Settings
from parcours.inbox.models import InboxItem
from parcours.inbox.rules import ItemKind
from tests.support.accounts import Staff
from tests.support.clients import ApiClients
from tests.support.journeys import JourneyHandle, Journeys
from tests.support.platform import until
from tests.support.workflows import end_when_settled, settled


async def booking_link(api: ApiClients, person_id: str, kind: str = "suivi") -> str:
    """An invitation's link token for the person (a place and a slot each day at 10:00)."""
    place = await api.referent.post(
        "/api/v1/appointments/places",
        json={"name": "CCAS de Chambéry", "address": "1 rue de la Gare, 73000 Chambéry"},
    )
    assert place.status_code == 201, place.text
    for weekday in range(7):
        slot = await api.referent.post(
            "/api/v1/appointments/slots",
            json={
                "place_id": place.json()["id"],
                "kind": kind,
                "start_time": "10:00",
                "weekday": weekday,
            },
        )
        assert slot.status_code == 201, slot.text
    invited = await api.referent.post(
        "/api/v1/appointments/invitations", json={"beneficiary_id": person_id, "kind": kind}
    )
    assert invited.status_code == 201, invited.text
    token: str = invited.json()["link"].rsplit("/", 1)[1]
    return token


@dataclass
class Desk:
    """A structure's appointment desk on the time-skipping server."""

    env: WorkflowEnvironment
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    staff: Staff
    journeys: Journeys
    appointments: list[str] = field(default_factory=list)

    @property
    def referent(self) -> Principal:
        return Principal(
            id=self.staff.referent_id,
            role=Role.REFERENT,
            full_name="Referent 1",
            territory="73",
            structure_id=self.staff.structure_id,
        )

    async def agent(self, session: AsyncSession) -> AppointmentService:
        return AppointmentService(
            session, self.env.client, self.settings, self.referent, now=await self.journeys.now()
        )

    async def booking(self, session: AsyncSession) -> BookingService:
        return BookingService(
            session, self.env.client, self.settings, now=await self.journeys.now()
        )

    async def open_daily(self, kind: AppointmentKind = AppointmentKind.ORIENTATION) -> None:
        """A place, and a slot of ``kind`` each day of the week at 10:00 (one person)."""
        async with transaction(self.sessions) as session:
            service = await self.agent(session)
            place = await service.add_place(
                PlaceCreate(
                    name="Maison de l'emploi",
                    address="1 place du Palais de Justice, 73000 Chambéry",
                    accessibility="Plain-pied, boucle magnétique",
                )
            )
            for weekday in range(7):
                await service.add_slot(
                    SlotCreate(
                        place_id=place.id,
                        kind=kind,
                        start_time=time(10, 0),
                        duration_minutes=45,
                        weekday=weekday,
                    )
                )

    async def invite(
        self, handle: JourneyHandle, kind: AppointmentKind = AppointmentKind.ORIENTATION
    ) -> tuple[str, str]:
        """Invite the person: (appointment id, link token)."""
        async with transaction(self.sessions) as session:
            invitation = await (await self.agent(session)).invite(
                InvitationCreate(beneficiary_id=person_of(handle), kind=kind)
            )
        self.appointments.append(invitation.id)
        await settled(self.child(invitation.id))
        return invitation.id, invitation.link.rsplit("/", 1)[1]

    async def free_now(self) -> list[OccurrenceRead]:
        async with self.sessions() as session:
            return await (await self.agent(session)).free(AppointmentKind.ORIENTATION)

    async def offers(self, token: str) -> list[OccurrenceRead]:
        async with self.sessions() as session:
            page = await (await self.booking(session)).page(token)
        return page.offers

    async def book(self, token: str, offer: OccurrenceRead) -> None:
        async with transaction(self.sessions) as session:
            await (await self.booking(session)).book(
                token, BookingChoice(slot_id=offer.slot_id, starts_at=offer.starts_at)
            )

    def child(self, appointment_id: str) -> WorkflowHandle[Any, Any]:
        return self.env.client.get_workflow_handle(appointment_workflow_id(appointment_id))

    async def state(self, appointment_id: str) -> AppointmentState:
        handle = self.child(appointment_id)
        await settled(handle)
        return await handle.query("current", result_type=AppointmentState)

    async def advance_to(self, moment: datetime) -> None:
        """Skip the server's clock to ``moment``, once no appointment has an activity running
        (one running holds the test server's clock until it ends)."""
        for appointment_id in self.appointments:
            await settled(self.child(appointment_id))
        await self.journeys.advance(moment)

    async def mailed(self, handle: JourneyHandle, count: int) -> list[str]:
        """The subjects of the mails to the person, once there are ``count`` (the first
        write of an appointment waits for the request's commit, retried)."""

        async def enough() -> list[str] | None:
            subjects = await self.mails(handle)
            return subjects if len(subjects) >= count else None

        return await until(enough)

    async def mails(self, handle: JourneyHandle) -> list[str]:
        async with self.sessions() as session:
            person = await session.get(Beneficiary, person_of(handle))
            assert person is not None and person.email
            rows = await session.scalars(
                select(OutboxMail.subject)
                .where(OutboxMail.recipient == person.email)
                .order_by(OutboxMail.created_at)
            )
            return list(rows)

    async def inbox(self, kind: ItemKind, ref: str) -> list[InboxItem]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(InboxItem).where(
                    InboxItem.kind == kind.value,
                    InboxItem.ref == ref,
                    InboxItem.recipient_id == self.staff.referent_id,
                )
            )
            return list(rows)


def person_of(handle: JourneyHandle) -> str:
    return handle.id.removeprefix("journey-")


def later_than(offers: list[OccurrenceRead], moment: datetime) -> OccurrenceRead:
    return next(o for o in offers if o.starts_at >= moment)


@contextlib.asynccontextmanager
async def open_desk(
    time_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    staff: Staff,
) -> AsyncIterator[Desk]:
    """A desk for one test; what it started is settled and ended after it."""
    journeys = Journeys(time_env, sessions, settings, staff)
    desk = Desk(time_env, sessions, settings, staff, journeys)
    yield desk
    # Their timers would wake at every skip of the next tests.
    await end_when_settled(*(desk.child(a) for a in desk.appointments))
    await journeys.terminate_open()
