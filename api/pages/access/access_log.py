"""The access log in the administration console (``/admin/journal-des-acces``): the
département's administrator or DPO answers « who read this person's carnet this year » —
filters by person (a name or part of it, or an id), agent, period and action; a paged table;
the same lines as CSV. Same service as the JSON API (``api.routes.access``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from api.deps import AccessLogPageDep, PageNumber
from api.forms import local_time, problems
from api.pages.access.admin import TABS
from api.routes.access import access_log_response
from api.templating import templates
from parcours.access.rules import Role
from parcours.access.schemas import ACCESS_ACTIONS, AccessLogFilter
from parcours.core.errors import InvalidReference, ParcoursError

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
FILTERS = ("person", "beneficiary_id", "agent_id", "du", "au", "action")
FIELDS = {
    "person": "Personne",
    "beneficiary_id": "Personne",
    "agent_id": "Agent",
    "du": "Du",
    "au": "Au",
    "action": "Action",
}
# The console's tabs: an administrator's all, a DPO's or a manager's this one only.
DPO_TABS = {"journal-des-acces": "Journal des accès"}


def _filter(request: Request) -> tuple[dict[str, str], AccessLogFilter]:
    form = {k: v for k in FILTERS if (v := request.query_params.get(k, "").strip())}
    try:
        return form, AccessLogFilter.model_validate(form)
    except ValidationError as error:
        raise InvalidReference(
            "Filtre invalide : " + "; ".join(f"{FIELDS.get(k, k)} {m}" for k, m in problems(error))
        ) from error


@router.get("/admin/journal-des-acces")
async def access_log(request: Request, service: AccessLogPageDep, page: PageNumber = 1) -> Response:
    form = {k: v for k in FILTERS if (v := request.query_params.get(k, "").strip())}
    context: dict[str, Any] = {
        "tab": "journal-des-acces",
        "tabs": TABS if service.principal.role is Role.ADMIN else DPO_TABS,
        "form": form,
        "errors": [],
        "done": None,
        "local": local_time,
        "actions": ACCESS_ACTIONS,
        "agents": await service.agents(),
        "result": None,
        "page": page,
        "pages": 0,
    }
    status_code = 200
    try:
        form, f = _filter(request)
        result = await service.search(f, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    except ParcoursError as error:
        context["errors"] = [error.message]
        status_code = error.status_code
    else:
        filled = {**form, "du": result.du.isoformat(), "au": result.au.isoformat()}
        context.update(
            form=filled,
            result=result,
            pages=(result.total + PAGE_SIZE - 1) // PAGE_SIZE,
            query=urlencode(filled),
        )
    return templates.TemplateResponse(
        request, "access/admin_journal.html", context, status_code=status_code
    )


@router.get("/admin/journal-des-acces/export.csv")
async def access_log_csv(request: Request, service: AccessLogPageDep) -> Response:
    _, f = _filter(request)
    return access_log_response(*await service.export(f))
