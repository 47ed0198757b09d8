"""JSON API of appointments (``/api/v1/appointments``): a structure's places, slots and
settings, its free slots, inviting and convoking people, recording attendance, the agenda; a
person's appointments (``/api/v1/beneficiaries/{id}/appointments``); and the person's own
link (``/api/v1/rdv/{token}``: no account, the token is the key). The same services as the
pages."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from api.deps import AppointmentsDep, BookingDep
from parcours.appointments.messages import AppointmentKind
from parcours.appointments.rules import PARIS
from parcours.appointments.schemas import (
    AgendaRead,
    AppointmentRead,
    AttendanceUpdate,
    BookingChoice,
    BookingPageRead,
    ConvocationCreate,
    InvitationCreate,
    InvitationRead,
    OccurrenceRead,
    PlaceCreate,
    PlaceRead,
    SettingsRead,
    SettingsUpdate,
    SlotCreate,
    SlotRead,
)
from parcours.core.db import utcnow

router = APIRouter(tags=["rendez-vous"])

REFUSED: dict[int | str, dict[str, Any]] = {
    409: {"description": "Impossible maintenant (la raison est dans le message)"},
    404: {"description": "Introuvable (ou hors de votre structure)"},
}


@router.get("/api/v1/appointments/places", summary="Les lieux de ma structure")
async def places(service: AppointmentsDep) -> list[PlaceRead]:
    return await service.places()


@router.post(
    "/api/v1/appointments/places",
    status_code=status.HTTP_201_CREATED,
    summary="Déclarer un lieu de rendez-vous",
)
async def add_place(data: PlaceCreate, service: AppointmentsDep) -> PlaceRead:
    return await service.add_place(data)


@router.get("/api/v1/appointments/slots", summary="Les créneaux de ma structure")
async def slots(service: AppointmentsDep) -> list[SlotRead]:
    return await service.slots()


@router.post(
    "/api/v1/appointments/slots",
    status_code=status.HTTP_201_CREATED,
    summary="Déclarer un créneau (un jour, ou chaque semaine)",
    responses=REFUSED,
)
async def add_slot(data: SlotCreate, service: AppointmentsDep) -> SlotRead:
    return await service.add_slot(data)


@router.delete(
    "/api/v1/appointments/slots/{slot_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Retirer un créneau (les rendez-vous déjà pris restent)",
    responses=REFUSED,
)
async def remove_slot(slot_id: str, service: AppointmentsDep) -> None:
    await service.remove_slot(slot_id)


@router.get("/api/v1/appointments/settings", summary="Réglages des rendez-vous")
async def settings(service: AppointmentsDep) -> SettingsRead:
    return await service.settings_read()


@router.put("/api/v1/appointments/settings", summary="Régler les rendez-vous de ma structure")
async def update_settings(data: SettingsUpdate, service: AppointmentsDep) -> SettingsRead:
    return await service.update_settings(data)


@router.get("/api/v1/appointments/free", summary="Créneaux libres des 30 prochains jours")
async def free(
    service: AppointmentsDep, kind: AppointmentKind | None = None
) -> list[OccurrenceRead]:
    return await service.free(kind)


@router.post(
    "/api/v1/appointments/invitations",
    status_code=status.HTTP_201_CREATED,
    summary="Inviter une personne à prendre rendez-vous (lien envoyé par courriel)",
    responses=REFUSED,
)
async def invite(data: InvitationCreate, service: AppointmentsDep) -> InvitationRead:
    return await service.invite(data)


@router.post(
    "/api/v1/appointments/convocations",
    status_code=status.HTTP_201_CREATED,
    summary="Convoquer une personne à un créneau",
    responses=REFUSED,
)
async def convoke(data: ConvocationCreate, service: AppointmentsDep) -> AppointmentRead:
    return await service.convoke(data)


@router.post(
    "/api/v1/appointments/{appointment_id}/attendance",
    summary="Enregistrer la présence (présente, absente excusée ou non, annulé)",
    responses=REFUSED,
)
async def record_attendance(
    appointment_id: str, data: AttendanceUpdate, service: AppointmentsDep
) -> AppointmentRead:
    return await service.record_attendance(appointment_id, data)


@router.get("/api/v1/appointments/agenda", summary="L'agenda de ma structure")
async def agenda(
    service: AppointmentsDep,
    start: date | None = None,
    days: Annotated[int, Query(ge=1, le=31)] = 7,
) -> AgendaRead:
    return await service.agenda(start or utcnow().astimezone(PARIS).date(), days)


@router.get(
    "/api/v1/beneficiaries/{beneficiary_id}/appointments",
    summary="Les rendez-vous d'une personne et leur historique",
    responses=REFUSED,
)
async def of_person(beneficiary_id: str, service: AppointmentsDep) -> list[AppointmentRead]:
    return await service.of_person(beneficiary_id)


# --- The person's link (no account) ---


@router.get("/api/v1/rdv/{token}", summary="Le rendez-vous du lien, et les créneaux proposés")
async def booking_page(token: str, service: BookingDep) -> BookingPageRead:
    return await service.page(token)


@router.post("/api/v1/rdv/{token}/booking", summary="Choisir un créneau", responses=REFUSED)
async def book(token: str, data: BookingChoice, service: BookingDep) -> AppointmentRead:
    return await service.book(token, data)


@router.post(
    "/api/v1/rdv/{token}/move",
    summary="Déplacer le rendez-vous (jusqu'à 24 heures avant)",
    responses=REFUSED,
)
async def move(token: str, data: BookingChoice, service: BookingDep) -> AppointmentRead:
    return await service.move(token, data)


@router.post(
    "/api/v1/rdv/{token}/cancellation",
    summary="Annuler le rendez-vous (jusqu'à 24 heures avant)",
    responses=REFUSED,
)
async def cancel(token: str, service: BookingDep) -> AppointmentRead:
    return await service.cancel(token)
