"""The managers' console as pages (DSFR, no JavaScript): stalled journeys with their causes,
bulk actions by checkbox, one journey's causes, incidents and interventions with their forms,
and the "Résumé du jour" (digests, reminders and escalations addressed to me).

Pages call the same services as ``api.routes.management``; a refused action re-renders the
page it came from with the reason and keeps what was typed.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api.deps import MAX_PAGE, ManagementPageDep, PagePrincipal, RowId
from api.forms import after_action, local_time, problems
from api.templating import templates
from parcours.access.rules import Principal, Role
from parcours.core.errors import ParcoursError
from parcours.journey.messages import Step
from parcours.journey.schemas import STEP_LABELS
from parcours.management.schemas import (
    CAUSE_LABELS,
    BulkResult,
    EscalationCreate,
    NoteCreate,
    ReassignmentCreate,
    ReminderCreate,
    StallCause,
    StalledFilter,
)
from parcours.management.service import ManagementService, ensure_manager

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25
# Bulk actions of the list, and the one-journey forms: name → (French, form fields).
ACTIONS = {
    "reaffecter": "Réaffecter au référent choisi",
    "relancer": "Relancer le référent",
    "signaler": "Signaler à la structure",
}
FIELD_LABELS = {
    "beneficiary_ids": "Parcours",
    "referent_id": "Référent",
    "structure_id": "Structure",
    "message": "Message",
    "reason": "Motif du signalement",
    "body": "Note",
}
DONE = {
    "reaffectation": "Parcours réaffecté(s) : {n}.",
    "relance": "Référent(s) relancé(s) : {n}.",
    "signalement": "Parcours signalé(s) à leur structure : {n}.",
    "note": "La note est ajoutée à l'historique du parcours.",
    "appel": "Nouvel essai lancé : l'appel au partenaire est refait maintenant.",
    "appel-clos": "Cet appel n'était plus en attente : l'incident est clos.",
}
# The one-journey forms' names in URLs → the bulk action they are.
JOURNEY_FORMS = {"reaffectation": "reaffecter", "relance": "relancer", "signalement": "signaler"}


def _errors(error: ValidationError) -> list[str]:
    return [f"{FIELD_LABELS.get(field, field)} : {message}" for field, message in problems(error)]


def _filters(query: dict[str, str]) -> tuple[StalledFilter, dict[str, str]]:
    """The list's filters from its query string (unknown values are ignored)."""
    step = query.get("etape", "")
    cause = query.get("cause", "")
    overdue = query.get("retard", "")
    shown = {
        "structure": query.get("structure", ""),
        "referent": query.get("referent", ""),
        "etape": step if step in {s.value for s in Step if s is not Step.CLOSED} else "",
        "cause": cause if cause in {c.value for c in StallCause} else "",
        "retard": overdue if overdue.isdigit() and int(overdue) <= 3650 else "",
    }
    return (
        StalledFilter(
            structure_id=shown["structure"] or None,
            referent_id=shown["referent"] or None,
            step=shown["etape"] or None,
            cause=StallCause(shown["cause"]) if shown["cause"] else None,
            min_overdue_days=int(shown["retard"]) if shown["retard"] else None,
        ),
        shown,
    )


async def _choices(service: ManagementService) -> dict[str, Any]:
    referents, structures = await service.reassignment_choices()
    return {"referents": referents, "structures": structures}


async def _list_page(
    request: Request,
    service: ManagementService,
    *,
    form: dict[str, Any] | None = None,
    errors: list[str] | None = None,
    result: BulkResult | None = None,
    status_code: int = 200,
) -> Response:
    ensure_manager(service.principal)
    query = dict(request.query_params)
    f, shown = _filters(query)
    page = int(query["page"]) if query.get("page", "").isdigit() and int(query["page"]) > 0 else 1
    page = min(page, MAX_PAGE)
    listing = await service.stalled_page(f, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    done = request.query_params.get("fait")
    return templates.TemplateResponse(
        request,
        "management/stalled.html",
        {
            "listing": listing,
            "filters": shown,
            "query": urlencode({k: v for k, v in shown.items() if v}),
            "page": page,
            "pages": max(1, -(-listing.total // PAGE_SIZE)),
            "steps": {s.value: STEP_LABELS[s] for s in Step if s is not Step.CLOSED},
            "causes": {c.value: CAUSE_LABELS[c] for c in StallCause},
            "actions": ACTIONS,
            "form": form or {},
            "errors": errors or [],
            "result": result,
            "done": DONE[done].format(n=request.query_params.get("n", ""))
            if done in DONE
            else None,
            "local": local_time,
            **await _choices(service),
        },
        status_code=status_code,
    )


async def _act(
    service: ManagementService, action: str, ids: list[str], form: dict[str, Any]
) -> BulkResult:
    """Run a bulk action (validation errors raise ``ValidationError``)."""
    match action:
        case "reaffecter":
            return await service.reassign(
                ReassignmentCreate(
                    beneficiary_ids=ids,
                    referent_id=form.get("referent_id", ""),
                    structure_id=form.get("structure_id") or None,
                )
            )
        case "relancer":
            return await service.remind(
                ReminderCreate(beneficiary_ids=ids, message=form.get("message") or None)
            )
        case "signaler":
            return await service.escalate(
                EscalationCreate(beneficiary_ids=ids, reason=form.get("reason", ""))
            )
    raise ParcoursError("Choisissez une action.")


@router.get("/gestion")
async def console(principal: PagePrincipal) -> RedirectResponse:
    ensure_manager(principal)
    return RedirectResponse("/gestion/bloques", status_code=303)


@router.get("/gestion/bloques")
async def stalled_page(request: Request, service: ManagementPageDep) -> Response:
    return await _list_page(request, service)


@router.post("/gestion/bloques")
async def stalled_bulk(request: Request, service: ManagementPageDep) -> Response:
    ensure_manager(service.principal)
    posted = await request.form()
    ids = [str(v) for v in posted.getlist("beneficiary_ids")]
    form: dict[str, Any] = {
        k: str(v) for k, v in posted.items() if k not in ("beneficiary_ids", "csrf_token")
    }
    form["selected"] = ids
    action = form.get("action", "")
    if not ids:
        return await _list_page(
            request,
            service,
            form=form,
            errors=["Cochez au moins un parcours dans la liste."],
            status_code=422,
        )
    try:
        result = await _act(service, action, ids, form)
    except ValidationError as error:
        return await _list_page(request, service, form=form, errors=_errors(error), status_code=422)
    except ParcoursError as error:
        return await _list_page(
            request, service, form=form, errors=[error.message], status_code=error.status_code
        )
    if result.refused:
        return await _list_page(request, service, form=form, result=result)
    done = {"reaffecter": "reaffectation", "relancer": "relance", "signaler": "signalement"}
    back = form.get("retour", "")
    query = urlencode({"fait": done[action], "n": len(result.done)})
    return after_action(f"/gestion/bloques?{query}{'&' + back if back else ''}")


async def _journey_page(
    request: Request,
    service: ManagementService,
    beneficiary_id: str,
    *,
    failed: str | None = None,
    form: dict[str, Any] | None = None,
    errors: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    j = await service.journey_view(beneficiary_id)
    done = request.query_params.get("fait")
    return templates.TemplateResponse(
        request,
        "management/journey.html",
        {
            "j": j,
            "incidents": await service.incidents_of(beneficiary_id),
            "interventions": await service.interventions_of(beneficiary_id),
            "temporal_url": service.settings.temporal_ui_url.rstrip("/"),
            "namespace": service.settings.temporal_namespace,
            "failed": failed,
            "form": form or {},
            "errors": errors or [],
            "done": DONE[done].format(n=1) if done in DONE else None,
            "local": local_time,
            **await _choices(service),
        },
        status_code=status_code,
    )


@router.get("/gestion/parcours/{beneficiary_id}")
async def journey_page(
    request: Request, beneficiary_id: str, service: ManagementPageDep
) -> Response:
    return await _journey_page(request, service, beneficiary_id)


@router.post("/gestion/parcours/{beneficiary_id}/{what}")
async def journey_action(
    request: Request, beneficiary_id: str, what: str, service: ManagementPageDep
) -> Response:
    await service.journey_in_scope(beneficiary_id)
    if what not in (*JOURNEY_FORMS, "note"):
        raise ParcoursError("Action inconnue.")
    form = {k: str(v) for k, v in (await request.form()).items() if k != "csrf_token"}
    try:
        if what == "note":
            await service.add_note(beneficiary_id, NoteCreate(body=form.get("body", "")))
        else:
            result = await _act(service, JOURNEY_FORMS[what], [beneficiary_id], form)
            if result.refused:
                raise ParcoursError(result.refused[0].reason)
    except ValidationError as error:
        return await _journey_page(
            request,
            service,
            beneficiary_id,
            failed=what,
            form=form,
            errors=_errors(error),
            status_code=422,
        )
    except ParcoursError as error:
        # A refusal is a 409 the page explains; the action's form keeps what was typed.
        status_code = error.status_code if error.status_code != 400 else 409
        return await _journey_page(
            request,
            service,
            beneficiary_id,
            failed=what,
            form=form,
            errors=[error.message],
            status_code=status_code,
        )
    return after_action(f"/gestion/parcours/{beneficiary_id}?fait={what}")


@router.post("/gestion/incidents/{incident_id}/relancer")
async def retry_incident(
    request: Request, incident_id: RowId, service: ManagementPageDep
) -> RedirectResponse:
    incident = await service.incidents.get(incident_id)
    result = await service.retry(incident_id)
    assert incident is not None  # ``retry`` found it
    done = "appel" if result.outcome == "retried" else "appel-clos"
    return after_action(f"/gestion/parcours/{incident.beneficiary_id}?fait={done}")


@router.get("/gestion/resume")
async def digest_page(
    request: Request,
    service: ManagementPageDep,
    principal: PagePrincipal,
    jour: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    if principal.role not in (Role.MANAGER, Role.ORIENTATION, Role.ADMIN, Role.REFERENT):
        raise ParcoursError("Cette page est réservée aux professionnels.")
    digests = await service.my_digests(limit=14)
    current = next((d for d in digests if d.day.isoformat() == jour), None) if jour else None
    addressed = await service.addressed_to_me()
    return templates.TemplateResponse(
        request,
        "management/digest.html",
        {
            "digest": current or (digests[0] if digests else None),
            "digests": digests,
            "addressed": addressed,
            "is_manager": principal.role is Role.MANAGER,
            "is_orientation": principal.role is Role.ORIENTATION,
            "is_referent": principal.role is Role.REFERENT,
            "gets_digests": _gets_digests(principal),
            "hour": service.settings.digest_hour,
            "local": local_time,
        },
    )


def _gets_digests(principal: Principal) -> bool:
    return principal.role in (Role.MANAGER, Role.ORIENTATION) or (
        principal.role is Role.ADMIN and principal.structure_id is not None
    )
