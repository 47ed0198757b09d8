"""The administration console (``/admin``): a département's administrator sets it up without
code or SQL — its structures (created, renamed, deactivated, imported from a data·inclusion
file), its agents (invited by e-mail with a one-time link, their role or structure changed,
deactivated at once), and the API tokens of its partners and scripts (shown once, revoked).

Each form posts to the administration service, as the JSON API does (``api.routes.access``);
a refused or invalid form comes back with the reason and what was typed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from api.deps import AdminPageDep
from api.forms import after_action, clean_form, form_values, local_time, problems
from api.templating import templates
from parcours.access.schemas import (
    STAFF_ROLES,
    STRUCTURE_KINDS,
    TOKEN_PARTNERS,
    AgentInvite,
    AgentUpdate,
    StructureCreate,
    StructureUpdate,
    TokenCreate,
)
from parcours.access.service import AdminService
from parcours.core.errors import ParcoursError

router = APIRouter(include_in_schema=False)

TABS = {
    "structures": "Structures",
    "agents": "Agents",
    "jetons": "Jetons d'API",
    "motifs-de-sortie": "Motifs de sortie",
    "effacements": "Demandes d'effacement",
    "journal-des-acces": "Journal des accès",
}
FIELDS = {
    "name": "Nom",
    "kind": "Type",
    "email": "Adresse électronique",
    "full_name": "Nom et prénom",
    "role": "Rôle",
    "structure_id": "Structure",
    "label": "Libellé",
    "partner": "Partenaire",
    "agent_id": "Agent",
    "expires_on": "Expire le",
    "file": "Fichier",
}
DONE = {
    "structure": "La structure est enregistrée.",
    "structure-desactivee": "La structure est désactivée.",
    "agent": "Les changements de l'agent sont enregistrés.",
    "agent-reactive": "Le compte est réactivé.",
    "jeton-revoque": "Le jeton est révoqué : il ne sert plus à rien.",
}
MAX_IMPORT_BYTES = 10 * 1024 * 1024


async def _page(
    request: Request,
    admin: AdminService,
    tab: str,
    *,
    form: dict[str, Any] | None = None,
    errors: list[str] | None = None,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    context: dict[str, Any] = {
        "tab": tab,
        "tabs": TABS,
        "form": form or {},
        "errors": errors or [],
        "done": DONE.get(request.query_params.get("fait", "")),
        "local": local_time,
        "kinds": STRUCTURE_KINDS,
        "roles": {role.value: label for role, label in STAFF_ROLES.items()},
        "partners": TOKEN_PARTNERS,
        **extra,
    }
    if tab == "structures":
        context["structures"] = await admin.structures()
    elif tab == "agents":
        context["agents"] = await admin.agents()
        context["structures"] = [s for s in await admin.structures() if s.active]
    elif tab == "jetons":
        context["tokens"] = await admin.tokens()
        context["agents"] = [a for a in await admin.agents() if a.active]
    return templates.TemplateResponse(
        request, f"access/admin_{tab}.html", context, status_code=status_code
    )


async def _submit(
    request: Request,
    admin: AdminService,
    tab: str,
    call: Callable[[dict[str, Any]], Awaitable[Any]],
    *,
    done: str | None = None,
    shown: str | None = None,
) -> Response:
    """Run one form; a result worth showing (a link, a secret) is rendered on the tab, else
    back to the tab with a message."""
    form = await form_values(request)
    try:
        result = await call(clean_form(form))
    except ValidationError as error:
        found = [f"{FIELDS.get(field, field)} : {message}" for field, message in problems(error)]
        return await _page(request, admin, tab, form=form, errors=found, status_code=422)
    except ParcoursError as error:
        await admin.session.rollback()
        return await _page(
            request, admin, tab, form=form, errors=[error.message], status_code=error.status_code
        )
    if shown is not None:
        await admin.session.commit()
        return await _page(request, admin, tab, **{shown: result})
    return after_action(f"/admin/{tab}?fait={done}")


@router.get("/admin")
async def console(admin: AdminPageDep) -> Response:
    return RedirectResponse("/admin/structures", status_code=303)


@router.get("/admin/structures")
async def structures(request: Request, admin: AdminPageDep) -> Response:
    return await _page(request, admin, "structures")


@router.post("/admin/structures")
async def create_structure(request: Request, admin: AdminPageDep) -> Response:
    async def call(values: dict[str, Any]) -> Any:
        return await admin.create_structure(StructureCreate.model_validate(values))

    return await _submit(request, admin, "structures", call, done="structure")


@router.post("/admin/structures/import")
async def import_structures(request: Request, admin: AdminPageDep) -> Response:
    async def call(values: dict[str, Any]) -> Any:
        upload = (await request.form()).get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise _Problem("Choisissez un fichier data·inclusion de structures (JSON ou CSV).")
        content = await upload.read(MAX_IMPORT_BYTES + 1)
        if len(content) > MAX_IMPORT_BYTES:
            raise _Problem("Fichier trop volumineux (10 Mio au plus).")
        return await admin.import_structures(upload.filename, content)

    return await _submit(request, admin, "structures", call, shown="imported")


@router.post("/admin/structures/{structure_id}")
async def update_structure(request: Request, structure_id: str, admin: AdminPageDep) -> Response:
    async def call(values: dict[str, Any]) -> Any:
        return await admin.update_structure(structure_id, StructureUpdate.model_validate(values))

    return await _submit(request, admin, "structures", call, done="structure")


@router.post("/admin/structures/{structure_id}/desactivation")
async def deactivate_structure(
    request: Request, structure_id: str, admin: AdminPageDep
) -> Response:
    async def call(values: dict[str, Any]) -> Any:
        return await admin.deactivate_structure(structure_id)

    return await _submit(request, admin, "structures", call, done="structure-desactivee")


@router.get("/admin/agents")
async def agents(request: Request, admin: AdminPageDep) -> Response:
    return await _page(request, admin, "agents")


@router.post("/admin/agents")
async def invite_agent(request: Request, admin: AdminPageDep) -> Response:
    async def call(values: dict[str, Any]) -> Any:
        return await admin.invite_agent(AgentInvite.model_validate(values))

    return await _submit(request, admin, "agents", call, shown="invited")


@router.post("/admin/agents/{user_id}")
async def update_agent(request: Request, user_id: str, admin: AdminPageDep) -> Response:
    async def call(values: dict[str, Any]) -> Any:
        return await admin.update_agent(user_id, AgentUpdate.model_validate(values))

    return await _submit(request, admin, "agents", call, done="agent")


@router.post("/admin/agents/{user_id}/invitation")
async def reinvite_agent(request: Request, user_id: str, admin: AdminPageDep) -> Response:
    async def call(values: dict[str, Any]) -> Any:
        return await admin.reinvite_agent(user_id)

    return await _submit(request, admin, "agents", call, shown="invited")


@router.post("/admin/agents/{user_id}/desactivation")
async def deactivate_agent(request: Request, user_id: str, admin: AdminPageDep) -> Response:
    async def call(values: dict[str, Any]) -> Any:
        return await admin.deactivate_agent(user_id)

    return await _submit(request, admin, "agents", call, shown="deactivated")


@router.post("/admin/agents/{user_id}/reactivation")
async def reactivate_agent(request: Request, user_id: str, admin: AdminPageDep) -> Response:
    async def call(values: dict[str, Any]) -> Any:
        return await admin.reactivate_agent(user_id)

    return await _submit(request, admin, "agents", call, done="agent-reactive")


@router.get("/admin/jetons")
async def tokens(request: Request, admin: AdminPageDep) -> Response:
    return await _page(request, admin, "jetons")


@router.post("/admin/jetons")
async def create_token(request: Request, admin: AdminPageDep) -> Response:
    async def call(values: dict[str, Any]) -> Any:
        return await admin.create_token(TokenCreate.model_validate(values))

    return await _submit(request, admin, "jetons", call, shown="created")


@router.post("/admin/jetons/{token_id}/revocation")
async def revoke_token(request: Request, token_id: str, admin: AdminPageDep) -> Response:
    async def call(values: dict[str, Any]) -> Any:
        return await admin.revoke_token(token_id)

    return await _submit(request, admin, "jetons", call, done="jeton-revoque")


class _Problem(ParcoursError):
    status_code = 422
