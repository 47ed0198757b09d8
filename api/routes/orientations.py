"""JSON API of orientations to services: orient a person to a service of the resource base,
read their orientations with the structures' answers, and their plan's weekly hours."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import OrientationsDep
from parcours.orientations.schemas import (
    ServiceOrientationCreate,
    ServiceOrientationRead,
    WeeklyHoursRead,
)

router = APIRouter(prefix="/api/v1", tags=["orientations vers un service"])


@router.post(
    "/service-orientations",
    status_code=status.HTTP_201_CREATED,
    summary="Orienter une personne vers un service (action du plan, envoyée à la structure)",
    responses={
        403: {"description": "Rôle sans droit d'orienter"},
        404: {"description": "Personne introuvable (ou hors de votre périmètre)"},
        409: {"description": "Parcours qui n'accepte pas d'orientation, ou accord manquant"},
        422: {"description": "Service ou structure inconnus de la base de ressources"},
    },
)
async def orient(
    data: ServiceOrientationCreate, orientations: OrientationsDep
) -> ServiceOrientationRead:
    return await orientations.orient(data)


@router.get(
    "/beneficiaries/{beneficiary_id}/service-orientations",
    summary="Les orientations de la personne vers des services, et la réponse des structures",
)
async def of_person(
    beneficiary_id: str, orientations: OrientationsDep
) -> list[ServiceOrientationRead]:
    return await orientations.of_person(beneficiary_id)


@router.get(
    "/beneficiaries/{beneficiary_id}/weekly-hours",
    summary="Heures d'activité hebdomadaires du plan, face à l'objectif du contrat (15 h)",
)
async def weekly_hours(beneficiary_id: str, orientations: OrientationsDep) -> WeeklyHoursRead:
    return (await orientations.plan(beneficiary_id)).hours
