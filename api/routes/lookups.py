"""JSON API of the look-ups a référent asks of the CAF and France Travail for a person."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status
from pydantic import BaseModel, ConfigDict, Field

from api.auth import ApiPrincipal
from api.deps import SessionDep, SettingsDep, TemporalDep
from parcours.partners.lookups import LookupRead, LookupService, LookupStatus
from parcours.partners.messages import REQUEST_ID_PATTERN, LookupPartner

router = APIRouter(prefix="/api/v1", tags=["partenaires"])


class LookupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str | None = Field(
        default=None,
        pattern=REQUEST_ID_PATTERN,
        description=(
            "Identifiant de la demande, choisi par le client : la même demande renvoyée "
            "(double clic, nouvel essai réseau) ne sollicite pas le partenaire deux fois."
        ),
    )


async def lookups(
    session: SessionDep, temporal: TemporalDep, settings: SettingsDep, principal: ApiPrincipal
) -> LookupService:
    return LookupService(session, temporal, settings, principal)


LookupsDep = Annotated[LookupService, Depends(lookups)]

_RESPONSES: dict[int | str, dict[str, str]] = {
    202: {"description": "Le partenaire ne répond pas encore : la réponse ira au carnet"},
    403: {"description": "Votre rôle ne permet pas de modifier ce carnet"},
    404: {"description": "Personne introuvable (ou hors de votre groupe de suivi)"},
    409: {"description": "La personne n'a pas consenti au partage avec ce partenaire"},
    422: {"description": "Il manque ce que le partenaire demande (NIR, numéro d'allocataire)"},
    502: {"description": "Le partenaire a refusé la demande"},
    503: {"description": "Le partenaire n'a pas répondu malgré plusieurs essais"},
}


async def _ask(
    service: LookupService,
    beneficiary_id: str,
    partner: LookupPartner,
    body: LookupCreate | None,
    response: Response,
) -> LookupRead:
    read = await service.request(beneficiary_id, partner, body.request_id if body else None)
    if read.status is LookupStatus.PENDING:
        response.status_code = status.HTTP_202_ACCEPTED
    return read


@router.post(
    "/beneficiaries/{beneficiary_id}/lookups/caf",
    summary="Demander à la CAF le foyer et le droit au RSA de la personne",
    description=(
        "Par le numéro d'allocataire ; la réponse remplit la situation du carnet (source CAF). "
        "Si la CAF ne répond pas dans les quelques secondes, 202 : la demande continue et la "
        "réponse ira au carnet."
    ),
    responses=_RESPONSES,
)
async def lookup_caf(
    beneficiary_id: str, service: LookupsDep, response: Response, body: LookupCreate | None = None
) -> LookupRead:
    return await _ask(service, beneficiary_id, "caf", body, response)


@router.post(
    "/beneficiaries/{beneficiary_id}/lookups/france-travail",
    summary="Demander à France Travail l'inscription et l'identifiant de la personne",
    description=(
        "Par NIR et date de naissance, avec l'accord de la personne pour le partage avec "
        "France Travail ; la réponse remplit le carnet (source France Travail). Si France "
        "Travail ne répond pas dans les quelques secondes, 202 : la demande continue et la "
        "réponse ira au carnet."
    ),
    responses=_RESPONSES,
)
async def lookup_france_travail(
    beneficiary_id: str, service: LookupsDep, response: Response, body: LookupCreate | None = None
) -> LookupRead:
    return await _ask(service, beneficiary_id, "france_travail", body, response)
