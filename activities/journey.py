"""Writes the journeys' SQL read model, which pages and dashboards read."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from parcours.core.db import transaction
from parcours.journey.messages import (
    RECORD_JOURNEY_EVENT,
    RECORD_JOURNEY_EVENTS,
    RecordJourneyEventInput,
    RecordJourneyEventsInput,
)
from parcours.journey.repository import JourneyRepository


class ReadModelActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    @activity.defn(name=RECORD_JOURNEY_EVENT)
    async def record_journey_event(self, data: RecordJourneyEventInput) -> None:
        """Idempotent: the event is keyed by (journey, seq) and the row only moves forward."""
        async with transaction(self.sessions) as session:
            await JourneyRepository(session).project(data)

    @activity.defn(name=RECORD_JOURNEY_EVENTS)
    async def record_journey_events(self, data: RecordJourneyEventsInput) -> None:
        """A transition's events in one transaction; idempotent like the single-event one."""
        async with transaction(self.sessions) as session:
            journeys = JourneyRepository(session)
            for one in data.each():
                await journeys.project(one)
