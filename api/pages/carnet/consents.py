"""The carnet's consents page (``/beneficiaires/{id}/consentements``): each partner's consent
with its state, date, how it was given and by whom, and the référent's form to record a
consent the person gave (or withdrew) in an interview or on a signed paper form — the form
then joins the carnet's documents. The header and every refusal for a missing consent lead
here, the partner chosen (``?partenaire=``), with the way back (``?retour=``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from api.deps import CarnetPagesDep
from api.forms import FieldProblem
from api.pages.carnet.consent_links import CONSENT_PAGE, safe_back
from api.pages.carnet.view import tab_url
from parcours.access.rules import Role
from parcours.carnet.schemas import ConsentMethod, ConsentRecord, DocumentUpload

router = APIRouter(include_in_schema=False)


@router.get("/beneficiaires/{beneficiary_id}/consentements")
async def consents_page(beneficiary_id: str, pages: CarnetPagesDep) -> Response:
    """``?partenaire=`` chooses the partner, ``?retour=`` is the way back once recorded."""
    if pages.principal.role is Role.BENEFICIARY:
        return RedirectResponse("/mon-espace#partage", status_code=303)
    return await pages.render(beneficiary_id, CONSENT_PAGE)


@router.post("/beneficiaires/{beneficiary_id}/consentements")
async def record_consent(beneficiary_id: str, pages: CarnetPagesDep) -> Response:
    """Record the consent; on paper, the signed form uploaded with it is required."""
    posted = await pages.request.form()
    back = safe_back(str(posted.get("_retour") or ""))

    async def call(values: dict[str, Any]) -> None:
        data = ConsentRecord.model_validate(values)
        upload = posted.get("file")
        document = None
        if isinstance(upload, UploadFile) and upload.filename:
            # Read one byte past the limit: enough to refuse without holding a huge upload.
            content = await upload.read(pages.settings.max_document_bytes + 1)
            document = DocumentUpload(
                filename=upload.filename, content_type=upload.content_type or "", data=content
            )
        if data.method is ConsentMethod.PAPER and document is None:
            raise FieldProblem("file", "joignez le formulaire signé par la personne.")
        await pages.carnet.record_consent(beneficiary_id, data, document)

    query = urlencode({"fait": "consentement", **({"retour": back} if back else {})})
    then = f"{tab_url(beneficiary_id, CONSENT_PAGE)}?{query}"
    return await pages.submit(beneficiary_id, CONSENT_PAGE, "consentement", call, then=then)
