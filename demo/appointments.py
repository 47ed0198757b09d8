"""The demo's appointment desk: the Savoie département's insertion hub in Chambéry has a place
and weekly slots (orientation, accompaniment, an information collective), so that a référente
can invite someone from the carnet's « Rendez-vous » tab from the first ``make run``."""

from __future__ import annotations

from datetime import time

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.appointments.messages import AppointmentKind
from parcours.appointments.models import AppointmentSettings, Place, Slot
from parcours.core.db import transaction

# (weekday, Monday 0; hour; kind; minutes; capacity)
WEEKLY = [
    (0, time(9, 30), AppointmentKind.ORIENTATION, 45, 1),
    (0, time(10, 30), AppointmentKind.ORIENTATION, 45, 1),
    (1, time(14, 0), AppointmentKind.ACCOMPAGNEMENT, 60, 1),
    (2, time(9, 30), AppointmentKind.ORIENTATION, 45, 1),
    (3, time(14, 0), AppointmentKind.ACCOMPAGNEMENT, 60, 1),
    (3, time(16, 0), AppointmentKind.SUIVI, 30, 1),
    (4, time(9, 0), AppointmentKind.INFORMATION_COLLECTIVE, 120, 12),
]


async def seed_demo_appointments(
    sessions: async_sessionmaker[AsyncSession], structure_id: str, agent_id: str | None
) -> None:
    async with transaction(sessions) as session:
        session.add(
            AppointmentSettings(
                structure_id=structure_id,
                invitation_days=7,
                contact_phone="04 79 96 73 73",
                contact_email="insertion.chambery@demo.parcours.fr",
            )
        )
        place = Place(
            structure_id=structure_id,
            name="Pôle insertion de Chambéry",
            address="Château des ducs de Savoie, place Caffe, 73000 Chambéry",
            accessibility="Entrée de plain-pied côté place Caffe, ascenseur, boucle magnétique "
            "à l'accueil. Bus : arrêt Château.",
        )
        session.add(place)
        await session.flush()
        for weekday, at, kind, minutes, capacity in WEEKLY:
            session.add(
                Slot(
                    structure_id=structure_id,
                    place_id=place.id,
                    agent_id=agent_id,
                    kind=kind.value,
                    start_time=at,
                    duration_minutes=minutes,
                    capacity=capacity,
                    weekday=weekday,
                )
            )
