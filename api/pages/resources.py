"""Pages of the resource base (French, DSFR, no script): the référents' search of services
with its filters and distances (from a commune, or from a person's with ``?pour=``), a
service, the trainings; for administrators, imports with their report and trainings' forms.

They call the same service as the JSON API."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from api.auth import CSRF_FIELD
from api.deps import PagePrincipal, RowId, SessionDep, SettingsDep, TemporalDep
from api.forms import after_action
from api.pages.carnet.consent_links import Remedy, remedy_of
from api.pages.training_requests import training_request_context
from api.routes.resources import MAX_IMPORT_BYTES, distance_from
from api.templating import templates
from parcours.access.rules import Principal, Role
from parcours.core.errors import Forbidden, InvalidReference, ParcoursError
from parcours.orientations.schemas import ServiceOrientationCreate
from parcours.orientations.service import ServiceOrientationService
from parcours.resources.importer import french_reason
from parcours.resources.schemas import (
    SORT_LABELS,
    ImportReport,
    Origin,
    SortOrder,
    TrainingCreate,
    TrainingRead,
    TrainingUpdate,
)
from parcours.resources.search import MAX_RADIUS_KM, ServiceQuery, TrainingQuery
from parcours.resources.service import ResourceBaseService
from parcours.resources.vocabulary import (
    CATEGORIE_LABELS,
    FRAIS_LABELS,
    FUNDER_LABELS,
    PUBLIC_LABELS,
    THEMATIQUE_LABELS,
    TYPE_LABELS,
    Funder,
    thematique_choices,
)

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 20
RADII = [("5", "5 km"), ("10", "10 km"), ("20", "20 km"), ("50", "50 km")]
TRAINING_FIELDS = {
    "reference": "Référence",
    "title": "Intitulé",
    "organisation": "Organisme",
    "funder": "Financeur",
    "formacode": "Formacode",
    "rncp": "Code RNCP",
    "start_on": "Date de début",
    "end_on": "Date de fin",
    "places_left": "Places restantes",
    "weekly_hours": "Heures par semaine",
    "weeks": "Nombre de semaines",
    "address": "Adresse",
    "postal_code": "Code postal",
    "city": "Commune",
    "latitude": "Latitude",
    "longitude": "Longitude",
    "conditions": "Conditions d'accès",
    "description": "Description",
}


def _admin(principal: Principal) -> None:
    if principal.role is not Role.ADMIN:
        raise Forbidden("Cette page est réservée aux administrateurs.")


def _known(value: str | None, known: dict[str, str]) -> str | None:
    return value if value in known else None


def _sort(value: str | None) -> SortOrder:
    return SortOrder(value) if value in {s.value for s in SortOrder} else SortOrder.RELEVANCE


def _radius(value: str | None) -> float | None:
    try:
        radius = float(value) if value else None
    except ValueError:
        return None
    return radius if radius and 0 < radius <= MAX_RADIUS_KM else None


async def _origin(
    resources: ResourceBaseService, commune: str | None, pour: str | None
) -> tuple[Origin | None, str | None]:
    """The search's starting point, or why there is none (shown, not raised)."""
    try:
        if pour:
            return await resources.person_origin(pour), None
        if commune:
            return await resources.commune_origin(commune), None
    except InvalidReference as error:
        return None, error.message
    return None, None


def _link(params: dict[str, Any], **changes: Any) -> str:
    merged = {**params, **changes}
    return "?" + urlencode({k: v for k, v in merged.items() if v not in (None, "", False)})


@router.get("/ressources", response_class=HTMLResponse)
async def search_page(
    request: Request,
    session: SessionDep,
    principal: PagePrincipal,
    q: Annotated[str | None, Query(max_length=200)] = None,
    thematique: str | None = None,
    type: str | None = None,
    public: str | None = None,
    frais: str | None = None,
    commune: Annotated[str | None, Query(max_length=100)] = None,
    pour: Annotated[str | None, Query(max_length=36)] = None,
    rayon: str | None = None,
    eligible: str | None = None,
    tri: str | None = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    resources = ResourceBaseService(session, principal)
    origin, place_error = await _origin(resources, commune, pour)
    filters = {
        "q": q or "",
        "thematique": _known(thematique, THEMATIQUE_LABELS | CATEGORIE_LABELS),
        "type": _known(type, TYPE_LABELS),
        "public": _known(public, PUBLIC_LABELS),
        "frais": _known(frais, FRAIS_LABELS),
        "commune": commune or "",
        "pour": pour or "",
        "rayon": rayon if _radius(rayon) else "",
        "eligible": "1" if eligible == "1" else "",
        "tri": _sort(tri).value,
    }
    query = ServiceQuery(
        text=q,
        thematiques=(filters["thematique"],) if filters["thematique"] else (),
        types=(filters["type"],) if filters["type"] else (),
        publics=(filters["public"],) if filters["public"] else (),
        frais=(filters["frais"],) if filters["frais"] else (),
        zone=origin.code_insee if origin and filters["eligible"] else None,
        distance=distance_from(origin, _radius(rayon)) if origin else None,
        sort=_sort(tri),
        page=page,
        size=PAGE_SIZE,
    )
    result = await resources.search_services(query, origin)
    here = {k: v for k, v in filters.items() if v}
    return templates.TemplateResponse(
        request,
        "resources/search.html",
        {
            "result": result,
            "filters": filters,
            "place_error": place_error,
            "page_link": lambda p: _link(here, page=p),
            "detail_query": _link({"pour": pour} if pour else {"commune": commune}),
            "thematiques": thematique_choices(),
            "types": list(TYPE_LABELS.items()),
            "publics": list(PUBLIC_LABELS.items()),
            "frais_options": list(FRAIS_LABELS.items()),
            "radii": RADII,
            "sorts": [(s.value, label) for s, label in SORT_LABELS.items()],
        },
    )


@router.get("/ressources/services/{service_id}", response_class=HTMLResponse)
async def service_page(
    request: Request,
    service_id: RowId,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    principal: PagePrincipal,
    commune: Annotated[str | None, Query(max_length=100)] = None,
    pour: Annotated[str | None, Query(max_length=36)] = None,
) -> Response:
    resources = ResourceBaseService(session, principal)
    origin, _ = await _origin(resources, commune, pour)
    service = await resources.service(service_id, origin)
    back = _link({"pour": pour} if pour else {"commune": commune})
    orienting = ServiceOrientationService(session, temporal, settings, principal)
    return templates.TemplateResponse(
        request,
        "resources/service.html",
        {
            "service": service,
            "origin": origin,
            "back": back,
            "can_orient": orienting.can_orient,
            "people": await orienting.orientable_people(),
            "orient": {"beneficiary_id": pour or ""},
        },
    )


@router.post("/ressources/services/{service_id}/orienter", response_class=HTMLResponse)
async def orient_to_service(
    request: Request,
    service_id: RowId,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    principal: PagePrincipal,
) -> Response:
    """« Orienter vers ce service »: to the person's plan, where the answer will show."""
    form = await request.form()
    beneficiary_id = str(form.get("beneficiary_id") or "")
    orienting = ServiceOrientationService(session, temporal, settings, principal)
    error: str | None = None
    remedy: Remedy | None = None
    status_code = 422
    if not beneficiary_id:
        error = "Choisissez la personne à orienter."
    else:
        try:
            await orienting.orient(
                ServiceOrientationCreate(beneficiary_id=beneficiary_id, service_id=service_id)
            )
        except ParcoursError as refused:
            await session.rollback()
            error, status_code = refused.message, refused.status_code
            back = f"/ressources/services/{service_id}?{urlencode({'pour': beneficiary_id})}"
            remedy = remedy_of(refused, back)
    if error is None:
        return after_action(f"/beneficiaires/{beneficiary_id}/contrat?fait=orientation")
    # The page again, for the person it was opened for (``?pour=``): distance, way back.
    resources = ResourceBaseService(session, principal)
    origin, _ = await _origin(resources, None, beneficiary_id or None)
    service = await resources.service(service_id, origin)
    return templates.TemplateResponse(
        request,
        "resources/service.html",
        {
            "service": service,
            "origin": origin,
            "back": _link({"pour": beneficiary_id}),
            "can_orient": orienting.can_orient,
            "people": await orienting.orientable_people(),
            "orient": {"beneficiary_id": beneficiary_id},
            "orient_error": error,
            "orient_remedy": remedy,
        },
        status_code=status_code,
    )


@router.get("/ressources/formations", response_class=HTMLResponse)
async def trainings_page(
    request: Request,
    session: SessionDep,
    principal: PagePrincipal,
    q: Annotated[str | None, Query(max_length=200)] = None,
    financeur: str | None = None,
    commune: Annotated[str | None, Query(max_length=100)] = None,
    pour: Annotated[str | None, Query(max_length=36)] = None,
    rayon: str | None = None,
    places: str | None = None,
    tri: str | None = None,
    fait: str | None = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    resources = ResourceBaseService(session, principal)
    origin, place_error = await _origin(resources, commune, pour)
    funders = {f.value: label for f, label in FUNDER_LABELS.items()}
    filters = {
        "q": q or "",
        "financeur": _known(financeur, funders),
        "commune": commune or "",
        "pour": pour or "",
        "rayon": rayon if _radius(rayon) else "",
        "places": "1" if places == "1" else "",
        "tri": _sort(tri).value,
    }
    query = TrainingQuery(
        text=q,
        funders=(filters["financeur"],) if filters["financeur"] else (),
        upcoming_on=date.today(),
        with_places=bool(filters["places"]),
        include_inactive=principal.role is Role.ADMIN,
        distance=distance_from(origin, _radius(rayon)) if origin else None,
        sort=_sort(tri),
        page=page,
        size=PAGE_SIZE,
    )
    result = await resources.search_trainings(query, origin)
    here = {k: v for k, v in filters.items() if v}
    return templates.TemplateResponse(
        request,
        "resources/trainings.html",
        {
            "result": result,
            "filters": filters,
            "place_error": place_error,
            "page_link": lambda p: _link(here, page=p),
            "funders": list(funders.items()),
            "radii": RADII,
            "sorts": [
                (SortOrder.RELEVANCE.value, "Date de début"),
                (SortOrder.DISTANCE.value, "Distance"),
            ],
            "is_admin": principal.role is Role.ADMIN,
            "done": {
                "creee": "La formation est ajoutée.",
                "modifiee": "La formation est modifiée.",
            }.get(fait or ""),
        },
    )


@router.get("/ressources/formations/nouvelle", response_class=HTMLResponse)
async def training_form(request: Request, principal: PagePrincipal) -> Response:
    _admin(principal)
    return _training_form(request, {"funder": Funder.REGION.value}, None)


@router.get("/ressources/formations/{training_id}", response_class=HTMLResponse)
async def training_page(
    request: Request,
    training_id: str,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    principal: PagePrincipal,
    commune: Annotated[str | None, Query(max_length=100)] = None,
    pour: Annotated[str | None, Query(max_length=36)] = None,
) -> Response:
    resources = ResourceBaseService(session, principal)
    origin, _ = await _origin(resources, commune, pour)
    training = await resources.training(training_id, origin)
    # « Demander cette formation » (``api.pages.training_requests``): whom the référent may
    # request it for.
    requesting = await training_request_context(session, temporal, settings, principal, pour)
    return templates.TemplateResponse(
        request,
        "resources/training.html",
        {
            "training": training,
            "origin": origin,
            "back": _link({"pour": pour} if pour else {"commune": commune}),
            "is_admin": principal.role is Role.ADMIN,
            **requesting,
        },
    )


# --- Administrators: trainings ---


def _training_values(training: TrainingRead | None) -> dict[str, Any]:
    if training is None:
        return {}
    values = training.model_dump()
    for day in ("start_on", "end_on"):
        values[day] = values[day].isoformat()
    return values


def _form_problems(error: ValidationError) -> tuple[list[tuple[str, str]], dict[str, str]]:
    listed: list[tuple[str, str]] = []
    by_field: dict[str, str] = {}
    for item in error.errors():
        names = [str(part) for part in item["loc"] if not isinstance(part, int)]
        field = names[-1] if names else ""
        message = french_reason(item, "des valeurs possibles")
        message = message[:1].upper() + message[1:] + "."
        by_field.setdefault(field, message)
        label = TRAINING_FIELDS.get(field)
        listed.append(
            (f"formation-{field}" if label else "", f"{label} : {message}" if label else message)
        )
    return listed, by_field


def _clean(form: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in form.items() if v not in ("", None) and k != CSRF_FIELD}


def _training_form(
    request: Request,
    values: dict[str, Any],
    training_id: str | None,
    errors: list[tuple[str, str]] | None = None,
    errs: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return templates.TemplateResponse(
        request,
        "resources/training_form.html",
        {
            "values": values,
            "training_id": training_id,
            "errors": errors or [],
            "errs": errs or {},
            "funders": [(f.value, label) for f, label in FUNDER_LABELS.items()],
        },
        status_code=status_code,
    )


@router.post("/ressources/formations/nouvelle", response_class=HTMLResponse)
async def training_create(
    request: Request, session: SessionDep, principal: PagePrincipal
) -> Response:
    _admin(principal)
    form = dict(await request.form())
    try:
        created = await ResourceBaseService(session, principal).create_training(
            TrainingCreate.model_validate(_clean(form))
        )
    except ValidationError as error:
        errors, errs = _form_problems(error)
        return _training_form(request, form, None, errors, errs, 422)
    except ParcoursError as error:
        return _training_form(request, form, None, [("", error.message)], {}, error.status_code)
    return after_action(f"/ressources/formations/{created.id}?fait=creee")


@router.get("/ressources/formations/{training_id}/modifier", response_class=HTMLResponse)
async def training_edit(
    request: Request, training_id: str, session: SessionDep, principal: PagePrincipal
) -> Response:
    _admin(principal)
    training = await ResourceBaseService(session, principal).training(training_id)
    return _training_form(request, _training_values(training), training_id)


@router.post("/ressources/formations/{training_id}/modifier", response_class=HTMLResponse)
async def training_update(
    request: Request, training_id: str, session: SessionDep, principal: PagePrincipal
) -> Response:
    _admin(principal)
    form = dict(await request.form())
    data = _clean(form)
    data["active"] = form.get("active") == "1"
    try:
        await ResourceBaseService(session, principal).update_training(
            training_id, TrainingUpdate.model_validate(data)
        )
    except ValidationError as error:
        errors, errs = _form_problems(error)
        return _training_form(request, form, training_id, errors, errs, 422)
    except ParcoursError as error:
        return _training_form(
            request, form, training_id, [("", error.message)], {}, error.status_code
        )
    return after_action(f"/ressources/formations/{training_id}?fait=modifiee")


# --- Administrators: imports ---


@router.get("/ressources/import", response_class=HTMLResponse)
async def import_form(request: Request, principal: PagePrincipal) -> Response:
    _admin(principal)
    return templates.TemplateResponse(request, "resources/import.html", {"report": None})


@router.post("/ressources/import", response_class=HTMLResponse)
async def import_submit(
    request: Request, session: SessionDep, principal: PagePrincipal
) -> Response:
    _admin(principal)
    form = await request.form()
    uploads = [f for f in form.getlist("fichiers") if isinstance(f, UploadFile) and f.filename]
    error: str | None = None
    report: ImportReport | None = None
    if not uploads:
        error = "Choisissez au moins un fichier."
    else:
        files: list[tuple[str, bytes]] = []
        for upload in uploads:
            content = await upload.read(MAX_IMPORT_BYTES + 1)
            if len(content) > MAX_IMPORT_BYTES:
                error = f"« {upload.filename} » dépasse {MAX_IMPORT_BYTES // (1024 * 1024)} Mo."
                break
            files.append((upload.filename or "fichier", content))
        if error is None:
            report = await ResourceBaseService(session, principal).import_files(files)
    return templates.TemplateResponse(
        request,
        "resources/import.html",
        {"report": report, "error": error},
        status_code=422 if error else 200,
    )
