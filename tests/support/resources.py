"""The resource base as the tests need it: a structure and its service, imported as
data·inclusion files (``add_service``)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parcours.core.db import transaction
from parcours.resources.models import ResourceService
from parcours.resources.service import ResourceBaseService


@dataclass(frozen=True)
class Resource:
    service_id: int
    source_id: str
    structure_source_id: str
    name: str
    structure: str


async def add_service(
    sessions: async_sessionmaker[AsyncSession], hours: float | None = 6.0, **fields: Any
) -> Resource:
    """A structure and its service (a driving-licence workshop, ``hours`` a week; ``fields``
    change the service), imported as data·inclusion files."""
    word = uuid.uuid4().hex[:10]
    source = f"test-{word}"
    structure: dict[str, Any] = {
        "source": source,
        "id": f"{source}--structure",
        "nom": f"Auto-école sociale {word}",
        "date_maj": (date.today() - timedelta(days=3)).isoformat(),
        "siret": None,
        "commune": "Chambéry",
    }
    service: dict[str, Any] = {
        "source": source,
        "structure_id": f"{source}--structure",
        "id": f"{source}--permis",
        "nom": f"Atelier code de la route {word}",
        "description": "Préparer le code de la route en groupe, avec un moniteur.",
        "date_maj": (date.today() - timedelta(days=3)).isoformat(),
        "thematiques": ["mobilite--preparer-un-permis"],
        "code_insee": "73065",
        "commune": "Chambéry",
        "volume_horaire_hebdomadaire": hours,
        **fields,
    }
    async with transaction(sessions) as session:
        report = await ResourceBaseService(session).import_files(
            [
                ("structures.json", json.dumps([structure]).encode()),
                ("services.json", json.dumps([service]).encode()),
            ]
        )
        assert [f.created for f in report.files] == [1, 1], report
        service_id = await session.scalar(
            select(ResourceService.id).where(
                ResourceService.source == source, ResourceService.source_id == service["id"]
            )
        )
    assert service_id is not None
    return Resource(service_id, service["id"], structure["id"], service["nom"], structure["nom"])
