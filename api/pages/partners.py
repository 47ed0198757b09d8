"""Pages of the partner exchanges: a référent's look-up at the CAF or France Travail from the
carnet's situation tab, and the CAF feed imports (for administrators and managers): the files
received with their progress and rejected lines, and the form that sends a new one."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from api.deps import (
    CafImportsDep,
    CarnetPagesDep,
    PagePrincipal,
    SessionDep,
    TemporalDep,
)
from api.forms import after_action, form_values, local_time
from api.pages.carnet.consent_links import remedy_of
from api.pages.carnet.view import tab_url
from api.templating import templates
from parcours.core.errors import NotFound, ParcoursError
from parcours.core.settings import Settings
from parcours.partners.caf_import import CafImportService
from parcours.partners.lookups import LookupService
from parcours.partners.messages import REQUEST_ID_PATTERN, LookupPartner
from parcours.partners.rules import ensure_caf_importer

router = APIRouter(include_in_schema=False)

# --- Look-ups from the carnet ---

# The partner as the page's URL names it.
LOOKUP_PAGES: dict[str, LookupPartner] = {"caf": "caf", "france-travail": "france_travail"}
_REQUEST_ID = re.compile(REQUEST_ID_PATTERN)


@router.post("/beneficiaires/{beneficiary_id}/situation/partenaires/{partner}")
async def ask_partner(
    beneficiary_id: str, partner: str, pages: CarnetPagesDep, temporal: TemporalDep
) -> Response:
    """Ask the CAF or France Travail, then show the situation tab with what came back (or why
    nothing did)."""
    if partner not in LOOKUP_PAGES:
        raise NotFound("Ce partenaire n'existe pas.")
    form = await form_values(pages.request)
    request_id = str(form.get("request_id", ""))
    service = LookupService(pages.session, temporal, pages.settings, pages.principal)
    try:
        read = await service.request(
            beneficiary_id,
            LOOKUP_PAGES[partner],
            request_id if _REQUEST_ID.match(request_id) else None,
        )
    except ParcoursError as error:
        await pages.session.rollback()
        return await pages.render(
            beneficiary_id,
            "situation",
            failed="recherche",
            errors=[(None, error.message)],
            status_code=error.status_code,
            extra={"remedy": remedy_of(error, tab_url(beneficiary_id, "situation"))},
        )
    return await pages.render(beneficiary_id, "situation", extra={"lookup": read})


# --- CAF feed imports ---

SHOWN_IMPORTS = 50
SHOWN_REJECTS = 1000
DONE_MESSAGES = {
    "depose": "Le fichier est déposé : son import est lancé.",
    "deja": "Ce fichier avait déjà été importé (même contenu) : rien n'a été refait.",
    "relance": "L'import est relancé : il reprend là où il s'était arrêté.",
}


def _max_mb(settings: Settings) -> int:
    return settings.caf_import_max_bytes // (1024 * 1024)


async def _list_page(
    request: Request,
    service: CafImportService,
    session: SessionDep,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    imports, total = await service.recent(SHOWN_IMPORTS)
    context: dict[str, Any] = {
        "imports": imports,
        "total": total,
        "shown": SHOWN_IMPORTS,
        "error": error,
        "max_mb": _max_mb(service.settings),
        "local": local_time,
    }
    return templates.TemplateResponse(
        request, "partners/caf_imports.html", context, status_code=status_code
    )


@router.get("/imports-caf")
async def caf_imports(
    request: Request, service: CafImportsDep, session: SessionDep, principal: PagePrincipal
) -> Response:
    ensure_caf_importer(principal)
    return await _list_page(request, service, session)


@router.post("/imports-caf")
async def upload_caf_feed(
    request: Request,
    service: CafImportsDep,
    session: SessionDep,
    principal: PagePrincipal,
) -> Response:
    """Store the file, start its import, and follow it on its own page."""
    importer = ensure_caf_importer(principal)
    upload = (await request.form()).get("fichier")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return await _list_page(
            request,
            service,
            session,
            error="Choisissez le fichier du flux de la CAF à importer.",
            status_code=422,
        )
    try:
        # Read from the spooled upload chunk by chunk (its size does not weigh on the memory).
        file_id, new = await service.store(upload.filename, upload.file, importer.id)
    except ParcoursError as error:
        await session.rollback()
        return await _list_page(
            request, service, session, error=error.message, status_code=error.status_code
        )
    # The lines must be committed before the workflow's first batch reads them.
    await session.commit()
    current = await service.read(file_id, rejects_limit=0)
    if current.status != "completed":
        try:
            await service.start(file_id)
        except ParcoursError as error:
            # The file is kept: its page offers to start the import again.
            return await _detail_page(
                request, service, file_id, error=error.message, status_code=error.status_code
            )
    done = "depose" if new or current.status != "completed" else "deja"
    return after_action(f"/imports-caf/{file_id}?fait={done}")


async def _detail_page(
    request: Request,
    service: CafImportService,
    file_id: str,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    read = await service.read(file_id, rejects_limit=SHOWN_REJECTS)
    context: dict[str, Any] = {
        "i": read,
        "shown_rejects": SHOWN_REJECTS,
        "done": DONE_MESSAGES.get(request.query_params.get("fait", "")),
        "error": error,
        "local": local_time,
    }
    return templates.TemplateResponse(
        request, "partners/caf_import.html", context, status_code=status_code
    )


@router.get("/imports-caf/{file_id}")
async def caf_import(
    request: Request, file_id: str, service: CafImportsDep, principal: PagePrincipal
) -> Response:
    ensure_caf_importer(principal)
    return await _detail_page(request, service, file_id)


@router.post("/imports-caf/{file_id}/relance")
async def restart_caf_import(
    request: Request, file_id: str, service: CafImportsDep, principal: PagePrincipal
) -> Response:
    """Start again an import that could not be started (the workflow engine was down); a
    running or finished one is left as it is."""
    ensure_caf_importer(principal)
    current = await service.read(file_id, rejects_limit=0)
    if current.status != "completed":
        try:
            await service.start(file_id)
        except ParcoursError as error:
            return await _detail_page(
                request, service, file_id, error=error.message, status_code=error.status_code
            )
    return after_action(f"/imports-caf/{file_id}?fait=relance")
