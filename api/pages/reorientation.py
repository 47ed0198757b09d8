"""The journey page's reorientation forms (``/parcours/{id}``): the référent asks, the
orientation team decides, the référent concludes the social track's review. Each runs the
same service as the JSON API and comes back to the journey's page, with the refusal shown
there and the form as typed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import CarnetPagesDep
from api.pages.carnet.view import JOURNEY_TAB
from parcours.reorientation.schemas import (
    ReorientationCreate,
    ReorientationDecisionCreate,
    SocialReviewConclusion,
)
from parcours.reorientation.service import ReorientationService

router = APIRouter(include_in_schema=False)


def _service(pages: Any) -> ReorientationService:
    return ReorientationService(
        pages.session, pages.journeys.temporal, pages.settings, pages.principal
    )


@router.post("/parcours/{beneficiary_id}/reorientation")
async def request_reorientation(beneficiary_id: str, pages: CarnetPagesDep) -> Response:
    async def call(values: dict[str, Any]) -> None:
        await _service(pages).request(beneficiary_id, ReorientationCreate.model_validate(values))

    return await pages.submit(
        beneficiary_id,
        JOURNEY_TAB,
        "reorientation",
        call,
        then=f"/parcours/{beneficiary_id}?fait=reorientation#reorientation",
    )


@router.post("/parcours/{beneficiary_id}/reorientation/{request_id}/decision")
async def decide_reorientation(
    beneficiary_id: str, request_id: str, pages: CarnetPagesDep
) -> Response:
    async def call(values: dict[str, Any]) -> None:
        values = {**values, "after_team_meeting": values.get("after_team_meeting") == "true"}
        data = ReorientationDecisionCreate.model_validate(values)
        await _service(pages).decide(beneficiary_id, request_id, data)

    return await pages.submit(
        beneficiary_id,
        JOURNEY_TAB,
        "reorientation_decision",
        call,
        then=f"/parcours/{beneficiary_id}?fait=reorientation_decision#reorientation",
    )


@router.post("/parcours/{beneficiary_id}/revue-sociale")
async def conclude_social_review(beneficiary_id: str, pages: CarnetPagesDep) -> Response:
    async def call(values: dict[str, Any]) -> None:
        data = SocialReviewConclusion.model_validate(values)
        await _service(pages).conclude_review(beneficiary_id, data)

    return await pages.submit(
        beneficiary_id,
        JOURNEY_TAB,
        "revue_sociale",
        call,
        then=f"/parcours/{beneficiary_id}?fait=revue_sociale#revue-sociale",
    )
