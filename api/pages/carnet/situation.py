"""The carnet's situation tab: situation facts, the person's contact details, and opening the
person's own space (an account and a one-time link)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import CarnetPagesDep
from api.pages.carnet.view import FORM_LABELS
from parcours.carnet.schemas import ContactUpdate, FactCreate
from parcours.core.errors import ParcoursError

router = APIRouter(include_in_schema=False)


@router.post("/beneficiaires/{beneficiary_id}/situation/faits")
async def add_fact(beneficiary_id: str, pages: CarnetPagesDep) -> Response:
    async def call(values: dict[str, Any]) -> None:
        await pages.carnet.add_fact(beneficiary_id, FactCreate.model_validate(values))

    return await pages.submit(beneficiary_id, "situation", "fait", call)


@router.post("/beneficiaires/{beneficiary_id}/situation/coordonnees")
async def update_contact(beneficiary_id: str, pages: CarnetPagesDep) -> Response:
    async def call(values: dict[str, Any]) -> None:
        # A field left blank clears it: every field of the form is given.
        given = {k: values.get(k) for k in FORM_LABELS["coordonnees"]}
        await pages.carnet.update_contact(beneficiary_id, ContactUpdate.model_validate(given))

    return await pages.submit(beneficiary_id, "situation", "coordonnees", call)


@router.post("/beneficiaires/{beneficiary_id}/situation/acces")
async def give_access(beneficiary_id: str, pages: CarnetPagesDep) -> Response:
    """Create the person's own account if missing, and a one-time link to choose a password."""
    try:
        user, token = await pages.carnet.invite_person(beneficiary_id)
    except ParcoursError as error:
        await pages.session.rollback()
        return await pages.render(
            beneficiary_id,
            "situation",
            failed="acces",
            errors=[(None, error.message)],
            status_code=error.status_code,
        )
    link = pages.carnet.access_link(token)
    return await pages.render(
        beneficiary_id,
        "situation",
        extra={
            "invitation": {
                "link": link,
                "email": user.email,
                "days": pages.settings.invitation_days,
            }
        },
    )
