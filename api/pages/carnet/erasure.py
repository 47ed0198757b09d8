"""Administration pages: the erasure requests people made from their space, carried out by an
administrator of their département (with a confirmation step)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import ErasuresPageDep
from api.forms import after_action, local_time
from api.templating import templates
from parcours.carnet.service import ErasureService
from parcours.core.errors import ParcoursError

router = APIRouter(include_in_schema=False)


async def _list_page(
    request: Request,
    erasures: ErasureService,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    return templates.TemplateResponse(
        request,
        "carnet/erasures.html",
        {
            "pending": await erasures.pending(),
            "done": request.query_params.get("fait") == "effacement",
            "error": error,
            "local": local_time,
        },
        status_code=status_code,
    )


@router.get("/admin/effacements")
async def erasure_requests(request: Request, erasures: ErasuresPageDep) -> Response:
    return await _list_page(request, erasures)


@router.get("/admin/effacements/{request_id}")
async def erasure_confirmation(
    request: Request, request_id: str, erasures: ErasuresPageDep
) -> Response:
    pending = await erasures.one(request_id)
    return templates.TemplateResponse(
        request, "carnet/erasure.html", {"p": pending, "local": local_time}
    )


@router.post("/admin/effacements/{request_id}")
async def erase(request: Request, request_id: str, erasures: ErasuresPageDep) -> Response:
    try:
        await erasures.carry_out(request_id)
    except ParcoursError as error:
        await erasures.session.rollback()
        return await _list_page(
            request, erasures, error=error.message, status_code=error.status_code
        )
    return after_action("/admin/effacements?fait=effacement")
