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

from activities.orientations import ServiceOrientationActivities
from activities.partners import CafImportActivities, PartnerActivities
from activities.training_requests import TrainingRequestActivities
from parcours.core.settings import Settings
from parcours.management.incidents import PartnerIncidentLog
from parcours.partners.adapters.clients import PartnerAdapters
from workflows.orientations import FranceTravailOrientationNotice, ServiceOrientation
from workflows.partners import CafImport, PartnerLookup
from workflows.training_requests import TrainingRequest

PARTNER_WORKFLOWS: list[type] = [CafImport, PartnerLookup]
# Orientations to services and France Travail's notices of orientations call partners too.
PARTNER_WORKFLOWS += [ServiceOrientation, FranceTravailOrientationNotice]
# Training requests to their funder (the Région, France Travail).
PARTNER_WORKFLOWS += [TrainingRequest]


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
        incidents = PartnerIncidentLog(sessions, settings.partner_incident_attempts)
        calls = PartnerActivities(sessions, adapters, incidents)
        imports = CafImportActivities(sessions, client, settings)
        orientations = ServiceOrientationActivities(sessions, settings, adapters)
        training_requests = TrainingRequestActivities(sessions, settings)
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
                orientations.begin_service_orientation,
                orientations.record_service_orientation,
                orientations.remind_structure,
                training_requests.begin_training_request,
                training_requests.record_training_request,
            ],
        )

    async def aclose(self) -> None:
        await self.adapters.aclose()
