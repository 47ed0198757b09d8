"""Anonymises people whose journey closed longer ago than the retention period (RGPD)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client

from parcours.carnet.messages import ANONYMISE_EXPIRED, AnonymiseBatchInput, AnonymiseBatchResult
from parcours.carnet.repository import CarnetRepository
from parcours.carnet.service import erase_person
from parcours.core.db import leave_no_copy, transaction
from parcours.core.settings import Settings
from parcours.journey.rules import add_months
from parcours.journey.service import JourneyService


class RetentionActivities:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], temporal: Client, settings: Settings
    ) -> None:
        self.sessions, self.temporal, self.settings = sessions, temporal, settings

    @activity.defn(name=ANONYMISE_EXPIRED)
    async def anonymise_expired(self, data: AnonymiseBatchInput) -> AnonymiseBatchResult:
        """One batch, one transaction; already anonymised people are skipped (idempotent)."""
        cutoff = add_months(datetime.now(UTC), -data.retention_months)
        async with transaction(self.sessions) as session:
            ids = await CarnetRepository(session).expired_people(cutoff, data.batch_size)
            journeys = JourneyService(session, self.temporal, self.settings)
            for beneficiary_id in ids:
                await erase_person(session, journeys, beneficiary_id, None)
        if ids:
            await leave_no_copy(self.sessions)
        activity.logger.info("retention sweep batch", extra={"anonymised": len(ids)})
        return AnonymiseBatchResult(anonymised=len(ids), more=len(ids) == data.batch_size)
