"""The partner side of a worker: the CAF import workflow, the partner calls' activities and
their adapters (one connection pool per partner, closed with the worker).

``build_worker`` adds them to the journeys' worker::

    partners = PartnerWorkerParts.build(client, sessions, settings)
    Worker(..., workflows=[*WORKFLOWS, *PARTNER_WORKFLOWS],
           activities=[read_model.record_journey_event, *partners.activities])
    ...
    await partners.aclose()  # after the worker stopped
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from activities.caf_import import CafImportActivities
from activities.partners import PartnerActivities
from parcours.partners.clients import PartnerAdapters
from parcours.settings import Settings
from workflows.caf_import import CafImport

PARTNER_WORKFLOWS: list[type] = [CafImport]


@dataclass(frozen=True)
class PartnerWorkerParts:
    adapters: PartnerAdapters
    activities: list[Callable[..., Any]]

    @classmethod
    def build(
        cls,
        client: Client,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> PartnerWorkerParts:
        adapters = PartnerAdapters.from_settings(settings, transport)
        calls = PartnerActivities(sessions, adapters)
        imports = CafImportActivities(sessions, client, settings)
        return cls(
            adapters=adapters,
            activities=[
                calls.lookup_caf_household,
                calls.find_france_travail_person,
                calls.notify_france_travail_orientation,
                calls.submit_training_request,
                calls.send_structure_orientation,
                imports.begin_caf_import,
                imports.apply_caf_feed_batch,
                imports.finish_caf_import,
            ],
        )

    async def aclose(self) -> None:
        await self.adapters.aclose()
