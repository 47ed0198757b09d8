"""JSON API of the partner exchanges: import a CAF feed file and follow its import; receive
the partners' signed callbacks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, UploadFile, status

from api.auth import ApiPrincipal
from api.deps import SessionDep, SettingsDep, TemporalDep
from parcours.access.rules import Principal, Role
from parcours.core.errors import Forbidden
from parcours.partners.caf_import import CafImportService, InvalidFeed
from parcours.partners.callbacks import PartnerCallbackService
from parcours.partners.schemas import CafImportRead, CallbackReceipt
from parcours.partners.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER

router = APIRouter(prefix="/api/v1", tags=["partenaires"])

IMPORTING_ROLES = frozenset({Role.ADMIN, Role.MANAGER})
_PREFIX = "caf-import-"


def caf_imports(
    session: SessionDep, temporal: TemporalDep, settings: SettingsDep
) -> CafImportService:
    return CafImportService(session, temporal, settings)


def callbacks(
    session: SessionDep, temporal: TemporalDep, settings: SettingsDep
) -> PartnerCallbackService:
    return PartnerCallbackService(session, temporal, settings)


def importer(principal: ApiPrincipal) -> Principal:
    if principal.role not in IMPORTING_ROLES:
        raise Forbidden(
            "L'import du flux de la CAF est réservé aux administrateurs et aux responsables "
            "de territoire."
        )
    return principal


CafImportsDep = Annotated[CafImportService, Depends(caf_imports)]
CallbacksDep = Annotated[PartnerCallbackService, Depends(callbacks)]
Importer = Annotated[Principal, Depends(importer)]


@router.post(
    "/caf-imports",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Importer un fichier du flux RSA de la CAF (CSV « ; »)",
    description=(
        "Le fichier est enregistré puis importé par un workflow : suivez-le avec "
        "`GET /api/v1/caf-imports/{id}`. Le même fichier (même contenu) n'est importé qu'une "
        "fois : le renvoyer rend l'import existant."
    ),
    responses={422: {"description": "Fichier illisible (en-tête, encodage, taille)"}},
)
async def import_caf_feed(
    file: UploadFile,
    principal: Importer,
    service: CafImportsDep,
    session: SessionDep,
    settings: SettingsDep,
) -> CafImportRead:
    content = await file.read(settings.caf_import_max_bytes + 1)
    if not content:
        raise InvalidFeed("Le fichier est vide.")
    file_id, new = await service.store(file.filename or "flux-rsa.csv", content, principal.id)
    # The lines must be committed before the workflow's first batch reads them.
    await session.commit()
    current = await service.read(file_id, rejects_limit=0)
    if current.status != "completed":
        await service.start(file_id)
    return current.model_copy(update={"already_imported": not new})


@router.get("/caf-imports/{import_id}", summary="Avancement d'un import du flux de la CAF")
async def read_caf_import(
    import_id: str,
    _principal: Importer,
    service: CafImportsDep,
    rejects_limit: Annotated[int, Query(ge=0, le=10_000)] = 1000,
) -> CafImportRead:
    return await service.read(import_id.removeprefix(_PREFIX), rejects_limit=rejects_limit)


@router.post(
    "/partners/callbacks",
    summary="Rappel signé d'un partenaire (décision, entrée en emploi, réponse d'orientation)",
    description=(
        f'Signé par HMAC-SHA256 de `horodatage + "." + corps` (en-têtes `{TIMESTAMP_HEADER}` '
        f"et `{SIGNATURE_HEADER}`) ; refusé (401) hors d'une fenêtre de 5 minutes. Un rappel "
        "déjà reçu (même `callback_id`) répond `duplicate` et ne change rien."
    ),
    responses={401: {"description": "Signature invalide ou rappel trop ancien"}},
)
async def receive_callback(request: Request, service: CallbacksDep) -> CallbackReceipt:
    return await service.receive(
        await request.body(),
        request.headers.get(TIMESTAMP_HEADER),
        request.headers.get(SIGNATURE_HEADER),
    )
