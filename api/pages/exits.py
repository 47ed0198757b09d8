"""The administration tab of a département's end-of-support reasons (``/admin/motifs-de-sortie``):
its administrator adds a code, renames one, marks it « sortie positive » or not, stops
offering it. The close form of a journey offers the active ones (``api.pages.carnet``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from api.deps import PagePrincipal, SessionDep
from api.forms import after_action, clean_form, form_values, problems
from api.pages.access.admin import TABS
from api.templating import templates
from parcours.access.rules import Principal
from parcours.access.service import ensure_admin
from parcours.core.errors import ParcoursError
from parcours.exits.schemas import ExitCodeCreate, ExitCodeUpdate
from parcours.exits.service import ExitCodeService
from parcours.journey.schemas import EXIT_LABELS

router = APIRouter(include_in_schema=False)

TAB = "motifs-de-sortie"
FIELDS = {
    "code": "Code",
    "label": "Libellé",
    "exit_reason": "Catégorie",
    "positive": "Sortie positive",
    "active": "Proposé",
}
DONE = {"motif": "Le motif de sortie est enregistré."}


async def _page(
    request: Request,
    service: ExitCodeService,
    principal: Principal,
    *,
    form: dict[str, Any] | None = None,
    errors: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "tab": TAB,
        "tabs": TABS,
        "form": form or {},
        "errors": errors or [],
        "done": DONE.get(request.query_params.get("fait", "")),
        "codes": await service.codes(principal.territory),
        "reasons": [(r.value, label) for r, label in EXIT_LABELS.items()],
    }
    return templates.TemplateResponse(
        request, "exits/admin_motifs.html", context, status_code=status_code
    )


async def _submit(
    request: Request,
    session: SessionDep,
    principal: Principal,
    call: Callable[[ExitCodeService, dict[str, Any]], Awaitable[Any]],
) -> Response:
    service = ExitCodeService(session)
    form = await form_values(request)
    try:
        await call(service, clean_form(form))
    except ValidationError as error:
        found = [f"{FIELDS.get(field, field)} : {message}" for field, message in problems(error)]
        return await _page(request, service, principal, form=form, errors=found, status_code=422)
    except ParcoursError as error:
        await session.rollback()
        return await _page(
            request,
            service,
            principal,
            form=form,
            errors=[error.message],
            status_code=error.status_code,
        )
    return after_action(f"/admin/{TAB}?fait=motif")


@router.get("/admin/motifs-de-sortie")
async def exit_codes(request: Request, session: SessionDep, principal: PagePrincipal) -> Response:
    ensure_admin(principal)
    return await _page(request, ExitCodeService(session), principal)


@router.post("/admin/motifs-de-sortie")
async def create_exit_code(
    request: Request, session: SessionDep, principal: PagePrincipal
) -> Response:
    ensure_admin(principal)

    async def call(service: ExitCodeService, values: dict[str, Any]) -> Any:
        return await service.create(principal, ExitCodeCreate.model_validate(values))

    return await _submit(request, session, principal, call)


@router.post("/admin/motifs-de-sortie/{code}")
async def update_exit_code(
    request: Request, code: str, session: SessionDep, principal: PagePrincipal
) -> Response:
    ensure_admin(principal)

    async def call(service: ExitCodeService, values: dict[str, Any]) -> Any:
        return await service.update(principal, code, ExitCodeUpdate.model_validate(values))

    return await _submit(request, session, principal, call)
