"""The appointments' activities: write a change to the read model, tell the person
(``notify_person``: the one place a message to her is built, from SQL — by e-mail and by SMS),
and print a convocation's letter when one was asked."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from parcours.appointments.letters import PARIS, render_convocation_pdf
from parcours.appointments.messages import (
    NOTIFY_PERSON,
    PREPARE_CONVOCATION_DOCUMENTS,
    RECORD_APPOINTMENT,
    ConvocationDocumentsInput,
    NotifyPersonInput,
    RecordAppointmentInput,
)
from parcours.appointments.service import (
    AppointmentProjection,
    ConvocationLetters,
    PersonNotifier,
)
from parcours.core.db import transaction, utcnow
from parcours.core.settings import Settings


class AppointmentActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings

    @activity.defn(name=RECORD_APPOINTMENT)
    async def record_appointment(self, data: RecordAppointmentInput) -> None:
        async with transaction(self.sessions) as session:
            if not await AppointmentProjection(session).record(data):
                raise ApplicationError("appointment row not written yet", type="NotYetWritten")

    @activity.defn(name=NOTIFY_PERSON)
    async def notify_person(self, data: NotifyPersonInput) -> str:
        """``notify_person(appointment_id, event)``: the message built from SQL, written to
        the outbox in this attempt's transaction (a retry after a commit finds it sent: the
        outcome is idempotent per attempt that commits once)."""
        async with transaction(self.sessions) as session:
            outcome = await PersonNotifier(session, self.settings).notify(
                data.appointment_id, data.event, data.seq
            )
        if outcome == "not_yet":
            raise ApplicationError("appointment change not written yet", type="NotYetWritten")
        activity.logger.info(
            "person notified",
            extra={"appointment_id": data.appointment_id, "event": data.event, "outcome": outcome},
        )
        return outcome

    @activity.defn(name=PREPARE_CONVOCATION_DOCUMENTS)
    async def prepare_convocation_documents(self, data: ConvocationDocumentsInput) -> None:
        """The convocation's letter: its facts read from SQL, printed as PDF (WeasyPrint,
        in a thread: up to a second of CPU), kept in the carnet's documents once."""
        today = utcnow().astimezone(PARIS).date()
        async with transaction(self.sessions) as session:
            status, letter = await ConvocationLetters(session).to_print(data.appointment_id, today)
        if status == "not_yet":
            raise ApplicationError("appointment row not written yet", type="NotYetWritten")
        if letter is None:
            return
        pdf = await asyncio.to_thread(render_convocation_pdf, letter)
        async with transaction(self.sessions) as session:
            await ConvocationLetters(session).keep(data.appointment_id, pdf)
