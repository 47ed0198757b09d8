"""A service of the resource base, with its structure, imported as data·inclusion files (the
way an administrator imports them)."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.core.db import transaction
from parcours.resources.models import ResourceService
from parcours.resources.service import ResourceBaseService


async def add_service(sessions: async_sessionmaker[AsyncSession], **fields: Any) -> int:
    """A driving-licence workshop in Chambéry (``fields`` change it); its id."""
    source = f"test-{uuid.uuid4().hex[:10]}"
    day = (date.today() - timedelta(days=3)).isoformat()
    structure = {
        "source": source,
        "id": f"{source}--s",
        "nom": "Auto-école sociale",
        "date_maj": day,
    }
    service: dict[str, Any] = {
        "source": source,
        "structure_id": f"{source}--s",
        "id": f"{source}--v",
        "nom": "Atelier code de la route",
        "description": "Préparer le code de la route en groupe, avec un moniteur.",
        "date_maj": day,
        "thematiques": ["mobilite--preparer-un-permis"],
        "code_insee": "73065",
        "commune": "Chambéry",
        **fields,
    }
    async with transaction(sessions) as session:
        await ResourceBaseService(session).import_files(
            [
                ("structures.json", json.dumps([structure]).encode()),
                ("services.json", json.dumps([service]).encode()),
            ]
        )
        found = await session.scalar(
            select(ResourceService.id).where(ResourceService.source == source)
        )
    assert found is not None, "the service was not imported"
    return found
