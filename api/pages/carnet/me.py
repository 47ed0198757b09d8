"""The person's own space (``/mon-espace``): their carnet to read, their contact details to
correct, with whom their data is shared, follow-up once in work, and their RGPD rights
(download everything, ask for erasure). The same service calls as ``/api/v1/me``."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api.deps import CarnetPagesDep
from api.forms import (
    after_action,
    clean_form,
    content_disposition,
    form_values,
    local_time,
    problems,
)
from api.pages.carnet.view import FORM_LABELS, CarnetPages
from api.templating import templates
from parcours.access.rules import Principal, Role
from parcours.carnet.schemas import ConsentUpdate, ContactUpdate, FollowUpWish
from parcours.core.errors import ParcoursError
from parcours.reorientation.schemas import ASKABLE_REASONS, ReorientationCreate
from parcours.reorientation.service import ReorientationService
from parcours.sanctions.service import SanctionService

router = APIRouter(include_in_schema=False)

# How each partner is named on the page: as a title, and after "Donner mon accord".
PARTNER_TITLES = {
    "caf": ("La CAF", "à la CAF"),
    "france_travail": ("France Travail", "à France Travail"),
    "region": ("La Région (financement des formations)", "à la Région"),
    "structures": ("Les structures vers lesquelles je suis orienté·e", "aux structures"),
}
# What each partner receives when the person agrees (parcours.partners.service).
SHARED_WITH = {
    "caf": "Votre numéro d'allocataire, pour que la CAF transmette vos droits au RSA et la "
    "composition de votre foyer : vous n'avez pas à les redonner.",
    "france_travail": "Votre numéro de sécurité sociale, votre date de naissance, vos nom et "
    "prénom, votre orientation vers France Travail et le nom de votre référent·e, pour votre "
    "inscription et vos demandes d'aide à la formation.",
    "region": "Votre numéro de sécurité sociale, votre date de naissance, vos nom et prénom, la "
    "formation demandée et son montant, pour décider de la financer.",
    "structures": "Vos nom et prénom, votre date de naissance, votre téléphone et votre adresse "
    "électronique (jamais votre numéro de sécurité sociale), quand votre référent·e vous oriente "
    "vers l'un de leurs services.",
}

ME_LABELS = {
    "coordonnees": FORM_LABELS["coordonnees"],
    "partage": {"partner": "Partenaire", "granted": "Accord"},
    "suivi": {"wish": "Suivi dans l'emploi"},
}

# After an action, the result is at the top of the page: a link goes back to its section.
BACK_TO = {
    "sanction-reception": ("#sanctions", "Revenir à la procédure"),
    "sanction-observations": ("#sanctions", "Revenir à la procédure"),
    "sanction-audition": ("#sanctions", "Revenir à la procédure"),
    "coordonnees": ("#coordonnees", "Revenir à « Mes coordonnées »"),
    "partage": ("#partage", "Revenir à « Partage de mes données »"),
    "suivi": ("#suivi", "Revenir à « Suivi dans l'emploi »"),
    "reorientation": ("#reorientation", "Revenir à « Changer d'orientation »"),
}

DONE_MESSAGES = {
    "sanction-reception": "Merci : le délai pour présenter vos observations court à partir de "
    "cette date.",
    "sanction-observations": "Vos observations sont envoyées : elles sont dans vos documents.",
    "sanction-audition": "Votre demande d'audition est envoyée : votre référent·e vous propose "
    "une date.",
    "coordonnees": "Vos coordonnées sont corrigées.",
    "partage": "Votre choix de partage est enregistré.",
    "suivi": "Votre choix pour le suivi dans l'emploi est enregistré.",
    "reorientation": "Votre demande de réorientation est envoyée à l'équipe d'orientation du "
    "département : sa décision et ses motifs s'afficheront ici.",
    "effacement": "Votre demande d'effacement est enregistrée. L'administrateur du département "
    "la traite ; vous pouvez continuer à utiliser votre espace d'ici là.",
}


def _own_id(principal: Principal) -> str | None:
    return principal.beneficiary_id if principal.role is Role.BENEFICIARY else None


async def _render(
    pages: CarnetPages,
    beneficiary_id: str,
    *,
    failed: str | None = None,
    form: dict[str, Any] | None = None,
    errors: list[tuple[str | None, str]] | None = None,
    field_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    carnet = await pages.carnet.read(beneficiary_id, "carnet.mon-espace")
    pending = await pages.carnet.pending_erasure(beneficiary_id)
    reorientation = await _reorientations(pages).panel(beneficiary_id)
    sanctions = await SanctionService(
        pages.session, pages.journeys.temporal, pages.settings, pages.principal
    ).cases_or_none(beneficiary_id)
    return templates.TemplateResponse(
        pages.request,
        "carnet/me.html",
        {
            "c": carnet,
            "b": carnet.beneficiary,
            "j": carnet.journey,
            "shared_with": SHARED_WITH,
            "partner_titles": PARTNER_TITLES,
            "erasure_pending": pending,
            "reo": reorientation,
            "reo_reasons": ASKABLE_REASONS,
            "sanctions": sanctions,
            "done": DONE_MESSAGES.get(pages.request.query_params.get("fait", "")),
            "back": BACK_TO.get(failed or pages.request.query_params.get("fait", "")),
            "failed": failed,
            "form": form or {},
            "errors": errors or [],
            "field_errors": field_errors or {},
            "local": local_time,
        },
        status_code=status_code,
    )


async def _submit(
    pages: CarnetPages,
    beneficiary_id: str,
    name: str,
    call: Callable[[dict[str, Any]], Awaitable[object]],
) -> Response:
    form = await form_values(pages.request)
    try:
        await call(clean_form(form))
    except ValidationError as error:
        labels = ME_LABELS.get(name, {})
        found = problems(error)
        return await _render(
            pages,
            beneficiary_id,
            failed=name,
            form=form,
            errors=[(f"{name}-{f}", f"{labels.get(f, f)} : {m}") for f, m in found],
            field_errors={f: m for f, m in reversed(found)},
            status_code=422,
        )
    except ParcoursError as error:
        await pages.session.rollback()
        return await _render(
            pages,
            beneficiary_id,
            failed=name,
            form=form,
            errors=[(None, error.message)],
            status_code=error.status_code,
        )
    return after_action(f"/mon-espace?fait={name}")


@router.get("/mon-espace")
async def my_space(pages: CarnetPagesDep) -> Response:
    me = _own_id(pages.principal)
    if me is None:
        return RedirectResponse("/parcours", status_code=303)
    return await _render(pages, me)


@router.post("/mon-espace/coordonnees")
async def my_contact(pages: CarnetPagesDep) -> Response:
    me = _own_id(pages.principal)
    if me is None:
        return RedirectResponse("/parcours", status_code=303)

    async def call(values: dict[str, Any]) -> None:
        given = {k: values.get(k) for k in FORM_LABELS["coordonnees"]}
        await pages.carnet.update_contact(me, ContactUpdate.model_validate(given))

    return await _submit(pages, me, "coordonnees", call)


@router.post("/mon-espace/partage")
async def my_consent(pages: CarnetPagesDep) -> Response:
    me = _own_id(pages.principal)
    if me is None:
        return RedirectResponse("/parcours", status_code=303)

    async def call(values: dict[str, Any]) -> None:
        await pages.carnet.set_consent(me, ConsentUpdate.model_validate(values))

    return await _submit(pages, me, "partage", call)


@router.post("/mon-espace/suivi")
async def my_follow_up(pages: CarnetPagesDep) -> Response:
    me = _own_id(pages.principal)
    if me is None:
        return RedirectResponse("/parcours", status_code=303)

    async def call(values: dict[str, Any]) -> None:
        data = FollowUpWish.model_validate(values)
        await pages.carnet.set_follow_up_wish(me, data.wish)

    return await _submit(pages, me, "suivi", call)


def _reorientations(pages: CarnetPages) -> ReorientationService:
    return ReorientationService(
        pages.session, pages.journeys.temporal, pages.settings, pages.principal
    )


@router.post("/mon-espace/reorientation")
async def my_reorientation(pages: CarnetPagesDep) -> Response:
    """The person asks for another orientation, with her reasons."""
    me = _own_id(pages.principal)
    if me is None:
        return RedirectResponse("/parcours", status_code=303)

    async def call(values: dict[str, Any]) -> None:
        await _reorientations(pages).request(me, ReorientationCreate.model_validate(values))

    return await _submit(pages, me, "reorientation", call)


@router.get("/mon-espace/export.json")
async def my_export(pages: CarnetPagesDep) -> Response:
    me = _own_id(pages.principal)
    if me is None:
        return RedirectResponse("/parcours", status_code=303)
    data = await pages.carnet.export(me)
    return Response(
        json.dumps(data, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={"Content-Disposition": content_disposition("mes-donnees-parcours.json")},
    )


@router.get("/mon-espace/documents/{document_id}")
async def my_document(document_id: str, pages: CarnetPagesDep) -> Response:
    me = _own_id(pages.principal)
    if me is None:
        return RedirectResponse("/parcours", status_code=303)
    document = await pages.carnet.document(me, document_id)
    return Response(
        document.data,
        media_type=document.content_type,
        headers={"Content-Disposition": content_disposition(document.filename)},
    )


@router.get("/mon-espace/effacement")
async def erasure_confirmation(pages: CarnetPagesDep) -> Response:
    me = _own_id(pages.principal)
    if me is None:
        return RedirectResponse("/parcours", status_code=303)
    pending = await pages.carnet.pending_erasure(me)
    return templates.TemplateResponse(
        pages.request,
        "carnet/me_effacement.html",
        {"erasure_pending": pending, "local": local_time},
    )


@router.post("/mon-espace/effacement")
async def request_erasure(pages: CarnetPagesDep) -> Response:
    me = _own_id(pages.principal)
    if me is None:
        return RedirectResponse("/parcours", status_code=303)

    async def call(values: dict[str, Any]) -> None:
        await pages.carnet.request_erasure(me)

    return await _submit(pages, me, "effacement", call)
