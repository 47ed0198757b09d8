"""JSON API of the partner exchanges: import a CAF feed file and follow its import; receive
the partners' signed callbacks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, UploadFile, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import (
    ApiPrincipal,
    CafImportsDep,
    CallbacksDep,
    Importer,
    LookupsDep,
    PartnerCallerDep,
    SessionDep,
    SettingsDep,
    TemporalDep,
)
from parcours.access.schemas import TokenPartner
from parcours.core.errors import Forbidden
from parcours.partners.lookups import LookupRead, LookupService, LookupStatus
from parcours.partners.messages import REQUEST_ID_PATTERN, LookupPartner
from parcours.partners.schemas import CafImportRead, CallbackReceipt
from parcours.partners.signing import KEY_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER

router = APIRouter(prefix="/api/v1", tags=["partenaires"])

_PREFIX = "caf-import-"


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
) -> CafImportRead:
    # Read from the spooled upload chunk by chunk (its size does not weigh on the memory).
    file_id, new = await service.store(file.filename or "flux-rsa.csv", file.file, principal.id)
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
        f'Signé par HMAC-SHA256 de `horodatage + "." + corps` sous le secret propre du '
        f"partenaire (en-têtes `{TIMESTAMP_HEADER}`, `{SIGNATURE_HEADER}` et `{KEY_ID_HEADER}` "
        "qui nomme le partenaire) ; refusé (401) hors d'une fenêtre de 5 minutes, refusé (403) "
        "s'il se dit d'un autre partenaire que celui de la clé. Un rappel "
        "déjà reçu (même `callback_id`) répond `duplicate` et ne change rien ; un rappel qui "
        "ne peut pas s'appliquer (par exemple une décision sur une demande retirée parce que "
        "le parcours de la personne est clôturé) répond `ignored` avec la raison (`reason`)."
    ),
    responses={401: {"description": "Signature invalide ou rappel trop ancien"}},
    response_model_exclude_none=True,
)
async def receive_callback(request: Request, service: CallbacksDep) -> CallbackReceipt:
    return await service.receive(
        await request.body(),
        request.headers.get(TIMESTAMP_HEADER),
        request.headers.get(SIGNATURE_HEADER),
        request.headers.get(KEY_ID_HEADER),
    )


@router.post(
    "/partners/{partner}/callbacks",
    summary="Rappel signé d'un partenaire, authentifié par son jeton d'API",
    description=(
        "Comme `/partners/callbacks`, avec en plus le jeton d'API du partenaire "
        "(`Authorization: Bearer …`, créé par un administrateur pour ce partenaire) : un jeton "
        "d'un autre partenaire, ou un rappel qui se dit d'un autre partenaire, est refusé (403)."
    ),
    responses={
        401: {"description": "Jeton absent ou invalide, signature invalide ou rappel trop ancien"},
        403: {"description": "Ce jeton n'est pas celui de ce partenaire"},
    },
)
async def receive_partner_callback(
    partner: TokenPartner, request: Request, service: CallbacksDep, caller: PartnerCallerDep
) -> CallbackReceipt:
    if caller != partner:
        raise Forbidden("Ce jeton n'est pas celui de ce partenaire : rappel refusé.")
    return await service.receive(
        await request.body(),
        request.headers.get(TIMESTAMP_HEADER),
        request.headers.get(SIGNATURE_HEADER),
        request.headers.get(KEY_ID_HEADER),
        partner=partner,
    )


# What a look-up may answer (the partner's own refusals included).
LOOKUP_RESPONSES: dict[int | str, dict[str, str]] = {
    202: {"description": "Le partenaire ne répond pas encore : la réponse ira au carnet"},
    403: {"description": "Votre rôle ne permet pas de modifier ce carnet"},
    404: {"description": "Personne introuvable (ou hors de votre groupe de suivi)"},
    409: {"description": "La personne n'a pas consenti au partage avec ce partenaire"},
    422: {"description": "Il manque ce que le partenaire demande (NIR, numéro d'allocataire)"},
    502: {"description": "Le partenaire a refusé la demande"},
    503: {"description": "Le partenaire n'a pas répondu malgré plusieurs essais"},
}


class LookupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str | None = Field(
        default=None,
        pattern=REQUEST_ID_PATTERN,
        description=(
            "Identifiant de la demande, choisi par le client : la même demande renvoyée "
            "(double clic, nouvel essai réseau) ne sollicite pas le partenaire deux fois."
        ),
    )


async def lookups(
    session: SessionDep, temporal: TemporalDep, settings: SettingsDep, principal: ApiPrincipal
) -> LookupService:
    return LookupService(session, temporal, settings, principal)


async def _ask(
    service: LookupService,
    beneficiary_id: str,
    partner: LookupPartner,
    body: LookupCreate | None,
    response: Response,
) -> LookupRead:
    read = await service.request(beneficiary_id, partner, body.request_id if body else None)
    if read.status is LookupStatus.PENDING:
        response.status_code = status.HTTP_202_ACCEPTED
    return read


@router.post(
    "/beneficiaries/{beneficiary_id}/lookups/caf",
    summary="Demander à la CAF le foyer et le droit au RSA de la personne",
    description=(
        "Par le numéro d'allocataire ; la réponse remplit la situation du carnet (source CAF). "
        "Si la CAF ne répond pas dans les quelques secondes, 202 : la demande continue et la "
        "réponse ira au carnet."
    ),
    responses=LOOKUP_RESPONSES,
)
async def lookup_caf(
    beneficiary_id: str, service: LookupsDep, response: Response, body: LookupCreate | None = None
) -> LookupRead:
    return await _ask(service, beneficiary_id, "caf", body, response)


@router.post(
    "/beneficiaries/{beneficiary_id}/lookups/france-travail",
    summary="Demander à France Travail l'inscription et l'identifiant de la personne",
    description=(
        "Par NIR et date de naissance, avec l'accord de la personne pour le partage avec "
        "France Travail ; la réponse remplit le carnet (source France Travail). Si France "
        "Travail ne répond pas dans les quelques secondes, 202 : la demande continue et la "
        "réponse ira au carnet."
    ),
    responses=LOOKUP_RESPONSES,
)
async def lookup_france_travail(
    beneficiary_id: str, service: LookupsDep, response: Response, body: LookupCreate | None = None
) -> LookupRead:
    return await _ask(service, beneficiary_id, "france_travail", body, response)
