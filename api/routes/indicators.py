"""JSON API of the managers' indicators (and their CSV tables) and of a journey's full story."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api.auth import ApiPrincipal
from api.deps import SessionDep, SettingsDep, TemporalDep
from parcours.indicators.schemas import IndicatorFilter, IndicatorsRead, JourneyStory
from parcours.indicators.service import (
    TABLES,
    IndicatorService,
    JourneyStoryService,
    csv_filename,
    to_csv,
)

router = APIRouter(prefix="/api/v1", tags=["indicateurs"])


async def get_indicator_service(
    session: SessionDep, settings: SettingsDep, principal: ApiPrincipal
) -> IndicatorService:
    return IndicatorService(session, settings, principal)


async def get_story_service(
    session: SessionDep, temporal: TemporalDep, settings: SettingsDep, principal: ApiPrincipal
) -> JourneyStoryService:
    return JourneyStoryService(session, temporal, settings, principal)


IndicatorServiceDep = Annotated[IndicatorService, Depends(get_indicator_service)]
StoryServiceDep = Annotated[JourneyStoryService, Depends(get_story_service)]


@router.get(
    "/indicators",
    summary="Indicateurs d'un département (responsables et administrateurs)",
    responses={403: {"description": "Rôle non autorisé ou autre département"}},
)
async def indicators(
    service: IndicatorServiceDep, f: Annotated[IndicatorFilter, Query()]
) -> IndicatorsRead:
    return await service.read(f)


@router.get(
    "/indicators/export.csv",
    summary="Un tableau des indicateurs en CSV (« ; », UTF-8 avec BOM)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def indicators_csv(
    service: IndicatorServiceDep,
    f: Annotated[IndicatorFilter, Query()],
    table: Annotated[str, Query(description=", ".join(TABLES))] = "mois",
) -> Response:
    read = await service.read(f)
    return csv_response(to_csv(read, table), csv_filename(read, table))


@router.get(
    "/journeys/{beneficiary_id}/story",
    summary="Histoire complète d'un parcours (responsables) : qui a fait quoi, temps par étape",
)
async def journey_story(beneficiary_id: str, service: StoryServiceDep) -> JourneyStory:
    return await service.story(beneficiary_id)


def csv_response(text: str, filename: str) -> Response:
    return Response(
        text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
