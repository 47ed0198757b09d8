"""The carnet's notes, appointments and documents tabs: what the follow-up group writes and
attaches along the way."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from api.deps import CarnetPagesDep
from api.forms import PARIS, FieldProblem
from parcours.carnet.schemas import AppointmentCreate, AppointmentUpdate, NoteCreate

router = APIRouter(include_in_schema=False)


@router.post("/beneficiaires/{beneficiary_id}/notes")
async def add_note(beneficiary_id: str, pages: CarnetPagesDep) -> Response:
    async def call(values: dict[str, Any]) -> None:
        await pages.carnet.add_note(beneficiary_id, NoteCreate.model_validate(values))

    return await pages.submit(beneficiary_id, "notes", "note", call)


@router.post("/beneficiaires/{beneficiary_id}/rendez-vous")
async def add_appointment(beneficiary_id: str, pages: CarnetPagesDep) -> Response:
    async def call(values: dict[str, Any]) -> None:
        data = AppointmentCreate.model_validate(values)
        if data.starts_at.tzinfo is None:  # a datetime-local field: French time
            data = data.model_copy(update={"starts_at": data.starts_at.replace(tzinfo=PARIS)})
        await pages.carnet.add_appointment(beneficiary_id, data)

    return await pages.submit(beneficiary_id, "rendez-vous", "rendez-vous", call)


@router.post("/beneficiaires/{beneficiary_id}/rendez-vous/{appointment_id}")
async def set_appointment_status(
    beneficiary_id: str, appointment_id: str, pages: CarnetPagesDep
) -> Response:

    async def call(values: dict[str, Any]) -> None:
        data = AppointmentUpdate.model_validate(values)
        await pages.carnet.set_appointment_status(beneficiary_id, appointment_id, data)

    return await pages.submit(
        beneficiary_id,
        "rendez-vous",
        "rendez-vous-statut",
        call,
        failed=f"rendez-vous-{appointment_id}",
    )


@router.post("/beneficiaires/{beneficiary_id}/documents")
async def add_document(beneficiary_id: str, pages: CarnetPagesDep) -> Response:
    async def call(values: dict[str, Any]) -> None:
        upload = (await pages.request.form()).get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise FieldProblem("file", "choisissez un fichier à déposer.")
        # Read one byte past the limit: enough to refuse without holding a huge upload.
        data = await upload.read(pages.settings.max_document_bytes + 1)
        await pages.carnet.add_document(
            beneficiary_id, upload.filename, upload.content_type or "", data
        )

    return await pages.submit(beneficiary_id, "documents", "document", call)
