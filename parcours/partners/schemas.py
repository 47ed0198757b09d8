"""What the API and the CLI show of partner exchanges: a CAF import with its progress and
rejected lines, the answer to a partner's callback."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

IMPORT_STATUS_LABELS = {
    "stored": "En attente",
    "running": "En cours",
    "completed": "Terminé",
    "failed": "En échec",
}


class CafRejectRead(BaseModel):
    line: int
    reason: str


class CafImportRead(BaseModel):
    id: str
    workflow_id: str
    filename: str
    status: str
    status_label: str
    lines: int
    processed: int
    created: int
    signalled: int
    unchanged: int
    rejected: int
    uploaded_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    # At most ``rejects_limit`` of them, in line order; ``rejected`` says how many in all.
    rejects: list[CafRejectRead]
    # True when this file had already been imported (the same content): nothing was redone.
    already_imported: bool = False


class CallbackReceipt(BaseModel):
    """``applied``: it took effect; ``duplicate``: already received; ``ignored``: recorded,
    but it could not take effect (``reason``, in French: a decision on a request withdrawn
    because the person's journey closed…)."""

    status: Literal["applied", "duplicate", "ignored"]
    callback_id: str
    reason: str | None = None
