"""JSON API of the départements' coded exits: the list a journey is closed with."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ApiPrincipal, SessionDep
from parcours.exits.schemas import ExitCodeRead
from parcours.exits.service import ExitCodeService

router = APIRouter(prefix="/api/v1", tags=["sorties"])


@router.get(
    "/exit-codes",
    summary="Motifs de sortie du département de l'agent (code, libellé, sortie positive)",
)
async def exit_codes(session: SessionDep, principal: ApiPrincipal) -> list[ExitCodeRead]:
    return await ExitCodeService(session).codes(principal.territory)
