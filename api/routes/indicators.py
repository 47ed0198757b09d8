"""JSON API of the managers' indicators (and their CSV tables) and of a journey's full story."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import IndicatorsDep, StoryDep
from parcours.core.schemas import TERRITORY_PATTERN
from parcours.indicators.schemas import IndicatorFilter, IndicatorsRead, JourneyStory
from parcours.indicators.service import (
    TABLES,
    csv_filename,
    exits_csv,
    exits_filename,
    orientation_csv,
    orientation_filename,
    to_csv,
)

router = APIRouter(prefix="/api/v1", tags=["indicateurs"])


@router.get(
    "/indicators",
    summary="Indicateurs d'un département (responsables et administrateurs)",
    responses={403: {"description": "Rôle non autorisé ou autre département"}},
)
async def indicators(
    service: IndicatorsDep, f: Annotated[IndicatorFilter, Query()]
) -> IndicatorsRead:
    return await service.read(f)


@router.get(
    "/indicators/export.csv",
    summary="Un tableau des indicateurs en CSV (« ; », UTF-8 avec BOM)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def indicators_csv(
    service: IndicatorsDep,
    f: Annotated[IndicatorFilter, Query()],
    table: Annotated[str, Query(description=", ".join(TABLES))] = "mois",
) -> Response:
    read = await service.read(f)
    return csv_response(to_csv(read, table), csv_filename(read, table))


@router.get(
    "/indicators/exits.csv",
    summary="Sorties d'une année, une ligne par parcours clôturé (bilans FSE+ et PDI)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def exits_export(
    service: IndicatorsDep,
    year: Annotated[int, Query(ge=2000, le=2100)],
    territory: Annotated[str | None, Query(pattern=TERRITORY_PATTERN)] = None,
) -> Response:
    export = await service.exit_lines(territory, year)
    return csv_response(exits_csv(export), exits_filename(export))


@router.get(
    "/indicators/orientations.csv",
    summary="Données d'orientation par mois pour les comités pour l'emploi",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def orientation_export(
    service: IndicatorsDep, f: Annotated[IndicatorFilter, Query()]
) -> Response:
    report = await service.orientation_months(f)
    return csv_response(orientation_csv(report), orientation_filename(report))


@router.get(
    "/journeys/{beneficiary_id}/story",
    summary="Histoire complète d'un parcours (responsables) : qui a fait quoi, temps par étape",
)
async def journey_story(beneficiary_id: str, service: StoryDep) -> JourneyStory:
    return await service.story(beneficiary_id)


def csv_response(text: str, filename: str) -> Response:
    return Response(
        text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
