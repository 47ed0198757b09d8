"""Pages of training requests (French, DSFR, no script).

- The funders' console (``/financeurs/demandes``): the requests addressed to the funder's body,
  filtered by status, age and territory; one request with only what the person consented to
  share; the forms to ask for more information, approve or refuse.
- The référents' side: the "Demander cette formation" form of a training's page, and, in the
  carnet's "Contrat et plan d'action" tab, the answer to a funder's question and the end of a
  training.

They call the same services as the JSON API; an invalid or refused form shows its page again
with the reason and what was typed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from api.deps import (
    CarnetPagesDep,
    FunderConsolePageDep,
    PagePrincipal,
    SessionDep,
    SettingsDep,
    TemporalDep,
)
from api.forms import after_action, clean_form, form_values, french_problem, local_time
from api.pages.carnet.consent_links import Remedy, remedy_of
from api.pages.carnet.view import CarnetPages
from api.templating import templates
from parcours.access.rules import Principal, Role
from parcours.core.errors import ParcoursError
from parcours.core.settings import Settings
from parcours.resources.service import ResourceBaseService
from parcours.training_requests.messages import TrainingStatus
from parcours.training_requests.rules import UNDECIDED
from parcours.training_requests.schemas import (
    AGE_FILTERS,
    STATUS_LABELS,
    AnswerCreate,
    ApprovalCreate,
    FunderRequestRead,
    MoreInfoCreate,
    RefusalCreate,
    TrainingEndCreate,
    TrainingRequestCreate,
)
from parcours.training_requests.service import (
    STALLED,
    FunderConsoleService,
    FunderQuery,
    TrainingRequestService,
)

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25
STATUS_FILTERS = [
    (STALLED, "En retard (délai de réponse dépassé)"),
    *((s.value, label) for s, label in STATUS_LABELS.items()),
]
FIELD_LABELS = {
    "beneficiary_id": "Personne",
    "requested_amount": "Coût de la formation",
    "message": "Message au financeur",
    "question": "Votre question",
    "start_date": "Date de début",
    "amount": "Montant accordé",
    "reference": "Votre référence",
    "reason": "Motif du refus",
    "answer": "Votre réponse",
    "ended_on": "Date de fin",
    "completed": "La formation",
}
FUNDER_DONE = {
    "informations": "Votre question est envoyée au référent.",
    "accord": "La formation est accordée : le référent et la personne en sont informés.",
    "refus": "Le refus est enregistré avec son motif.",
}


def _problems(error: ValidationError) -> list[tuple[str, str]]:
    """Each invalid field with what is wrong, in French (amounts included)."""
    found = []
    for item in error.errors():
        names = [str(part) for part in item["loc"] if not isinstance(part, int)]
        field = names[-1] if names else ""
        if item["type"].startswith("decimal"):
            message = "montant invalide (en euros, par exemple 1850 ou 1850,50)."
        else:
            message = french_problem(item)
        found.append((field, message))
    return found


def _amounts(values: dict[str, Any], *names: str) -> dict[str, Any]:
    """French amounts ("1 850,50 €") as the models read them ("1850.50")."""
    cleaned = dict(values)
    for name in names:
        if isinstance(cleaned.get(name), str):
            text = cleaned[name].replace("€", "").replace("\u202f", "").replace("\xa0", "")
            cleaned[name] = text.replace(" ", "").replace(",", ".")
    return cleaned


def _errors(
    found: list[tuple[str, str]], form: str
) -> tuple[list[tuple[str | None, str]], dict[str, str]]:
    errors: list[tuple[str | None, str]] = []
    by_field: dict[str, str] = {}
    for field, message in found:
        if field in FIELD_LABELS:
            by_field.setdefault(field, message)
            errors.append((f"{form}-{field}", f"{FIELD_LABELS[field]} : {message}"))
        else:
            errors.append((None, message))
    return errors, by_field


# --- The funders' console ---


@router.get("/financeurs/demandes", response_class=HTMLResponse)
async def requests_page(
    request: Request,
    console: FunderConsolePageDep,
    statut: Annotated[str | None, Query(max_length=30)] = None,
    anciennete: Annotated[str | None, Query(max_length=10)] = None,
    territoire: Annotated[str | None, Query(max_length=3)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    statuses = {value for value, _ in STATUS_FILTERS}
    filters = {
        "statut": statut if statut in statuses else "",
        "anciennete": anciennete if anciennete in AGE_FILTERS else "",
        "territoire": territoire or "",
    }
    territories = await console.territories()
    if filters["territoire"] not in territories:
        filters["territoire"] = ""
    result = await console.list(
        FunderQuery(
            filters["statut"] or None, filters["anciennete"] or None, filters["territoire"]
        ),
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    here = {k: v for k, v in filters.items() if v}
    return templates.TemplateResponse(
        request,
        "training_requests/funder_requests.html",
        {
            "result": result,
            "filters": filters,
            "statuses": STATUS_FILTERS,
            "ages": [(key, label) for key, (label, _, _) in AGE_FILTERS.items()],
            "territories": territories,
            "page": page,
            "pages": max(1, -(-result.total // PAGE_SIZE)),
            "page_link": lambda p: "?" + urlencode({**here, "page": p}),
            "local": local_time,
        },
    )


async def _request_page(
    request: Request,
    console: FunderConsoleService,
    request_id: str,
    *,
    failed: str | None = None,
    form: dict[str, Any] | None = None,
    errors: list[tuple[str | None, str]] | None = None,
    field_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    read: FunderRequestRead = await console.read(request_id)
    approval = {
        "start_date": (read.training.start_on.isoformat() if read.training else ""),
        "amount": str(read.requested_amount) if read.requested_amount is not None else "",
    }
    return templates.TemplateResponse(
        request,
        "training_requests/funder_request.html",
        {
            "r": read,
            "undecided": read.status in UNDECIDED,
            "may_ask": read.status is TrainingStatus.SUBMITTED,
            "done": FUNDER_DONE.get(request.query_params.get("fait", "")),
            "failed": failed,
            "form": form or {},
            "approval": approval,
            "errors": errors or [],
            "field_errors": field_errors or {},
            "local": local_time,
        },
        status_code=status_code,
    )


@router.get("/financeurs/demandes/{request_id}", response_class=HTMLResponse)
async def request_page(
    request: Request, request_id: str, console: FunderConsolePageDep
) -> Response:
    return await _request_page(request, console, request_id)


async def _decide(
    request: Request,
    session: AsyncSession,
    console: FunderConsoleService,
    request_id: str,
    name: str,
    call: Callable[[dict[str, Any]], Awaitable[object]],
) -> Response:
    form = await form_values(request)
    try:
        await call(_amounts(clean_form(form), "amount"))
    except ValidationError as error:
        errors, by_field = _errors(_problems(error), name)
        return await _request_page(
            request,
            console,
            request_id,
            failed=name,
            form=form,
            errors=errors,
            field_errors=by_field,
            status_code=422,
        )
    except ParcoursError as error:
        await session.rollback()
        if error.status_code in (403, 404):
            raise
        return await _request_page(
            request,
            console,
            request_id,
            failed=name,
            form=form,
            errors=[(None, error.message)],
            status_code=error.status_code,
        )
    return after_action(f"/financeurs/demandes/{request_id}?fait={name}")


@router.post("/financeurs/demandes/{request_id}/informations")
async def ask_more_info(
    request: Request, request_id: str, session: SessionDep, console: FunderConsolePageDep
) -> Response:
    async def call(values: dict[str, Any]) -> None:
        await console.ask_more_info(request_id, MoreInfoCreate.model_validate(values))

    return await _decide(request, session, console, request_id, "informations", call)


@router.post("/financeurs/demandes/{request_id}/accord")
async def approve(
    request: Request, request_id: str, session: SessionDep, console: FunderConsolePageDep
) -> Response:
    async def call(values: dict[str, Any]) -> None:
        await console.approve(request_id, ApprovalCreate.model_validate(values))

    return await _decide(request, session, console, request_id, "accord", call)


@router.post("/financeurs/demandes/{request_id}/refus")
async def refuse(
    request: Request, request_id: str, session: SessionDep, console: FunderConsolePageDep
) -> Response:
    async def call(values: dict[str, Any]) -> None:
        await console.refuse(request_id, RefusalCreate.model_validate(values))

    return await _decide(request, session, console, request_id, "refus", call)


# --- Référents: request a training from its page ---


async def training_request_context(
    session: AsyncSession,
    temporal: Client,
    settings: Settings,
    principal: Principal,
    pour: str | None,
) -> dict[str, Any]:
    """What the training page needs for its "Demander cette formation" form."""
    if principal.role is not Role.REFERENT:
        return {"may_request": False}
    service = TrainingRequestService(session, temporal, settings, principal)
    return {
        "may_request": True,
        "request_people": [(p.id, p.label) for p in await service.candidates()],
        "request_form": {"beneficiary_id": pour or ""},
        "request_errors": [],
        "request_field_errors": {},
    }


@router.post("/ressources/formations/{training_id}/demandes", response_class=HTMLResponse)
async def request_training(
    request: Request,
    training_id: str,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    principal: PagePrincipal,
) -> Response:
    form = await form_values(request)
    service = TrainingRequestService(session, temporal, settings, principal)
    values = _amounts(clean_form(form), "requested_amount")
    values["training_id"] = training_id
    try:
        data = TrainingRequestCreate.model_validate(values)
        await service.request(data)
    except ValidationError as error:
        errors, by_field = _errors(_problems(error), "demande")
        return await _training_page(
            request, session, temporal, settings, principal, training_id, form, errors, by_field
        )
    except ParcoursError as error:
        await session.rollback()
        pour = urlencode({"pour": values.get("beneficiary_id", "")})
        back = f"/ressources/formations/{training_id}?{pour}"
        return await _training_page(
            request,
            session,
            temporal,
            settings,
            principal,
            training_id,
            form,
            [(None, error.message)],
            {},
            error.status_code,
            remedy_of(error, back),
        )
    return after_action(f"/beneficiaires/{data.beneficiary_id}/contrat?demande=envoyee")


async def _training_page(
    request: Request,
    session: AsyncSession,
    temporal: Client,
    settings: Settings,
    principal: Principal,
    training_id: str,
    form: dict[str, Any],
    errors: list[tuple[str | None, str]],
    field_errors: dict[str, str],
    status_code: int = 422,
    remedy: Remedy | None = None,
) -> Response:
    # The page again, for the person it was opened for (``?pour=``): distance, way back.
    resources = ResourceBaseService(session, principal)
    pour = str(form.get("beneficiary_id") or "")
    origin = None
    if pour:
        with contextlib.suppress(ParcoursError):
            origin = await resources.person_origin(pour)
    training = await resources.training(training_id, origin)
    context = await training_request_context(session, temporal, settings, principal, pour)
    context |= {
        "request_form": form,
        "request_errors": errors,
        "request_field_errors": field_errors,
        "request_remedy": remedy,
    }
    return templates.TemplateResponse(
        request,
        "resources/training.html",
        {
            "training": training,
            "origin": origin,
            "back": "?" + urlencode({"pour": pour}) if pour else "",
            "is_admin": False,
            **context,
        },
        status_code=status_code,
    )


# --- Référents: in the carnet, answer the funder, record the end of the training ---


async def _carnet_form(
    pages: CarnetPages,
    beneficiary_id: str,
    request_id: str,
    name: str,
    call: Callable[[TrainingRequestService, dict[str, Any]], Awaitable[object]],
) -> Response:
    form = await form_values(pages.request)
    service = TrainingRequestService(
        pages.session, pages.journeys.temporal, pages.settings, pages.principal
    )
    failed = f"{name}-{request_id}"
    try:
        await call(service, clean_form(form))
    except ValidationError as error:
        errors, by_field = _errors(_problems(error), failed)
        return await pages.render(
            beneficiary_id,
            "contrat",
            failed=failed,
            form=form,
            errors=errors,
            field_errors=by_field,
            status_code=422,
        )
    except ParcoursError as error:
        await pages.session.rollback()
        return await pages.render(
            beneficiary_id,
            "contrat",
            failed=failed,
            form=form,
            errors=[(None, error.message)],
            status_code=error.status_code,
        )
    return after_action(f"/beneficiaires/{beneficiary_id}/contrat?demande={name}")


@router.post("/beneficiaires/{beneficiary_id}/formations/{request_id}/reponse")
async def answer_funder(beneficiary_id: str, request_id: str, pages: CarnetPagesDep) -> Response:
    async def call(service: TrainingRequestService, values: dict[str, Any]) -> None:
        data = AnswerCreate.model_validate(values)
        await service.answer(request_id, data, beneficiary_id=beneficiary_id)

    return await _carnet_form(pages, beneficiary_id, request_id, "reponse", call)


@router.post("/beneficiaires/{beneficiary_id}/formations/{request_id}/fin")
async def end_training(beneficiary_id: str, request_id: str, pages: CarnetPagesDep) -> Response:
    async def call(service: TrainingRequestService, values: dict[str, Any]) -> None:
        data = TrainingEndCreate.model_validate(
            {
                "ended_on": values.get("ended_on"),
                "completed": values.get("completed", "true") != "false",
            }
        )
        await service.end(request_id, data, beneficiary_id=beneficiary_id)

    return await _carnet_form(pages, beneficiary_id, request_id, "fin", call)
