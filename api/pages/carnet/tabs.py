"""Reading the carnet tab by tab, the journey's own tab, downloading a document, and running a
journey action from the carnet's header (the journey's update; refused with its reason)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from api.deps import CarnetPagesDep, PagePrincipal
from api.forms import content_disposition, form_values
from api.pages.carnet.view import JOURNEY_TAB, TABS, tab_url
from parcours.access.rules import Role
from parcours.core.errors import NotFound
from parcours.core.temporal import UPDATE_ID_PATTERN
from parcours.journey.rules import ACTIONS
from parcours.journey.schemas import ASK_ORIENTATION_DECISION

router = APIRouter(include_in_schema=False)


@router.get("/beneficiaires/{beneficiary_id}")
async def carnet_home(beneficiary_id: str, principal: PagePrincipal) -> Response:
    if principal.role is Role.BENEFICIARY:
        return RedirectResponse("/mon-espace", status_code=303)
    return RedirectResponse(tab_url(beneficiary_id, "situation"), status_code=303)


@router.get("/beneficiaires/{beneficiary_id}/{tab}")
async def carnet_tab(beneficiary_id: str, tab: str, pages: CarnetPagesDep) -> Response:
    if pages.principal.role is Role.BENEFICIARY:
        return RedirectResponse("/mon-espace", status_code=303)
    if tab not in TABS:
        raise NotFound("Cet onglet du carnet n'existe pas.")
    return await pages.render(beneficiary_id, tab)


@router.get("/parcours/{beneficiary_id}")
async def journey_tab(beneficiary_id: str, pages: CarnetPagesDep) -> Response:
    if pages.principal.role is Role.BENEFICIARY:
        return RedirectResponse("/mon-espace", status_code=303)
    return await pages.render(beneficiary_id, JOURNEY_TAB)


@router.get("/beneficiaires/{beneficiary_id}/documents/{document_id}")
async def download_document(
    beneficiary_id: str, document_id: str, pages: CarnetPagesDep
) -> Response:

    document = await pages.carnet.document(beneficiary_id, document_id)
    return Response(
        document.data,
        media_type=document.content_type,
        headers={"Content-Disposition": content_disposition(document.filename)},
    )


@router.post("/parcours/{beneficiary_id}/actions/{name}")
async def journey_action(beneficiary_id: str, name: str, pages: CarnetPagesDep) -> Response:
    """Run one journey action; ``_retour`` names the tab the form was on (default: the
    journey's tab), where the result or the refusal is shown."""
    form = await form_values(pages.request)
    back = form.get("_retour", "")
    tab = back if back in TABS else JOURNEY_TAB
    if name == ASK_ORIENTATION_DECISION:

        async def ask(values: dict[str, Any]) -> None:
            await pages.journeys.ask_orientation_decision(beneficiary_id, pages.principal)

        return await pages.submit(beneficiary_id, tab, name, ask)
    if name not in ACTIONS:
        return await pages.render(
            beneficiary_id, tab, errors=[(None, "Action inconnue.")], status_code=404
        )
    model = ACTIONS[name][0]

    # The form's own id for this action: submitted twice, it is applied once.
    action_id = form.get("_action_id")
    if not (isinstance(action_id, str) and re.fullmatch(UPDATE_ID_PATTERN, action_id)):
        action_id = None

    async def act(values: dict[str, Any]) -> None:
        await pages.journeys.act(
            beneficiary_id, model.model_validate(values), pages.principal, action_id=action_id
        )

    return await pages.submit(beneficiary_id, tab, name, act)
