"""All the appointments' SQL: places, slots, settings, appointments, their history, seats."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from parcours.access.models import Structure, User
from parcours.appointments.models import (
    Appointment,
    AppointmentChange,
    AppointmentSettings,
    Place,
    Seat,
    Slot,
)
from parcours.carnet.models import Beneficiary


class AppointmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: Any) -> None:
        self.session.add(row)

    # --- Structures, places, slots, settings ---

    async def structure(self, structure_id: str) -> Structure | None:
        return await self.session.get(Structure, structure_id)

    async def settings(self, structure_id: str) -> AppointmentSettings | None:
        return await self.session.get(AppointmentSettings, structure_id)

    async def places(self, structure_id: str) -> Sequence[Place]:
        rows = await self.session.scalars(
            select(Place)
            .where(Place.structure_id == structure_id, Place.active.is_(True))
            .order_by(Place.name)
        )
        return rows.all()

    async def place(self, place_id: str) -> Place | None:
        return await self.session.get(Place, place_id)

    async def slots(
        self,
        structure_id: str,
        kind: str | None = None,
        between: tuple[date, date] | None = None,
    ) -> Sequence[Slot]:
        """The structure's active slots (of a kind); ``between`` (first day, day after the
        last): only those that can fall in those days."""
        query = select(Slot).where(Slot.structure_id == structure_id, Slot.active.is_(True))
        if kind is not None:
            query = query.where(Slot.kind == kind)
        if between is not None:
            first, after = between
            query = query.where(
                or_(
                    and_(Slot.on_date >= first, Slot.on_date < after),
                    and_(
                        Slot.on_date.is_(None),
                        or_(Slot.valid_from.is_(None), Slot.valid_from < after),
                        or_(Slot.valid_until.is_(None), Slot.valid_until >= first),
                    ),
                )
            )
        return (await self.session.scalars(query.order_by(Slot.weekday, Slot.start_time))).all()

    async def taken_between(
        self, structure_id: str, since: datetime, until: datetime
    ) -> dict[tuple[str, datetime], int]:
        """Seats booked per (slot, start) of the structure's slots from ``since`` to ``until``."""
        rows = await self.session.execute(
            select(Seat.slot_id, Seat.starts_at, func.count())
            .join(Slot, Slot.id == Seat.slot_id)
            .where(
                Slot.structure_id == structure_id,
                Seat.starts_at >= since,
                Seat.starts_at <= until,
            )
            .group_by(Seat.slot_id, Seat.starts_at)
        )
        return {(slot_id, starts_at): count for slot_id, starts_at, count in rows}

    async def slot(self, slot_id: str) -> Slot | None:
        return await self.session.get(Slot, slot_id)

    async def taken(
        self, slot_ids: Sequence[str], since: datetime
    ) -> dict[tuple[str, datetime], int]:
        """Seats booked per (slot, start) from ``since`` on."""
        if not slot_ids:
            return {}
        rows = await self.session.execute(
            select(Seat.slot_id, Seat.starts_at, func.count())
            .where(Seat.slot_id.in_(slot_ids), Seat.starts_at >= since)
            .group_by(Seat.slot_id, Seat.starts_at)
        )
        return {(slot_id, starts_at): count for slot_id, starts_at, count in rows}

    async def take_seat(self, appointment_id: str, slot: Slot, starts_at: datetime) -> bool:
        """Take the first free seat of this occurrence; False when none is left (another
        request took the last one: the unique seat says so)."""
        used = set(
            await self.session.scalars(
                select(Seat.seat).where(Seat.slot_id == slot.id, Seat.starts_at == starts_at)
            )
        )
        free = [n for n in range(1, slot.capacity + 1) if n not in used]
        if not free:
            return False
        try:
            async with self.session.begin_nested():
                self.session.add(
                    Seat(
                        slot_id=slot.id,
                        starts_at=starts_at,
                        seat=free[0],
                        appointment_id=appointment_id,
                    )
                )
        except IntegrityError:
            return False
        return True

    async def release_seats(self, appointment_id: str) -> None:
        await self.session.execute(delete(Seat).where(Seat.appointment_id == appointment_id))

    # --- Appointments ---

    async def appointment(self, appointment_id: str) -> Appointment | None:
        return await self.session.get(Appointment, appointment_id)

    async def fresh(self, appointment_id: str) -> Appointment | None:
        return await self.session.get(Appointment, appointment_id, populate_existing=True)

    async def by_token_hash(self, token_hash: str) -> Appointment | None:
        return await self.session.scalar(
            select(Appointment).where(Appointment.token_hash == token_hash)
        )

    async def of_person(self, beneficiary_id: str) -> Sequence[Appointment]:
        rows = await self.session.scalars(
            select(Appointment)
            .where(Appointment.beneficiary_id == beneficiary_id)
            .order_by(Appointment.created_at.desc())
        )
        return rows.all()

    async def agenda(
        self, structure_id: str, start: datetime, end: datetime
    ) -> Sequence[tuple[Appointment, Beneficiary]]:
        rows = await self.session.execute(
            select(Appointment, Beneficiary)
            .join(Beneficiary, Beneficiary.id == Appointment.beneficiary_id)
            .where(
                Appointment.structure_id == structure_id,
                Appointment.starts_at >= start,
                Appointment.starts_at < end,
            )
            .order_by(Appointment.starts_at)
        )
        return [(a, b) for a, b in rows]

    async def pending_ids(self, beneficiary_id: str) -> list[str]:
        """The person's invitations and convocations still to come."""
        rows = await self.session.scalars(
            select(Appointment.id).where(
                Appointment.beneficiary_id == beneficiary_id,
                Appointment.workflow_id.is_not(None),
                Appointment.status.in_(("invited", "booked", "convoked")),
            )
        )
        return list(rows)

    async def changes(self, appointment_ids: Sequence[str]) -> Sequence[AppointmentChange]:
        if not appointment_ids:
            return []
        rows = await self.session.scalars(
            select(AppointmentChange)
            .where(AppointmentChange.appointment_id.in_(appointment_ids))
            .order_by(AppointmentChange.appointment_id, AppointmentChange.seq)
        )
        return rows.all()

    async def add_change(self, values: dict[str, Any]) -> None:
        """One history entry, once per (appointment, seq): a retried write adds nothing."""
        exists = await self.session.scalar(
            select(AppointmentChange.id).where(
                AppointmentChange.appointment_id == values["appointment_id"],
                AppointmentChange.seq == values["seq"],
            )
        )
        if exists is None:
            self.session.add(AppointmentChange(**values))

    # --- People ---

    async def person(self, beneficiary_id: str) -> Beneficiary | None:
        return await self.session.get(Beneficiary, beneficiary_id)

    async def user(self, user_id: str) -> User | None:
        return await self.session.get(User, user_id)
