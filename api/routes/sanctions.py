"""JSON API of suspension-remobilisation cases (décret 2025-478): opened by the référente
from a breach, the notice's receipt, the person's observations and hearing, the équipe
pluridisciplinaire, the président's decision. A step the case does not allow now (a decision
outside the legal bounds, before the answer window ends, without a dated notice) is a 409
with the rule in French."""

from typing import Any

from fastapi import APIRouter, status

from api.deps import SanctionsDep
from parcours.sanctions.schemas import (
    DecisionCreate,
    HearingCreate,
    HearingRequestCreate,
    ObservationsCreate,
    ReceiptCreate,
    SanctionCaseRead,
    SanctionOpen,
    TeamOpinionCreate,
)

router = APIRouter(prefix="/api/v1", tags=["suspension-remobilisation"])

REFUSED: dict[int | str, dict[str, Any]] = {
    409: {"description": "Refusé par la règle (motif en français)"}
}
BASE = "/beneficiaries/{beneficiary_id}/sanctions"


@router.post(
    BASE,
    status_code=status.HTTP_201_CREATED,
    summary="Ouvrir une procédure de suspension-remobilisation pour un manquement",
    responses=REFUSED,
)
async def open_sanction(
    beneficiary_id: str, data: SanctionOpen, service: SanctionsDep
) -> SanctionCaseRead:
    return await service.open(beneficiary_id, data)


@router.get(BASE, summary="Les procédures de la personne, la plus récente d'abord")
async def list_sanctions(beneficiary_id: str, service: SanctionsDep) -> list[SanctionCaseRead]:
    return await service.cases(beneficiary_id)


@router.get(BASE + "/{case_id}", summary="Une procédure, ses délais et ses bornes légales")
async def read_sanction(
    beneficiary_id: str, case_id: str, service: SanctionsDep
) -> SanctionCaseRead:
    return await service.read(beneficiary_id, case_id)


@router.post(
    BASE + "/{case_id}/receipt",
    summary="Dater la réception du courrier (référente, ou la personne qui en accuse réception)",
    responses=REFUSED,
)
async def record_receipt(
    beneficiary_id: str, case_id: str, data: ReceiptCreate, service: SanctionsDep
) -> SanctionCaseRead:
    return await service.record_receipt(beneficiary_id, case_id, data)


@router.post(
    BASE + "/{case_id}/observations",
    summary="La personne présente ses observations (dans le délai)",
    responses=REFUSED,
)
async def send_observations(
    beneficiary_id: str, case_id: str, data: ObservationsCreate, service: SanctionsDep
) -> SanctionCaseRead:
    return await service.send_observations(beneficiary_id, case_id, data)


@router.post(
    BASE + "/{case_id}/hearing-request",
    summary="La personne demande à être entendue, accompagnée si elle le souhaite",
    responses=REFUSED,
)
async def request_hearing(
    beneficiary_id: str, case_id: str, data: HearingRequestCreate, service: SanctionsDep
) -> SanctionCaseRead:
    return await service.request_hearing(beneficiary_id, case_id, data)


@router.post(
    BASE + "/{case_id}/hearing", summary="Enregistrer l'audition de la personne", responses=REFUSED
)
async def record_hearing(
    beneficiary_id: str, case_id: str, data: HearingCreate, service: SanctionsDep
) -> SanctionCaseRead:
    return await service.record_hearing(beneficiary_id, case_id, data)


@router.post(
    BASE + "/{case_id}/team-opinion",
    summary="Enregistrer la séance et l'avis de l'équipe pluridisciplinaire",
    responses=REFUSED,
)
async def record_team_opinion(
    beneficiary_id: str, case_id: str, data: TeamOpinionCreate, service: SanctionsDep
) -> SanctionCaseRead:
    return await service.record_team_opinion(beneficiary_id, case_id, data)


@router.post(
    BASE + "/{case_id}/decision",
    summary="La décision du président, dans les bornes légales (plafond calculé du foyer)",
    responses=REFUSED,
)
async def decide(
    beneficiary_id: str, case_id: str, data: DecisionCreate, service: SanctionsDep
) -> SanctionCaseRead:
    return await service.decide(beneficiary_id, case_id, data)
