"""JSON API for reorientations and the social track's review: ask, decide, conclude, read."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, status

from api.deps import for_api
from parcours.journey.schemas import JourneyRead
from parcours.reorientation.schemas import (
    ReorientationCreate,
    ReorientationDecisionCreate,
    ReorientationPanel,
    ReorientationRead,
    SocialReviewConclusion,
)
from parcours.reorientation.service import ReorientationService

router = APIRouter(prefix="/api/v1", tags=["réorientation"])

ReorientationDep = Annotated[ReorientationService, Depends(for_api(ReorientationService))]

REFUSED: dict[int | str, dict[str, Any]] = {
    409: {"description": "Refusée par le parcours (motif en français) : rien n'est enregistré"},
    503: {"description": "Le moteur de parcours ne répond pas : réessayer plus tard"},
}


@router.get(
    "/journeys/{beneficiary_id}/reorientations",
    summary="Demandes de réorientation du parcours et prochaine revue du parcours social",
)
async def read_reorientations(beneficiary_id: str, service: ReorientationDep) -> ReorientationPanel:
    return await service.read_panel(beneficiary_id)


@router.post(
    "/journeys/{beneficiary_id}/reorientations",
    status_code=status.HTTP_201_CREATED,
    summary="Demander une réorientation (référent·e, ou la personne pour elle-même)",
    responses=REFUSED,
)
async def request_reorientation(
    beneficiary_id: str, data: ReorientationCreate, service: ReorientationDep
) -> ReorientationRead:
    """Le motif codé part dans le parcours ; le texte libre reste dans la base, jamais dans le
    workflow. La demande arrive dans « À traiter » des chargé·es d'orientation."""
    return await service.request(beneficiary_id, data)


@router.post(
    "/journeys/{beneficiary_id}/reorientations/{request_id}/decision",
    summary="Décider d'une réorientation (chargé·es d'orientation)",
    responses=REFUSED,
)
async def decide_reorientation(
    beneficiary_id: str,
    request_id: str,
    data: ReorientationDecisionCreate,
    service: ReorientationDep,
) -> ReorientationRead:
    """Acceptée : nouvelle orientation, structure et référent·e, nouveau délai d'un mois pour
    le contrat d'engagement. Une réorientation vers la même orientation et la même structure
    est refusée (409). Refusée : avec son motif. Les deux référent·es sont prévenu·es, la
    personne aussi par courriel si elle en a un."""
    return await service.decide(beneficiary_id, request_id, data)


@router.post(
    "/journeys/{beneficiary_id}/social-review",
    summary="Conclure la revue du parcours social (maintien ou réorientation)",
    responses=REFUSED,
)
async def conclude_social_review(
    beneficiary_id: str, data: SocialReviewConclusion, service: ReorientationDep
) -> JourneyRead:
    return await service.conclude_review(beneficiary_id, data)
