"""French pages of suspension-remobilisation: the forms of the journey's page (open a case,
date the notice's receipt, the hearing, the équipe pluridisciplinaire, the président's decision
within the bounds and the cap the page shows) and of the person's space (acknowledge receipt,
send observations, ask to be heard). The same service as the JSON API; a refusal comes back on
the page with the rule in French."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import CarnetPagesDep, SanctionsPageDep
from api.pages.carnet.me import _own_id, _submit
from api.pages.carnet.view import JOURNEY_TAB
from parcours.core.errors import NotFound
from parcours.sanctions.schemas import (
    DecisionCreate,
    HearingCreate,
    HearingRequestCreate,
    ObservationsCreate,
    ReceiptCreate,
    SanctionOpen,
    TeamOpinionCreate,
)

router = APIRouter(include_in_schema=False)


@router.post("/beneficiaires/{beneficiary_id}/sanctions")
async def open_sanction(
    beneficiary_id: str, pages: CarnetPagesDep, service: SanctionsPageDep
) -> Response:
    async def call(values: dict[str, Any]) -> None:
        await service.open(beneficiary_id, SanctionOpen.model_validate(values))

    return await pages.submit(beneficiary_id, JOURNEY_TAB, "sanction", call)


@router.post("/beneficiaires/{beneficiary_id}/sanctions/{case_id}/reception")
async def record_receipt(
    beneficiary_id: str, case_id: str, pages: CarnetPagesDep, service: SanctionsPageDep
) -> Response:
    async def call(values: dict[str, Any]) -> None:
        await service.record_receipt(beneficiary_id, case_id, ReceiptCreate.model_validate(values))

    return await pages.submit(beneficiary_id, JOURNEY_TAB, "sanction-reception", call)


@router.post("/beneficiaires/{beneficiary_id}/sanctions/{case_id}/audition")
async def record_hearing(
    beneficiary_id: str, case_id: str, pages: CarnetPagesDep, service: SanctionsPageDep
) -> Response:
    async def call(values: dict[str, Any]) -> None:
        await service.record_hearing(beneficiary_id, case_id, HearingCreate.model_validate(values))

    return await pages.submit(beneficiary_id, JOURNEY_TAB, "sanction-audition", call)


@router.post("/beneficiaires/{beneficiary_id}/sanctions/{case_id}/equipe")
async def record_team_opinion(
    beneficiary_id: str, case_id: str, pages: CarnetPagesDep, service: SanctionsPageDep
) -> Response:
    async def call(values: dict[str, Any]) -> None:
        members = str(values.get("member_ids", ""))
        values["member_ids"] = [m.strip() for m in members.split(",") if m.strip()]
        await service.record_team_opinion(
            beneficiary_id, case_id, TeamOpinionCreate.model_validate(values)
        )

    return await pages.submit(beneficiary_id, JOURNEY_TAB, "sanction-equipe", call)


@router.post("/beneficiaires/{beneficiary_id}/sanctions/{case_id}/decision")
async def decide(
    beneficiary_id: str, case_id: str, pages: CarnetPagesDep, service: SanctionsPageDep
) -> Response:
    async def call(values: dict[str, Any]) -> None:
        await service.decide(beneficiary_id, case_id, DecisionCreate.model_validate(values))

    return await pages.submit(beneficiary_id, JOURNEY_TAB, "sanction-decision", call)


# --- The person's space ---


def _her(pages: CarnetPagesDep) -> str:
    own = _own_id(pages.principal)
    if own is None:
        raise NotFound("Page introuvable.")
    return own


@router.post("/mon-espace/sanctions/{case_id}/reception")
async def my_receipt(case_id: str, pages: CarnetPagesDep, service: SanctionsPageDep) -> Response:
    me = _her(pages)

    async def call(values: dict[str, Any]) -> None:
        await service.record_receipt(me, case_id, ReceiptCreate.model_validate(values))

    return await _submit(pages, me, "sanction-reception", call)


@router.post("/mon-espace/sanctions/{case_id}/observations")
async def my_observations(
    case_id: str, pages: CarnetPagesDep, service: SanctionsPageDep
) -> Response:
    me = _her(pages)

    async def call(values: dict[str, Any]) -> None:
        await service.send_observations(me, case_id, ObservationsCreate.model_validate(values))

    return await _submit(pages, me, "sanction-observations", call)


@router.post("/mon-espace/sanctions/{case_id}/audition")
async def my_hearing_request(
    case_id: str, pages: CarnetPagesDep, service: SanctionsPageDep
) -> Response:
    me = _her(pages)

    async def call(values: dict[str, Any]) -> None:
        await service.request_hearing(me, case_id, HearingRequestCreate.model_validate(values))

    return await _submit(pages, me, "sanction-audition", call)
