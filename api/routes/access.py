"""JSON API of the administration console (``/api/v1/admin``): a département's structures,
agents and API tokens, for its administrators (the same service as the pages); and its access
log, for its administrators and its DPO."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, UploadFile, status
from fastapi.responses import Response

from api.deps import AccessLogDep, AdminDep, Offset
from api.forms import content_disposition
from parcours.access.schemas import (
    AccessLogFilter,
    AccessLogPage,
    AgentDeactivated,
    AgentInvite,
    AgentInvited,
    AgentRead,
    AgentUpdate,
    StructureCreate,
    StructureImportReport,
    StructureRead,
    StructureUpdate,
    TokenCreate,
    TokenCreated,
    TokenRead,
)
from parcours.core.errors import InvalidReference

router = APIRouter(prefix="/api/v1/admin", tags=["administration"])

MAX_IMPORT_BYTES = 10 * 1024 * 1024
ERRORS: dict[int | str, dict[str, str]] = {
    403: {"description": "Réservé aux administrateurs du département"},
    404: {"description": "Introuvable dans le département"},
    409: {"description": "Refusé dans l'état actuel (le motif dit pourquoi)"},
    422: {"description": "Donnée invalide (le motif dit laquelle)"},
}


@router.get("/structures", summary="Les structures du département", responses=ERRORS)
async def structures(admin: AdminDep) -> list[StructureRead]:
    return await admin.structures()


@router.post(
    "/structures",
    status_code=status.HTTP_201_CREATED,
    summary="Créer une structure",
    responses=ERRORS,
)
async def create_structure(data: StructureCreate, admin: AdminDep) -> StructureRead:
    return await admin.create_structure(data)


@router.post(
    "/structures/import",
    summary="Importer les structures du département d'un fichier data·inclusion",
    responses=ERRORS,
)
async def import_structures(file: UploadFile, admin: AdminDep) -> StructureImportReport:
    content = await file.read(MAX_IMPORT_BYTES + 1)
    if len(content) > MAX_IMPORT_BYTES:
        raise InvalidReference("Fichier trop volumineux (10 Mio au plus).")
    return await admin.import_structures(file.filename or "structures.json", content)


@router.patch("/structures/{structure_id}", summary="Modifier une structure", responses=ERRORS)
async def update_structure(
    structure_id: str, data: StructureUpdate, admin: AdminDep
) -> StructureRead:
    return await admin.update_structure(structure_id, data)


@router.post(
    "/structures/{structure_id}/deactivation",
    summary="Désactiver une structure (refusé tant qu'elle a des agents actifs)",
    responses=ERRORS,
)
async def deactivate_structure(structure_id: str, admin: AdminDep) -> StructureRead:
    return await admin.deactivate_structure(structure_id)


@router.get("/agents", summary="Les agents du département", responses=ERRORS)
async def agents(admin: AdminDep) -> list[AgentRead]:
    return await admin.agents()


@router.post(
    "/agents",
    status_code=status.HTTP_201_CREATED,
    summary="Inviter un agent (lien à usage unique par courriel, 72 h)",
    responses=ERRORS,
)
async def invite_agent(data: AgentInvite, admin: AdminDep) -> AgentInvited:
    return await admin.invite_agent(data)


@router.patch(
    "/agents/{user_id}", summary="Changer le rôle ou la structure d'un agent", responses=ERRORS
)
async def update_agent(user_id: str, data: AgentUpdate, admin: AdminDep) -> AgentRead:
    return await admin.update_agent(user_id, data)


@router.post(
    "/agents/{user_id}/invitation",
    summary="Envoyer un nouveau lien d'invitation",
    responses=ERRORS,
)
async def reinvite_agent(user_id: str, admin: AdminDep) -> AgentInvited:
    return await admin.reinvite_agent(user_id)


@router.post(
    "/agents/{user_id}/deactivation",
    summary="Désactiver un agent (sessions et jetons révoqués sur-le-champ)",
    responses=ERRORS,
)
async def deactivate_agent(user_id: str, admin: AdminDep) -> AgentDeactivated:
    return await admin.deactivate_agent(user_id)


@router.post("/agents/{user_id}/reactivation", summary="Réactiver un agent", responses=ERRORS)
async def reactivate_agent(user_id: str, admin: AdminDep) -> AgentRead:
    return await admin.reactivate_agent(user_id)


@router.get("/tokens", summary="Les jetons d'API du département", responses=ERRORS)
async def tokens(admin: AdminDep) -> list[TokenRead]:
    return await admin.tokens()


@router.post(
    "/tokens",
    status_code=status.HTTP_201_CREATED,
    summary="Créer un jeton d'API (affiché une seule fois)",
    responses=ERRORS,
)
async def create_token(data: TokenCreate, admin: AdminDep) -> TokenCreated:
    return await admin.create_token(data)


@router.post("/tokens/{token_id}/revocation", summary="Révoquer un jeton", responses=ERRORS)
async def revoke_token(token_id: str, admin: AdminDep) -> TokenRead:
    return await admin.revoke_token(token_id)


@router.get(
    "/access-log",
    summary="Journal des accès du département : qui a lu ou modifié quel carnet, et quand "
    "(administrateurs et délégué·e à la protection des données)",
    responses=ERRORS,
)
async def access_log(
    service: AccessLogDep,
    f: Annotated[AccessLogFilter, Query()],
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AccessLogPage:
    return await service.search(f, limit=limit, offset=offset)


@router.get(
    "/access-log/export.csv",
    summary="Le journal des accès en CSV (« ; », UTF-8 avec BOM), mêmes filtres",
    response_class=Response,
    responses={**ERRORS, 200: {"content": {"text/csv": {}}}},
)
async def access_log_csv(service: AccessLogDep, f: Annotated[AccessLogFilter, Query()]) -> Response:
    return access_log_response(*await service.export(f))


def access_log_response(text: str, filename: str) -> Response:
    return Response(
        text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": content_disposition(filename),
            "Cache-Control": "no-store",
        },
    )
