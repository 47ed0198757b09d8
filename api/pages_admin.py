"""Administration pages: the erasure requests people made from their space, carried out by an
administrator of their département (with a confirmation step)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import PagePrincipal
from api.deps import JourneyServiceDep, SessionDep
from api.pages_carnet import local_time
from api.templating import templates
from parcours.access.rules import Principal, Role
from parcours.carnet.repository import CarnetRepository
from parcours.carnet.service import erase_person
from parcours.core.errors import Forbidden, NotFound, ParcoursError
from parcours.journey.messages import Step
from parcours.journey.schemas import STEP_LABELS
from parcours.journey.service import JourneyService

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class PendingErasure:
    request_id: str
    beneficiary_id: str
    full_name: str
    territory: str
    step_label: str
    requested_at: datetime


def _admin(principal: Principal) -> Principal:
    if principal.role is not Role.ADMIN:
        raise Forbidden("Cette page est réservée aux administrateurs.")
    return principal


async def _pending(journeys: JourneyService, principal: Principal) -> list[PendingErasure]:
    """The pending requests of the administrator's département."""
    found = []
    for request in await CarnetRepository(journeys.session).erasure_requests():
        person = await journeys.people.beneficiary(request.beneficiary_id)
        if person is None or person.territory != principal.territory:
            continue
        journey = await journeys.journeys.get(request.beneficiary_id)
        found.append(
            PendingErasure(
                request_id=request.id,
                beneficiary_id=person.id,
                full_name=f"{person.first_name} {person.last_name}",
                territory=person.territory,
                step_label=STEP_LABELS[Step(journey.step)] if journey else "—",
                requested_at=request.requested_at,
            )
        )
    return found


async def _list_page(
    request: Request,
    journeys: JourneyService,
    principal: Principal,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return templates.TemplateResponse(
        request,
        "admin_effacements.html",
        {
            "pending": await _pending(journeys, principal),
            "done": request.query_params.get("fait") == "effacement",
            "error": error,
            "local": local_time,
        },
        status_code=status_code,
    )


async def _one(journeys: JourneyService, principal: Principal, request_id: str) -> PendingErasure:
    for pending in await _pending(journeys, principal):
        if pending.request_id == request_id:
            return pending
    raise NotFound("Demande d'effacement introuvable ou déjà traitée.")


@router.get("/admin/effacements")
async def erasure_requests(
    request: Request, journeys: JourneyServiceDep, principal: PagePrincipal
) -> Response:
    return await _list_page(request, journeys, _admin(principal))


@router.get("/admin/effacements/{request_id}")
async def erasure_confirmation(
    request: Request, request_id: str, journeys: JourneyServiceDep, principal: PagePrincipal
) -> Response:
    pending = await _one(journeys, _admin(principal), request_id)
    return templates.TemplateResponse(
        request, "admin_effacement.html", {"p": pending, "local": local_time}
    )


@router.post("/admin/effacements/{request_id}")
async def erase(
    request: Request,
    request_id: str,
    journeys: JourneyServiceDep,
    session: SessionDep,
    principal: PagePrincipal,
) -> Response:
    admin = _admin(principal)
    pending = await _one(journeys, admin, request_id)
    try:
        await erase_person(session, journeys, pending.beneficiary_id, admin)
    except ParcoursError as error:
        await session.rollback()
        return await _list_page(
            request, journeys, admin, error=error.message, status_code=error.status_code
        )
    return RedirectResponse("/admin/effacements?fait=effacement", status_code=303)
