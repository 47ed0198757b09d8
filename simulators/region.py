"""The Région: training funding requests and its decisions, sent back to Parcours."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from simulators.faults import Partner, partner_route
from simulators.funding import FundingDesk, add_training_routes

REGION_CEILING = Decimal("8000.00")


def funding_desk(request: Request) -> FundingDesk:
    desk: FundingDesk = request.app.state.partners.region
    return desk


Desk = Annotated[FundingDesk, Depends(funding_desk)]

operations = APIRouter(prefix="/region", tags=["Région"], route_class=partner_route(Partner.REGION))
controls = APIRouter(prefix="/region", tags=["Région — pilotage"])


@controls.get("/_state", summary="Ce que la Région détient")
async def read_state(desk: Desk) -> dict[str, Any]:
    return desk.state()


add_training_routes(operations, controls, funding_desk)

router = APIRouter()
router.include_router(operations)
router.include_router(controls)
