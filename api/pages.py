"""French pages (Jinja2 + DSFR): the journeys list, enrolment and a journey with its actions.

They call the same services as the JSON API; a refused action is shown as a message and the
form keeps what was typed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.auth import CSRF_FIELD, OptionalPrincipal, PagePrincipal
from api.pages_auth import home_of
from api.deps import JourneyServiceDep, SessionDep
from api.templating import templates
from parcours import access
from parcours.access import Principal
from parcours.errors import ParcoursError
from parcours.journey.rules import ACTIONS
from parcours.journey.steps import (
    CONTRACT_LABELS,
    EXIT_LABELS,
    ORIENTATION_LABELS,
    STEP_LABELS,
    Step,
)
from parcours.repositories.journeys import JourneyFilter
from parcours.repositories.people import PeopleRepository
from parcours.schemas import BeneficiaryCreate

router = APIRouter(include_in_schema=False)

FIELD_LABELS = {
    "first_name": "Prénom",
    "last_name": "Nom",
    "birth_date": "Date de naissance",
    "nir": "Numéro de sécurité sociale",
    "email": "Adresse électronique",
    "postal_code": "Code postal",
    "territory": "Département",
    "rsa_opened_on": "Date d'ouverture du RSA",
    "referent_id": "Référent",
    "structure_id": "Structure",
    "kind": "Orientation",
    "signed_on": "Date de signature",
    "ends_on": "Date de fin",
    "weekly_hours": "Heures d'activité par semaine",
    "started_on": "Date de début",
    "contract": "Type de contrat",
    "exit_reason": "Motif de clôture",
    "until": "Jusqu'au",
    "month": "Mois",
    "still_employed": "Toujours en emploi",
    "consent": "Suivi accepté",
    "follow_up_consent": "Suivi dans l'emploi",
}


def _errors(error: ValidationError) -> list[str]:
    messages = []
    for item in error.errors():
        field = str(item["loc"][-1]) if item["loc"] else ""
        label = FIELD_LABELS.get(field, field)
        messages.append(f"{label} : {_french(item)}")
    return messages


def _french(item: Any) -> str:
    kind = item["type"]
    if kind == "missing":
        return "ce champ est obligatoire."
    if kind.startswith(("date", "datetime")):
        return "date invalide (format attendu : JJ/MM/AAAA)."
    if kind == "string_pattern_mismatch":
        return "format invalide."
    if kind in ("int_parsing", "int_type"):
        return "nombre entier attendu."
    if kind == "value_error":
        return str(item["msg"]).removeprefix("Value error, ") + "."
    return str(item["msg"])


def _clean(form: dict[str, Any]) -> dict[str, Any]:
    """Empty form fields mean 'not given'."""
    return {
        k: v
        for k, v in form.items()
        if v not in ("", None) and not k.startswith("_") and k != CSRF_FIELD
    }


def error_page(request: Request, error: ParcoursError) -> Response:
    return templates.TemplateResponse(
        request, "error.html", {"message": error.message}, status_code=error.status_code
    )


async def _choices(session: Any) -> dict[str, Any]:
    people = PeopleRepository(session)
    return {
        "referents": await people.referents(),
        "structures": await people.all_structures(),
        "orientations": ORIENTATION_LABELS,
        "contracts": CONTRACT_LABELS,
        "exits": EXIT_LABELS,
        "steps": STEP_LABELS,
    }


@router.get("/")
async def home(principal: OptionalPrincipal) -> RedirectResponse:
    if principal is None:
        return RedirectResponse("/connexion", status_code=303)
    return RedirectResponse(home_of(principal), status_code=303)


@router.get("/parcours", response_class=HTMLResponse)
async def journeys_page(
    request: Request,
    service: JourneyServiceDep,
    principal: PagePrincipal,
    step: Annotated[str | None, Query()] = None,
    stalled: Annotated[str | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    step_value = step if step in {s.value for s in Step} else None
    f = JourneyFilter(step=step_value, stalled=True if stalled == "1" else None, search=q or None)
    size = 25
    result = await service.list(f, limit=size, offset=(page - 1) * size, principal=principal)
    counts = await service.journeys.count_by_step(access.visible_journeys(principal))
    return templates.TemplateResponse(
        request,
        "journeys.html",
        {
            "page_result": result,
            "counts": counts,
            "steps": STEP_LABELS,
            "filters": {"step": step_value, "stalled": stalled == "1", "q": q or ""},
            "page": page,
            "pages": max(1, -(-result.total // size)),
        },
    )


@router.get("/parcours/nouveau", response_class=HTMLResponse)
async def enrol_form(request: Request, session: SessionDep, principal: PagePrincipal) -> Response:
    return templates.TemplateResponse(
        request,
        "enrol.html",
        {"form": {"territory": "73"}, "errors": [], **await _choices(session)},
    )


@router.post("/parcours/nouveau", response_class=HTMLResponse)
async def enrol_submit(
    request: Request, service: JourneyServiceDep, session: SessionDep, principal: PagePrincipal
) -> Response:
    form = dict(await request.form())
    try:
        data = BeneficiaryCreate.model_validate(_clean(form))
        enrolment = await service.enrol(data, principal)
        await session.commit()
    except ValidationError as error:
        return templates.TemplateResponse(
            request,
            "enrol.html",
            {"form": form, "errors": _errors(error), **await _choices(session)},
            status_code=422,
        )
    except ParcoursError as error:
        # The person may already be flushed (Temporal down): the page returns normally, so
        # the request's transaction would commit a person without a journey.
        await session.rollback()
        return templates.TemplateResponse(
            request,
            "enrol.html",
            {"form": form, "errors": [error.message], **await _choices(session)},
            status_code=error.status_code,
        )
    return RedirectResponse(
        f"/parcours/{enrolment.beneficiary.id}?fait=inscription", status_code=303
    )


async def _journey_page(
    request: Request,
    service: JourneyServiceDep,
    principal: Principal,
    beneficiary_id: str,
    *,
    errors: list[str] | None = None,
    form: dict[str, Any] | None = None,
    action: str | None = None,
    status_code: int = 200,
) -> Response:
    detail = await service.detail(beneficiary_id, principal)
    return templates.TemplateResponse(
        request,
        "journey.html",
        {
            "d": detail,
            "errors": errors or [],
            "form": form or {},
            "failed_action": action,
            "done": request.query_params.get("fait"),
            "temporal_ui": request.app.state.settings.temporal_ui_url,
            **await _choices(service.session),
        },
        status_code=status_code,
    )


@router.get("/parcours/{beneficiary_id}", response_class=HTMLResponse)
async def journey_page(
    request: Request, beneficiary_id: str, service: JourneyServiceDep, principal: PagePrincipal
) -> Response:
    return await _journey_page(request, service, principal, beneficiary_id)


@router.post("/parcours/{beneficiary_id}/actions/{name}", response_class=HTMLResponse)
async def journey_action(
    request: Request,
    beneficiary_id: str,
    name: str,
    service: JourneyServiceDep,
    principal: PagePrincipal,
) -> Response:
    if name not in ACTIONS:
        return await _journey_page(
            request,
            service,
            principal,
            beneficiary_id,
            errors=["Action inconnue."],
            status_code=404,
        )
    model, _ = ACTIONS[name]
    form = dict(await request.form())
    try:
        await service.act(beneficiary_id, model.model_validate(_clean(form)), principal)
    except ValidationError as error:
        return await _journey_page(
            request,
            service,
            principal,
            beneficiary_id,
            errors=_errors(error),
            form=form,
            action=name,
            status_code=422,
        )
    except ParcoursError as error:
        return await _journey_page(
            request,
            service,
            principal,
            beneficiary_id,
            errors=[error.message],
            form=form,
            action=name,
            status_code=error.status_code,
        )
    return RedirectResponse(f"/parcours/{beneficiary_id}?fait={name}", status_code=303)
