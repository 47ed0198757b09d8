"""JSON API of the agent's inbox (``/api/v1/inbox``): her open items (« À traiter »), marking
one done, her e-mail preference. The same service as the pages."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from api.deps import InboxDep
from parcours.inbox.schemas import InboxPreferenceRead, InboxPreferenceUpdate, InboxRead

router = APIRouter(prefix="/api/v1/inbox", tags=["à traiter"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "Élément introuvable (ou adressé à quelqu'un d'autre)"}
}


@router.get("", summary="Mes éléments à traiter (les plus récents d'abord)")
async def inbox(service: InboxDep) -> InboxRead:
    return await service.items()


@router.post(
    "/{item_id}/done",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Marquer un élément comme traité",
    responses=NOT_FOUND,
)
async def mark_done(item_id: str, service: InboxDep) -> None:
    await service.mark_done(item_id)


@router.get("/preferences", summary="Mes notifications par courriel")
async def preference(service: InboxDep) -> InboxPreferenceRead:
    return await service.preference()


@router.put("/preferences", summary="Choisir mes notifications par courriel")
async def set_preference(data: InboxPreferenceUpdate, service: InboxDep) -> InboxPreferenceRead:
    return await service.set_preference(data.email)
