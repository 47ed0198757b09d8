"""JSON API of the managers' console (``/api/v1/management``): stalled journeys, actions on
them (one or many at once), partner incidents and "retry now", digests. Managers see and act
on their territory only; anyone else's journeys are "introuvable"."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from api.deps import ManagementDep, Offset, RowId
from parcours.journey.messages import Step
from parcours.management.schemas import (
    BulkResult,
    DigestRead,
    EscalationCreate,
    IncidentRead,
    InterventionRead,
    NoteCreate,
    ReassignmentCreate,
    ReminderCreate,
    RetryRead,
    StallCause,
    StalledFilter,
    StalledPage,
)

router = APIRouter(prefix="/api/v1/management", tags=["gestion"])


NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "Parcours ou incident introuvable (ou hors de votre territoire)"}
}


def stalled_filter(
    territory: str | None,
    structure_id: str | None,
    referent_id: str | None,
    step: Step | None,
    cause: StallCause | None,
    min_overdue_days: int | None,
) -> StalledFilter:
    return StalledFilter(
        territory=territory or None,
        structure_id=structure_id or None,
        referent_id=referent_id or None,
        step=step.value if step else None,
        cause=cause,
        min_overdue_days=min_overdue_days or None,
    )


@router.get("/stalled", summary="Parcours bloqués (les plus en retard d'abord)")
async def stalled(
    management: ManagementDep,
    territory: str | None = None,
    structure_id: str | None = None,
    referent_id: str | None = None,
    step: Step | None = None,
    cause: StallCause | None = None,
    min_overdue_days: Annotated[
        int | None, Query(ge=0, le=3650, description="Bloqués depuis au moins N jours")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 25,
    offset: Offset = 0,
) -> StalledPage:
    f = stalled_filter(territory, structure_id, referent_id, step, cause, min_overdue_days)
    return await management.stalled_page(f, limit=limit, offset=offset)


@router.post("/reassignments", summary="Réaffecter un ou plusieurs parcours à un référent")
async def reassign(data: ReassignmentCreate, service: ManagementDep) -> BulkResult:
    return await service.reassign(data)


@router.post("/reminders", summary="Relancer le référent d'un ou plusieurs parcours")
async def remind(data: ReminderCreate, service: ManagementDep) -> BulkResult:
    return await service.remind(data)


@router.post("/escalations", summary="Signaler un ou plusieurs parcours à leur structure")
async def escalate(data: EscalationCreate, service: ManagementDep) -> BulkResult:
    return await service.escalate(data)


@router.post(
    "/journeys/{beneficiary_id}/notes",
    status_code=status.HTTP_201_CREATED,
    summary="Ajouter une note de responsable à un parcours",
    responses=NOT_FOUND,
)
async def add_note(
    beneficiary_id: str, data: NoteCreate, service: ManagementDep
) -> InterventionRead:
    return await service.add_note(beneficiary_id, data)


@router.get(
    "/journeys/{beneficiary_id}/interventions",
    summary="Les interventions des responsables sur un parcours",
    responses=NOT_FOUND,
)
async def interventions(beneficiary_id: str, service: ManagementDep) -> list[InterventionRead]:
    return await service.interventions_of(beneficiary_id)


@router.get(
    "/journeys/{beneficiary_id}/incidents",
    summary="Les appels aux partenaires en échec d'un parcours",
    responses=NOT_FOUND,
)
async def incidents(beneficiary_id: str, service: ManagementDep) -> list[IncidentRead]:
    return await service.incidents_of(beneficiary_id)


@router.post(
    "/incidents/{incident_id}/retry",
    summary="Relancer maintenant un appel à un partenaire en échec",
    responses=NOT_FOUND,
)
async def retry(incident_id: RowId, service: ManagementDep) -> RetryRead:
    return await service.retry(incident_id)


@router.get("/digests", summary="Mes résumés quotidiens (les plus récents d'abord)")
async def digests(
    service: ManagementDep, limit: Annotated[int, Query(ge=1, le=60)] = 7
) -> list[DigestRead]:
    return await service.my_digests(limit)


@router.get("/addressed-to-me", summary="Relances et signalements qui me sont adressés")
async def addressed_to_me(service: ManagementDep) -> list[InterventionRead]:
    return await service.addressed_to_me()
