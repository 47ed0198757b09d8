"""French pages (Jinja2 + DSFR): "mes bénéficiaires" and enrolment, and the form helpers
every page shares. A person's carnet and journey actions are in ``api.pages_carnet``.

They call the same services as the JSON API; a refused action is shown as a message and the
form keeps what was typed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.auth import CSRF_FIELD, OptionalPrincipal, PagePrincipal
from api.deps import JourneyServiceDep, SessionDep
from api.pages_auth import home_of
from api.templating import templates
from parcours.access.repository import PeopleRepository, visible_journeys
from parcours.core.errors import ParcoursError
from parcours.core.temporal import commit_or_undo
from parcours.journey.messages import Step
from parcours.journey.repository import JourneyFilter
from parcours.journey.schemas import (
    CONTRACT_LABELS,
    EXIT_LABELS,
    ORIENTATION_LABELS,
    STEP_LABELS,
    BeneficiaryCreate,
)

router = APIRouter(include_in_schema=False)

# The list's deadline filter: late journeys (the most overdue first), or due within a week.
DEADLINE_FILTERS = {"retard": "En retard", "7j": "Échéance sous 7 jours"}

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


def form_errors(error: ValidationError) -> list[str]:
    return [f"{FIELD_LABELS.get(field, field)} : {message}" for field, message in problems(error)]


def problems(error: ValidationError) -> list[tuple[str, str]]:
    """Each invalid field (the form's name for it) with what is wrong, in French."""
    found = []
    for item in error.errors():
        # A list's item is located by its index: the field is the name before it.
        names = [str(part) for part in item["loc"] if not isinstance(part, int)]
        found.append((names[-1] if names else "", french_problem(item)))
    return found


def french_problem(item: Any) -> str:
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
    ctx = item.get("ctx") or {}
    if kind == "string_too_short":
        return "ce champ est obligatoire."
    if kind == "string_too_long":
        return f"{ctx['max_length']} caractères au plus."
    if kind == "less_than_equal":
        return f"{ctx['le']} au plus."
    if kind == "greater_than_equal":
        return f"{ctx['ge']} au moins."
    if kind in ("enum", "literal_error"):
        return "choix non reconnu."
    if kind in ("bool_parsing", "bool_type"):
        return "répondez par oui ou par non."
    if kind == "extra_forbidden":
        return "champ inattendu."
    return str(item["msg"])


def clean_form(form: dict[str, Any]) -> dict[str, Any]:
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


async def journey_choices(session: Any) -> dict[str, Any]:
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
    echeance: Annotated[str | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    step_value = step if step in {s.value for s in Step} else None
    # "stalled=1" is the older spelling of "en retard".
    due = "retard" if stalled == "1" else echeance if echeance in DEADLINE_FILTERS else None
    f = JourneyFilter(
        step=step_value,
        stalled={"retard": True, "7j": False}.get(due or ""),
        due_before=datetime.now(UTC) + timedelta(days=7) if due == "7j" else None,
        search=q or None,
    )
    size = 25
    result = await service.list(f, limit=size, offset=(page - 1) * size, principal=principal)
    counts = await service.journeys.count_by_step(visible_journeys(principal))
    return templates.TemplateResponse(
        request,
        "journeys.html",
        {
            "page_result": result,
            "counts": counts,
            "steps": STEP_LABELS,
            "deadline_filters": DEADLINE_FILTERS,
            "filters": {"step": step_value, "echeance": due or "", "q": q or ""},
            "page": page,
            "pages": max(1, -(-result.total // size)),
        },
    )


@router.get("/parcours/nouveau", response_class=HTMLResponse)
async def enrol_form(request: Request, session: SessionDep, principal: PagePrincipal) -> Response:
    return templates.TemplateResponse(
        request,
        "enrol.html",
        {"form": {"territory": "73"}, "errors": [], **await journey_choices(session)},
    )


@router.post("/parcours/nouveau", response_class=HTMLResponse)
async def enrol_submit(
    request: Request, service: JourneyServiceDep, session: SessionDep, principal: PagePrincipal
) -> Response:
    form = dict(await request.form())
    try:
        data = BeneficiaryCreate.model_validate(clean_form(form))
        enrolment = await service.enrol(data, principal)
        await commit_or_undo(session, lambda: service.abandon(enrolment.beneficiary.id))
    except ValidationError as error:
        return templates.TemplateResponse(
            request,
            "enrol.html",
            {"form": form, "errors": form_errors(error), **await journey_choices(session)},
            status_code=422,
        )
    except ParcoursError as error:
        # The person may already be flushed (Temporal down): the page returns normally, so
        # the request's transaction would commit a person without a journey.
        await session.rollback()
        return templates.TemplateResponse(
            request,
            "enrol.html",
            {"form": form, "errors": [error.message], **await journey_choices(session)},
            status_code=error.status_code,
        )
    return RedirectResponse(
        f"/parcours/{enrolment.beneficiary.id}?fait=inscription", status_code=303
    )
